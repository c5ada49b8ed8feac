package search

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"

	"github.com/edgesearch/edgesearch/store"
)

// A collection's index file, Dir/collections/<name>.graph, little-endian:
//
//	header (36 bytes): magic "EDGECOLL", version, vector count, the
//	  collection's generation (u64), internal id count (u64), CRC-32C of
//	  the bytes before it
//	ids: per internal id 17 bytes, the point id's binary form
//	  (store.PointID.MarshalBinary) padded with zeros, or 0xff and zeros for
//	  a free id; then CRC-32C of them
//	per vector, in name order: name length (u32), name, graph length
//	  (u64), CRC-32C of those; then the graph as HNSW.WriteTo writes it,
//	  with its own checksums
//
// Payloads are not in the file: they are read from the store at every
// start, which also proves the file maps exactly the stored points.
const (
	collMagic      = "EDGECOLL"
	collVersion    = 1
	collHeaderSize = 36
	collSlotSize   = 17
	collSlotFree   = 0xff
)

// indexFile writes a collection's index file.
type indexFile struct{ col *pointIndex }

// WriteTo writes the file. The caller holds Collections.writeMu, so
// neither the table nor the graphs change meanwhile; queries may run.
func (x indexFile) WriteTo(w io.Writer) (int64, error) {
	col := x.col
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	le := binary.LittleEndian
	names := sortedVectorNames(col.vectors)

	col.mu.RLock()
	var hd [collHeaderSize]byte
	copy(hd[:8], collMagic)
	le.PutUint32(hd[8:], collVersion)
	le.PutUint32(hd[12:], uint32(len(names)))
	le.PutUint64(hd[16:], col.gen)
	le.PutUint64(hd[24:], uint64(len(col.slots)))
	le.PutUint32(hd[32:], crc32.Checksum(hd[:32], castagnoli))
	bw.Write(hd[:])
	sum := crc32.New(castagnoli)
	var rec [collSlotSize]byte
	for i := range col.slots {
		s := &col.slots[i]
		clear(rec[:])
		if s.live {
			s.id.AppendBinary(rec[:0])
		} else {
			rec[0] = collSlotFree
		}
		bw.Write(rec[:])
		sum.Write(rec[:])
	}
	col.mu.RUnlock()
	var tmp [12]byte
	le.PutUint32(tmp[:], sum.Sum32())
	bw.Write(tmp[:4])

	for _, name := range names {
		g := col.graphs[name]
		g.mu.RLock()
		size := g.fileSizeLocked()
		head := le.AppendUint32(nil, uint32(len(name)))
		head = append(head, name...)
		head = le.AppendUint64(head, uint64(size))
		head = le.AppendUint32(head, crc32.Checksum(head, castagnoli))
		bw.Write(head)
		n, err := g.writeLocked(bw)
		g.mu.RUnlock()
		if err != nil {
			return cw.n, err
		}
		if n != size {
			return cw.n, fmt.Errorf("vector %q: graph of %d bytes, %d expected", name, n, size)
		}
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write collection index: %w", err)
	}
	return cw.n, nil
}

func sortedVectorNames(vectors map[string]store.VectorParams) []string {
	names := make([]string, 0, len(vectors))
	for v := range vectors {
		names = append(names, v)
	}
	slices.Sort(names)
	return names
}

// readIndex loads the collection's index file if it is usable for info;
// else it returns nil and the reason, for the progress line.
func (c *Collections) readIndex(info store.CollectionInfo) (*pointIndex, string) {
	f, err := os.Open(c.graphPath(info.Name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "no saved index"
	}
	if err != nil {
		return nil, fmt.Sprintf("saved index unreadable: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Sprintf("saved index unreadable: %v", err)
	}
	col, err := c.decodeIndex(f, fi.Size(), info)
	switch {
	case errors.Is(err, errStale):
		return nil, err.Error()
	case errors.Is(err, ErrVersion):
		return nil, "saved index has an older format"
	case err != nil:
		return nil, fmt.Sprintf("saved index damaged: %v", err)
	}
	return col, ""
}

// errStale means an index file is sound but not for the collection as
// stored now.
var errStale = errors.New("saved index is stale")

// decodeIndex reads an index file of size bytes. Every count is checked
// against size before anything is allocated from it.
func (c *Collections) decodeIndex(f io.ReaderAt, size int64, info store.CollectionInfo) (*pointIndex, error) {
	le := binary.LittleEndian
	var hd [collHeaderSize]byte
	if _, err := f.ReadAt(hd[:], 0); err != nil {
		return nil, corrupt("collection header: %v", err)
	}
	if string(hd[:8]) != collMagic {
		return nil, corrupt("collection magic %q", hd[:8])
	}
	if v := le.Uint32(hd[8:]); v != collVersion {
		return nil, fmt.Errorf("collection index version %d, want %d: %w", v, collVersion, ErrVersion)
	}
	if got, want := crc32.Checksum(hd[:32], castagnoli), le.Uint32(hd[32:]); got != want {
		return nil, corrupt("collection header checksum %08x, want %08x", got, want)
	}
	if gen := le.Uint64(hd[16:]); gen != info.Generation {
		return nil, fmt.Errorf("%w: generation %d, store %d", errStale, gen, info.Generation)
	}
	if nv := le.Uint32(hd[12:]); nv != uint32(len(info.Vectors)) {
		return nil, fmt.Errorf("%w: %d vectors, the collection has %d", errStale, nv, len(info.Vectors))
	}
	nslots := le.Uint64(hd[24:])
	if nslots >= math.MaxUint32 || nslots > uint64(size-collHeaderSize)/collSlotSize {
		return nil, corrupt("%d internal ids in a file of %d bytes", nslots, size)
	}
	// A table entry takes 40 bytes in memory (and its map entry more): on
	// a 32-bit build a table an int of bytes cannot hold is refused here
	// rather than by a panicking make.
	if nslots > math.MaxInt/64 {
		return nil, fmt.Errorf("collection index of %d points: %w", nslots, ErrTooLarge)
	}
	col, err := c.newIndex(info.Name, info.Vectors)
	if err != nil {
		return nil, err
	}
	col.gen = info.Generation
	col.slots = make([]pointSlot, nslots)
	off := int64(collHeaderSize)
	sum := crc32.New(castagnoli)
	r := bufio.NewReaderSize(io.TeeReader(io.NewSectionReader(f, off, int64(nslots)*collSlotSize), sum), 1<<16)
	var rec [collSlotSize]byte
	for i := range col.slots {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			return nil, corrupt("internal id %d: %v", i, err)
		}
		if rec[0] == collSlotFree {
			col.free = append(col.free, uint64(i))
			continue
		}
		var id store.PointID
		n := 9
		if rec[0] != 0 {
			n = collSlotSize
		}
		if err := id.UnmarshalBinary(rec[:n]); err != nil {
			return nil, corrupt("internal id %d: %v", i, err)
		}
		if _, dup := col.byID[id]; dup {
			return nil, corrupt("point %v at two internal ids", id)
		}
		col.slots[i] = pointSlot{id: id, live: true}
		col.byID[id] = uint64(i)
	}
	off += int64(nslots) * collSlotSize
	var tr [4]byte
	if _, err := f.ReadAt(tr[:], off); err != nil {
		return nil, corrupt("ids trailer: %v", err)
	}
	if got, want := sum.Sum32(), le.Uint32(tr[:]); got != want {
		return nil, corrupt("ids checksum %08x, want %08x", got, want)
	}
	off += 4
	for _, name := range sortedVectorNames(info.Vectors) {
		var nl [4]byte
		if _, err := f.ReadAt(nl[:], off); err != nil {
			return nil, corrupt("vector %q: %v", name, err)
		}
		if l := le.Uint32(nl[:]); l != uint32(len(name)) {
			return nil, fmt.Errorf("%w: vector names differ", errStale)
		}
		head := make([]byte, 4+len(name)+12)
		if _, err := f.ReadAt(head, off); err != nil {
			return nil, corrupt("vector %q: %v", name, err)
		}
		if got, want := crc32.Checksum(head[:len(head)-4], castagnoli), le.Uint32(head[len(head)-4:]); got != want {
			return nil, corrupt("vector %q header checksum %08x, want %08x", name, got, want)
		}
		if string(head[4:4+len(name)]) != name {
			return nil, fmt.Errorf("%w: vector names differ", errStale)
		}
		glen := le.Uint64(head[4+len(name):])
		off += int64(len(head))
		if glen > uint64(size-off) {
			return nil, corrupt("vector %q: graph of %d bytes, %d left", name, glen, size-off)
		}
		g := col.graphs[name]
		n, err := g.ReadFrom(sizedSection{io.NewSectionReader(f, off, int64(glen))})
		if err != nil {
			return nil, fmt.Errorf("vector %q: %w", name, err)
		}
		if uint64(n) != glen {
			return nil, corrupt("vector %q: graph of %d bytes in %d", name, n, glen)
		}
		off += int64(glen)
		if err := col.adoptGraph(name, g, info.Vectors[name], c.opts.Params); err != nil {
			return nil, err
		}
	}
	if off != size {
		return nil, corrupt("%d bytes after the last graph", size-off)
	}
	return col, nil
}

// adoptGraph checks a graph read from the file against the collection and
// the table: its distance and size are the vector's, it was built with the
// parameters asked for, and it indexes live internal ids only.
func (col *pointIndex) adoptGraph(name string, g *HNSW, vp store.VectorParams, want Params) error {
	p := g.Params()
	if p.Distance != vp.Distance || (g.Dims() != 0 && g.Dims() != vp.Size) {
		return fmt.Errorf("%w: vector %q is %v of %d dims in the file, %v of %d in the store", errStale, name, p.Distance, g.Dims(), vp.Distance, vp.Size)
	}
	if (want.M != 0 && want.M != p.M) || (want.EfConstruction != 0 && want.EfConstruction != p.EfConstruction) || p.Int8 != quantized(vp) {
		return fmt.Errorf("%w: vector %q was built with other parameters", errStale, name)
	}
	if want.EfSearch != 0 {
		if err := g.SetEfSearch(want.EfSearch); err != nil {
			return err
		}
	}
	var bad error
	g.slots.each(func(nid uint64, _ uint32) { // not shared yet: no lock needed
		if bad == nil && (nid >= uint64(len(col.slots)) || !col.slots[nid].live) {
			bad = corrupt("vector %q indexes internal id %d, which holds no point", name, nid)
		}
	})
	return bad
}

// sizedSection tells HNSW.ReadFrom how many bytes its section holds, so
// the header's counts are checked against them before allocating.
type sizedSection struct{ *io.SectionReader }

func (s sizedSection) Len() int {
	pos, _ := s.Seek(0, io.SeekCurrent)
	return int(min(s.Size()-pos, math.MaxInt))
}
