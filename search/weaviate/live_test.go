package weaviate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// One node serves every live test of the package; it starts with the first
// test that needs it and stops in TestMain.
var (
	nodeOnce sync.Once
	node     *weaviatetest.Cluster
	nodeErr  error
	nodeDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if node != nil {
		node.Close()
	}
	if nodeDir != "" {
		os.RemoveAll(nodeDir)
	}
	os.Exit(code)
}

// client returns a client of the shared node, starting it if need be.
func client(t *testing.T, opts weaviate.Options) *weaviate.Client {
	t.Helper()
	bin := weaviatetest.Require(t)
	nodeOnce.Do(func() {
		nodeDir, nodeErr = os.MkdirTemp("", "weaviate-test-")
		if nodeErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		node, nodeErr = weaviatetest.Start(ctx, weaviatetest.Config{Binary: bin, Dir: nodeDir})
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	opts.URL = node.URL(0)
	c, err := weaviate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// collection creates a fresh collection of 4-d vectors and drops it after.
func collection(t *testing.T, c *weaviate.Client, name string, d store.Distance) {
	t.Helper()
	ctx := ctxFor(t)
	c.Drop(ctx, name)
	if _, err := c.Create(ctx, name, map[string]store.VectorParams{"": {Size: 4, Distance: d}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Drop(context.Background(), name) })
}

func pt(id store.PointID, v []float32, payload string) store.Point {
	p := store.Point{ID: id, Vectors: map[string][]float32{"": v}}
	if payload != "" {
		p.Payload = []byte(payload)
	}
	return p
}

func uuidID(t *testing.T, s string) store.PointID {
	id, err := store.ParsePointID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLivePointsRoundTrip(t *testing.T) {
	c := client(t, weaviate.Options{Consistency: weaviate.Quorum})
	ctx := ctxFor(t)
	collection(t, c, "round-trip.A", store.Cosine)
	if _, err := c.Create(ctx, "round-trip.A", map[string]store.VectorParams{"": {Size: 4, Distance: store.Cosine}}); !errors.Is(err, weaviate.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	u := uuidID(t, "5c56c793-69e3-4b3a-9d3f-1c2a3b4c5d6e")
	pts := []store.Point{
		pt(store.NumPointID(1), []float32{1, 0, 0, 0}, `{"text":"red apples","n":1,"tags":["a","b"],"deep":{"x":[1,{"y":"z"}]}}`),
		pt(store.NumPointID(2), []float32{0, 1, 0, 0}, `{"text":"green pears","n":2}`),
		pt(store.NumPointID(1<<40), []float32{0, 0, 1, 0}, ``),
		pt(u, []float32{0, 0, 0, 1}, `{"body":"blue plums and red cherries","n":3.5}`),
	}
	if err := c.Upsert(ctx, "round-trip.A", pts); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "round-trip.A", []store.PointID{u, store.NumPointID(1), store.NumPointID(99)}, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d points, want 2: %v", len(got), got)
	}
	for _, g := range got {
		i := slices.IndexFunc(pts, func(p store.Point) bool { return p.ID == g.ID })
		if string(g.Payload) != string(pts[i].Payload) || !slices.Equal(g.Vectors[""], pts[i].Vectors[""]) {
			t.Fatalf("point %v came back as %s %v", g.ID, g.Payload, g.Vectors)
		}
	}
	info, err := c.Info(ctx, "round-trip.A")
	if err != nil || info.Points != 4 || info.Vectors[""] != (store.VectorParams{Size: 4, Distance: store.Cosine}) {
		t.Fatalf("info %+v, %v", info, err)
	}
	list, err := c.List(ctx)
	if err != nil || !slices.ContainsFunc(list, func(i store.CollectionInfo) bool { return i.Name == "round-trip.A" }) {
		t.Fatalf("list %v, %v", list, err)
	}

	// Scroll in id order, two a page, without and with a filter.
	order := scrollIDs(t, ctx, c, "round-trip.A", nil, 2)
	want := []store.PointID{store.NumPointID(1), store.NumPointID(2), store.NumPointID(1 << 40), u}
	if !slices.Equal(order, want) {
		t.Fatalf("scroll order %v, want %v", order, want)
	}
	f, _ := search.ParseFilter([]byte(`{"must_not":[{"key":"n","match":{"value":2}}]}`))
	page, next, err := c.Scroll(ctx, "round-trip.A", f, nil, 2, false, false)
	if err != nil || len(page) != 2 || page[0].ID != want[0] || page[1].ID != want[2] || next == nil || *next != u {
		t.Fatalf("filtered scroll: %v next %v, %v", page, next, err)
	}
	page, next, err = c.Scroll(ctx, "round-trip.A", f, next, 2, false, false)
	if err != nil || len(page) != 1 || page[0].ID != u || next != nil {
		t.Fatalf("filtered scroll, second page: %v next %v, %v", page, next, err)
	}

	// Replace one, delete by id and by filter.
	if err := c.Upsert(ctx, "round-trip.A", []store.Point{pt(store.NumPointID(2), []float32{0, 1, 0, 0}, `{"n":20}`)}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Count(ctx, "round-trip.A", mustFilter(t, `{"must":[{"key":"n","match":{"value":20}}]}`)); err != nil || n != 1 {
		t.Fatalf("count after replace: %d, %v", n, err)
	}
	if n, err := c.Delete(ctx, "round-trip.A", []store.PointID{store.NumPointID(1), store.NumPointID(77)}); err != nil || n != 1 {
		t.Fatalf("delete: %d, %v", n, err)
	}
	if n, err := c.DeleteWhere(ctx, "round-trip.A", mustFilter(t, `{"must":[{"key":"n","range":{"gte":3}}]}`)); err != nil || n != 2 {
		t.Fatalf("delete where: %d, %v", n, err)
	}
	if n, err := c.Count(ctx, "round-trip.A", nil); err != nil || n != 1 {
		t.Fatalf("count: %d, %v", n, err)
	}
	if n, err := c.DeleteWhere(ctx, "round-trip.A", mustFilter(t, `{}`)); err != nil || n != 1 {
		t.Fatalf("delete where {}: %d, %v", n, err)
	}
	if n, err := c.Count(ctx, "round-trip.A", nil); err != nil || n != 0 {
		t.Fatalf("count after deleting all: %d, %v", n, err)
	}
	if dropped, err := c.Drop(ctx, "round-trip.A"); !dropped || err != nil {
		t.Fatalf("drop: %v, %v", dropped, err)
	}
	if _, err := c.Info(ctx, "round-trip.A"); !errors.Is(err, weaviate.ErrNotFound) {
		t.Fatalf("info after drop: %v", err)
	}
}

func mustFilter(t *testing.T, s string) *search.Filter {
	t.Helper()
	f, err := search.ParseFilter([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Vector search gives our scores for each distance, and the nearest first.
func TestLiveQueryScores(t *testing.T) {
	c := client(t, weaviate.Options{})
	ctx := ctxFor(t)
	q := []float32{1, 2, 0, 0}
	vecs := [][]float32{{1, 2, 0, 0}, {2, 1, 0, 0}, {0, 0, 3, 0}, {-1, 0, 0, 1}}
	for _, d := range []store.Distance{store.Cosine, store.Dot, store.Euclid} {
		name := "scores-" + d.String()
		collection(t, c, name, d)
		var pts []store.Point
		for i, v := range vecs {
			pts = append(pts, pt(store.NumPointID(uint64(i)), v, fmt.Sprintf(`{"i":%d}`, i)))
		}
		if err := c.Upsert(ctx, name, pts); err != nil {
			t.Fatal(err)
		}
		got, err := c.Query(ctx, name, search.PointQuery{Vector: q, Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 4 {
			t.Fatalf("%v: %d results", d, len(got))
		}
		for _, sp := range got {
			n, _ := sp.ID.Num()
			want := exactScore(d, q, vecs[n])
			if diff := sp.Score - want; diff > 1e-4 || diff < -1e-4 {
				t.Errorf("%v point %d: score %v, want %v", d, n, sp.Score, want)
			}
		}
		// A threshold between the 2nd and 3rd score keeps two.
		th := (got[1].Score + got[2].Score) / 2
		kept, err := c.Query(ctx, name, search.PointQuery{Vector: q, Limit: 4, ScoreThreshold: &th})
		if err != nil || len(kept) != 2 {
			t.Fatalf("%v threshold %v kept %v, %v", d, th, kept, err)
		}
		off, err := c.Query(ctx, name, search.PointQuery{Vector: q, Limit: 2, Offset: 1})
		if err != nil || len(off) != 2 || off[0].ID != got[1].ID {
			t.Fatalf("%v offset: %v, %v", d, off, err)
		}
	}
}

func exactScore(d store.Distance, a, b []float32) float32 {
	var dot, na, nb, l2 float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
		l2 += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
	}
	switch d {
	case store.Dot:
		return float32(dot)
	case store.Euclid:
		return float32(math.Sqrt(l2))
	}
	return float32(dot / math.Sqrt(na) / math.Sqrt(nb))
}

// BM25 finds the points whose text holds the words; hybrid returns both
// kinds of match.
func TestLiveKeywordAndHybrid(t *testing.T) {
	c := client(t, weaviate.Options{})
	ctx := ctxFor(t)
	collection(t, c, "keywords", store.Cosine)
	pts := []store.Point{
		pt(store.NumPointID(1), []float32{1, 0, 0, 0}, `{"text":"the raspberry pi boots from an sd card"}`),
		pt(store.NumPointID(2), []float32{0, 1, 0, 0}, `{"page_content":"weaviate shards and replicates collections"}`),
		pt(store.NumPointID(3), []float32{0, 0, 1, 0}, `{"text":"nothing to see here"}`),
	}
	if err := c.Upsert(ctx, "keywords", pts); err != nil {
		t.Fatal(err)
	}
	got, err := c.Query(ctx, "keywords", search.PointQuery{Text: "replicates shards", WithPayload: true})
	if err != nil || len(got) != 1 || got[0].ID != store.NumPointID(2) {
		t.Fatalf("bm25: %v, %v", got, err)
	}
	got, err = c.Query(ctx, "keywords", search.PointQuery{Text: "raspberry", Vector: []float32{0, 0, 1, 0}, Limit: 2})
	if err != nil || len(got) != 2 {
		t.Fatalf("hybrid: %v, %v", got, err)
	}
	ids := []store.PointID{got[0].ID, got[1].ID}
	if !slices.Contains(ids, store.NumPointID(1)) || !slices.Contains(ids, store.NumPointID(3)) {
		t.Fatalf("hybrid found %v, want points 1 (keyword) and 3 (vector)", ids)
	}
}

// Every translated filter selects on Weaviate exactly the points
// search.Filter.Match selects, over payloads that probe the edge cases.
func TestLiveFiltersSelectWhatMatchSelects(t *testing.T) {
	c := client(t, weaviate.Options{})
	ctx := ctxFor(t)
	collection(t, c, "filters", store.Dot)
	payloads := []string{
		`{"t":1700000000000,"color":"red","n":1,"m":1,"ok":true,"tags":["a","b"],"meta":{"lang":"en"}}`,
		`{"t":1700000000001,"color":"red ","n":2,"m":2,"ok":false,"tags":[],"meta":{"lang":"de"}}`,
		`{"color":"blue","n":2.5,"m":2.5,"tags":["b"],"gone":null,"items":[{"k":1},{"k":2}]}`,
		`{"color":["red","green"],"n":[3],"m":[3],"tags":null,"items":[{"k":3}]}`,
		`{"color":"Red","n":"1","m":"1","ok":"true","meta":{"lang":["en","fr"]},"gone":[null]}`,
		`{"n":-5,"m":-5,"tags":["a"],"nested":[[1,2]],"gone":[]}`,
		`{}`,
		``,
		`{"color":"reddish","n":9007199254740993,"x":{"y":{"z":"deep"}}}`,
	}
	var pts []store.Point
	payloadOf := map[store.PointID]map[string]any{}
	for i, p := range payloads {
		id := store.NumPointID(uint64(i + 1))
		pts = append(pts, pt(id, []float32{float32(i), 1, 0, 0}, p))
		var m map[string]any
		if p != "" {
			dec := json.NewDecoder(strings.NewReader(p))
			dec.UseNumber()
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
		}
		payloadOf[id] = m
	}
	if err := c.Upsert(ctx, "filters", pts); err != nil {
		t.Fatal(err)
	}
	filters := []string{
		`{"must":[{"key":"color","match":{"value":"red"}}]}`,
		`{"must":[{"key":"color","match":{"value":"red "}}]}`,
		`{"must_not":[{"key":"color","match":{"value":"red"}}]}`,
		`{"must":[{"key":"color","match":{"any":["blue","green"]}}]}`,
		`{"must":[{"key":"color","match":{"prefix":"re"}}]}`,
		`{"must":[{"key":"m","match":{"value":2}}]}`,
		`{"must":[{"key":"m","match":{"any":[1,3]}}]}`,
		`{"must":[{"key":"m","range":{"gt":1}}]}`,
		`{"must":[{"key":"m","range":{"gte":1,"lte":2.5}}]}`,
		`{"must":[{"key":"m","range":{"gt":1.5,"lt":1e300}}]}`,
		`{"must":[{"key":"m","range":{"lt":0}}]}`,
		`{"must":[{"key":"t","match":{"value":1700000000001}}]}`,
		`{"must":[{"key":"t","range":{"gte":1700000000000.5}}]}`,
		`{"must":[{"key":"t","match":{"any":[1700000000000,5]}}]}`,
		`{"must":[{"key":"m","range":{"lte":-9007199254740993}}]}`,
		`{"must":[{"key":"ok","match":{"value":true}}]}`,
		`{"must":[{"key":"ok","match":{"value":false}}]}`,
		`{"must":[{"key":"tags","match":{"value":"b"}}]}`,
		`{"must":[{"is_empty":{"key":"tags"}}]}`,
		`{"must":[{"is_empty":{"key":"gone"}}]}`,
		`{"must":[{"is_null":{"key":"gone"}}]}`,
		`{"must":[{"is_null":{"key":"tags"}}]}`,
		`{"must":[{"key":"meta.lang","match":{"value":"en"}}]}`,
		`{"must":[{"key":"items[].k","match":{"any":[2,3]}}]}`,
		`{"must":[{"key":"nested[]","match":{"value":1}}]}`,
		`{"must":[{"key":"nested","match":{"value":1}}]}`,
		`{"must":[{"key":"x.y.z","match":{"value":"deep"}}]}`,
		`{"must":[{"has_id":[1,3,5,100]}]}`,
		`{"should":[{"key":"ok","match":{"value":true}},{"has_id":[6]}],"must_not":[{"key":"m","range":{"gt":1.5}}]}`,
		`{"must":[{"should":[{"key":"color","match":{"value":"blue"}},{"is_empty":{"key":"color"}}]}]}`,
		`{"should":[]}`,
		`{}`,
	}
	for _, fs := range filters {
		f := mustFilter(t, fs)
		var want []store.PointID
		for _, p := range pts {
			if f.Match(p.ID, payloadOf[p.ID]) {
				want = append(want, p.ID)
			}
		}
		got, _, err := c.Scroll(ctx, "filters", f, nil, 100, false, false)
		if err != nil {
			t.Errorf("%s: %v", fs, err)
			continue
		}
		var gotIDs []store.PointID
		for _, p := range got {
			gotIDs = append(gotIDs, p.ID)
		}
		if !slices.Equal(gotIDs, want) {
			t.Errorf("%s: weaviate selects %v, Match selects %v", fs, gotIDs, want)
		}
		if n, err := c.Count(ctx, "filters", f); err != nil || n != len(want) {
			t.Errorf("%s: count %d, %v; want %d", fs, n, err, len(want))
		}
	}
	// Point 9 holds an integer beyond 2^53 at "n", which Weaviate keeps as
	// float64: numeric conditions on "n" are refused, not approximated.
	for _, fs := range []string{
		`{"must":[{"key":"n","range":{"gt":9007199254740992}}]}`,
		`{"must":[{"key":"n","match":{"value":1}}]}`,
	} {
		if _, err := c.Count(ctx, "filters", mustFilter(t, fs)); !errors.Is(err, weaviate.ErrUnsupportedFilter) {
			t.Errorf("%s: got %v, want ErrUnsupportedFilter", fs, err)
		}
	}
}

// A client whose cached schema predates another client's writes still
// filters on the keys those writes brought (two appliances, one cluster).
func TestLiveFilterSeesPropertiesAnotherClientAdded(t *testing.T) {
	a := client(t, weaviate.Options{})
	b := client(t, weaviate.Options{})
	ctx := ctxFor(t)
	collection(t, a, "two-clients", store.Cosine)
	if n, err := a.Count(ctx, "two-clients", mustFilter(t, `{"must":[{"key":"color","match":{"value":"red"}}]}`)); err != nil || n != 0 {
		t.Fatalf("count before: %d, %v", n, err)
	}
	if err := b.Upsert(ctx, "two-clients", []store.Point{pt(store.NumPointID(1), []float32{1, 0, 0, 0}, `{"color":"red"}`)}); err != nil {
		t.Fatal(err)
	}
	for _, fs := range []string{
		`{"must":[{"key":"color","match":{"value":"red"}}]}`,
		`{"must_not":[{"is_empty":{"key":"color"}}]}`,
	} {
		if n, err := a.Count(ctx, "two-clients", mustFilter(t, fs)); err != nil || n != 1 {
			t.Errorf("%s through the other client: count %d, %v; want 1", fs, n, err)
		}
	}
}

// scrollIDs walks a scroll of collection with filter f (nil: all), limit
// points a page, to its end and returns the ids in the order they came.
func scrollIDs(t *testing.T, ctx context.Context, c *weaviate.Client, collection string, f *search.Filter, limit int) []store.PointID {
	t.Helper()
	var ids []store.PointID
	for from := (*store.PointID)(nil); ; {
		page, next, err := c.Scroll(ctx, collection, f, from, limit, false, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			ids = append(ids, p.ID)
		}
		if next == nil {
			return ids
		}
		from = next
	}
}
