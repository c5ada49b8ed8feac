package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// TestPayloadIndexAnswersAsTheScan pins that a collection with payload
// indexes answers every filtered query, count and scroll exactly as it
// does without them — through replacements, payload updates, deletes and a
// reopen — and that a selective filter on an indexed field is planned from
// the index's candidates (the points holding the value) rather than a scan.
func TestPayloadIndexAnswersAsTheScan(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openPointStore(t, dir)
	c, _ := openColls(t, st, dir)
	const n, dims = 3000, 16
	for _, name := range []string{"plain", "indexed"} {
		if _, err := c.Create(ctx, name, map[string]store.VectorParams{"": {Size: dims, Distance: store.Cosine}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []struct{ key, schema string }{{"group", "integer"}, {"tag", "keyword"}, {"meta.lang", "keyword"}, {"labels", "keyword"}, {"flag", "bool"}, {"score", "float"}} {
		if err := c.CreatePayloadIndex(ctx, "indexed", f.key, f.schema); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(7, 7))
	vec := func() []float32 {
		v := make([]float32, dims)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	payload := func(i int) string {
		return fmt.Sprintf(`{"group":%d,"tag":"t%d","meta":{"lang":"l%d"},"labels":["a%d","b%d"],"flag":%t,"score":%d.5}`,
			i%100, i%2, i%5, i%7, i%3, i%4 == 0, i%10)
	}
	upsert := func(lo, hi int, shift int) {
		pts := make([]store.Point, 0, hi-lo)
		for i := lo; i < hi; i++ {
			pts = append(pts, pt(num(uint64(i)), vec(), payload(i+shift)))
		}
		for _, name := range []string{"plain", "indexed"} {
			if err := c.Upsert(ctx, name, pts); err != nil {
				t.Fatal(err)
			}
		}
	}
	upsert(0, n, 0)

	filters := []string{
		`{"must":[{"key":"group","match":{"value":7}}]}`,
		`{"must":[{"key":"group","match":{"any":[1,2,3]}},{"key":"tag","match":{"value":"t1"}}]}`,
		`{"must":[{"key":"meta.lang","match":{"value":"l3"}}]}`,
		`{"must":[{"key":"labels","match":{"any":["a4","zz"]}}]}`,
		`{"must":[{"key":"flag","match":{"value":true}},{"key":"group","match":{"value":8}}]}`,
		`{"must":[{"key":"group","match":{"value":9}}],"must_not":[{"key":"tag","match":{"value":"t1"}}]}`,
		`{"must":[{"key":"tag","match":{"value":"t0"}}],"should":[{"key":"group","match":{"value":4}},{"key":"group","match":{"value":6}}]}`,
		`{"must":[{"key":"group","match":{"value":"7"}}]}`,
		`{"must":[{"key":"score","range":{"gte":3,"lt":4}}]}`,
	}
	check := func(stage string) {
		t.Helper()
		q := vec()
		for _, fs := range filters {
			f := mustFilter(t, fs)
			want, err := c.Query(ctx, "plain", PointQuery{Vector: q, Filter: f, Limit: 10, Exact: true})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Query(ctx, "indexed", PointQuery{Vector: q, Filter: f, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(scoredIDs(got), scoredIDs(want)) {
				t.Errorf("%s: %s: indexed %v, exact scan %v", stage, fs, scoredIDs(got), scoredIDs(want))
			}
			nw, _ := c.Count(ctx, "plain", f)
			ng, _ := c.Count(ctx, "indexed", f)
			if nw != ng {
				t.Errorf("%s: %s: count %d indexed, %d plain", stage, fs, ng, nw)
			}
		}
		// A 1% filter on an indexed field is planned from its candidates:
		// as many as match, not the n points a scan tests.
		col, _ := c.get("indexed")
		col.mu.RLock()
		cands, _, ok := col.fields.candidates(mustFilter(t, filters[0]), -1)
		p, nids := col.plan(mustFilter(t, filters[0]), 64)
		col.mu.RUnlock()
		matches, _ := c.Count(ctx, "plain", mustFilter(t, filters[0]))
		if !ok || p != planExact || len(nids) != matches || len(cands) > 2*matches+2 {
			t.Errorf("%s: group=7 planned %v from %d candidates (index used: %v) to %d points; %d match", stage, p, len(cands), ok, len(nids), matches)
		}
	}
	check("after the upsert")

	upsert(0, 500, 1) // replaced: every payload value moves
	ids := []store.PointID{num(10), num(11), num(12), num(700), num(2999)}
	for _, name := range []string{"plain", "indexed"} {
		if _, err := c.Delete(ctx, name, ids); err != nil {
			t.Fatal(err)
		}
		op := store.PayloadOp{Set: map[string]json.RawMessage{"group": json.RawMessage(`7`), "tag": json.RawMessage(`"t1"`)}}
		if _, err := c.UpdatePayload(ctx, name, nil, mustFilter(t, `{"must":[{"key":"group","match":{"value":42}}]}`), op); err != nil {
			t.Fatal(err)
		}
	}
	check("after replacements, deletes and payload updates")

	counts, err := c.PayloadIndexCounts("indexed")
	if err != nil {
		t.Fatal(err)
	}
	if counts["group"].Points != n-len(ids) || counts["score"].Points != -1 || counts["score"].Schema != "float" {
		t.Errorf("payload index counts: %+v", counts)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, _ = openColls(t, st, dir)
	defer c.Close()
	check("after a reopen")

	if err := c.DeletePayloadIndex(ctx, "indexed", "group"); err != nil {
		t.Fatal(err)
	}
	col, _ := c.get("indexed")
	if _, _, ok := col.fields.candidates(mustFilter(t, filters[0]), -1); ok {
		t.Error("group's index is still used after DeletePayloadIndex")
	}
	check2 := mustFilter(t, filters[0])
	a, errA := c.Count(ctx, "indexed", check2)
	b, errB := c.Count(ctx, "plain", check2)
	if errA != nil || errB != nil || a != b {
		t.Errorf("after DeletePayloadIndex: count %d (%v), want %d (%v)", a, errA, b, errB)
	}

	for _, bad := range []struct{ key, schema string }{{"", "keyword"}, {"group", "nonsense"}} {
		if err := c.CreatePayloadIndex(ctx, "indexed", bad.key, bad.schema); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreatePayloadIndex(%q, %q): %v, want ErrInvalid", bad.key, bad.schema, err)
		}
	}
	if err := c.CreatePayloadIndex(ctx, "nosuch", "group", "keyword"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("CreatePayloadIndex on no collection: %v, want ErrNotFound", err)
	}
}
