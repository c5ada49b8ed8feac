package search

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

func hitIDs(hits []Hit) []uint64 {
	ids := make([]uint64, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	return ids
}

func measureRecall(t testing.TB, h *HNSW, vecs, queries [][]float32, live func(uint64) bool, k int) float64 {
	exact := make([][]uint64, len(queries))
	for i, q := range queries {
		exact[i] = exactTopK(vecs, live, q, k)
	}
	return recallAt(k, queries, exact, func(q []float32) []uint64 {
		hits, err := h.Search(q, k)
		if err != nil {
			t.Fatal(err)
		}
		return hitIDs(hits)
	})
}

// TestHNSWRecall pins the quality target: recall@10 ≥ 0.95 against exact
// search on 20k clustered 384-d vectors, after building, after deleting
// 10%, and after adding those back.
func TestHNSWRecall(t *testing.T) {
	const n, dims, k = 20000, 384, 10
	data := clustered(1, n+200, dims, 100, 0.6)
	vecs, queries := data[:n], data[n:]
	h, err := New(Params{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if err := h.Add(uint64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	if r := measureRecall(t, h, vecs, queries, nil, k); r < 0.95 {
		t.Errorf("recall@10 after build = %.4f, want ≥ 0.95", r)
	} else {
		t.Logf("recall@10 after build = %.4f", r)
	}

	deleted := map[uint64]bool{}
	rng := rand.New(rand.NewPCG(3, 3))
	for len(deleted) < n/10 {
		id := uint64(rng.IntN(n))
		if !deleted[id] {
			deleted[id] = true
			if !h.Delete(id) {
				t.Fatalf("Delete(%d) = false for a present id", id)
			}
		}
	}
	if h.Len() != n-n/10 {
		t.Fatalf("Len after deletes = %d, want %d", h.Len(), n-n/10)
	}
	live := func(id uint64) bool { return !deleted[id] }
	for _, q := range queries[:20] {
		hits, _ := h.Search(q, k)
		for _, x := range hits {
			if deleted[x.ID] {
				t.Fatalf("search returned deleted id %d", x.ID)
			}
		}
	}
	if r := measureRecall(t, h, vecs, queries, live, k); r < 0.95 {
		t.Errorf("recall@10 after deleting 10%% = %.4f, want ≥ 0.95", r)
	} else {
		t.Logf("recall@10 after deleting 10%% = %.4f", r)
	}

	for id := range deleted {
		if err := h.Add(id, vecs[id]); err != nil {
			t.Fatal(err)
		}
	}
	if h.Len() != n {
		t.Fatalf("Len after re-adding = %d, want %d", h.Len(), n)
	}
	if r := measureRecall(t, h, vecs, queries, nil, k); r < 0.95 {
		t.Errorf("recall@10 after re-adding = %.4f, want ≥ 0.95", r)
	} else {
		t.Logf("recall@10 after re-adding = %.4f", r)
	}
}

func smallGraph(t testing.TB, n int) (*HNSW, [][]float32) {
	t.Helper()
	vecs := clustered(5, n, 32, 8, 0.5)
	h, err := New(Params{M: 8, EfConstruction: 64, EfSearch: 64, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if err := h.Add(uint64(i), v); err != nil {
			t.Fatal(err)
		}
	}
	return h, vecs
}

func TestHNSWFindsItselfAndReplaces(t *testing.T) {
	h, vecs := smallGraph(t, 500)
	hits, err := h.Search(vecs[42], 1)
	if err != nil || len(hits) != 1 || hits[0].ID != 42 || hits[0].Score < 0.999 {
		t.Fatalf("Search(own vector) = %v, %v; want id 42 score ≈ 1", hits, err)
	}
	// Replacing id 42 with id 7's vector makes both answer 7's vector.
	if err := h.Add(42, vecs[7]); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 500 {
		t.Fatalf("Len after replace = %d, want 500", h.Len())
	}
	hits, _ = h.Search(vecs[7], 2)
	got := map[uint64]bool{}
	for _, x := range hits {
		got[x.ID] = true
	}
	if !got[7] || !got[42] {
		t.Fatalf("after replace, Search(vec 7, 2) = %v, want ids 7 and 42", hits)
	}
}

func TestHNSWBadInput(t *testing.T) {
	h, _ := smallGraph(t, 50)
	cases := []struct {
		name string
		err  error
		run  func() error
	}{
		{"wrong dims add", ErrDims, func() error { return h.Add(1000, make([]float32, 5)) }},
		{"zero vector", ErrBadVector, func() error { return h.Add(1000, make([]float32, 32)) }},
		{"wrong dims search", ErrDims, func() error { _, err := h.Search(make([]float32, 3), 1); return err }},
		{"zero k", ErrBadParams, func() error { _, err := h.Search(make([]float32, 32), 0); return err }},
		{"bad M", ErrBadParams, func() error { _, err := New(Params{M: 1}); return err }},
		{"bad ef", ErrBadParams, func() error { return h.SetEfSearch(-1) }},
	}
	for _, c := range cases {
		if err := c.run(); !errors.Is(err, c.err) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.err)
		}
	}
	if h.Len() != 50 {
		t.Errorf("Len after rejected adds = %d, want 50", h.Len())
	}
}

func TestHNSWDeleteAllThenAdd(t *testing.T) {
	h, vecs := smallGraph(t, 300)
	for i := range vecs {
		h.Delete(uint64(i))
	}
	if h.Len() != 0 {
		t.Fatalf("Len = %d, want 0", h.Len())
	}
	if hits, err := h.Search(vecs[0], 5); err != nil || len(hits) != 0 {
		t.Fatalf("Search on emptied graph = %v, %v; want nothing", hits, err)
	}
	if err := h.Add(9, vecs[3]); err != nil {
		t.Fatal(err)
	}
	if hits, _ := h.Search(vecs[3], 5); len(hits) != 1 || hits[0].ID != 9 {
		t.Fatalf("Search after re-add = %v, want [9]", hits)
	}
}

func TestHNSWSearchFuncFilters(t *testing.T) {
	h, vecs := smallGraph(t, 400)
	hits, err := h.SearchFunc(vecs[1], 10, func(id uint64) bool { return id%2 == 0 })
	if err != nil || len(hits) != 10 {
		t.Fatalf("SearchFunc = %v, %v; want 10 hits", hits, err)
	}
	for _, x := range hits {
		if x.ID%2 != 0 {
			t.Fatalf("filter let odd id %d through", x.ID)
		}
	}
}

func TestHNSWPersistRoundTrip(t *testing.T) {
	h, vecs := smallGraph(t, 400)
	for i := range 30 { // leave tombstones in the file
		h.Delete(uint64(i * 3))
	}
	h.SetGeneration(77)
	var buf bytes.Buffer
	n, err := h.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; buffer has %d", n, err, buf.Len())
	}
	g, _ := New(Params{})
	if _, err := g.ReadFrom(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if g.Generation() != 77 || g.Len() != h.Len() || g.Dims() != 32 || g.Params() != h.Params() {
		t.Fatalf("read back gen %d len %d dims %d params %+v; want 77 %d 32 %+v",
			g.Generation(), g.Len(), g.Dims(), g.Params(), h.Len(), h.Params())
	}
	for _, q := range vecs[:50] {
		a, _ := h.Search(q, 10)
		b, _ := g.Search(q, 10)
		if !equalHits(a, b) {
			t.Fatalf("search differs after round trip:\n%v\n%v", a, b)
		}
	}
	if err := g.Add(1000, vecs[0]); err != nil {
		t.Fatalf("Add after ReadFrom: %v", err)
	}
}

func equalHits(a, b []Hit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHNSWReadDamaged flips every byte region and cuts the file at many
// lengths: each must give ErrCorrupt (or ErrVersion), never a panic, and
// leave the graph it was read into untouched.
func TestHNSWReadDamaged(t *testing.T) {
	h, vecs := smallGraph(t, 120)
	var buf bytes.Buffer
	if _, err := h.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	target, _ := smallGraph(t, 10)
	check := func(name string, data []byte) {
		t.Helper()
		_, err := target.ReadFrom(bytes.NewReader(data))
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
			t.Fatalf("%s: err = %v, want ErrCorrupt or ErrVersion", name, err)
		}
		if target.Len() != 10 {
			t.Fatalf("%s: failed read changed the graph (Len %d)", name, target.Len())
		}
	}
	for _, cut := range []int{0, 5, hnswHeaderSize - 1, hnswHeaderSize, hnswHeaderSize + 100, len(file) / 2, len(file) - 1} {
		check("truncated", file[:cut])
	}
	step := max(1, len(file)/300)
	for i := 0; i < len(file); i += step {
		bad := bytes.Clone(file)
		bad[i] ^= 0x5a
		check("flipped", bad)
	}
	if _, err := target.Search(vecs[0], 3); err != nil {
		t.Fatal(err)
	}
}

// TestHNSWReadForgedHeader pins that a header whose checksum is right but
// whose counts are not fails with ErrCorrupt after allocating about what
// the input holds, from a reader that knows its length and from one that
// does not, and that no field can wrap an int on a 32-bit build.
func TestHNSWReadForgedHeader(t *testing.T) {
	for _, h := range forgedHeaders() {
		for _, r := range []struct {
			kind string
			r    io.Reader
		}{
			{"sized", bytes.NewReader(h.file)},
			{"stream", io.MultiReader(bytes.NewReader(h.file))},
		} {
			g := &HNSW{}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := g.ReadFrom(r.r)
			runtime.ReadMemStats(&after)
			// Where an int cannot count the body the header claims (a
			// 32-bit build) and the reader cannot say it is shorter, that
			// is said first.
			if !errors.Is(err, ErrCorrupt) && !(errors.Is(err, ErrTooLarge) && r.kind == "stream" && math.MaxInt == math.MaxInt32) {
				t.Errorf("%s, %s reader: err = %v, want ErrCorrupt", h.name, r.kind, err)
			}
			// The reader's own 64 KB buffer plus a few KB; a loader that
			// trusted the header took 1.6 MB and more here.
			if got := after.TotalAlloc - before.TotalAlloc; got > 128<<10 {
				t.Errorf("%s, %s reader: %d bytes allocated for a %d-byte input", h.name, r.kind, got, len(h.file))
			}
		}
	}
}

// TestHNSWConcurrent runs searches against a writer; run with -race.
func TestHNSWConcurrent(t *testing.T) {
	h, vecs := smallGraph(t, 300)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.Search(vecs[(i*7+r)%len(vecs)], 5); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	more := clustered(9, 300, 32, 8, 0.5)
	for i, v := range more {
		if err := h.Add(uint64(1000+i), v); err != nil {
			t.Fatal(err)
		}
		h.Delete(uint64(i))
	}
	close(stop)
	wg.Wait()
	if h.Len() != 300 {
		t.Fatalf("Len = %d, want 300", h.Len())
	}
}
