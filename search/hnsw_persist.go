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
	"unsafe"

	"github.com/edgesearch/edgesearch/store"
)

// File layout, little-endian:
//
//	header (72 bytes): magic "EDGEHNSW", version, dims, M, EfConstruction,
//	  EfSearch, top level, seed, generation, slots, entry, upper-layer word
//	  count, distance (u32: 1 cosine, 2 dot, 3 Euclid; plus hnswInt8 for
//	  int8 codes), CRC-32C of the bytes before it
//	body: ids u64 × slots, levels u8 × slots, tombstones u8 × slots,
//	  vectors × slots×dims (cosine: binary16; dot and Euclid: float32;
//	  int8 codes: i8, then a float32 scale × slots),
//	  layer-0 links u32 × slots×(2M+1), upper links u32 × words
//	trailer: CRC-32C of the body
//
// The header has its own checksum so a damaged size is caught before
// anything is allocated from it. Behind a good checksum a header can still
// lie (a forged file), so every count in it is range-checked and, when the
// input's length is known, checked against that length before any array is
// allocated; each array is then allocated once at its full size, so loading
// 100k vectors costs no garbage. A stream of unknown length is read in
// bounded chunks into arrays that grow as bytes arrive: a header that lies
// ends in io.ErrUnexpectedEOF, never a huge allocation. Either way loading
// costs time and memory linear in the file's size.
//
// Version 1 stored float32 vectors; such a file is rebuilt, not read.
// Version 2 had no distance (its field was reserved, zero) and is read as
// cosine, which is all it could hold.
const (
	hnswMagic      = "EDGEHNSW"
	hnswVersion    = 3
	hnswV2         = 2
	hnswHeaderSize = 72
	hnswInt8       = 0x100   // in the distance word: vectors are int8 codes
	readChunk      = 1 << 16 // elements per bounded read
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the graph and its generation number to w. It implements
// io.WriterTo; searches may run meanwhile, writers wait.
func (h *HNSW) WriteTo(w io.Writer) (int64, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.writeLocked(w)
}

// fileSizeLocked is how many bytes writeLocked writes, for a container
// that records a graph's length before the graph.
func (h *HNSW) fileSizeLocked() int64 {
	var words int64
	for _, u := range h.upper {
		words += int64(len(u))
	}
	n := int64(len(h.ids))
	scale := int64(0)
	if h.q8() {
		scale = 4
	}
	return hnswHeaderSize + n*(8+1+1+int64(h.valueBytes()*h.dims)+scale+4*int64(h.m0+1)) + 4*words + 4
}

// writeLocked is WriteTo with the read lock held.
func (h *HNSW) writeLocked(w io.Writer) (int64, error) {
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
	distance := uint32(h.p.Distance)
	if h.q8() {
		distance |= hnswInt8
	}
	le.PutUint32(hd[64:], distance)
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
	for _, c := range h.codes {
		put(byte(c))
	}
	for _, f := range h.scales {
		le.PutUint32(tmp[:], math.Float32bits(f))
		put(tmp[:4]...)
	}
	for _, f := range h.raw {
		le.PutUint32(tmp[:], math.Float32bits(f))
		put(tmp[:4]...)
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
// io.ReaderFrom. A damaged or truncated file fails with ErrCorrupt, a file
// from another format version with ErrVersion (a version 2 file, from
// before graphs had a distance, is read as cosine), and a graph whose arrays an
// int cannot index (on a 32-bit build) with ErrTooLarge; on error the graph
// is left as it was. Compare Generation with the store's afterwards to
// detect a stale file.
//
// Loading costs time and memory in proportion to the bytes read, whatever
// the header claims: when r says how many bytes it holds (a regular
// *os.File, or a reader with a Len method such as *bytes.Reader) the sizes
// in the header are checked against that before anything is allocated;
// otherwise the arrays grow only as bytes arrive.
func (h *HNSW) ReadFrom(r io.Reader) (int64, error) {
	size := remaining(r)
	cr := &countReader{r: bufio.NewReaderSize(r, 1<<16)}
	g, err := readGraph(cr, size)
	if err != nil {
		return cr.n, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.p, h.m0, h.ml, h.rng, h.gen = g.p, g.m0, g.ml, g.rng, g.gen
	h.dims, h.vecs, h.raw, h.ids, h.levels, h.dead = g.dims, g.vecs, g.raw, g.ids, g.levels, g.dead
	h.codes, h.scales = g.codes, g.scales
	h.links0, h.upper, h.slots, h.nDead = g.links0, g.upper, g.slots, g.nDead
	h.entry, h.top = g.entry, g.top
	if h.pool.New == nil {
		h.pool.New = func() any { return new(searchScratch) }
	}
	return cr.n, nil
}

// remaining returns how many bytes r holds from its current position, or
// -1 when it cannot tell.
func remaining(r io.Reader) int64 {
	switch r := r.(type) {
	case *os.File:
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil || pos > fi.Size() {
			return -1
		}
		return fi.Size() - pos
	case interface{ Len() int }:
		return int64(r.Len())
	}
	return -1
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
	version := le.Uint32(hd[8:])
	if version != hnswVersion && version != hnswV2 {
		return nil, fmt.Errorf("hnsw graph: version %d, want %d: %w", version, hnswVersion, ErrVersion)
	}
	if got, want := crc32.Checksum(hd[:68], castagnoli), le.Uint32(hd[68:]); got != want {
		return nil, corrupt("header checksum %08x, want %08x", got, want)
	}
	// Zero is cosine, as in Params; version 2 has zero there.
	distance := store.Cosine
	dword := le.Uint32(hd[64:])
	int8Codes := version != hnswV2 && dword&hnswInt8 != 0
	switch d := dword &^ hnswInt8; {
	case version == hnswV2 || dword == 0:
	case d == uint32(store.Cosine) || (!int8Codes && (d == uint32(store.Dot) || d == uint32(store.Euclid))):
		distance = store.Distance(d)
	default:
		return nil, corrupt("distance %#x", dword)
	}
	valueBytes := uint64(2)
	switch {
	case int8Codes:
		valueBytes = 1 // and a 4-byte scale, below
	case distance != store.Cosine:
		valueBytes = 4
	}
	// Every field is range-checked as a uint64 before it becomes an int, so
	// no value can wrap negative on a 32-bit build, and all the size
	// arithmetic below stays under 2^51.
	field := func(off int) uint64 { return uint64(le.Uint32(hd[off:])) }
	dims, m, efc, efs := field(12), field(16), field(20), field(24)
	top, n, entry := field(28), field(48), field(52)
	words := le.Uint64(hd[56:])
	if m < 2 || m > maxM || efc < 1 || efc > maxEf || efs < 1 || efs > maxEf {
		return nil, corrupt("parameters M %d, EfConstruction %d, EfSearch %d out of range", m, efc, efs)
	}
	if dims > maxDims || (n > 0 && dims == 0) || top > maxLevel || n >= math.MaxUint32 {
		return nil, corrupt("dims %d, slots %d, top level %d out of range", dims, n, top)
	}
	if n > 0 && entry >= n {
		return nil, corrupt("entry slot %d of %d", entry, n)
	}
	if words > n*top*(m+1) {
		return nil, corrupt("%d upper-layer words for %d slots of at most %d levels", words, n, top)
	}
	body := n*(8+1+1+valueBytes*dims+4*(2*m+1)) + 4*words
	if int8Codes {
		body += 4 * n
	}
	if size >= 0 && uint64(size) < hnswHeaderSize+body+4 {
		return nil, corrupt("header describes %d bytes, the file holds %d", hnswHeaderSize+body+4, size)
	}
	// Each array is shorter than the body, so a body an int can count
	// keeps every index and offset below exact.
	if body > math.MaxInt {
		return nil, fmt.Errorf("hnsw graph: body of %d bytes is beyond this platform's int: %w", body, ErrTooLarge)
	}
	p := Params{M: int(m), EfConstruction: int(efc), EfSearch: int(efs), Seed: le.Uint64(hd[32:]), Distance: distance, Int8: int8Codes}
	g := &HNSW{}
	g.init(p)
	g.gen = le.Uint64(hd[40:])
	g.dims = int(dims)
	ns := int(n)
	sum := crc32.New(castagnoli)
	br := &bodyReader{r: io.TeeReader(r, sum), known: size >= 0}
	g.ids = readU64s(br, ns)
	g.levels = br.bytes(ns)
	deadBytes := br.bytes(ns)
	if g.q8() {
		// The bytes are the codes: reinterpreted, not copied, so a
		// million vectors do not take their 384 MB twice while loading.
		codes := br.bytes(ns * g.dims)
		g.codes = unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(codes))), len(codes))
		g.scales = readF32s(br, ns)
	} else if g.half() {
		g.vecs = readU16s(br, ns*g.dims)
	} else {
		g.raw = readF32s(br, ns*g.dims)
	}
	g.links0 = readU32s(br, ns*(g.m0+1))
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
	if err := g.adopt(deadBytes, upperWords, uint32(entry), int(top)); err != nil {
		return nil, err
	}
	return g, nil
}

// adopt checks every structural invariant a search relies on, so even a
// file whose checksum was forged cannot make a search index out of range.
// Its work is linear in the arrays it checks: no level exceeds top, no
// block holds more links than its capacity.
func (g *HNSW) adopt(deadBytes []byte, upperWords []uint32, entry uint32, top int) error {
	n := len(g.ids)
	g.dead = make([]bool, n)
	g.upper = make([][]uint32, n)
	off := 0
	for s := range n {
		switch deadBytes[s] {
		case 0:
			if _, dup := g.slots.get(g.ids[s]); dup {
				return corrupt("id %d appears twice", g.ids[s])
			}
			g.slots.set(g.ids[s], uint32(s))
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
			if len(upperWords)-off < l*(g.p.M+1) {
				return corrupt("upper links end early at slot %d", s)
			}
			end := off + l*(g.p.M+1)
			g.upper[s] = upperWords[off:end:end]
			off = end
		}
	}
	if off != len(upperWords) {
		return corrupt("%d unused upper-layer words", len(upperWords)-off)
	}
	// Slot numbers are compared as uint32: converted to an int on a 32-bit
	// build, a large one would turn negative and pass a bounds check.
	last := uint32(n)
	for s := range last {
		for lc := 0; lc <= int(g.levels[s]); lc++ {
			b := g.block(s, lc)
			if b[0] > uint32(g.capacity(lc)) {
				return corrupt("slot %d layer %d has %d links, capacity %d", s, lc, b[0], g.capacity(lc))
			}
			for _, x := range b[1 : 1+b[0]] {
				if x >= last || x == s || int(g.levels[x]) < lc {
					return corrupt("slot %d layer %d links to bad slot %d", s, lc, x)
				}
			}
		}
	}
	if n == 0 {
		return nil
	}
	if entry >= last || int(g.levels[entry]) != top {
		return corrupt("entry slot %d invalid", entry)
	}
	for i, v := range g.vecs {
		if v&0x7c00 == 0x7c00 {
			return corrupt("vector value at %d not finite", i)
		}
	}
	for i, v := range g.raw {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return corrupt("vector value at %d not finite", i)
		}
	}
	for s, v := range g.scales {
		if !(v >= 0 && v <= 1) { // a unit vector's largest value / 127
			return corrupt("slot %d scale %v", s, v)
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
	read  int  // bytes read so far
	known bool // the input was checked to hold the whole body
}

// capFor is the capacity to start an array of n elements with: all of it
// when the input is known to hold them (no garbage from regrowth), else a
// little, grown by append as elements arrive, so that a header that lies
// about a stream costs no more memory than the bytes actually sent.
func (b *bodyReader) capFor(n int) int {
	if b.known {
		return n
	}
	return min(n, 1024)
}

// chunk reads the next whole elements of size bytes each, at most n of
// them. The buffer is as large as readChunk elements at most, and for an
// input of unknown length no larger than what has already been read (or
// 4 KB), for the same reason as capFor.
func (b *bodyReader) chunk(size, n int) []byte {
	if b.err != nil {
		return nil
	}
	limit := readChunk * size
	if !b.known {
		limit = min(limit, max(4096, b.read))
	}
	want := size * min(n, max(1, limit/size))
	if cap(b.buf) < want {
		b.buf = make([]byte, want)
	}
	buf := b.buf[:want]
	if _, err := io.ReadFull(b.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		return nil
	}
	b.read += want
	return buf
}

func (b *bodyReader) bytes(n int) []byte {
	out := make([]byte, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		out = append(out, b.chunk(1, n-len(out))...)
	}
	return out
}

func readU64s(b *bodyReader, n int) []uint64 {
	out := make([]uint64, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(8, n-len(out))
		for i := 0; i+8 <= len(c); i += 8 {
			out = append(out, binary.LittleEndian.Uint64(c[i:]))
		}
	}
	return out
}

func readU32s(b *bodyReader, n int) []uint32 {
	out := make([]uint32, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(4, n-len(out))
		for i := 0; i+4 <= len(c); i += 4 {
			out = append(out, binary.LittleEndian.Uint32(c[i:]))
		}
	}
	return out
}

func readF32s(b *bodyReader, n int) []float32 {
	out := make([]float32, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(4, n-len(out))
		for i := 0; i+4 <= len(c); i += 4 {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(c[i:])))
		}
	}
	return out
}

func readU16s(b *bodyReader, n int) []uint16 {
	out := make([]uint16, 0, b.capFor(n))
	for len(out) < n && b.err == nil {
		c := b.chunk(2, n-len(out))
		for i := 0; i+2 <= len(c); i += 2 {
			out = append(out, binary.LittleEndian.Uint16(c[i:]))
		}
	}
	return out
}
