package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// startQdrant serves the Qdrant-compatible API over a real store and
// collections engine in a temporary directory on a real 127.0.0.1 port,
// and returns its base URL. p may be nil (no model: documents answer 503).
func startQdrant(t *testing.T, cfg web.Config, p *embedder.Pool) string {
	t.Helper()
	srv := newQdrantServer(t, cfg, p)
	cols := openCollections(t, t.TempDir())
	srv.SetCollections(cols)
	return serveQdrant(t, srv)
}

func newQdrantServer(t *testing.T, cfg web.Config, p *embedder.Pool) *web.Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p != nil {
		srv.SetEmbedder(p)
	}
	return srv
}

// openCollections opens a store and the collections engine in dir, closed
// when the test ends.
func openCollections(t *testing.T, dir string) *search.Collections {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "edgesearch.db"), store.Options{Model: "all-MiniLM-L6-v2", Dims: 384})
	if err != nil {
		t.Fatal(err)
	}
	cols, err := search.OpenCollections(context.Background(), st, search.CollectionsOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cols.Close(); err != nil {
			t.Errorf("close collections: %v", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return cols
}

// serveQdrant serves srv's Qdrant-compatible port on 127.0.0.1 until the
// test ends and returns its base URL.
func serveQdrant(t *testing.T, srv *web.Server) string {
	t.Helper()
	return servePort(t, "ServeQdrant", srv.ServeQdrant)
}

// serveMain serves srv's main port on 127.0.0.1 until the test ends and
// returns its base URL.
func serveMain(t *testing.T, srv *web.Server) string {
	t.Helper()
	return servePort(t, "Serve", srv.Serve)
}

// servePort runs serve (named for messages) on a fresh loopback listener
// until the test ends, when it must return nil.
func servePort(t *testing.T, name string, serve func(context.Context, net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s returned %v after shutdown, want nil", name, err)
		}
	})
	return "http://" + ln.Addr().String()
}

// qok checks r is Qdrant's success envelope and decodes its result into v.
func qok(t *testing.T, r reply, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.status, r.body)
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Status *string         `json:"status"`
		Time   *float64        `json:"time"`
	}
	r.decode(t, &env)
	if env.Status == nil || *env.Status != "ok" || env.Time == nil || *env.Time < 0 {
		t.Fatalf("not Qdrant's envelope {result, status: ok, time}: %s", r.body)
	}
	if v != nil {
		reflect.ValueOf(v).Elem().SetZero() // no field left over from an earlier answer
		if err := json.Unmarshal(env.Result, v); err != nil {
			t.Fatalf("result: %v: %s", err, r.body)
		}
	}
}

// qerr checks r is Qdrant's error envelope with status and a message that
// contains want.
func qerr(t *testing.T, r reply, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var env struct {
		Status struct {
			Error *string `json:"error"`
		} `json:"status"`
		Time *float64 `json:"time"`
	}
	r.decode(t, &env)
	if env.Status.Error == nil || env.Time == nil {
		t.Fatalf("not Qdrant's error envelope {status: {error}, time}: %s", r.body)
	}
	if !strings.Contains(*env.Status.Error, want) {
		t.Fatalf("error %q does not mention %q", *env.Status.Error, want)
	}
	if status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
}

// updated checks r is an update result, completed.
func updated(t *testing.T, r reply) {
	t.Helper()
	var res struct {
		OperationID *uint64 `json:"operation_id"`
		Status      string  `json:"status"`
	}
	qok(t, r, &res)
	if res.Status != "completed" || res.OperationID == nil {
		t.Fatalf("update result %s, want status completed and an operation_id", r.body)
	}
}

type qpoint struct {
	ID      any             `json:"id"`
	Version *int            `json:"version"`
	Score   float32         `json:"score"`
	Payload json.RawMessage `json:"payload"`
	Vector  json.RawMessage `json:"vector"`
}

func pointIDs(pts []qpoint) []string {
	out := make([]string, len(pts))
	for i, p := range pts {
		out[i] = fmt.Sprint(p.ID)
	}
	return out
}

// seed makes collection "c" (4 dims, the given distance) and stores ten
// points: id i has vector (1, i, 0, 0) scaled, payload {"n": i, "even": i%2==0}.
func seed(t *testing.T, base, distance string) {
	t.Helper()
	qok(t, call(t, "PUT", base+"/collections/c", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": distance}}, nil), nil)
	var pts []map[string]any
	for i := 1; i <= 10; i++ {
		pts = append(pts, map[string]any{"id": i, "vector": []float32{1, float32(i) / 10, 0, 0},
			"payload": map[string]any{"n": i, "even": i%2 == 0, "tag": fmt.Sprintf("t%d", i)}})
	}
	updated(t, call(t, "PUT", base+"/collections/c/points?wait=true", map[string]any{"points": pts}, nil))
}

// qurl is base + "/collections/c" + path, or "/collections/nope" for a
// path that starts "/../nope".
func qurl(base, path string) string {
	if rest, ok := strings.CutPrefix(path, "/../nope"); ok {
		return base + "/collections/nope" + rest
	}
	return base + "/collections/c" + path
}

func TestQdrantServiceRoutes(t *testing.T) {
	srv := newQdrantServer(t, web.Config{}, nil)
	base := serveQdrant(t, srv)

	var root struct{ Title, Version string }
	r := call(t, "GET", base+"/", nil, nil)
	r.decode(t, &root)
	if r.status != 200 || root.Version != web.QdrantVersion || !strings.Contains(root.Title, "edgesearch") {
		t.Fatalf("GET / = %d %s", r.status, r.body)
	}
	for _, path := range []string{"/healthz", "/livez"} {
		if r := call(t, "GET", base+path, nil, nil); r.status != 200 {
			t.Errorf("GET %s = %d", path, r.status)
		}
	}
	// Until the collections are open: readyz 503, collection routes 503.
	if r := call(t, "GET", base+"/readyz", nil, nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("GET /readyz before SetCollections = %d, want 503 with Retry-After", r.status)
	}
	qerr(t, call(t, "GET", base+"/collections", nil, nil), 503, "collections are still loading")
	srv.SetCollections(openCollections(t, t.TempDir()))
	if r := call(t, "GET", base+"/readyz", nil, nil); r.status != 200 {
		t.Fatalf("GET /readyz = %d", r.status)
	}
	qerr(t, call(t, "GET", base+"/collections/c/snapshots", nil, nil), 404, "does not serve GET /collections/c/snapshots")
	// A POST where only GET /points/{id} matches: 405, naming it.
	qerr(t, call(t, "POST", base+"/collections/c/points/discover", map[string]any{}, nil), 405, "does not serve POST /collections/c/points/discover")
	qerr(t, call(t, "DELETE", base+"/collections/c/points", nil, nil), 405, "DELETE")
}

func TestQdrantCollections(t *testing.T) {
	base := startQdrant(t, web.Config{}, nil)

	qok(t, call(t, "PUT", base+"/collections/docs", map[string]any{
		"vectors":           map[string]any{"size": 4, "distance": "Cosine", "on_disk": true, "hnsw_config": map[string]any{"m": 32}},
		"hnsw_config":       map[string]any{"m": 8},
		"optimizers_config": map[string]any{"indexing_threshold": 0},
		"shard_number":      1,
	}, nil), nil)
	qerr(t, call(t, "PUT", base+"/collections/docs", map[string]any{
		"vectors": map[string]any{"size": 4, "distance": "Cosine"}}, nil), 409, "Collection `docs` already exists!")
	qok(t, call(t, "PUT", base+"/collections/named", map[string]any{"vectors": map[string]any{
		"image": map[string]any{"size": 2, "distance": "Dot"},
		"text":  map[string]any{"size": 3, "distance": "Euclid"}}}, nil), nil)

	// GET /collections/{name}: every field the Python client requires.
	var info struct {
		Status              string `json:"status"`
		OptimizerStatus     string `json:"optimizer_status"`
		PointsCount         *int   `json:"points_count"`
		IndexedVectorsCount *int   `json:"indexed_vectors_count"`
		SegmentsCount       int    `json:"segments_count"`
		Config              struct {
			Params struct {
				Vectors json.RawMessage `json:"vectors"`
			} `json:"params"`
			HNSWConfig struct {
				M *int `json:"m"`
			} `json:"hnsw_config"`
			OptimizerConfig struct {
				DefaultSegmentNumber *int `json:"default_segment_number"`
				FlushIntervalSec     *int `json:"flush_interval_sec"`
			} `json:"optimizer_config"`
		} `json:"config"`
		PayloadSchema map[string]any `json:"payload_schema"`
	}
	qok(t, call(t, "GET", base+"/collections/docs", nil, nil), &info)
	if info.Status != "green" || info.OptimizerStatus != "ok" || info.PointsCount == nil || *info.PointsCount != 0 ||
		info.IndexedVectorsCount == nil || info.SegmentsCount != 1 || info.PayloadSchema == nil ||
		info.Config.HNSWConfig.M == nil || info.Config.OptimizerConfig.DefaultSegmentNumber == nil ||
		info.Config.OptimizerConfig.FlushIntervalSec == nil ||
		string(info.Config.Params.Vectors) != `{"size":4,"distance":"Cosine"}` {
		t.Fatalf("collection info %+v", info)
	}
	qok(t, call(t, "GET", base+"/collections/named", nil, nil), &info)
	if got := string(info.Config.Params.Vectors); got != `{"image":{"size":2,"distance":"Dot"},"text":{"size":3,"distance":"Euclid"}}` {
		t.Fatalf("named vectors %s", got)
	}

	var list struct {
		Collections []struct{ Name string } `json:"collections"`
	}
	qok(t, call(t, "GET", base+"/collections", nil, nil), &list)
	if len(list.Collections) != 2 || list.Collections[0].Name != "docs" || list.Collections[1].Name != "named" {
		t.Fatalf("list %+v", list)
	}
	var exists struct{ Exists bool }
	qok(t, call(t, "GET", base+"/collections/docs/exists", nil, nil), &exists)
	if !exists.Exists {
		t.Fatal("docs does not exist")
	}
	qok(t, call(t, "GET", base+"/collections/nope/exists", nil, nil), &exists)
	if exists.Exists {
		t.Fatal("nope exists")
	}
	qerr(t, call(t, "GET", base+"/collections/nope", nil, nil), 404, "Not found: Collection `nope` doesn't exist!")

	qok(t, call(t, "PATCH", base+"/collections/docs", map[string]any{"optimizers_config": map[string]any{"indexing_threshold": 10000}}, nil), nil)
	qerr(t, call(t, "PATCH", base+"/collections/nope", map[string]any{}, nil), 404, "Collection `nope` doesn't exist!")
	updated(t, call(t, "PUT", base+"/collections/docs/index?wait=true", map[string]any{"field_name": "city", "field_schema": "keyword"}, nil))
	updated(t, call(t, "PUT", base+"/collections/docs/index", map[string]any{"field_name": "year", "field_schema": map[string]any{"type": "integer", "lookup": true}}, nil))
	updated(t, call(t, "PUT", base+"/collections/docs/index", map[string]any{"field_name": "rating", "field_schema": "float"}, nil))
	qerr(t, call(t, "PUT", base+"/collections/nope/index", map[string]any{"field_name": "city"}, nil), 404, "doesn't exist")
	qerr(t, call(t, "PUT", base+"/collections/docs/index", map[string]any{"field_name": "city", "field_schema": "fancy"}, nil), 400, "field schema")
	qerr(t, call(t, "PUT", base+"/collections/docs/index", map[string]any{"field_name": "city", "field_schema": 7}, nil), 400, "field_schema")
	var described struct {
		PayloadSchema map[string]struct {
			DataType string `json:"data_type"`
			Points   int    `json:"points"`
		} `json:"payload_schema"`
	}
	qok(t, call(t, "GET", base+"/collections/docs", nil, nil), &described)
	if ps := described.PayloadSchema; len(ps) != 3 || ps["city"].DataType != "keyword" || ps["year"].DataType != "integer" || ps["rating"].DataType != "float" {
		t.Fatalf("payload_schema after three create_payload_index: %+v", ps)
	}
	updated(t, call(t, "DELETE", base+"/collections/docs/index/rating", nil, nil))
	qok(t, call(t, "GET", base+"/collections/docs", nil, nil), &described)
	if _, ok := described.PayloadSchema["rating"]; ok || len(described.PayloadSchema) != 2 {
		t.Fatalf("payload_schema after deleting rating's index: %+v", described.PayloadSchema)
	}
	qerr(t, call(t, "DELETE", base+"/collections/nope/index/city", nil, nil), 404, "doesn't exist")

	var dropped bool
	qok(t, call(t, "DELETE", base+"/collections/docs", nil, nil), &dropped)
	if !dropped {
		t.Fatal("DELETE answered false for a collection that existed")
	}
	qok(t, call(t, "DELETE", base+"/collections/docs", nil, nil), &dropped)
	if dropped {
		t.Fatal("DELETE answered true for a collection already gone")
	}

	for _, tc := range []struct {
		name string
		body any
		want string
	}{
		{"no vectors", map[string]any{}, `"vectors" is missing`},
		{"manhattan", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Manhattan"}}, "Manhattan"},
		{"size 0", map[string]any{"vectors": map[string]any{"size": 0, "distance": "Dot"}}, "size 0"},
		{"no distance", map[string]any{"vectors": map[string]any{"size": 4}}, "distance"},
		{"sparse", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"},
			"sparse_vectors": map[string]any{"s": map[string]any{}}}, "sparse_vectors is not supported"},
		{"multivector", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot",
			"multivector_config": map[string]any{"comparator": "max_sim"}}}, "multivectors"},
		{"uint8", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot", "datatype": "uint8"}}, "datatype"},
		{"metadata", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}, "metadata": map[string]any{"a": 1}}, "metadata"},
		{"custom sharding", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}, "sharding_method": "custom"}, "sharding_method"},
		{"bad json", "{", "invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qerr(t, call(t, "PUT", base+"/collections/x", tc.body, nil), 400, tc.want)
		})
	}
	qerr(t, call(t, "PUT", base+"/collections/bad%20name", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}}, nil), 400, "Wrong input")
}

func TestQdrantPoints(t *testing.T) {
	testQdrantPoints(t, startQdrant(t, web.Config{}, nil))
}

// testQdrantPoints runs the points routes against the server at base, over
// whichever backend it stores new collections in (see backends_test.go).
func testQdrantPoints(t *testing.T, base string) {
	seed(t, base, "Dot")
	col := base + "/collections/c"

	// The batch form, a UUID id, named payloads.
	updated(t, call(t, "PUT", col+"/points", map[string]any{"batch": map[string]any{
		"ids":      []any{11, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26"},
		"vectors":  [][]float32{{0, 1, 0, 0}, {0, 0, 1, 0}},
		"payloads": []any{map[string]any{"n": 11}, nil},
	}}, nil))

	var count struct{ Count int }
	qok(t, call(t, "POST", col+"/points/count", map[string]any{"exact": true}, nil), &count)
	if count.Count != 12 {
		t.Fatalf("count %d, want 12", count.Count)
	}
	qok(t, call(t, "POST", col+"/points/count", map[string]any{"filter": map[string]any{
		"must": []any{map[string]any{"key": "even", "match": map[string]any{"value": true}}}}}, nil), &count)
	if count.Count != 5 {
		t.Fatalf("count of even %d, want 5", count.Count)
	}

	// Retrieve: in the order asked, a missing id left out, payload and
	// vector only when asked.
	var got []qpoint
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": []any{3, 99, "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", 1},
		"with_payload": true, "with_vector": true}, nil), &got)
	if ids := pointIDs(got); !slices.Equal(ids, []string{"3", "5c56c793-69f3-4fbf-87e6-c4bf54c28c26", "1"}) {
		t.Fatalf("retrieved %v", ids)
	}
	if string(got[0].Payload) != `{"even":false,"n":3,"tag":"t3"}` || string(got[0].Vector) != "[1,0.3,0,0]" || string(got[1].Payload) != "{}" {
		t.Fatalf("retrieved %s / %s / %s", got[0].Payload, got[0].Vector, got[1].Payload)
	}
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": []any{3}}, nil), &got)
	if len(got) != 1 || got[0].Payload != nil || got[0].Vector != nil {
		t.Fatalf("retrieve without with_* %s", call(t, "POST", col+"/points", map[string]any{"ids": []any{3}}, nil).body)
	}
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": []any{3}, "with_payload": []string{"tag"}}, nil), &got)
	if string(got[0].Payload) != `{"tag":"t3"}` {
		t.Fatalf("include tag: %s", got[0].Payload)
	}
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": []any{3}, "with_payload": map[string]any{"exclude": []string{"tag", "n"}}}, nil), &got)
	if string(got[0].Payload) != `{"even":false}` {
		t.Fatalf("exclude tag, n: %s", got[0].Payload)
	}

	var one qpoint
	qok(t, call(t, "GET", col+"/points/7", nil, nil), &one)
	if fmt.Sprint(one.ID) != "7" || string(one.Vector) != "[1,0.7,0,0]" || !strings.Contains(string(one.Payload), `"n":7`) {
		t.Fatalf("GET point 7: %+v", one)
	}
	qok(t, call(t, "GET", col+"/points/5c56c793-69f3-4fbf-87e6-c4bf54c28c26", nil, nil), &one)
	qerr(t, call(t, "GET", col+"/points/99", nil, nil), 404, "Point with id 99 does not exists!")
	qerr(t, call(t, "GET", col+"/points/abc", nil, nil), 400, `Can not recognize "abc" as point id`)
	qerr(t, call(t, "GET", base+"/collections/nope/points/1", nil, nil), 404, "Collection `nope` doesn't exist!")

	// Scroll: pages of limit in id order, next_page_offset to the next.
	var page struct {
		Points []qpoint `json:"points"`
		Next   any      `json:"next_page_offset"`
	}
	var seen []string
	var offset any
	for range 10 {
		body := map[string]any{"limit": 5}
		if offset != nil {
			body["offset"] = offset
		}
		qok(t, call(t, "POST", col+"/points/scroll", body, nil), &page)
		seen = append(seen, pointIDs(page.Points)...)
		if page.Next == nil {
			break
		}
		offset = page.Next
	}
	if len(seen) != 12 || seen[0] != "1" || seen[10] != "11" || page.Points[0].Payload == nil {
		t.Fatalf("scrolled %v", seen)
	}
	qok(t, call(t, "POST", col+"/points/scroll", map[string]any{"filter": map[string]any{
		"must": []any{map[string]any{"key": "n", "range": map[string]any{"gte": 9}}}}, "with_payload": false}, nil), &page)
	if ids := pointIDs(page.Points); !slices.Equal(ids, []string{"9", "10", "11"}) || page.Next != nil || page.Points[0].Payload != nil {
		t.Fatalf("scroll n >= 9: %v next %v", ids, page.Next)
	}

	// Payload: set merges, overwrite replaces, delete removes keys, clear
	// empties; by ids or by filter.
	updated(t, call(t, "POST", col+"/points/payload", map[string]any{"payload": map[string]any{"city": "Oslo"}, "points": []any{1, 2}}, nil))
	updated(t, call(t, "PUT", col+"/points/payload", map[string]any{"payload": map[string]any{"only": 1}, "points": []any{2}}, nil))
	updated(t, call(t, "POST", col+"/points/payload/delete", map[string]any{"keys": []string{"tag"}, "filter": map[string]any{
		"must": []any{map[string]any{"has_id": []any{3}}}}}, nil))
	updated(t, call(t, "POST", col+"/points/payload/clear", map[string]any{"points": []any{4}}, nil))
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": []any{1, 2, 3, 4}, "with_payload": true}, nil), &got)
	for i, want := range []string{`"city":"Oslo"`, `{"only":1}`, `{"even":false,"n":3}`, `{}`} {
		if !strings.Contains(string(got[i].Payload), want) {
			t.Errorf("point %d payload %s, want %s", i+1, got[i].Payload, want)
		}
	}

	// Delete by ids, then by filter.
	updated(t, call(t, "POST", col+"/points/delete?wait=true", map[string]any{"points": []any{1, 2}}, nil))
	updated(t, call(t, "POST", col+"/points/delete", map[string]any{"filter": map[string]any{
		"must": []any{map[string]any{"key": "even", "match": map[string]any{"value": true}}}}}, nil))
	qok(t, call(t, "POST", col+"/points/count", map[string]any{}, nil), &count)
	if count.Count != 7 { // 12 - {1, 2} - {4, 6, 8, 10}
		t.Fatalf("count after deletes %d, want 7", count.Count)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"no points", "PUT", "/points", map[string]any{}, 400, `give "points"`},
		{"points and batch", "PUT", "/points", map[string]any{"points": []any{}, "batch": map[string]any{"ids": []any{}, "vectors": []any{}}}, 400, "not both"},
		{"no id", "PUT", "/points", map[string]any{"points": []any{map[string]any{"vector": []float32{1, 2, 3, 4}}}}, 400, "points[0].id is missing"},
		{"string digits id", "PUT", "/points", map[string]any{"points": []any{map[string]any{"id": "42", "vector": []float32{1, 2, 3, 4}}}}, 400, "point id"},
		{"wrong dims", "PUT", "/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float32{1, 2}}}}, 400, "Wrong input"},
		{"multivector", "PUT", "/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": [][]float32{{1, 2, 3, 4}}}}}, 400, "multivectors are not supported"},
		{"sparse", "PUT", "/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": map[string]any{"s": map[string]any{"indices": []int{1}, "values": []float32{1}}}}}}, 400, "sparse vectors are not supported"},
		{"image", "PUT", "/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": map[string]any{"image": "x.png", "model": "clip"}}}}, 400, "image inference is not supported"},
		{"payload not object", "PUT", "/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float32{1, 2, 3, 4}, "payload": []int{1}}}}, 400, "Wrong input"},
		{"batch lengths", "PUT", "/points", map[string]any{"batch": map[string]any{"ids": []any{1, 2}, "vectors": [][]float32{{1, 2, 3, 4}}}}, 400, "2 ids and 1 vectors"},
		{"update_filter", "PUT", "/points", map[string]any{"points": []any{}, "update_filter": map[string]any{"must": []any{}}}, 400, "update_filter is not supported"},
		{"shard_key", "PUT", "/points", map[string]any{"points": []any{}, "shard_key": "a"}, 400, "shard_key is not supported"},
		{"insert_only", "PUT", "/points", map[string]any{"points": []any{}, "update_mode": "insert_only"}, 400, "update_mode"},
		{"missing collection", "PUT", "/../nope/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float32{1, 2, 3, 4}}}}, 404, "Collection `nope` doesn't exist!"},
		{"retrieve no ids", "POST", "/points", map[string]any{}, 400, `"ids" is missing`},
		{"nested with_payload", "POST", "/points", map[string]any{"ids": []any{3}, "with_payload": []string{"a.b"}}, 400, "top-level"},
		{"delete nothing", "POST", "/points/delete", map[string]any{}, 400, `give "points"`},
		{"delete both", "POST", "/points/delete", map[string]any{"points": []any{1}, "filter": map[string]any{}}, 400, "not both"},
		{"bad filter", "POST", "/points/delete", map[string]any{"filter": map[string]any{"must": []any{map[string]any{"key": "a", "range": map[string]any{}}}}}, 400, "no bound"},
		{"geo filter", "POST", "/points/count", map[string]any{"filter": map[string]any{"must": []any{map[string]any{"key": "a", "geo_radius": map[string]any{}}}}}, 400, "geo_radius"},
		{"set nested key", "POST", "/points/payload", map[string]any{"payload": map[string]any{"a": 1}, "points": []any{3}, "key": "x.y"}, 400, `"key"`},
		{"set no payload", "POST", "/points/payload", map[string]any{"points": []any{3}}, 400, `"payload" must be an object`},
		{"delete keys missing", "POST", "/points/payload/delete", map[string]any{"points": []any{3}}, 400, `"keys" is missing`},
		{"scroll order_by", "POST", "/points/scroll", map[string]any{"order_by": "n"}, 400, "order_by is not supported"},
		{"scroll limit 0", "POST", "/points/scroll", map[string]any{"limit": 0}, 400, "limit 0"},
		{"scroll limit too big", "POST", "/points/scroll", map[string]any{"limit": 10001}, 400, "10000 results"},
		{"count missing collection", "POST", "/../nope/points/count", map[string]any{}, 404, "Collection `nope` doesn't exist!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qerr(t, call(t, tc.method, qurl(base, tc.path), tc.body, nil), tc.status, tc.want)
		})
	}
}

// TestQdrantPointLimits pins the bounds on one request's points.
func TestQdrantPointLimits(t *testing.T) {
	base := startQdrant(t, web.Config{MaxBodyBytes: 64 << 20}, nil)
	qok(t, call(t, "PUT", base+"/collections/c", map[string]any{"vectors": map[string]any{"size": 1, "distance": "Dot"}}, nil), nil)
	pts := make([]map[string]any, web.QdrantMaxPoints+1)
	ids := make([]int, web.QdrantMaxPoints+1)
	for i := range pts {
		pts[i] = map[string]any{"id": i + 1, "vector": []float32{1}}
		ids[i] = i + 1
	}
	qerr(t, call(t, "PUT", base+"/collections/c/points", map[string]any{"points": pts}, nil), 413, "limit 10000")
	qerr(t, call(t, "POST", base+"/collections/c/points", map[string]any{"ids": ids}, nil), 413, "limit 10000")
	qerr(t, call(t, "POST", base+"/collections/c/points/delete", map[string]any{"points": ids}, nil), 413, "limit 10000")
	updated(t, call(t, "PUT", base+"/collections/c/points", map[string]any{"points": pts[:web.QdrantMaxPoints]}, nil))
	searches := make([]any, web.QdrantMaxBatch+1)
	for i := range searches {
		searches[i] = map[string]any{"vector": []float32{1}, "limit": 1}
	}
	qerr(t, call(t, "POST", base+"/collections/c/points/search/batch", map[string]any{"searches": searches}, nil), 400, "101 searches in one batch, limit 100")
	var res [][]qpoint
	qok(t, call(t, "POST", base+"/collections/c/points/search/batch", map[string]any{"searches": searches[:web.QdrantMaxBatch]}, nil), &res)
	if len(res) != web.QdrantMaxBatch || len(res[0]) != 1 {
		t.Fatalf("batch of %d answered %d", web.QdrantMaxBatch, len(res))
	}
	qerr(t, call(t, "POST", base+"/collections/c/points/query", map[string]any{"query": []float32{1}, "limit": 9000, "offset": 1001}, nil), 400, "10000 results")

	// The body limit answers 413 in Qdrant's shape.
	small := startQdrant(t, web.Config{MaxBodyBytes: 1024}, nil)
	qerr(t, call(t, "PUT", small+"/collections/c/points", map[string]any{"points": pts[:100]}, nil), 413, "too large")
}

func TestQdrantSearchAndQuery(t *testing.T) {
	testQdrantSearchAndQuery(t, startQdrant(t, web.Config{}, nil))
}

// testQdrantSearchAndQuery runs the search routes against the server at
// base (see testQdrantPoints).
func testQdrantSearchAndQuery(t *testing.T, base string) {
	seed(t, base, "Dot")
	col := base + "/collections/c"
	q := []float32{0, 1, 0, 0} // dot product = i/10: the best is 10, then 9, …

	var res []qpoint
	qok(t, call(t, "POST", col+"/points/search", map[string]any{"vector": q, "limit": 3}, nil), &res)
	if ids := pointIDs(res); !slices.Equal(ids, []string{"10", "9", "8"}) || res[0].Version == nil ||
		math.Abs(float64(res[0].Score)-1) > 1e-6 || res[0].Payload != nil || res[0].Vector != nil {
		t.Fatalf("search: %+v", res)
	}
	qok(t, call(t, "POST", col+"/points/search", map[string]any{"vector": q, "top": 2, "offset": 1,
		"filter":       map[string]any{"must_not": []any{map[string]any{"key": "n", "match": map[string]any{"any": []int{9}}}}},
		"with_payload": []string{"n"}, "with_vector": true, "params": map[string]any{"exact": true, "hnsw_ef": 64}}, nil), &res)
	if ids := pointIDs(res); !slices.Equal(ids, []string{"8", "7"}) || string(res[0].Payload) != `{"n":8}` || string(res[0].Vector) != "[1,0.8,0,0]" {
		t.Fatalf("search with filter, offset: %s", call(t, "POST", col+"/points/search", map[string]any{"vector": q, "limit": 1}, nil).body)
	}
	qok(t, call(t, "POST", col+"/points/search", map[string]any{"vector": q, "limit": 10, "score_threshold": 0.75}, nil), &res)
	if ids := pointIDs(res); !slices.Equal(ids, []string{"10", "9", "8"}) {
		t.Fatalf("score_threshold 0.75: %v", ids)
	}
	var batch [][]qpoint
	qok(t, call(t, "POST", col+"/points/search/batch", map[string]any{"searches": []any{
		map[string]any{"vector": q, "limit": 1}, map[string]any{"vector": []float32{0, -1, 0, 0}, "limit": 1}}}, nil), &batch)
	if len(batch) != 2 || pointIDs(batch[0])[0] != "10" || pointIDs(batch[1])[0] != "1" {
		t.Fatalf("search batch %+v", batch)
	}

	// Query: a vector, {nearest}, a point id (excluded from its answer).
	var qr struct {
		Points []qpoint `json:"points"`
	}
	for _, query := range []any{q, map[string]any{"nearest": q}} {
		qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": query, "limit": 2, "with_payload": true}, nil), &qr)
		if ids := pointIDs(qr.Points); !slices.Equal(ids, []string{"10", "9"}) || qr.Points[0].Payload == nil {
			t.Fatalf("query %v: %v", query, ids)
		}
	}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": 10, "limit": 2}, nil), &qr)
	if ids := pointIDs(qr.Points); !slices.Equal(ids, []string{"9", "8"}) {
		t.Fatalf("query by id 10: %v, want the nearest others", ids)
	}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": q}, nil), &qr)
	if len(qr.Points) != 10 {
		t.Fatalf("query without a limit: %d points, want Qdrant's default 10", len(qr.Points))
	}
	var qbatch []struct {
		Points []qpoint `json:"points"`
	}
	qok(t, call(t, "POST", col+"/points/query/batch", map[string]any{"searches": []any{
		map[string]any{"query": q, "limit": 1}, map[string]any{"query": map[string]any{"recommend": map[string]any{"positive": []any{1}}}, "limit": 1}}}, nil), &qbatch)
	if len(qbatch) != 2 || pointIDs(qbatch[0].Points)[0] != "10" || pointIDs(qbatch[1].Points)[0] != "10" {
		t.Fatalf("query batch %+v", qbatch)
	}

	// Recommend (average_vector): near 2 and 3, away from 10; the examples
	// themselves are left out.
	qok(t, call(t, "POST", col+"/points/recommend", map[string]any{"positive": []any{2, 3}, "negative": []any{10}, "limit": 2}, nil), &res)
	for _, id := range pointIDs(res) {
		if id == "2" || id == "3" || id == "10" {
			t.Fatalf("recommend answered an example: %v", pointIDs(res))
		}
	}
	// pos = (1, .25, 0, 0), neg = (1, 1, 0, 0): 2·pos − neg = (1, −.5, 0, 0), whose best dot product is point 1.
	if pointIDs(res)[0] != "1" {
		t.Fatalf("recommend: %v, want 1 first", pointIDs(res))
	}
	qok(t, call(t, "POST", col+"/points/recommend", map[string]any{"positive": []any{[]float32{0, 1, 0, 0}}, "limit": 1}, nil), &res)
	if pointIDs(res)[0] != "10" {
		t.Fatalf("recommend by vector: %v", pointIDs(res))
	}

	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		want       string
	}{
		{"search no limit", "/points/search", map[string]any{"vector": q}, 400, `"limit" is missing`},
		{"search wrong dims", "/points/search", map[string]any{"vector": []float32{1}, "limit": 1}, 400, "dims"},
		{"search no vector", "/points/search", map[string]any{"limit": 1}, 400, `"vector" must be`},
		{"search sparse named", "/points/search", map[string]any{"vector": map[string]any{"name": "s", "vector": map[string]any{"indices": []int{1}, "values": []float32{1}}}, "limit": 1}, 400, "sparse"},
		{"search unknown name", "/points/search", map[string]any{"vector": map[string]any{"name": "img", "vector": q}, "limit": 1}, 400, `no vector "img"`},
		{"search missing collection", "/../nope/points/search", map[string]any{"vector": q, "limit": 1}, 404, "Collection `nope` doesn't exist!"},
		{"query missing", "/points/query", map[string]any{}, 400, `"query" is missing`},
		{"query prefetch", "/points/query", map[string]any{"prefetch": map[string]any{"query": q}, "query": map[string]any{"fusion": "rrf"}}, 400, "prefetch is not supported"},
		{"query fusion", "/points/query", map[string]any{"query": map[string]any{"fusion": "rrf"}}, 400, "query.fusion is not supported"},
		{"query order_by", "/points/query", map[string]any{"query": map[string]any{"order_by": "n"}}, 400, "query.order_by is not supported"},
		{"query mmr diversity", "/points/query", map[string]any{"query": map[string]any{"nearest": q, "mmr": map[string]any{"diversity": -1}}}, 400, "query.mmr.diversity -1: want 0 to 1"},
		{"query unknown id", "/points/query", map[string]any{"query": 99}, 404, "No point with id 99 found"},
		{"query lookup_from", "/points/query", map[string]any{"query": 1, "lookup_from": map[string]any{"collection": "o"}}, 400, "lookup_from is not supported"},
		{"query digits string", "/points/query", map[string]any{"query": "42"}, 400, "point id"},
		{"recommend best_score", "/points/recommend", map[string]any{"positive": []any{1}, "strategy": "best_score", "limit": 1}, 400, `"best_score" is not supported`},
		{"recommend no positive", "/points/recommend", map[string]any{"negative": []any{1}, "limit": 1}, 400, "at least one positive"},
		{"recommend unknown id", "/points/recommend", map[string]any{"positive": []any{77}, "limit": 1}, 404, "No point with id 77 found"},
		{"search batch missing", "/points/search/batch", map[string]any{}, 400, `"searches" is missing`},
		{"query batch bad item", "/points/query/batch", map[string]any{"searches": []any{map[string]any{"query": q}, map[string]any{}}}, 400, "searches[1]"},
		{"document without model", "/points/query", map[string]any{"query": map[string]any{"text": "hi"}}, 400, `needs both "text" and "model"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			qerr(t, call(t, "POST", qurl(base, tc.path), tc.body, nil), tc.status, tc.want)
		})
	}
	// A document needs the model, which this server has not loaded: 503.
	qerr(t, call(t, "POST", col+"/points/query", map[string]any{"query": map[string]any{"text": "hi", "model": "all-MiniLM-L6-v2"}}, nil), 503, "model is still loading")
}

func TestQdrantNamedVectors(t *testing.T) {
	base := startQdrant(t, web.Config{}, nil)
	col := base + "/collections/n"
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{
		"a": map[string]any{"size": 2, "distance": "Cosine"}, "b": map[string]any{"size": 3, "distance": "Euclid"}}}, nil), nil)
	updated(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
		map[string]any{"id": 1, "vector": map[string]any{"a": []float32{1, 0}, "b": []float32{0, 0, 0}}},
		map[string]any{"id": 2, "vector": map[string]any{"a": []float32{0, 1}, "b": []float32{5, 5, 5}}},
	}}, nil))
	updated(t, call(t, "PUT", col+"/points", map[string]any{"batch": map[string]any{"ids": []any{3},
		"vectors": map[string]any{"a": [][]float32{{1, 1}}, "b": [][]float32{{1, 1, 1}}}}}, nil))

	var res []qpoint
	qok(t, call(t, "POST", col+"/points/search", map[string]any{"vector": map[string]any{"name": "b", "vector": []float32{0, 0, 0}}, "limit": 3, "with_vector": []string{"b"}}, nil), &res)
	if ids := pointIDs(res); !slices.Equal(ids, []string{"1", "3", "2"}) || res[0].Score != 0 || string(res[0].Vector) != `{"b":[0,0,0]}` {
		t.Fatalf("euclid search on b: %+v", res)
	}
	var qr struct {
		Points []qpoint `json:"points"`
	}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": []float32{0, 2}, "using": "a", "limit": 1, "with_vector": true}, nil), &qr)
	if pointIDs(qr.Points)[0] != "2" || string(qr.Points[0].Vector) != `{"a":[0,1],"b":[5,5,5]}` {
		t.Fatalf("query using a: %s", qr.Points[0].Vector)
	}
	qerr(t, call(t, "POST", col+"/points/query", map[string]any{"query": []float32{0, 2}}, nil), 400, "say which with using")
	qerr(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
		map[string]any{"id": 4, "vector": map[string]any{"a": []float32{1, 0}}}}}, nil), 400, "Wrong input")
}

// TestQdrantDocuments embeds Qdrant's inference objects with the real
// model: upsert by document, query by document, wrong model refused.
func TestQdrantDocuments(t *testing.T) {
	p := pool(t)
	base := startQdrant(t, web.Config{}, p)
	col := base + "/collections/docs"
	model := p.Info().Name
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": p.Info().Dims, "distance": "Cosine"}}, nil), nil)
	texts := []string{"Bees make honey in the hive.", "The train leaves the station at noon.", "Tomatoes grow well in warm soil."}
	var pts []any
	for i, text := range texts {
		pts = append(pts, map[string]any{"id": i + 1, "vector": map[string]any{"text": text, "model": model}, "payload": map[string]any{"text": text}})
	}
	updated(t, call(t, "PUT", col+"/points", map[string]any{"points": pts}, nil))
	updated(t, call(t, "PUT", col+"/points", map[string]any{"batch": map[string]any{"ids": []any{4},
		"vectors": []any{map[string]any{"text": "Railway timetables and platforms", "model": "sentence-transformers/" + model}}}}, nil))

	var qr struct {
		Points []qpoint `json:"points"`
	}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": map[string]any{"text": "when does my train depart", "model": model}, "limit": 2}, nil), &qr)
	if ids := pointIDs(qr.Points); !slices.Equal(ids, []string{"2", "4"}) {
		t.Fatalf("query by document: %v, want the train texts", ids)
	}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": map[string]any{"nearest": map[string]any{"text": "honey bees", "model": strings.ToUpper(model)}}, "limit": 1}, nil), &qr)
	if pointIDs(qr.Points)[0] != "1" {
		t.Fatalf("nearest document: %v", pointIDs(qr.Points))
	}
	// The stored vector is the model's embedding of the text.
	var one qpoint
	qok(t, call(t, "GET", col+"/points/1", nil, nil), &one)
	var stored []float32
	if err := json.Unmarshal(one.Vector, &stored); err != nil {
		t.Fatal(err)
	}
	embs, err := p.Embed(context.Background(), texts[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stored, embs[0].Vector) {
		t.Fatal("the stored vector is not the model's embedding of the document")
	}
	qerr(t, call(t, "POST", col+"/points/query", map[string]any{"query": map[string]any{"text": "x", "model": "BAAI/bge-small-en"}}, nil), 400, `model "BAAI/bge-small-en" is not served here`)
	qerr(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{map[string]any{"id": 9,
		"vector": map[string]any{"text": "x", "model": model, "options": map[string]any{"lang": "de"}}}}}, nil), 400, "options is not supported")
	qerr(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{map[string]any{"id": 9,
		"vector": map[string]any{"text": " ", "model": model}}}}, nil), 400, "text is empty")
}

// TestQdrantGuards pins the main port's protections on the Qdrant port,
// in Qdrant's error shape: the API key (api-key or Bearer), Host, and
// writes from other sites' pages.
func TestQdrantGuards(t *testing.T) {
	base := startQdrant(t, web.Config{APIKey: "s3cret"}, nil)
	// The version check and probes need no key, as in Qdrant.
	for _, path := range []string{"/", "/healthz", "/livez", "/readyz"} {
		if r := call(t, "GET", base+path, nil, nil); r.status != 200 {
			t.Errorf("GET %s without a key = %d, want 200", path, r.status)
		}
	}
	qerr(t, call(t, "GET", base+"/collections", nil, nil), 401, "Must provide an API key")
	qerr(t, call(t, "GET", base+"/collections", nil, map[string]string{"api-key": "wrong"}), 401, "Invalid API key")
	qerr(t, call(t, "GET", base+"/collections", nil, map[string]string{"X-API-Key": "s3cret"}), 401, "Must provide")
	qok(t, call(t, "GET", base+"/collections", nil, map[string]string{"api-key": "s3cret"}), nil)
	qok(t, call(t, "GET", base+"/collections", nil, map[string]string{"Authorization": "Bearer s3cret"}), nil)

	key := map[string]string{"api-key": "s3cret"}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{"api-key": "s3cret"}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	qerr(t, call(t, "GET", base+"/collections", nil, with(map[string]string{"Host": "evil.example:6333"})), 403, "DNS rebinding")
	qerr(t, call(t, "PUT", base+"/collections/c", map[string]any{"vectors": map[string]any{"size": 1, "distance": "Dot"}},
		with(map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})), 403, "cross-origin PUT refused")
	qerr(t, call(t, "PUT", base+"/collections/c", `{"vectors":{"size":1,"distance":"Dot"}}`,
		with(map[string]string{"Origin": base, "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"})), 415, "application/json")
	qok(t, call(t, "PUT", base+"/collections/c", map[string]any{"vectors": map[string]any{"size": 1, "distance": "Dot"}}, key), nil)
}

// TestQdrantPythonClient runs web/qdranttest/client_check.py, the official
// Python client (the version pinned in requirements.txt, installed with
// pip when missing) against a real server with the real model and an API
// key: collections, 1,000 points, filtered search checked against numpy,
// scroll, count, payload updates, deletes, recommend and Documents.
func TestQdrantPythonClient(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed for the Qdrant client test: %v", err)
	}
	req, err := os.ReadFile(filepath.Join("qdranttest", "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pin, _ := strings.CutPrefix(strings.TrimSpace(string(req)), "qdrant-client==")
	have, _ := exec.Command(python, "-c", "import importlib.metadata as m; print(m.version('qdrant-client'))").Output()
	if strings.TrimSpace(string(have)) != pin {
		out, err := exec.Command(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
			"-r", filepath.Join("qdranttest", "requirements.txt")).CombinedOutput()
		if err != nil {
			t.Fatalf("pip install qdrant-client==%s: %v\n%s", pin, err, out)
		}
	}
	p := pool(t)
	const key = "py-client-key"
	base := startQdrant(t, web.Config{APIKey: key}, p)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "client_check.py", base, key, p.Info().Name)
	cmd.Dir = "qdranttest"
	out, err := cmd.CombinedOutput()
	t.Logf("client_check.py:\n%s", out)
	if err != nil {
		t.Fatalf("the Qdrant Python client failed: %v", err)
	}
}

// TestQdrantDefaultVectorNameInAMap pins Qdrant's default vector name ""
// given as a map key, as langchain-qdrant's QdrantVectorStore sends it
// (its vector_name defaults to ""): {"vectors": {"": {…}}} creates the
// unnamed vector, points carry {"": […]} and queries say using "".
func TestQdrantDefaultVectorNameInAMap(t *testing.T) {
	base := startQdrant(t, web.Config{}, nil)
	col := base + "/collections/lc"
	qok(t, call(t, "PUT", col, map[string]any{
		"vectors": map[string]any{"": map[string]any{"size": 2, "distance": "Cosine"}}, "sparse_vectors": map[string]any{}}, nil), nil)
	var info struct {
		Config struct {
			Params struct {
				Vectors json.RawMessage `json:"vectors"`
			} `json:"params"`
		} `json:"config"`
	}
	qok(t, call(t, "GET", col, nil, nil), &info)
	if got := string(info.Config.Params.Vectors); got != `{"size":2,"distance":"Cosine"}` {
		t.Fatalf("vectors %s, want the unnamed vector's params", got)
	}
	id := "0b8d7c7e54b24c0f9b1f8f5b2a3c4d5e" // uuid4().hex, as langchain makes ids
	updated(t, call(t, "PUT", col+"/points?wait=true", map[string]any{"points": []any{
		map[string]any{"id": id, "vector": map[string]any{"": []float32{1, 0}}, "payload": map[string]any{"page_content": "a", "metadata": map[string]any{"k": 1}}},
		map[string]any{"id": 2, "vector": []float32{0, 1}, "payload": map[string]any{"page_content": "b", "metadata": nil}},
	}}, nil))
	var qr struct {
		Points []qpoint `json:"points"`
	}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": []float32{1, 0.1}, "using": "", "limit": 2,
		"offset": 0, "with_payload": true, "with_vector": false}, nil), &qr)
	if ids := pointIDs(qr.Points); !slices.Equal(ids, []string{"0b8d7c7e-54b2-4c0f-9b1f-8f5b2a3c4d5e", "2"}) {
		t.Fatalf("query using \"\": %v", ids)
	}
	qok(t, call(t, "PUT", base+"/collections/both", map[string]any{"vectors": map[string]any{"": map[string]any{"size": 2, "distance": "Dot"}}}, nil), nil)
	qerr(t, call(t, "PUT", base+"/collections/mixed", map[string]any{"vectors": map[string]any{
		"":  map[string]any{"size": 2, "distance": "Dot"},
		"b": map[string]any{"size": 2, "distance": "Dot"}}}, nil), 400, `the unnamed vector "" beside named ones`)
}

// TestQdrantQueryMMR pins query {"nearest", "mmr"}, maximal marginal
// relevance, as langchain-qdrant's max_marginal_relevance_search sends it:
// the first pick is the nearest point, each next one maximises
// (1 − diversity)·relevance − diversity·(its highest similarity to those
// picked), among the candidates_limit nearest; scores stay the query's.
func TestQdrantQueryMMR(t *testing.T) {
	base := startQdrant(t, web.Config{}, nil)
	for _, distance := range []string{"Cosine", "Euclid", "Dot"} {
		col := base + "/collections/mmr" + distance
		qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 2, "distance": distance}}, nil), nil)
		// 2 nearly repeats 1; 3 is a little further from the query and
		// far from 1; 4 is far from everything.
		updated(t, call(t, "PUT", col+"/points?wait=true", map[string]any{"points": []any{
			map[string]any{"id": 1, "vector": []float32{1, 0.05}, "payload": map[string]any{"n": 1}},
			map[string]any{"id": 2, "vector": []float32{1, 0.1}, "payload": map[string]any{"n": 2}},
			map[string]any{"id": 3, "vector": []float32{1, -0.5}, "payload": map[string]any{"n": 3}},
			map[string]any{"id": 4, "vector": []float32{0, 1}, "payload": map[string]any{"n": 4}},
		}}, nil))
		var plain, qr struct {
			Points []qpoint `json:"points"`
		}
		near := []float32{1, 0}
		query := func(mmr map[string]any, extra map[string]any) []qpoint {
			t.Helper()
			req := map[string]any{"query": map[string]any{"nearest": near, "mmr": mmr}, "using": "", "limit": 2}
			for k, v := range extra {
				req[k] = v
			}
			qok(t, call(t, "POST", col+"/points/query", req, nil), &qr)
			return qr.Points
		}
		qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": []float32{1, 0}, "limit": 4}, nil), &plain)
		if distance == "Dot" {
			// Near (1, 0.2), Dot ranks 2, 1, 3, 4; the similarity between
			// points is their dot product too, which 4 keeps lowest.
			near = []float32{1, 0.2}
			if got := pointIDs(query(map[string]any{"diversity": 0.5, "candidates_limit": 4}, nil)); !slices.Equal(got, []string{"2", "4"}) {
				t.Fatalf("Dot mmr: %v", got)
			}
			continue
		}
		if ids := pointIDs(plain.Points); !slices.Equal(ids, []string{"1", "2", "3", "4"}) {
			t.Fatalf("%s nearest: %v", distance, ids)
		}
		pts := query(map[string]any{"diversity": 0.5, "candidates_limit": 4}, map[string]any{"with_payload": true, "with_vector": true})
		if ids := pointIDs(pts); !slices.Equal(ids, []string{"1", "3"}) {
			t.Fatalf("%s mmr diversity 0.5: %v, want 1 then 3 (2 repeats 1)", distance, ids)
		}
		if pts[0].Score != plain.Points[0].Score || pts[1].Score != plain.Points[2].Score {
			t.Fatalf("%s mmr scores %v %v, want the query's %v %v", distance, pts[0].Score, pts[1].Score, plain.Points[0].Score, plain.Points[2].Score)
		}
		if string(pts[1].Payload) != `{"n":3}` || string(pts[1].Vector) != `[1,-0.5]` {
			t.Fatalf("%s mmr payload %s vector %s", distance, pts[1].Payload, pts[1].Vector)
		}
		cases := []struct {
			mmr   map[string]any
			extra map[string]any
			want  []string
		}{
			{map[string]any{"diversity": 0, "candidates_limit": 4}, nil, []string{"1", "2"}},   // relevance only
			{map[string]any{"diversity": 0.5, "candidates_limit": 2}, nil, []string{"1", "2"}}, // 3 is not a candidate
			{map[string]any{"diversity": 0.5}, nil, []string{"1", "2"}},                        // candidates_limit defaults to limit
			{map[string]any{"candidates_limit": 4}, nil, []string{"1", "3"}},                   // diversity defaults to 0.5
			{map[string]any{"diversity": 0.5, "candidates_limit": 4}, map[string]any{"offset": 1}, []string{"3", "2"}},
			{map[string]any{"diversity": 0.5, "candidates_limit": 4}, map[string]any{"filter": map[string]any{
				"must_not": []any{map[string]any{"has_id": []int{1}}}}}, []string{"2", "3"}},
		}
		for _, c := range cases {
			pts := query(c.mmr, c.extra)
			if ids := pointIDs(pts); !slices.Equal(ids, c.want) {
				t.Errorf("%s mmr %v %v: %v, want %v", distance, c.mmr, c.extra, ids, c.want)
			}
			if len(pts) > 0 && (pts[0].Vector != nil || pts[0].Payload != nil) {
				t.Errorf("%s mmr without with_vector/with_payload: %s %s", distance, pts[0].Vector, pts[0].Payload)
			}
		}
	}
	col := base + "/collections/mmrCosine/points/query"
	qerr(t, call(t, "POST", col, map[string]any{"query": map[string]any{"nearest": []float32{1, 0}, "mmr": map[string]any{"diversity": 1.5}}}, nil), 400, "diversity")
	qerr(t, call(t, "POST", col, map[string]any{"query": map[string]any{"nearest": []float32{1, 0}, "mmr": map[string]any{"candidates_limit": web.QdrantMaxResults + 1}}}, nil), 400, "candidates_limit")
	qerr(t, call(t, "POST", col, map[string]any{"query": map[string]any{"nearest": []float32{1, 0}, "mmr": map[string]any{"candidates_limit": 5000}}, "limit": 1000}, nil), 400, "candidates_limit")
}
