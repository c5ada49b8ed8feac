package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// qdrantWrite sends a write to the Qdrant-compatible API and returns the
// status of its answer ("acknowledged", "completed") or, when it is not
// 200, the HTTP status and body.
func qdrantWrite(t *testing.T, method, url string, body any) (string, error) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	var env struct {
		Result struct {
			Status string `json:"status"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return "", fmt.Errorf("%s %s: %s: %w", method, url, data, err)
	}
	return env.Result.Status, nil
}

// serveBackendHealth is the backend part of GET /health.
type serveBackendHealth struct {
	Reachable   *bool `json:"reachable"`
	Pending     int   `json:"pending"`
	DeadLetters int   `json:"dead_letters"`
}

// waitDrained polls GET /health on main until the backend's outbox is
// empty, within limit, and returns how long that took.
func waitDrained(t *testing.T, main string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < limit {
		resp, err := http.Get(main + "/health")
		if err == nil {
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(data)
			var h struct {
				Backend *serveBackendHealth `json:"backend"`
			}
			if json.Unmarshal(data, &h) == nil && h.Backend != nil && h.Backend.Pending == 0 {
				if h.Backend.DeadLetters != 0 {
					t.Fatalf("the outbox drained with dead letters: %s", data)
				}
				return time.Since(start)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the outbox did not drain within %v; /health: %s", limit, last)
	return 0
}

// pointBatch is the Qdrant upsert body of points from to to-1, each with
// a vector of dims.
func pointBatch(from, to, dims int) map[string]any {
	var pts []any
	for i := from; i < to; i++ {
		v := make([]float32, dims)
		v[0], v[1%dims] = 1, float32(i)
		pts = append(pts, map[string]any{"id": i, "vector": v, "payload": map[string]any{"i": i, "text": fmt.Sprintf("point %d", i)}})
	}
	return map[string]any{"points": pts}
}

// remoteIDs lists every point id of a collection straight from the
// Weaviate, in order.
func remoteIDs(t *testing.T, ctx context.Context, c *weaviate.Client, collection string) []store.PointID {
	t.Helper()
	var ids []store.PointID
	for from := (*store.PointID)(nil); ; {
		page, next, err := c.Scroll(ctx, collection, nil, from, 1000, false, false)
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

func numIDs(from, to int) []store.PointID {
	var ids []store.PointID
	for i := from; i < to; i++ {
		ids = append(ids, store.NumPointID(uint64(i)))
	}
	return ids
}

// TestOutboxSurvivesKill pins "acknowledged means on disk" for a
// collection on a Weaviate: with the cluster down, writes through the
// Qdrant API are acknowledged into the outbox; serve is killed with
// SIGKILL; the cluster comes back and serve starts again on the same data
// directory: every acknowledged point arrives, and the outbox empties.
func TestOutboxSurvivesKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	node := weaviatetest.StartNode(t)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	backend := node.Backend(0) + "?timeout=3s"
	cmd, _, q := startQdrantServe(t, data, "--backend", backend)
	qdrantCall(t, "PUT", q+"/collections/c", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Cosine"}}, nil)
	if err := node.Stop(0, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	const n, batch = 300, 20
	start := time.Now()
	for from := 0; from < n; from += batch {
		status, err := qdrantWrite(t, "PUT", q+"/collections/c/points", pointBatch(from, from+batch, 4))
		if err != nil || status != "acknowledged" {
			t.Fatalf("points %d-%d with the cluster down: %q, %v", from, from+batch-1, status, err)
		}
	}
	t.Logf("%d points in %d writes acknowledged with the cluster down in %v", n, n/batch, time.Since(start).Round(time.Millisecond))
	cmd.Process.Kill()
	cmd.Wait()

	if err := node.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	_, main, _ := startQdrantServe(t, data, "--backend", backend)
	t.Logf("the restarted serve delivered the outbox in %v", waitDrained(t, main, time.Minute).Round(time.Millisecond))
	if got := remoteIDs(t, ctx, client, "c"); !slices.Equal(got, numIDs(0, n)) {
		t.Fatalf("the Weaviate holds %d points, want exactly the %d acknowledged", len(got), n)
	}
}
