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
)

// File layout, little-endian:
//
//	header (72 bytes): magic "EDGEHNSW", version, dims, M, EfConstruction,
//	  EfSearch, top level, seed, generation, slots, entry, upper-layer word
//	  count, reserved, CRC-32C of the bytes before it
//	body: ids u64 × slots, levels u8 × slots, tombstones u8 × slots,
//	  vectors binary16 × slots×dims, layer-0 links u32 × slots×(2M+1),
//	  upper links u32 × words
//	trailer: CRC-32C of the body
//
// The header has its own checksum so a damaged size is caught before
// anything is allocated from it; the body is still read in bounded chunks,
// so a header that lies about its size ends in io.ErrUnexpectedEOF rather
// than a huge allocation. When the reader is a file whose size is exactly
// what the header describes, each array is allocated once at its full size
// instead: loading 100k vectors then costs no garbage.
//
// Version 1 stored float32 vectors; such a file is rebuilt, not read.
const (
	hnswMagic      = "EDGEHNSW"
	hnswVersion    = 2
	hnswHeaderSize = 72
	readChunk      = 1 << 16 // elements per bounded read
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the graph and its generation number to w. It implements
// io.WriterTo; searches may run meanwhile, writers wait.
func (h *HNSW) WriteTo(w io.Writer) (int64, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 1<<16)
	n := len(h.ids)
	var words uint64
	for _, u := range h.upper {
		words += uint64(len(u))
	}
	entry := uint32(math.MaxUint32)
	top := uint32(0)
	if h.top >= 0 {
		entry, top = h.entry, uint32(h.top)
	}
	var hd [hnswHeaderSize]byte
	le := binary.LittleEndian
	copy(hd[0:8], hnswMagic)
	le.PutUint32(hd[8:], hnswVersion)
	le.PutUint32(hd[12:], uint32(h.dims))
	le.PutUint32(hd[16:], uint32(h.p.M))
	le.PutUint32(hd[20:], uint32(h.p.EfConstruction))
	le.PutUint32(hd[24:], uint32(h.p.EfSearch))
	le.PutUint32(hd[28:], top)
	le.PutUint64(hd[32:], h.p.Seed)
	le.PutUint64(hd[40:], h.gen)
	le.PutUint32(hd[48:], uint32(n))
	le.PutUint32(hd[52:], entry)
	le.PutUint64(hd[56:], words)
	le.PutUint32(hd[68:], crc32.Checksum(hd[:68], castagnoli))
	bw.Write(hd[:])

	sum := crc32.New(castagnoli)
	body := io.MultiWriter(bw, sum)
	buf := make([]byte, 0, 8*readChunk)
	flush := func() {
		body.Write(buf)
		buf = buf[:0]
	}
	put := func(b ...byte) {
		buf = append(buf, b...)
		if len(buf) >= 8*readChunk-8 {
			flush()
		}
	}
	var tmp [8]byte
	for _, id := range h.ids {
		le.PutUint64(tmp[:], id)
		put(tmp[:]...)
	}
	put(h.levels...)
	for _, d := range h.dead {
		put(boolByte(d))
	}
	for _, f := range h.vecs {
		le.PutUint16(tmp[:], f)
		put(tmp[:2]...)
	}
	for _, x := range h.links0 {
		le.PutUint32(tmp[:], x)
		put(tmp[:4]...)
	}
	for _, u := range h.upper {
		for _, x := range u {
			le.PutUint32(tmp[:], x)
			put(tmp[:4]...)
		}
	}
	flush()
	le.PutUint32(tmp[:], sum.Sum32())
	bw.Write(tmp[:4])
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write hnsw graph: %w", err)
	}
	return cw.n, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom replaces the graph with one written by WriteTo. It implements
// io.ReaderFrom. A damaged or truncated file fails with ErrCorrupt and a
// file from another format version with ErrVersion; on error the graph is
// left as it was. Compare Generation with the store's afterwards to detect
// a stale file.
func (h *HNSW) ReadFrom(r io.Reader) (int64, error) {
	size := int64(-1)
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil {
				size = fi.Size() - pos
			}
		}
	}
	cr := &countReader{r: bufio.NewReaderSize(r, 1<<16)}
	g, err := readGraph(cr, size)
	if err != nil {
		return cr.n, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.p, h.m0, h.ml, h.rng, h.gen = g.p, g.m0, g.ml, g.rng, g.gen
	h.dims, h.vecs, h.ids, h.levels, h.dead = g.dims, g.vecs, g.ids, g.levels, g.dead
	h.links0, h.upper, h.slots, h.nDead = g.links0, g.upper, g.slots, g.nDead
	h.entry, h.top = g.entry, g.top
	if h.pool.New == nil {
		h.pool.New = func() any { return new(searchScratch) }
	}
	return cr.n, nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("hnsw graph: "+format+": %w", append(args, ErrCorrupt)...)
}

// readGraph decodes a graph; size is how many bytes r holds, or -1.
func readGraph(r io.Reader, size int64) (*HNSW, error) {
	var hd [hnswHeaderSize]byte
	if _, err := io.ReadFull(r, hd[:]); err != nil {
		return nil, corrupt("header: %v", err)
	}
	le := binary.LittleEndian
	if string(hd[0:8]) != hnswMagic {
		return nil, corrupt("bad magic %q", hd[0:8])
	}
	if v := le.Uint32(hd[8:]); v != hnswVersion {
		return nil, fmt.Errorf("hnsw graph: version %d, want %d: %w", v, hnswVersion, ErrVersion)
	}
	if got, want := crc32.Checksum(hd[:68], castagnoli), le.Uint32(hd[68:]); got != want {
		return nil, corrupt("header checksum %08x, want %08x", got, want)
	}
	dims := int(le.Uint32(hd[12:]))
	p := Params{
		M:              int(le.Uint32(hd[16:])),
		EfConstruction: int(le.Uint32(hd[20:])),
		EfSearch:       int(le.Uint32(hd[24:])),
		Seed:           le.Uint64(hd[32:]),
	}
	top := int(le.Uint32(hd[28:]))
	n := int(le.Uint32(hd[48:]))
	entry := le.Uint32(hd[52:])
	words := le.Uint64(hd[56:])
	if _, err := p.resolve(); err != nil || p.M == 0 || p.EfConstruction == 0 || p.EfSearch == 0 {
		return nil, corrupt("parameters %+v out of range", p)
	}
	if dims > maxDims || (n > 0 && dims == 0) || top > maxLevel || n >= math.MaxUint32 {
		return nil, corrupt("dims %d, slots %d, top level %d out of range", dims, n, top)
	}
	if words > uint64(n)*uint64(maxLevel)*uint64(p.M+1) {
		return nil, corrupt("%d upper-layer words for %d slots", words, n)
	}
	g := &HNSW{}
	g.init(p)
	g.gen = le.Uint64(hd[40:])
	g.dims = dims
	sum := crc32.New(castagnoli)
	body := uint64(n)*(8+1+1+2*uint64(dims)+4*uint64(g.m0+1)) + 4*words
	br := &bodyReader{r: io.TeeReader(r, sum), exact: size >= 0 && uint64(size) == hnswHeaderSize+body+4}
	g.ids = readU64s(br, n)
	g.levels = br.bytes(n)
	deadBytes := br.bytes(n)
	g.vecs = readU16s(br, n*dims)
	g.links0 = readU32s(br, n*(g.m0+1))
	upperWords := readU32s(br, int(words))
	if br.err != nil {
		return nil, corrupt("body: %v", br.err)
	}
	want := sum.Sum32()
	var tr [4]byte
	if _, err := io.ReadFull(r, tr[:]); err != nil {
		return nil, corrupt("trailer: %v", err)
	}
	if got := le.Uint32(tr[:]); got != want {
		return nil, corrupt("body checksum %08x, want %08x", got, want)
	}
	if err := g.adopt(deadBytes, upperWords, entry, top); err != nil {
		return nil, err
	}
	return g, nil
}

// adopt checks every structural invariant a search relies on, so even a
// file whose checksum was forged cannot make a search index out of range.
func (g *HNSW) adopt(deadBytes []byte, upperWords []uint32, entry uint32, top int) error {
	n := len(g.ids)
	g.dead = make([]bool, n)
	g.upper = make([][]uint32, n)
	off := 0
	for s := range n {
		switch deadBytes[s] {
		case 0:
			if _, dup := g.slots[g.ids[s]]; dup {
				return corrupt("id %d appears twice", g.ids[s])
			}
			g.slots[g.ids[s]] = uint32(s)
		case 1:
			g.dead[s] = true
			g.nDead++
		default:
			return corrupt("slot %d tombstone byte %d", s, deadBytes[s])
		}
		l := int(g.levels[s])
		if l > top {
			return corrupt("slot %d level %d above top %d", s, l, top)
		}
		if l > 0 {
			end := off + l*(g.p.M+1)
			if end > len(upperWords) {
				return corrupt("upper links end early at slot %d", s)
			}
			g.upper[s] = upperWords[off:end:end]
			off = end
		}
	}
	if off != len(upperWords) {
		return corrupt("%d unused upper-layer words", len(upperWords)-off)
	}
	for s := range uint32(n) {
		for lc := 0; lc <= int(g.levels[s]); lc++ {
			b := g.block(s, lc)
			if int(b[0]) > g.capacity(lc) {
				return corrupt("slot %d layer %d has %d links, capacity %d", s, lc, b[0], g.capacity(lc))
			}
			for _, x := range b[1 : 1+b[0]] {
				if int(x) >= n || x == s || int(g.levels[x]) < lc {
					return corrupt("slot %d layer %d links to bad slot %d", s, lc, x)
				}
			}
		}
	}
	if n == 0 {
		return nil
	}
	if int(entry) >= n || int(g.levels[entry]) != top {
		return corrupt("entry slot %d invalid", entry)
	}
	for i, v := range g.vecs {
		if v&0x7c00 == 0x7c00 {
			return corrupt("vector value at %d not finite", i)
		}
	}
	g.entry, g.top = entry, top
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bodyReader reads in bounded chunks and remembers the first error, so
// the decoding code reads straight through and checks once.
type bodyReader struct {
	r     io.Reader
	err   error
	buf   []byte
	exact bool // the input's size matches the header: allocate in full
}

// capFor is the capacity to start an array of n elements with.
func (b *bodyReader) capFor(n int) int {
	if b.exact {
		return n
	}
	return min(n, readChunk)
}

func (b *bodyReader) chunk(size int) []byte {
	if b.err != nil {
		return nil
	}
	if cap(b.buf) < size {
		b.buf = make([]byte, size)
	}
	buf := b.buf[:size]
	if _, err := io.ReadFull(b.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return nil
	}
	return buf
}

func (b *bodyReader) bytes(n int) []byte {
	out := make([]byte, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		out = append(out, b.chunk(min(n-len(out), readChunk))...)
	}
	return out
}

func readU64s(b *bodyReader, n int) []uint64 {
	out := make([]uint64, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(8 * min(n-len(out), readChunk))
		for i := 0; i+8 <= len(c); i += 8 {
			out = append(out, binary.LittleEndian.Uint64(c[i:]))
		}
	}
	return out
}

func readU32s(b *bodyReader, n int) []uint32 {
	out := make([]uint32, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(4 * min(n-len(out), readChunk))
		for i := 0; i+4 <= len(c); i += 4 {
			out = append(out, binary.LittleEndian.Uint32(c[i:]))
		}
	}
	return out
}

func readU16s(b *bodyReader, n int) []uint16 {
	out := make([]uint16, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(2 * min(n-len(out), readChunk))
		for i := 0; i+2 <= len(c); i += 2 {
			out = append(out, binary.LittleEndian.Uint16(c[i:]))
		}
	}
	return out
}
