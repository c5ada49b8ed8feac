package search

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// FuzzLoadGraph feeds ReadFrom arbitrary bytes, and the same bytes again
// with both checksums made to match, so the fuzzer gets past the CRCs to
// the counts and links behind them. A load must either fail with
// ErrCorrupt or ErrVersion, leaving the graph it was read into as it was,
// or give a graph whose invariants hold and which can be searched, added
// to, deleted from and saved again.
//
// The seeds are graphs of a few sizes written by the real WriteTo, and
// truncated and bit-flipped copies of them; testdata/fuzz/FuzzLoadGraph
// keeps the inputs that once loaded slowly or crashed.
func FuzzLoadGraph(f *testing.F) {
	for _, n := range []int{0, 1, 3, 40} {
		file := savedGraph(f, n, n > 3)
		f.Add(file)
		f.Add(file[:len(file)/2])
		f.Add(file[:len(file)-1])
		bad := bytes.Clone(file)
		bad[len(bad)/3] ^= 0x40
		f.Add(bad)
	}
	for _, h := range forgedHeaders() {
		f.Add(h.file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		loadAndCheck(t, data)
		if fixed, ok := withChecksums(data); ok {
			loadAndCheck(t, fixed)
		}
	})
}

// savedGraph returns the file WriteTo makes for n 8-d vectors, with some
// tombstones when dead is set.
func savedGraph(t testing.TB, n int, dead bool) []byte {
	t.Helper()
	h, err := New(Params{M: 4, EfConstruction: 16, EfSearch: 16, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range clustered(7, n, 8, 3, 0.5) {
		if err := h.Add(uint64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if dead {
		for i := 0; i < n; i += 5 {
			h.Delete(uint64(i))
		}
	}
	h.SetGeneration(uint64(n))
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withChecksums returns a copy of data with the header checksum, and the
// body checksum where the header's sizes put it inside data, recomputed.
func withChecksums(data []byte) ([]byte, bool) {
	if len(data) < hnswHeaderSize {
		return nil, false
	}
	out := bytes.Clone(data)
	le := binary.LittleEndian
	le.PutUint32(out[68:], crc32.Checksum(out[:68], castagnoli))
	dims := uint64(le.Uint32(out[12:]))
	m := uint64(le.Uint32(out[16:]))
	n := uint64(le.Uint32(out[48:]))
	words := le.Uint64(out[56:])
	if m > maxM || dims > maxDims || words > 1<<40 {
		return out, true
	}
	body := n*(8+1+1+2*dims+4*(2*m+1)) + 4*words
	if end := hnswHeaderSize + body; end+4 <= uint64(len(out)) {
		le.PutUint32(out[end:], crc32.Checksum(out[hnswHeaderSize:end], castagnoli))
	}
	return out, true
}

// loadAndCheck reads data into a graph that already holds three vectors.
func loadAndCheck(t *testing.T, data []byte) {
	t.Helper()
	g, err := New(Params{M: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range [][]float32{{1, 0}, {0, 1}, {1, 1}} {
		g.Add(uint64(100+i), v)
	}
	if _, err := g.ReadFrom(bytes.NewReader(data)); err != nil {
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("ReadFrom error %v, want ErrCorrupt or ErrVersion", err)
		}
		if g.Len() != 3 || g.Dims() != 2 || !g.Contains(101) {
			t.Fatalf("failed ReadFrom changed the graph: Len %d, Dims %d", g.Len(), g.Dims())
		}
		return
	}
	checkGraph(t, g)
	useGraph(t, g)
	checkGraph(t, g)
}

// checkGraph fails t unless every invariant a search or a write relies on
// holds.
func checkGraph(t *testing.T, g *HNSW) {
	t.Helper()
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := len(g.ids)
	if len(g.levels) != n || len(g.dead) != n || len(g.upper) != n ||
		len(g.vecs) != n*g.dims || len(g.links0) != n*(g.m0+1) {
		t.Fatalf("slot arrays disagree: %d ids, %d levels, %d dead, %d upper, %d vector values (dims %d), %d layer-0 words",
			n, len(g.levels), len(g.dead), len(g.upper), len(g.vecs), g.dims, len(g.links0))
	}
	if g.m0 != 2*g.p.M {
		t.Fatalf("m0 %d, M %d", g.m0, g.p.M)
	}
	if _, err := g.p.resolve(); err != nil {
		t.Fatal(err)
	}
	dead := 0
	for s := range uint32(n) {
		if g.dead[s] {
			dead++
		} else if got, ok := g.slots.get(g.ids[s]); !ok || got != s {
			t.Fatalf("live slot %d (id %d) not in the id map", s, g.ids[s])
		}
		l := int(g.levels[s])
		if l > g.top || len(g.upper[s]) != l*(g.p.M+1) {
			t.Fatalf("slot %d level %d, top %d, %d upper words", s, l, g.top, len(g.upper[s]))
		}
		for lc := 0; lc <= l; lc++ {
			b := g.block(s, lc)
			if int(b[0]) > g.capacity(lc) {
				t.Fatalf("slot %d layer %d holds %d links", s, lc, b[0])
			}
			for _, x := range b[1 : 1+b[0]] {
				if int(x) >= n || int(g.levels[x]) < lc {
					t.Fatalf("slot %d layer %d links to slot %d", s, lc, x)
				}
			}
		}
	}
	if dead != g.nDead || n-dead != g.slots.len() {
		t.Fatalf("%d slots, %d tombstones counted %d, %d ids mapped", n, dead, g.nDead, g.slots.len())
	}
	if n == 0 {
		if g.top != -1 {
			t.Fatalf("empty graph with top level %d", g.top)
		}
		return
	}
	if int(g.entry) >= n || int(g.levels[g.entry]) != g.top {
		t.Fatalf("entry slot %d, top %d", g.entry, g.top)
	}
}

// useGraph searches, adds, deletes, compacts and round-trips a loaded
// graph: none of it may panic or fail.
func useGraph(t *testing.T, g *HNSW) {
	t.Helper()
	dims := g.Dims()
	if dims == 0 {
		dims = 4
	}
	rng := rand.New(rand.NewPCG(1, 2))
	q := make([]float32, dims)
	for i := range q {
		q[i] = float32(rng.NormFloat64())
	}
	q[0] = 1 // never all zeros
	if _, err := g.Search(q, 5); err != nil {
		t.Fatalf("Search after load: %v", err)
	}
	if err := g.Add(1<<63, q); err != nil {
		t.Fatalf("Add after load: %v", err)
	}
	g.mu.RLock()
	var live uint64
	g.slots.each(func(id uint64, _ uint32) { live = id })
	g.mu.RUnlock()
	g.Delete(live)
	if _, err := g.Search(q, 5); err != nil {
		t.Fatalf("Search after Add and Delete: %v", err)
	}
	g.Compact()
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	again := &HNSW{}
	if _, err := again.ReadFrom(&buf); err != nil {
		t.Fatalf("a graph saved after load does not load: %v", err)
	}
	if again.Len() != g.Len() {
		t.Fatalf("round trip after load: Len %d, want %d", again.Len(), g.Len())
	}
}

// forgedHeader is a header with a valid checksum whose fields lie, followed
// by a few body bytes.
type forgedHeader struct {
	name                   string
	dims, m, top, n, entry uint32
	words                  uint64
}

func (h forgedHeader) bytes() []byte {
	le := binary.LittleEndian
	b := make([]byte, hnswHeaderSize+64)
	copy(b, hnswMagic)
	le.PutUint32(b[8:], hnswVersion)
	le.PutUint32(b[12:], h.dims)
	le.PutUint32(b[16:], h.m)
	le.PutUint32(b[20:], 16)
	le.PutUint32(b[24:], 16)
	le.PutUint32(b[28:], h.top)
	le.PutUint32(b[48:], h.n)
	le.PutUint32(b[52:], h.entry)
	le.PutUint64(b[56:], h.words)
	le.PutUint32(b[68:], crc32.Checksum(b[:68], castagnoli))
	return b
}

// forgedHeaders are headers that claim far more than the bytes behind
// them, or values that an int conversion on a 32-bit build would turn
// negative.
func forgedHeaders() []struct {
	name string
	file []byte
} {
	const most = 1<<32 - 1
	hs := []forgedHeader{
		{name: "slots", dims: maxDims, m: maxM, top: maxLevel, n: most - 1},
		{name: "upper words", dims: 1, m: maxM, top: maxLevel, n: most - 1, words: (most - 1) * maxLevel * (maxM + 1)},
		{name: "dims", dims: most, m: 4, n: 1},
		{name: "top level", dims: 4, m: 4, top: most, n: 1},
		{name: "entry", dims: 4, m: 4, n: 1, entry: most},
		{name: "M", dims: 4, m: most, n: 1},
	}
	out := make([]struct {
		name string
		file []byte
	}, len(hs))
	for i, h := range hs {
		out[i].name, out[i].file = h.name, h.bytes()
	}
	return out
}
