package weaviate_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// On three nodes with every point on all three, QUORUM writes and reads go
// on with one node killed, and once it is back an ALL read through it sees
// the points written while it was down.
func TestLiveReplicatedCollectionSurvivesANodeDown(t *testing.T) {
	bin := weaviatetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := weaviatetest.Start(ctx, weaviatetest.Config{Binary: bin, Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Now and then the first QUORUM batch after a replica is killed gets no
	// answer at all (seen twice in four runs, never in 24 writes of a
	// loop made to provoke it); a short timeout and a retry get past it.
	c, err := weaviate.New(weaviate.Options{URL: cl.URL(0), ReplicationFactor: 3, Consistency: weaviate.Quorum,
		HTTPClient: &http.Client{Timeout: 15 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, "replicated", map[string]store.VectorParams{"": {Size: 4, Distance: store.Cosine}}); err != nil {
		t.Fatal(err)
	}
	batch := func(from, n int) []store.Point {
		var pts []store.Point
		for i := from; i < from+n; i++ {
			pts = append(pts, pt(store.NumPointID(uint64(i)), []float32{1, float32(i), 0, 0}, fmt.Sprintf(`{"text":"point %d","i":%d}`, i, i)))
		}
		return pts
	}
	if err := c.Upsert(ctx, "replicated", batch(0, 50)); err != nil {
		t.Fatal(err)
	}
	if err := cl.Stop(2, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The survivors may take a moment to notice; writes are retried
	// within ctx until one is acknowledged.
	start := time.Now()
	for {
		err = c.Upsert(ctx, "replicated", batch(50, 50))
		if err == nil || ctx.Err() != nil {
			break
		}
		t.Logf("%.1f s after the kill: %v", time.Since(start).Seconds(), err)
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("QUORUM write with a node down: %v", err)
	}
	t.Logf("QUORUM write acknowledged %.1f s after the kill", time.Since(start).Seconds())
	if n, err := c.Count(ctx, "replicated", nil); err != nil || n != 100 {
		t.Fatalf("count with a node down: %d, %v", n, err)
	}
	got, err := c.Query(ctx, "replicated", search.PointQuery{Vector: []float32{1, 75, 0, 0}, Limit: 1})
	if err != nil || len(got) != 1 {
		t.Fatalf("QUORUM query with a node down: %v, %v", got, err)
	}

	if err := cl.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitHealthy(ctx, 2, 3); err != nil {
		t.Fatal(err)
	}
	back, err := weaviate.New(weaviate.Options{URL: cl.URL(2), Consistency: weaviate.All})
	if err != nil {
		t.Fatal(err)
	}
	// Reads at ALL repair the restarted replica; every point written while
	// it was down must come back through it.
	var ids []store.PointID
	for i := range 100 {
		ids = append(ids, store.NumPointID(uint64(i)))
	}
	pts, err := back.Get(ctx, "replicated", ids, true, false)
	if err != nil || len(pts) != 100 {
		t.Fatalf("ALL read through the restarted node: %d points, %v", len(pts), err)
	}
	// Async replication copies the rest to it in the background: a scroll
	// through it (which reads one replica) finds all 100, within ctx.
	start = time.Now()
	for {
		page, _, err := back.WithConsistency(weaviate.One).Scroll(ctx, "replicated", nil, nil, 200, false, false)
		if err == nil && len(page) == 100 {
			// The class has a shard on each node; the cursor still walks
			// them in id order.
			if !slices.IsSortedFunc(page, func(a, b store.Point) int { return a.ID.Compare(b.ID) }) {
				t.Fatalf("scroll through the restarted node is not in id order")
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("scroll through the restarted node: %d points, %v", len(page), err)
		}
		time.Sleep(time.Second)
	}
	t.Logf("a scroll through the restarted node saw all 100 points %.1f s after the ALL read", time.Since(start).Seconds())
	// A filtered scroll pages by id over a search, which reads one replica
	// of each shard: right after the restart it can come up short (CI saw
	// 40 of 90) until that replica's index has every point, so it is
	// repeated within ctx; every attempt must be in id order.
	start = time.Now()
	for {
		order := scrollIDs(t, ctx, c, "replicated", mustFilter(t, `{"must":[{"key":"i","range":{"gte":10}}]}`), 7)
		if !slices.IsSortedFunc(order, func(a, b store.PointID) int { return a.Compare(b) }) {
			t.Fatalf("filtered scroll over three shards is not in id order: %v", order)
		}
		if len(order) == 90 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("filtered scroll over three shards: %d points, want 90", len(order))
		}
		t.Logf("filtered scroll %.1f s after the full one: %d points of 90", time.Since(start).Seconds(), len(order))
		time.Sleep(time.Second)
	}
}
