package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/store"
)

// BenchmarkCollectionsQuery measures Collections.Query (k=10) over n
// clustered 384-d cosine points with a three-field payload, unfiltered and
// with filters matching 50% and 1% of the points, and reports recall@10
// against exact search over the matching points, the seconds Upsert took
// to store and index them (1000 a batch), the seconds OpenCollections took
// to load the saved index, and the heap the loaded index holds (graph,
// id table and decoded payloads) per point.
//
//	go test ./search/ -run XXX -bench CollectionsQuery -benchtime 200x
func BenchmarkCollectionsQuery(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			benchCollections(b, n)
		})
	}
}

func benchCollections(b *testing.B, n int) {
	const dims, k, nq = 384, 10, 100
	ctx := context.Background()
	dir := b.TempDir()
	st := openPointStore(b, dir)
	c, _ := openColls(b, st, dir)
	if _, err := c.Create(ctx, "bench", map[string]store.VectorParams{"": {Size: dims, Distance: store.Cosine}}); err != nil {
		b.Fatal(err)
	}
	data := clustered(1, n+nq, dims, 300, 0.6)
	vecs, queries := data[:n], data[n:]
	rng := rand.New(rand.NewPCG(2, 2))
	bucket := make([]int, n)
	start := time.Now()
	for lo := 0; lo < n; lo += 1000 {
		pts := make([]store.Point, 0, 1000)
		for i := lo; i < min(lo+1000, n); i++ {
			bucket[i] = rng.IntN(100)
			pts = append(pts, pt(num(uint64(i)), vecs[i], fmt.Sprintf(`{"b":%d,"source":"docs/file-%d.md","lang":"en"}`, bucket[i], i/10)))
		}
		if err := c.Upsert(ctx, "bench", pts); err != nil {
			b.Fatal(err)
		}
	}
	build := time.Since(start)
	filters := []struct {
		name, json string
		match      func(int) bool
	}{
		{"none", ``, nil},
		{"50%", `{"must":{"key":"b","range":{"lt":50}}}`, func(b int) bool { return b < 50 }},
		{"1%", `{"must":{"key":"b","match":{"value":7}}}`, func(b int) bool { return b == 7 }},
	}
	exact := make([][][]uint64, len(filters))
	for i, f := range filters {
		live := func(id uint64) bool { return f.match == nil || f.match(bucket[id]) }
		exact[i] = exactIDs(vecs, live, queries, k)
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	graphFile, _ := os.Stat(c.graphPath("bench"))
	c, vecs, data = nil, nil, nil

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start = time.Now()
	c, progress := openColls(b, st, dir)
	load := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if col, _ := c.get("bench"); !col.loaded {
		b.Fatalf("index rebuilt instead of loaded: %s", progress)
	}
	perPoint := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)

	for i, f := range filters {
		b.Run("filter="+f.name, func(b *testing.B) {
			var filter *Filter
			if f.json != "" {
				filter = mustFilter(b, f.json)
			}
			search := func(q []float32) []uint64 {
				res, err := c.Query(ctx, "bench", PointQuery{Vector: q, Limit: k, Filter: filter})
				if err != nil {
					b.Fatal(err)
				}
				ids := make([]uint64, len(res))
				for j, p := range res {
					ids[j], _ = p.ID.Num()
				}
				return ids
			}
			r := recallAt(k, queries, exact[i], search)
			for j := 0; b.Loop(); j++ {
				search(queries[j%nq])
			}
			b.ReportMetric(r, "recall@10")
			b.ReportMetric(build.Seconds(), "build-s")
			b.ReportMetric(load.Seconds(), "load-s")
			b.ReportMetric(perPoint, "heap-B/point")
			b.ReportMetric(float64(graphFile.Size())/float64(n), "file-B/point")
		})
	}
	runtime.KeepAlive(c)
}
