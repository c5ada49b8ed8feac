package web_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// onWeaviate is a Qdrant-API server whose new collections live on a
// one-node Weaviate of the test's own, beside a local engine.
type onWeaviate struct {
	base   string
	local  *search.Collections
	node   *weaviatetest.Cluster
	client *weaviate.Client
}

// startOnWeaviate starts weaviate-server (skipping without it, see
// weaviatetest.Require) and a server routing between it and a fresh local
// engine; before, when not nil, runs on both before the server serves.
// Each remote call is bounded by timeout.
func startOnWeaviate(t *testing.T, timeout time.Duration, before func(*search.Collections, *weaviate.Client)) *onWeaviate {
	t.Helper()
	bin := weaviatetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node, err := weaviatetest.Start(ctx, weaviatetest.Config{Binary: bin, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0), HTTPClient: &http.Client{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	local := openCollections(t, t.TempDir())
	if before != nil {
		before(local, client)
	}
	srv := newQdrantServer(t, web.Config{}, nil)
	srv.SetCollections(web.NewBackends(local, client, node.URL(0), timeout))
	return &onWeaviate{base: serveQdrant(t, srv), local: local, node: node, client: client}
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
	w := startOnWeaviate(t, 0, nil)
	testQdrantPoints(t, w.base)
	w.onlyOnWeaviate(t, "c")
	qok(t, call(t, "DELETE", w.base+"/collections/c", nil, nil), nil)
	if _, err := w.client.Info(context.Background(), "c"); !errors.Is(err, weaviate.ErrNotFound) {
		t.Fatalf("after DELETE the class is still there: %v", err)
	}
}

func TestQdrantSearchAndQueryOnWeaviate(t *testing.T) {
	w := startOnWeaviate(t, 0, nil)
	testQdrantSearchAndQuery(t, w.base)
	w.onlyOnWeaviate(t, "c")
}

// TestBackendsRoute pins which backend serves a collection: a local one
// stays local, a new one goes to the Weaviate, a class made there by
// someone else is served from there, and the list shows them all.
func TestBackendsRoute(t *testing.T) {
	vec := map[string]store.VectorParams{"": {Size: 2, Distance: store.Dot}}
	w := startOnWeaviate(t, 0, func(local *search.Collections, client *weaviate.Client) {
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

// TestBackendsWeaviateDown: while the Weaviate is stopped, its
// collections answer 503 with Retry-After naming the cluster, the local
// ones still answer, and once it is back its collections do too.
func TestBackendsWeaviateDown(t *testing.T) {
	vec := map[string]store.VectorParams{"": {Size: 2, Distance: store.Dot}}
	w := startOnWeaviate(t, 0, func(local *search.Collections, _ *weaviate.Client) {
		if _, err := local.Create(context.Background(), "old", vec); err != nil {
			t.Fatal(err)
		}
	})
	qok(t, call(t, "PUT", w.base+"/collections/c", map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}, nil), nil)
	updated(t, call(t, "PUT", w.base+"/collections/c/points", map[string]any{"points": []any{
		map[string]any{"id": 1, "vector": []float32{1, 0}}, map[string]any{"id": 2, "vector": []float32{0, 1}}}}, nil))
	search := func() reply {
		return call(t, "POST", w.base+"/collections/c/points/search", map[string]any{"vector": []float32{1, 0}, "limit": 1}, nil)
	}
	var res []qpoint
	qok(t, search(), &res)

	if err := w.node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	qerr(t, search(), 503, "Weaviate cluster at "+w.node.URL(0))
	qerr(t, call(t, "PUT", w.base+"/collections/c/points", map[string]any{"points": []any{
		map[string]any{"id": 3, "vector": []float32{1, 1}}}}, nil), 503, "unreachable")
	qerr(t, call(t, "POST", w.base+"/collections/c/points/payload", map[string]any{"payload": map[string]any{"a": 1}, "points": []any{1}}, nil), 503, "unreachable")
	qerr(t, call(t, "GET", w.base+"/collections", nil, nil), 503, "unreachable")
	qok(t, call(t, "POST", w.base+"/collections/old/points/count", map[string]any{}, nil), nil)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.node.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	qok(t, search(), &res)
	if ids := pointIDs(res); !slices.Equal(ids, []string{"1"}) {
		t.Fatalf("search after restart: %v, want [1]", ids)
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
	srv.SetCollections(web.NewBackends(openCollections(t, t.TempDir()), client, url, 500*time.Millisecond))
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
	w := startOnWeaviate(t, 2*time.Minute, nil)
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
	updated(t, call(t, "PUT", col+"/points", map[string]any{"points": pts}, nil))
	t.Logf("upserted %d points in %v", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	var got []qpoint
	qok(t, call(t, "POST", col+"/points", map[string]any{"ids": ids}, nil), &got)
	t.Logf("retrieved %d points in %v", len(got), time.Since(start).Round(time.Millisecond))
	if len(got) != n || fmt.Sprint(got[0].ID) != fmt.Sprint(n) || fmt.Sprint(got[n-1].ID) != "1" {
		t.Fatalf("retrieved %d points, want %d in the order asked", len(got), n)
	}
}
