package web_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// onWeaviate is a Qdrant-API server whose new collections live on a
// one-node Weaviate of the test's own, beside a local engine. base is the
// server; sync is the same server through a proxy that adds wait=true to
// every request, so a write is answered once delivered, as the Qdrant
// test bodies written for local collections expect.
type onWeaviate struct {
	base, sync string
	main       string // the main port, for /health
	local      *search.Collections
	st         *store.Store
	backends   *web.Backends
	node       *weaviatetest.Cluster
	client     *weaviate.Client
}

// startOnWeaviate starts weaviate-server (skipping without it, see
// weaviatetest.Require) and a server routing between it and a fresh local
// engine; before, when not nil, runs on both before the server serves.
// Each remote call is bounded by opts.Timeout; opts.Store is the local
// engine's.
func startOnWeaviate(t *testing.T, opts web.BackendOptions, before func(*search.Collections, *weaviate.Client)) *onWeaviate {
	t.Helper()
	return startOnWeaviateWith(t, opts, before, nil)
}

// startOnWeaviateWith is startOnWeaviate with the embedder p (nil: none).
func startOnWeaviateWith(t *testing.T, opts web.BackendOptions, before func(*search.Collections, *weaviate.Client), p *embedder.Pool) *onWeaviate {
	t.Helper()
	node := weaviatetest.StartNode(t)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0), HTTPClient: &http.Client{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	local, st := openCollectionsAndStore(t, t.TempDir())
	if before != nil {
		before(local, client)
	}
	opts.Where, opts.Store = node.URL(0), st
	b := startBackends(t, local, client, opts)
	srv := newQdrantServer(t, web.Config{}, p)
	srv.SetCollections(b)
	base := serveQdrant(t, srv)
	return &onWeaviate{base: base, sync: waitProxy(t, base), main: serveMain(t, srv), local: local, st: st, backends: b, node: node, client: client}
}

// openCollectionsAndStore is openCollections that also returns the store.
func openCollectionsAndStore(t *testing.T, dir string) (*search.Collections, *store.Store) {
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
	return cols, st
}

// startBackends makes and starts Backends, closed when the test ends
// (before the store, which was opened earlier).
func startBackends(t *testing.T, local *search.Collections, client *weaviate.Client, opts web.BackendOptions) *web.Backends {
	t.Helper()
	b, err := web.NewBackends(local, client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// waitProxy serves base through a proxy that adds wait=true to every
// request and returns its URL.
func waitProxy(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	direct := rp.Director
	rp.Director = func(r *http.Request) {
		direct(r)
		q := r.URL.Query()
		q.Set("wait", "true")
		r.URL.RawQuery = q.Encode()
	}
	ts := httptest.NewServer(rp)
	t.Cleanup(ts.Close)
	return ts.URL
}

// onlyOnWeaviate checks collection name is a class on the Weaviate and
// not a local collection.
func (w *onWeaviate) onlyOnWeaviate(t *testing.T, name string) {
	t.Helper()
	if _, err := w.client.Info(context.Background(), name); err != nil {
		t.Fatalf("collection %q is not on the Weaviate: %v", name, err)
	}
	if _, err := w.local.Info(name); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("collection %q is local too: %v", name, err)
	}
}

// The Qdrant routes answer a Weaviate-backed collection as a local one:
// the same test bodies, over the other backend.
func TestQdrantPointsOnWeaviate(t *testing.T) {
	w := startOnWeaviate(t, web.BackendOptions{}, nil)
	testQdrantPoints(t, w.sync)
	w.onlyOnWeaviate(t, "c")
	qok(t, call(t, "DELETE", w.base+"/collections/c", nil, nil), nil)
	if _, err := w.client.Info(context.Background(), "c"); !errors.Is(err, weaviate.ErrNotFound) {
		t.Fatalf("after DELETE the class is still there: %v", err)
	}
}

func TestQdrantSearchAndQueryOnWeaviate(t *testing.T) {
	w := startOnWeaviate(t, web.BackendOptions{}, nil)
	testQdrantSearchAndQuery(t, w.sync)
	w.onlyOnWeaviate(t, "c")
}

// TestBackendsRoute pins which backend serves a collection: a local one
// stays local, a new one goes to the Weaviate, a class made there by
// someone else is served from there, and the list shows them all.
func TestBackendsRoute(t *testing.T) {
	vec := map[string]store.VectorParams{"": {Size: 2, Distance: store.Dot}}
	w := startOnWeaviate(t, web.BackendOptions{}, func(local *search.Collections, client *weaviate.Client) {
		ctx := context.Background()
		if _, err := local.Create(ctx, "old", vec); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Create(ctx, "theirs", vec); err != nil {
			t.Fatal(err)
		}
		if err := client.Upsert(ctx, "theirs", []store.Point{{ID: store.NumPointID(7), Vectors: map[string][]float32{"": {1, 0}}}}); err != nil {
			t.Fatal(err)
		}
	})
	body := map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}
	qok(t, call(t, "PUT", w.base+"/collections/new", body, nil), nil)
	w.onlyOnWeaviate(t, "new")
	qerr(t, call(t, "PUT", w.base+"/collections/old", body, nil), 409, "already exists")
	qerr(t, call(t, "PUT", w.base+"/collections/theirs", body, nil), 409, "already exists")

	pt := map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float32{1, 1}}}}
	updated(t, call(t, "PUT", w.base+"/collections/old/points", pt, nil))
	if n, err := w.local.Count(context.Background(), "old", nil); err != nil || n != 1 {
		t.Fatalf("local collection old holds %d points (%v), want the one upserted", n, err)
	}
	if _, err := w.client.Info(context.Background(), "old"); !errors.Is(err, weaviate.ErrNotFound) {
		t.Fatalf("local collection old has a class on the Weaviate: %v", err)
	}
	var res []qpoint
	qok(t, call(t, "POST", w.base+"/collections/theirs/points/search", map[string]any{"vector": []float32{1, 0}, "limit": 1}, nil), &res)
	if ids := pointIDs(res); !slices.Equal(ids, []string{"7"}) {
		t.Fatalf("search of theirs: %v, want [7]", ids)
	}

	var list struct {
		Collections []struct{ Name string } `json:"collections"`
	}
	qok(t, call(t, "GET", w.base+"/collections", nil, nil), &list)
	var names []string
	for _, c := range list.Collections {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"new", "old", "theirs"}) {
		t.Fatalf("collections %v, want [new old theirs]", names)
	}
	var exists struct{ Exists bool }
	qok(t, call(t, "GET", w.base+"/collections/nope/exists", nil, nil), &exists)
	qerr(t, call(t, "POST", w.base+"/collections/nope/points/count", map[string]any{}, nil), 404, "Collection `nope` doesn't exist!")
	if exists.Exists {
		t.Fatal("nope exists")
	}
}

// TestBackendsDocumentsWhileDown: points given as documents ({"text",
// "model"}) to a collection on a cluster that is down are embedded and
// queued as other writes are (it answered 503 asking the cluster whether
// the collection exists), and delivered once it is back.
func TestBackendsDocumentsWhileDown(t *testing.T) {
	p := pool(t)
	w := startOnWeaviateWith(t, web.BackendOptions{Timeout: 3 * time.Second}, nil, p)
	col := w.base + "/collections/c"
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": p.Info().Dims, "distance": "Cosine"}}, nil), nil)
	if err := w.node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	doc := func(id int, text string) map[string]any {
		return map[string]any{"id": id, "vector": map[string]any{"text": text, "model": p.Info().Name}, "payload": map[string]any{"text": text}}
	}
	acknowledged(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{doc(1, "the night train leaves at ten"), doc(2, "bread rises overnight")}}, nil))
	qerr(t, call(t, "PUT", w.base+"/collections/nope/points", map[string]any{"points": []any{doc(3, "x")}}, nil), 503, "unreachable")
	w.restart(t)
	if got := scrollIDs(t, col); !slices.Equal(got, idStrings(1, 2)) {
		t.Fatalf("after the outbox drained: %v, want [1 2]", got)
	}
}

// TestCollectionsGoWhereCreateSays: PUT /collections/{name}?backend=local
// keeps a collection on the device although new ones go to the Weaviate,
// never under a name the cluster holds or while it cannot be asked;
// backend=weaviate is the default there, and an error on a server without
// a cluster.
func TestCollectionsGoWhereCreateSays(t *testing.T) {
	vec := map[string]store.VectorParams{"": {Size: 2, Distance: store.Dot}}
	w := startOnWeaviate(t, web.BackendOptions{Timeout: 3 * time.Second}, func(_ *search.Collections, client *weaviate.Client) {
		if _, err := client.Create(context.Background(), "theirs", vec); err != nil {
			t.Fatal(err)
		}
	})
	body := map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}
	qok(t, call(t, "PUT", w.base+"/collections/mine?backend=local", body, nil), nil)
	if _, err := w.local.Info("mine"); err != nil {
		t.Fatalf("backend=local made no local collection: %v", err)
	}
	if _, err := w.client.Info(context.Background(), "mine"); !errors.Is(err, weaviate.ErrNotFound) {
		t.Fatalf("backend=local made a class on the Weaviate too: %v", err)
	}
	pt := map[string]any{"points": []any{map[string]any{"id": 1, "vector": []float32{1, 1}}}}
	updated(t, call(t, "PUT", w.base+"/collections/mine/points", pt, nil)) // local: completed, not queued
	qok(t, call(t, "PUT", w.base+"/collections/remote?backend=weaviate", body, nil), nil)
	w.onlyOnWeaviate(t, "remote")
	qerr(t, call(t, "PUT", w.base+"/collections/theirs?backend=local", body, nil), 409, "already exists")
	if _, err := w.local.Info("theirs"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a local collection hides the Weaviate's: %v", err)
	}
	qerr(t, call(t, "PUT", w.base+"/collections/x?backend=cloud", body, nil), 400, "want local or weaviate")

	if err := w.node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	qerr(t, call(t, "PUT", w.base+"/collections/later?backend=local", body, nil), 503, "unreachable")
	if _, err := w.local.Info("later"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("made a local collection the cluster could not be asked about: %v", err)
	}

	plain := startQdrant(t, web.Config{}, nil)
	qerr(t, call(t, "PUT", plain+"/collections/c?backend=weaviate", body, nil), 400, "serve --backend")
	qok(t, call(t, "PUT", plain+"/collections/c?backend=local", body, nil), nil)
}

// acknowledged checks r is a write queued for the remote: 200, Qdrant's
// status "acknowledged".
func acknowledged(t *testing.T, r reply) {
	t.Helper()
	var res struct {
		Status string `json:"status"`
	}
	qok(t, r, &res)
	if res.Status != "acknowledged" {
		t.Fatalf("update result %s, want status acknowledged", r.body)
	}
}

// pending reads PendingHeader of an answer.
func pending(t *testing.T, r reply) int {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get(web.PendingHeader))
	if err != nil {
		t.Fatalf("answer without %s: %v; body %s", web.PendingHeader, r.header, r.body)
	}
	return n
}

// backendHealth is the backend part of GET /health.
type backendHealth struct {
	Address          string     `json:"address"`
	Reachable        *bool      `json:"reachable"`
	UnreachableSince *time.Time `json:"unreachable_since"`
	LastError        string     `json:"last_error"`
	Pending          int        `json:"pending"`
	OutboxBytes      int64      `json:"outbox_bytes"`
	Oldest           float64    `json:"oldest_pending_seconds"`
	DeadLetters      int        `json:"dead_letters"`
}

func (w *onWeaviate) health(t *testing.T) backendHealth {
	t.Helper()
	r := call(t, "GET", w.main+"/health", nil, nil)
	var h struct {
		Status  string
		Backend *backendHealth `json:"backend"`
	}
	r.decode(t, &h)
	if h.Backend == nil {
		t.Fatalf("/health without backend: %s", r.body)
	}
	return *h.Backend
}

// restart brings the stopped node back and waits until the outbox has
// drained.
func (w *onWeaviate) restart(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.node.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	w.drained(t)
}

// drained waits, within a minute, until the outbox is empty, and returns
// how long that took.
func (w *onWeaviate) drained(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		h := w.health(t)
		if h.Pending == 0 {
			return time.Since(start)
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("the outbox still holds %d entries after a minute: %+v", h.Pending, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrollIDs lists every point id of a collection, through the scroll
// route.
func scrollIDs(t *testing.T, col string) []string {
	t.Helper()
	var page struct {
		Points []qpoint `json:"points"`
		Next   any      `json:"next_page_offset"`
	}
	qok(t, call(t, "POST", col+"/points/scroll", map[string]any{"limit": 10000}, nil), &page)
	if page.Next != nil {
		t.Fatalf("more than 10000 points")
	}
	ids := pointIDs(page.Points)
	slices.Sort(ids)
	return ids
}

func idStrings(ids ...int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(id)
	}
	slices.Sort(out)
	return out
}

// TestBackendsWeaviateDown: while the Weaviate is stopped, writes to its
// collections are acknowledged into the outbox (pending grows, /health
// says unreachable), reads answer 503 with Retry-After naming the
// cluster, a write that waits answers 503 after its time limit and stays
// queued, and the local collections still answer; once the Weaviate is
// back the outbox drains and the collection holds exactly what was
// acknowledged.
func TestBackendsWeaviateDown(t *testing.T) {
	vec := map[string]store.VectorParams{"": {Size: 2, Distance: store.Dot}}
	w := startOnWeaviate(t, web.BackendOptions{Timeout: 5 * time.Second}, func(local *search.Collections, _ *weaviate.Client) {
		if _, err := local.Create(context.Background(), "old", vec); err != nil {
			t.Fatal(err)
		}
	})
	col := w.base + "/collections/c"
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}, nil), nil)
	updated(t, call(t, "PUT", col+"/points?wait=true", map[string]any{"points": []any{
		map[string]any{"id": 1, "vector": []float32{1, 0}}, map[string]any{"id": 2, "vector": []float32{0, 1}}}}, nil))
	search := func() reply {
		return call(t, "POST", col+"/points/search", map[string]any{"vector": []float32{1, 0}, "limit": 1}, nil)
	}
	var res []qpoint
	r := search()
	qok(t, r, &res)
	if pending(t, r) != 0 {
		t.Fatalf("pending %d after a waited write", pending(t, r))
	}
	if h := w.health(t); h.Reachable == nil || !*h.Reachable || h.Address != w.node.URL(0) {
		t.Fatalf("health with the cluster up: %+v", h)
	}

	if err := w.node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r = search()
	qerr(t, r, 503, "Weaviate cluster at "+w.node.URL(0))
	want := []int{1}
	start := time.Now()
	for i := 3; i < 23; i++ {
		acknowledged(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
			map[string]any{"id": i, "vector": []float32{1, float32(i)}}}}, nil))
		want = append(want, i)
	}
	t.Logf("20 writes acknowledged into the outbox with the cluster down in %v", time.Since(start).Round(time.Millisecond))
	// The same point twice in a row: delivered in one batch, the later
	// write wins.
	for v := range 2 {
		acknowledged(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
			map[string]any{"id": 22, "vector": []float32{1, 22}, "payload": map[string]any{"v": v}}}}, nil))
	}
	acknowledged(t, call(t, "POST", col+"/points/payload", map[string]any{"payload": map[string]any{"a": 1}, "points": []any{1}}, nil))
	acknowledged(t, call(t, "POST", col+"/points/delete", map[string]any{"points": []any{2}}, nil))
	r = search()
	qerr(t, r, 503, "unreachable")
	if n := pending(t, r); n != 24 {
		t.Fatalf("pending %d with the cluster down, want 24", n)
	}
	// A write that waits: 503 after its time limit, and still queued.
	start = time.Now()
	r = call(t, "PUT", col+"/points?wait=true&timeout=1", map[string]any{"points": []any{
		map[string]any{"id": 100, "vector": []float32{1, 1}}}}, nil)
	qerr(t, r, 503, "queued in this device's outbox")
	qerr(t, r, 503, "it stays queued")
	t.Logf("wait=true&timeout=1 with the cluster down answered 503 after %v", time.Since(start).Round(time.Millisecond))
	want = append(want, 100)
	// Checks that need no answer from the cluster are made at once.
	qerr(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
		map[string]any{"id": 101, "vector": []float32{1, 1, 1}}}}, nil), 400, "dimensions")
	qerr(t, call(t, "POST", col+"/points/delete", map[string]any{"filter": map[string]any{
		"must": []any{map[string]any{"key": "a", "match": map[string]any{"text": "x"}}}}}, nil), 400, "Weaviate")
	qerr(t, call(t, "GET", w.base+"/collections", nil, nil), 503, "unreachable")
	qok(t, call(t, "POST", w.base+"/collections/old/points/count", map[string]any{}, nil), nil)
	h := w.health(t)
	if h.Reachable == nil || *h.Reachable || h.UnreachableSince == nil || h.LastError == "" || h.Pending != 25 || h.OutboxBytes == 0 || h.Oldest <= 0 {
		t.Fatalf("health with the cluster down: %+v", h)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.node.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("25 queued writes delivered %v after the node answered ready", w.drained(t).Round(time.Millisecond))
	if got := scrollIDs(t, col); !slices.Equal(got, idStrings(want...)) {
		t.Fatalf("after the outbox drained: %v, want %v", got, idStrings(want...))
	}
	var one qpoint
	qok(t, call(t, "GET", col+"/points/1", nil, nil), &one)
	if string(one.Payload) != `{"a":1}` {
		t.Fatalf("point 1 payload %s, want the queued update", one.Payload)
	}
	qok(t, call(t, "GET", col+"/points/22", nil, nil), &one)
	if string(one.Payload) != `{"v":1}` {
		t.Fatalf("point 22 payload %s, want the later of two writes", one.Payload)
	}
	r = search()
	qok(t, r, &res)
	if pending(t, r) != 0 {
		t.Fatalf("pending %d after the outbox drained", pending(t, r))
	}
	if h := w.health(t); h.Reachable == nil || !*h.Reachable || h.Pending != 0 || h.DeadLetters != 0 {
		t.Fatalf("health after the outbox drained: %+v", h)
	}
}

// TestBackendsOutboxFull: a full outbox refuses writes with 503,
// Retry-After and the reason, and loses none of what it acknowledged.
func TestBackendsOutboxFull(t *testing.T) {
	w := startOnWeaviate(t, web.BackendOptions{Timeout: 5 * time.Second, OutboxEntries: 5}, nil)
	col := w.base + "/collections/c"
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}, nil), nil)
	if err := w.node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	up := func(id int) reply {
		return call(t, "PUT", col+"/points", map[string]any{"points": []any{map[string]any{"id": id, "vector": []float32{1, float32(id)}}}}, nil)
	}
	for id := 1; id <= 5; id++ {
		acknowledged(t, up(id))
	}
	r := up(6)
	qerr(t, r, 503, "outbox of writes waiting for the Weaviate cluster at "+w.node.URL(0)+" is full")
	qerr(t, r, 503, "unreachable since")
	w.restart(t)
	if got := scrollIDs(t, col); !slices.Equal(got, idStrings(1, 2, 3, 4, 5)) {
		t.Fatalf("after the outbox drained: %v, want the 5 acknowledged", got)
	}
	acknowledged(t, up(6))
}

// TestBackendsDeadLetter: a queued write Weaviate refuses for good goes to
// the dead letters, and the writes after it are delivered. The refusal is
// a filter that was translatable when it was queued and is not once the
// write before it is delivered: a range with two bounds over a key where
// a point now holds several numbers.
func TestBackendsDeadLetter(t *testing.T) {
	w := startOnWeaviate(t, web.BackendOptions{Timeout: 5 * time.Second}, nil)
	col := w.base + "/collections/c"
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}, nil), nil)
	if err := w.node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	acknowledged(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
		map[string]any{"id": 1, "vector": []float32{1, 0}, "payload": map[string]any{"n": []int{1, 2}}}}}, nil))
	acknowledged(t, call(t, "POST", col+"/points/delete", map[string]any{"filter": map[string]any{
		"must": []any{map[string]any{"key": "n", "range": map[string]any{"gte": 0, "lte": 5}}}}}, nil))
	acknowledged(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{
		map[string]any{"id": 2, "vector": []float32{0, 1}, "payload": map[string]any{"n": 3}}}}, nil))
	w.restart(t)
	if got := scrollIDs(t, col); !slices.Equal(got, idStrings(1, 2)) {
		dead, _ := w.st.DeadLetters("c")
		t.Fatalf("after the outbox drained: %v, want [1 2] (the delete refused, the write after it delivered); dead letters %+v", got, dead)
	}
	if h := w.health(t); h.DeadLetters != 1 {
		t.Fatalf("health: %+v, want 1 dead letter", h)
	}
	dead, err := w.st.DeadLetters("c")
	if err != nil || len(dead) != 1 || dead[0].Op.Kind != store.OutboxDeleteWhere || !strings.Contains(dead[0].Reason, "several numbers") {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	t.Logf("dead letter: %s", dead[0].Reason)
	// The route lists it, and discarding frees its room.
	var listed []struct {
		Seq       uint64 `json:"seq"`
		Operation string `json:"operation"`
		Reason    string `json:"reason"`
	}
	qok(t, call(t, "GET", col+"/dead_letters", nil, nil), &listed)
	if len(listed) != 1 || listed[0].Seq != dead[0].Seq || listed[0].Operation != "delete_points_by_filter" || listed[0].Reason != dead[0].Reason {
		t.Fatalf("GET dead_letters: %+v, want the one of the store %+v", listed, dead[0])
	}
	qerr(t, call(t, "GET", w.base+"/collections/nope/dead_letters", nil, nil), 404, "doesn't exist")
	var discarded struct{ Discarded int }
	qok(t, call(t, "DELETE", col+"/dead_letters", nil, nil), &discarded)
	if discarded.Discarded != 1 {
		t.Fatalf("DELETE dead_letters: %+v, want 1 discarded", discarded)
	}
	if h := w.health(t); h.DeadLetters != 0 {
		t.Fatalf("health after the discard: %+v", h)
	}
	qok(t, call(t, "GET", col+"/dead_letters", nil, nil), &listed)
	if len(listed) != 0 {
		t.Fatalf("GET dead_letters after the discard: %+v", listed)
	}
	// Now that the client has seen the key's properties, the same filter
	// is refused at once.
	qerr(t, call(t, "POST", col+"/points/delete?wait=true", map[string]any{"filter": map[string]any{
		"must": []any{map[string]any{"key": "n", "range": map[string]any{"gte": 0, "lte": 5}}}}}, nil), 400, "several numbers")
	// Dropping the collection clears its outbox, dead letters included.
	qok(t, call(t, "DELETE", col, nil, nil), nil)
	if h := w.health(t); h.DeadLetters != 0 || h.OutboxBytes != 0 {
		t.Fatalf("health after the drop: %+v", h)
	}
}

// TestBackendsBoundedWhenRemoteHangs: a cluster that accepts connections
// and never answers costs a request the backend timeout, then 503.
func TestBackendsBoundedWhenRemoteHangs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // read nothing, answer nothing
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	url := "http://" + ln.Addr().String()
	client, err := weaviate.New(weaviate.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	srv := newQdrantServer(t, web.Config{}, nil)
	local, st := openCollectionsAndStore(t, t.TempDir())
	srv.SetCollections(startBackends(t, local, client, web.BackendOptions{Where: url, Timeout: 500 * time.Millisecond, Store: st}))
	base := serveQdrant(t, srv)
	start := time.Now()
	r := call(t, "PUT", base+"/collections/c", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}, nil)
	qerr(t, r, 503, "no answer within 500ms")
	if !strings.Contains(string(r.body), url) {
		t.Fatalf("503 does not name the cluster %s: %s", url, r.body)
	}
	t.Logf("create against a silent cluster answered 503 after %v", time.Since(start).Round(time.Millisecond))
}

// TestBackendsRetrieveMoreThanAWeaviatePage: the Qdrant routes take up to
// QdrantMaxPoints ids, more than Weaviate answers in one page; the
// backend pages.
func TestBackendsRetrieveMoreThanAWeaviatePage(t *testing.T) {
	w := startOnWeaviate(t, web.BackendOptions{Timeout: 2 * time.Minute}, nil)
	col := w.base + "/collections/c"
	qok(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 1, "distance": "Dot"}}, nil), nil)
	n := web.QdrantMaxPoints
	pts := make([]map[string]any, n)
	ids := make([]int, n)
	for i := range pts {
		pts[i] = map[string]any{"id": i + 1, "vector": []float32{1}}
		ids[i] = n - i // asked in reverse, answered in the order asked
	}
	start := time.Now()
	updated(t, call(t, "PUT", col+"/points?wait=true", map[string]any{"points": pts}, nil))
	t.Logf("upserted %d points in %v", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	var got []qpoint
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": ids}, nil), &got)
	t.Logf("retrieved %d points in %v", len(got), time.Since(start).Round(time.Millisecond))
	if len(got) != n || fmt.Sprint(got[0].ID) != fmt.Sprint(n) || fmt.Sprint(got[n-1].ID) != "1" {
		t.Fatalf("retrieved %d points, want %d in the order asked", len(got), n)
	}
}
