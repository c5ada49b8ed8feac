package search

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// rawVectors returns n clustered vectors of length dims whose norms spread
// from 0.25 to 4 and whose cluster centres sit away from the origin, so
// that dot product, Euclidean distance and cosine rank them differently.
func rawVectors(seed uint64, n, dims int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	out := clustered(seed, n, dims, 20, 0.8)
	for _, v := range out {
		s := float32(0.25 + 3.75*r.Float64())
		for j := range v {
			v[j] = v[j]*s + 0.5
		}
	}
	return out
}

// exactScores is brute force in float64: the k best ids for q and their
// scores as Search reports them for distance d.
func exactScores(d store.Distance, vecs [][]float32, q []float32, k int) ([]uint64, []float64) {
	type scored struct {
		id uint64
		s  float64
	}
	all := make([]scored, len(vecs))
	for i, v := range vecs {
		var dotp, qq, vv, l2 float64
		for j := range v {
			a, b := float64(q[j]), float64(v[j])
			dotp += a * b
			qq += a * a
			vv += b * b
			l2 += (a - b) * (a - b)
		}
		s := dotp
		switch d {
		case store.Cosine:
			s = dotp / math.Sqrt(qq*vv)
		case store.Euclid:
			s = math.Sqrt(l2)
		}
		all[i] = scored{uint64(i), s}
	}
	slices.SortFunc(all, func(a, b scored) int {
		x, y := a.s, b.s
		if d == store.Euclid {
			x, y = -x, -y
		}
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	ids := make([]uint64, k)
	scores := make([]float64, k)
	for i := range k {
		ids[i], scores[i] = all[i].id, all[i].s
	}
	return ids, scores
}

// TestHNSWDistanceRecall pins recall@10 ≥ 0.98 against float64 brute force
// for each distance on 10k 32-d vectors of varied norms, and that the
// scores are Qdrant's: cosine similarity, dot product, Euclidean distance,
// in that distance's order.
func TestHNSWDistanceRecall(t *testing.T) {
	const n, dims, k, nq = 10000, 32, 10, 100
	data := rawVectors(21, n+nq, dims)
	vecs, queries := data[:n], data[n:]
	for _, d := range []store.Distance{store.Cosine, store.Dot, store.Euclid} {
		t.Run(d.String(), func(t *testing.T) {
			h, err := New(Params{Seed: 1, Distance: d})
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Params().Distance; got != d {
				t.Fatalf("Params().Distance = %v, want %v", got, d)
			}
			for i, v := range vecs {
				if err := h.Add(uint64(i), v); err != nil {
					t.Fatal(err)
				}
			}
			var sum float64
			for _, q := range queries {
				want, scores := exactScores(d, vecs, q, k)
				hits, err := h.Search(q, k)
				if err != nil {
					t.Fatal(err)
				}
				for i, x := range hits {
					if slices.Contains(want, x.ID) {
						sum++
					}
					if i > 0 && (d == store.Euclid) != (x.Score > hits[i-1].Score) && x.Score != hits[i-1].Score {
						t.Fatalf("hits out of %v order: %v", d, hits)
					}
				}
				// The best hit's score is the exact score of that vector
				// (cosine within half precision's error).
				tol := 1e-4 * max(1, math.Abs(scores[0]))
				if d == store.Cosine {
					tol = 2e-3
				}
				if hits[0].ID == want[0] && math.Abs(float64(hits[0].Score)-scores[0]) > tol {
					t.Fatalf("score of id %d = %v, exact %v", want[0], hits[0].Score, scores[0])
				}
			}
			r := sum / (k * nq)
			t.Logf("%v recall@10 = %.4f", d, r)
			if r < 0.98 {
				t.Errorf("%v recall@10 = %.4f, want ≥ 0.98", d, r)
			}

			// Brute force inside the graph agrees with brute force outside
			// it (cosine: up to ties within half precision).
			for _, q := range queries[:20] {
				want, _ := exactScores(d, vecs, q, k)
				hits, err := h.SearchExact(q, k, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				got := hitIDs(hits)
				if d != store.Cosine && !slices.Equal(got, want) {
					t.Fatalf("SearchExact = %v, brute force %v", got, want)
				}
				if common := countCommon(got, want); common < k-1 {
					t.Fatalf("SearchExact = %v, brute force %v", got, want)
				}
			}
		})
	}
}

func countCommon(a, b []uint64) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

// TestHNSWRawVectorsKeepTheirValues pins that dot and Euclid graphs keep
// vectors as given: values past half precision's 65504 and ones that
// differ in the fifth digit stay apart, and zero vectors are allowed
// (cosine refuses them, having no direction).
func TestHNSWRawVectorsKeepTheirValues(t *testing.T) {
	vecs := [][]float32{
		{1e5, 2e5, -3e5},
		{1e5 + 1, 2e5, -3e5},
		{0, 0, 0},
		{1.0001, 1, 1},
		{1, 1, 1},
	}
	for _, d := range []store.Distance{store.Dot, store.Euclid} {
		h, err := New(Params{M: 4, Seed: 1, Distance: d})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vecs {
			if err := h.Add(uint64(i), v); err != nil {
				t.Fatalf("%v: Add(%v): %v", d, v, err)
			}
		}
		if d == store.Euclid {
			for i, v := range vecs {
				hits, err := h.Search(v, 1)
				if err != nil || len(hits) != 1 || hits[0].ID != uint64(i) || hits[0].Score != 0 {
					t.Fatalf("Euclid: Search(vector %d) = %v, %v; want id %d at distance 0", i, hits, err, i)
				}
			}
			hits, _ := h.Search([]float32{1e5 + 1, 2e5, -3e5}, 2)
			if len(hits) != 2 || hits[1].ID != 0 || hits[1].Score != 1 {
				t.Fatalf("Euclid: second hit = %v, want id 0 at distance 1", hits)
			}
		} else {
			hits, err := h.Search([]float32{1, 0, 0}, 5)
			if err != nil || len(hits) != 5 || hits[0].ID != 1 || hits[0].Score != 1e5+1 {
				t.Fatalf("Dot: Search = %v, %v; want id 1 with score 100001 first", hits, err)
			}
		}
		if err := h.Add(9, []float32{1, float32(math.NaN()), 0}); !errors.Is(err, ErrBadVector) {
			t.Errorf("%v: Add(NaN) = %v, want ErrBadVector", d, err)
		}
		if _, err := h.Search([]float32{float32(math.Inf(1)), 0, 0}, 1); !errors.Is(err, ErrBadVector) {
			t.Errorf("%v: Search(Inf) = %v, want ErrBadVector", d, err)
		}
		if _, err := h.Search([]float32{0, 0, 0}, 1); err != nil {
			t.Errorf("%v: Search(zero) = %v, want no error", d, err)
		}
	}
	h, _ := New(Params{})
	if err := h.Add(1, []float32{0, 0, 0}); !errors.Is(err, ErrBadVector) {
		t.Errorf("Cosine: Add(zero) = %v, want ErrBadVector", err)
	}
	if _, err := New(Params{Distance: 9}); !errors.Is(err, ErrBadParams) {
		t.Errorf("New(Distance 9) = %v, want ErrBadParams", err)
	}
}

// TestHNSWDistancePersists round-trips a dot and a Euclid graph, with
// tombstones and after compaction, and checks the file says which it is.
func TestHNSWDistancePersists(t *testing.T) {
	vecs := rawVectors(3, 600, 24)
	for _, d := range []store.Distance{store.Dot, store.Euclid} {
		h, err := New(Params{M: 8, EfConstruction: 48, Seed: 5, Distance: d})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vecs {
			if err := h.Add(uint64(i), v); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 600; i += 9 {
			h.Delete(uint64(i))
		}
		h.SetGeneration(8)
		for _, compact := range []bool{false, true} {
			if compact {
				h.Compact()
			}
			var buf bytes.Buffer
			n, err := h.WriteTo(&buf)
			if err != nil || n != int64(buf.Len()) {
				t.Fatalf("%v: WriteTo = %d, %v", d, n, err)
			}
			h.mu.RLock()
			size := h.fileSizeLocked()
			h.mu.RUnlock()
			if size != n {
				t.Fatalf("%v: fileSizeLocked = %d, WriteTo wrote %d", d, size, n)
			}
			g := &HNSW{}
			if _, err := g.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
				t.Fatalf("%v: %v", d, err)
			}
			if g.Params() != h.Params() || g.Len() != h.Len() || g.Generation() != 8 {
				t.Fatalf("%v: read back %+v len %d gen %d; want %+v len %d", d, g.Params(), g.Len(), g.Generation(), h.Params(), h.Len())
			}
			for _, q := range vecs[:40] {
				a, _ := h.Search(q, 10)
				b, _ := g.Search(q, 10)
				if !equalHits(a, b) {
					t.Fatalf("%v: search differs after round trip:\n%v\n%v", d, a, b)
				}
			}
			if err := g.Add(5000, vecs[1]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// v2GraphParams and v2Graph build the graph in testdata/hnsw_v2.graph,
// which the version-2 code (before distances, commit 1d61024) wrote.
var v2GraphParams = Params{M: 8, EfConstruction: 32, EfSearch: 32, Seed: 3}

func v2Graph(t *testing.T, p Params) *HNSW {
	t.Helper()
	h, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range clustered(7, 300, 16, 5, 0.5) {
		if err := h.Add(uint64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 300; i += 7 {
		h.Delete(uint64(i))
	}
	h.SetGeneration(42)
	return h
}

// TestHNSWCosineUnchangedByDistances pins that cosine graphs are what they
// were before graphs had a distance: a version-2 file loads as cosine, and
// building the same graph today writes the same bytes but for the version
// and distance fields of the header (and its checksum).
func TestHNSWCosineUnchangedByDistances(t *testing.T) {
	old, err := os.ReadFile("testdata/hnsw_v2.graph")
	if err != nil {
		t.Fatal(err)
	}
	g := &HNSW{}
	if _, err := g.ReadFrom(bytes.NewReader(old)); err != nil {
		t.Fatalf("version 2 file: %v", err)
	}
	if g.Params().Distance != store.Cosine || g.Generation() != 42 {
		t.Fatalf("version 2 file read as %v, generation %d; want Cosine, 42", g.Params().Distance, g.Generation())
	}
	for _, zero := range []bool{true, false} {
		p := v2GraphParams
		if !zero {
			p.Distance = store.Cosine
		}
		h := v2Graph(t, p)
		var buf bytes.Buffer
		if _, err := h.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		now := buf.Bytes()
		le := binary.LittleEndian
		if len(now) != len(old) || le.Uint32(now[8:]) != hnswVersion || le.Uint32(now[64:]) != uint32(store.Cosine) {
			t.Fatalf("today's file: %d bytes, version %d, distance %d; want %d bytes, %d, 1",
				len(now), le.Uint32(now[8:]), le.Uint32(now[64:]), len(old), hnswVersion)
		}
		if !bytes.Equal(now[:8], old[:8]) || !bytes.Equal(now[12:64], old[12:64]) || !bytes.Equal(now[72:], old[72:]) {
			t.Fatalf("a cosine graph built today differs from the version 2 code's beyond the version and distance fields")
		}
		if got := crc32.Checksum(now[:68], castagnoli); got != le.Uint32(now[68:]) {
			t.Fatalf("header checksum %08x, stored %08x", got, le.Uint32(now[68:]))
		}
		for _, q := range clustered(8, 30, 16, 5, 0.5) {
			a, _ := h.Search(q, 10)
			b, _ := g.Search(q, 10)
			if !equalHits(a, b) {
				t.Fatalf("search differs from the version 2 graph:\n%v\n%v", a, b)
			}
		}
	}
}
