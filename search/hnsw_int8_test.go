package search

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// TestHNSWInt8Params pins that int8 codes are for cosine only.
func TestHNSWInt8Params(t *testing.T) {
	for _, d := range []store.Distance{store.Dot, store.Euclid} {
		if _, err := New(Params{Distance: d, Int8: true}); !errors.Is(err, ErrBadParams) {
			t.Errorf("Int8 with %v: %v, want ErrBadParams", d, err)
		}
	}
	for _, d := range []store.Distance{0, store.Cosine} {
		if _, err := New(Params{Distance: d, Int8: true}); err != nil {
			t.Errorf("Int8 with %v: %v", d, err)
		}
	}
}

// TestQuantizeError pins the codes' precision that the rescoring pool is
// sized for: on 384-d unit vectors a cosine from the codes is within 3e-3
// of the exact one, 1e-3 on average (measured: 1.1e-3 and 3e-4).
func TestQuantizeError(t *testing.T) {
	data := clustered(4, 400, 384, 10, 0.8)
	codes := make([]int8, 384)
	var worst, sum float64
	for i := 0; i+1 < len(data); i += 2 {
		q, v := data[i], data[i+1]
		scale := quantize(codes, v)
		got := float64(dotInt8(q, codes) * scale)
		var want float64
		for j := range q {
			want += float64(q[j]) * float64(v[j])
		}
		e := math.Abs(got - want)
		worst = max(worst, e)
		sum += e
	}
	mean := sum / float64(len(data)/2)
	t.Logf("cosine error from int8 codes: mean %.2g, worst %.2g", mean, worst)
	if worst > 3e-3 || mean > 1e-3 {
		t.Errorf("cosine error mean %.2g worst %.2g, want ≤ 1e-3 and ≤ 3e-3", mean, worst)
	}
	if s := quantize(codes, make([]float32, 384)); s != 0 || codes[0] != 0 {
		t.Errorf("zero vector: scale %v", s)
	}
}

// TestHNSWInt8RecallAndPersist pins that a graph of int8 codes finds the
// exact neighbours among its best ef (what Collections rescores), holds a
// byte per value, and survives a round trip through its file with and
// without tombstones.
func TestHNSWInt8RecallAndPersist(t *testing.T) {
	const n, dims, k, nq = 5000, 64, 10, 100
	data := clustered(12, n+nq, dims, 40, 0.8)
	vecs, queries := data[:n], data[n:]
	h, err := New(Params{Seed: 2, Int8: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if err := h.Add(uint64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.codes) != n*dims || len(h.scales) != n || len(h.vecs) != 0 || len(h.raw) != 0 {
		t.Fatalf("slabs: %d codes, %d scales, %d binary16, %d float32", len(h.codes), len(h.scales), len(h.vecs), len(h.raw))
	}
	found, total := 0, 0
	for _, q := range queries {
		want, _ := exactScores(store.Cosine, vecs, q, k)
		hits, err := h.search(q, DefaultEfSearch, DefaultEfSearch, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]uint64, len(hits))
		for i, x := range hits {
			ids[i] = x.ID
		}
		found += countCommon(want, ids)
		total += k
	}
	r := float64(found) / float64(total)
	t.Logf("exact top-%d found among the int8 graph's best %d: %.4f", k, DefaultEfSearch, r)
	if r < 0.99 {
		t.Errorf("exact top-%d in the best ef = %.4f, want ≥ 0.99", k, r)
	}

	for i := 0; i < n; i += 7 {
		h.Delete(uint64(i))
	}
	h.SetGeneration(9)
	for _, compact := range []bool{false, true} {
		if compact {
			h.Compact()
		}
		var buf bytes.Buffer
		wrote, err := h.WriteTo(&buf)
		if err != nil {
			t.Fatal(err)
		}
		h.mu.RLock()
		size := h.fileSizeLocked()
		h.mu.RUnlock()
		if size != wrote {
			t.Fatalf("fileSizeLocked = %d, WriteTo wrote %d", size, wrote)
		}
		g := &HNSW{}
		if _, err := g.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		if g.Params() != h.Params() || g.Len() != h.Len() || g.Generation() != 9 {
			t.Fatalf("read back %+v len %d; want %+v len %d", g.Params(), g.Len(), h.Params(), h.Len())
		}
		for _, q := range queries[:30] {
			a, _ := h.Search(q, k)
			b, _ := g.Search(q, k)
			if !equalHits(a, b) {
				t.Fatalf("search differs after round trip (compact %v):\n%v\n%v", compact, a, b)
			}
		}
		if err := g.Add(n+1, vecs[3]); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHNSWInt8FileRefusesForgedFlags pins that the header's int8 flag is
// only read with cosine, and that a scale no unit vector has is damage.
func TestHNSWInt8FileRefusesForgedFlags(t *testing.T) {
	h, err := New(Params{M: 4, EfConstruction: 16, Int8: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range clustered(3, 50, 8, 3, 0.5) {
		h.Add(uint64(i), v)
	}
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	forge := func(mod func(b []byte)) []byte {
		b := bytes.Clone(buf.Bytes())
		mod(b)
		le.PutUint32(b[68:], crc32.Checksum(b[:68], castagnoli))
		return b
	}
	for name, b := range map[string][]byte{
		"dot with int8 flag": forge(func(b []byte) { le.PutUint32(b[64:], uint32(store.Dot)|hnswInt8) }),
		"unknown flag":       forge(func(b []byte) { le.PutUint32(b[64:], uint32(store.Cosine)|0x200) }),
	} {
		if _, err := (&HNSW{}).ReadFrom(bytes.NewReader(b)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	// A scale of 2 behind a good body checksum.
	h.scales[0] = 2
	buf.Reset()
	h.WriteTo(&buf)
	if _, err := (&HNSW{}).ReadFrom(bytes.NewReader(buf.Bytes())); !errors.Is(err, ErrCorrupt) {
		t.Errorf("scale 2: %v, want ErrCorrupt", err)
	}
}
