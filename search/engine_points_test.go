package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// pointsEngine stores n one-chunk documents with the vectors vecs (of
// length dims), metadata group = i%100 (1% each) and half = i%2 (50%), and
// returns the engine, each document's chunk id and the vectors by chunk id.
func pointsEngine(t *testing.T, n, dims int, vecs [][]float32) (*Engine, []uint64, map[uint64][]float32) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "edgesearch.db"), store.Options{Model: "points-test", Dims: dims})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := Open(context.Background(), st, EngineOptions{Dir: dir, Params: Params{Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	chunkIDs := make([]uint64, n)
	byChunk := make(map[uint64][]float32, n)
	for lo := 0; lo < n; lo += 500 {
		var docs []store.Document
		for i := lo; i < min(n, lo+500); i++ {
			text := fmt.Sprintf("passage number %d", i)
			docs = append(docs, store.Document{
				ID: "d" + strconv.Itoa(i), Title: "T" + strconv.Itoa(i), Text: text,
				Metadata: map[string]string{"group": strconv.Itoa(i % 100), "half": strconv.Itoa(i % 2)},
				Chunks:   []store.Chunk{{Start: 0, End: len(text), Tokens: 3, Vector: vecs[i]}},
			})
		}
		if _, err := e.Write(context.Background(), store.Change{Put: docs}); err != nil {
			t.Fatal(err)
		}
		for j, d := range docs {
			chunkIDs[lo+j] = d.Chunks[0].ID
			byChunk[d.Chunks[0].ID] = vecs[lo+j]
		}
	}
	return e, chunkIDs, byChunk
}

// TestDocumentsAsPointsKeepRecallUnderFilters pins the documents collection's
// search against exact search: recall@10 of at least 0.98 unfiltered, with a
// filter matching half the chunks and with one matching 1%.
func TestDocumentsAsPointsKeepRecallUnderFilters(t *testing.T) {
	const n, dims, k = 4000, 32, 10
	data := clustered(31, n+40, dims, 50, 0.8)
	e, chunkIDs, byChunk := pointsEngine(t, n, dims, data[:n])
	queries := data[n:]
	for _, tt := range []struct {
		name   string
		filter string
		keep   func(i int) bool
	}{
		{"unfiltered", "", func(int) bool { return true }},
		{"50%", `{"must":[{"key":"metadata.half","match":{"value":0}}]}`, func(i int) bool { return i%2 == 0 }},
		{"1%", `{"must":[{"key":"metadata.group","match":{"value":7}}]}`, func(i int) bool { return i%100 == 7 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f *Filter
			if tt.filter != "" {
				f = mustFilter(t, tt.filter)
			}
			// Ground truth over the chunk vectors, by chunk id.
			vecs := make([][]float32, n)
			for i := range vecs {
				vecs[i] = byChunk[chunkIDs[i]]
			}
			var hit, want int
			for _, q := range queries {
				exact := exactTopK(vecs, func(i uint64) bool { return tt.keep(int(i)) }, q, k)
				got, err := e.QueryPoints(context.Background(), PointQuery{Vector: q, Limit: k, Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				gotIDs := make([]uint64, len(got))
				for i, sp := range got {
					gotIDs[i], _ = sp.ID.Num()
				}
				for _, i := range exact {
					want++
					if slices.Contains(gotIDs, chunkIDs[i]) {
						hit++
					}
				}
			}
			if r := float64(hit) / float64(want); r < 0.98 {
				t.Errorf("recall@%d = %.4f, want at least 0.98", k, r)
			} else {
				t.Logf("recall@%d = %.4f", k, r)
			}
		})
	}
}

// TestDocumentsAsPointsReadLikeACollection: scroll pages through every
// chunk once in id order, count and scroll apply filters, payloads carry
// the document's fields and the chunk's text, a filter on what the engine
// cannot evaluate is refused, and a deleted document's chunks are gone.
func TestDocumentsAsPointsReadLikeACollection(t *testing.T) {
	ctx := context.Background()
	const n = 1200
	e, chunkIDs, byChunk := pointsEngine(t, n, 16, clustered(31, n, 16, 50, 0.8))

	var seen []uint64
	var from *store.PointID
	for pages := 0; ; pages++ {
		pts, next, err := e.ScrollPoints(ctx, nil, from, 500, false, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pts {
			id, _ := p.ID.Num()
			seen = append(seen, id)
		}
		if next == nil {
			break
		}
		if pages > 5 {
			t.Fatal("scroll does not end")
		}
		from = next
	}
	want := slices.Clone(chunkIDs)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Fatalf("scroll saw %d ids, want the %d chunk ids in order", len(seen), len(want))
	}

	group := mustFilter(t, `{"must":[{"key":"metadata.group","match":{"value":7}}]}`)
	if c, err := e.CountPoints(ctx, group); err != nil || c != n/100 {
		t.Errorf("count with a 1%% filter = %d, %v; want %d", c, err, n/100)
	}
	if c, err := e.CountPoints(ctx, nil); err != nil || c != n {
		t.Errorf("count = %d, %v; want %d", c, err, n)
	}
	pts, next, err := e.ScrollPoints(ctx, group, nil, 100, true, true)
	if err != nil || len(pts) != n/100 || next != nil {
		t.Fatalf("filtered scroll = %d points, next %v, %v", len(pts), next, err)
	}
	var payload map[string]any
	if err := json.Unmarshal(pts[0].Payload, &payload); err != nil {
		t.Fatal(err)
	}
	id0, _ := pts[0].ID.Num()
	if payload["id"] != "d7" || payload["title"] != "T7" || payload["text"] != "passage number 7" ||
		payload["chunk"] != float64(0) || payload["metadata"].(map[string]any)["group"] != float64(7) {
		t.Errorf("payload of chunk %d = %v", id0, payload)
	}
	if v := pts[0].Vectors[""]; !slices.Equal(v, byChunk[id0]) {
		t.Errorf("vector of chunk %d differs from the one stored", id0)
	}

	// has_id names chunks directly.
	has := mustFilter(t, fmt.Sprintf(`{"must":[{"has_id":[%d,%d,123456789]}]}`, chunkIDs[3], chunkIDs[5]))
	if c, err := e.CountPoints(ctx, has); err != nil || c != 2 {
		t.Errorf("count by has_id = %d, %v; want 2", c, err)
	}

	for _, bad := range []string{
		`{"must":[{"key":"text","match":{"text":"passage"}}]}`,
		`{"should":[{"key":"chunk","range":{"gte":1}}]}`,
	} {
		f := mustFilter(t, bad)
		if _, err := e.CountPoints(ctx, f); !errors.Is(err, ErrBadFilter) {
			t.Errorf("count with %s: %v, want ErrBadFilter", bad, err)
		}
		if _, err := e.QueryPoints(ctx, PointQuery{Vector: byChunk[chunkIDs[0]], Filter: f}); !errors.Is(err, ErrBadFilter) {
			t.Errorf("query with %s: %v, want ErrBadFilter", bad, err)
		}
	}
	if _, err := e.QueryPoints(ctx, PointQuery{Vector: byChunk[chunkIDs[0]], Using: "image"}); !errors.Is(err, ErrBadParams) {
		t.Errorf("query of a named vector: %v, want ErrBadParams", err)
	}
	if _, err := e.QueryPoints(ctx, PointQuery{Vector: make([]float32, 3)}); !errors.Is(err, ErrDims) {
		t.Errorf("query with 3 dims: %v, want ErrDims", err)
	}

	// Text is looked up in the chunks' keyword index.
	res, err := e.QueryPoints(ctx, PointQuery{Text: "passage number 77", Limit: 3, WithPayload: true})
	if err != nil || len(res) == 0 || res[0].ID != store.NumPointID(chunkIDs[77]) {
		t.Errorf("keyword query for passage 77 = %+v, %v", res, err)
	}
	if _, err := e.QueryPoints(ctx, PointQuery{Text: "  "}); !errors.Is(err, ErrNoQuery) {
		t.Errorf("a query of blanks: %v, want ErrNoQuery", err)
	}

	// The best match of a chunk's own vector is that chunk, until its
	// document is deleted.
	res, err = e.QueryPoints(ctx, PointQuery{Vector: byChunk[chunkIDs[7]], Limit: 1, WithPayload: true})
	if err != nil || len(res) != 1 || res[0].ID != store.NumPointID(chunkIDs[7]) || res[0].Score < 0.999 {
		t.Fatalf("query by chunk 7's vector = %+v, %v", res, err)
	}
	if _, err := e.Write(ctx, store.Change{Delete: []string{"d7"}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.CountPoints(ctx, group); c != n/100-1 {
		t.Errorf("count after deleting d7 = %d, want %d", c, n/100-1)
	}
	res, err = e.QueryPoints(ctx, PointQuery{Vector: byChunk[chunkIDs[7]], Limit: 1})
	if err != nil || len(res) != 1 || res[0].ID == store.NumPointID(chunkIDs[7]) {
		t.Errorf("after deleting d7 the query still finds its chunk: %+v, %v", res, err)
	}
	if info, err := e.PointsInfo(); err != nil || info.Points != n-1 || info.Vectors[""].Size != 16 || info.Vectors[""].Distance != store.Cosine {
		t.Errorf("info = %+v", info)
	}
}
