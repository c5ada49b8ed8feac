package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// TestServeOnThreeNodesWithOneDown runs serve against a three-node
// Weaviate, each class on two replicas, writes and reads at ONE: with one
// node killed, writes through the Qdrant API are acknowledged and
// delivered and searches answer; nothing acknowledged is lost; once the
// node is back, an ALL read through it finds every point.
//
// Why ONE with two replicas: QUORUM of two is both, so one node down
// would stop every write to the shards it holds a replica of (two thirds
// of them) until it is back; ONE takes a write when one replica has it,
// and the node that was down catches up by async replication (on for
// replicated classes, see weaviate.Options.ReplicationFactor) and by the
// repair of reads at QUORUM or ALL.
func TestServeOnThreeNodesWithOneDown(t *testing.T) {
	bin := weaviatetest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cl, err := weaviatetest.Start(ctx, weaviatetest.Config{Binary: bin, Nodes: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	backend := "weaviate://" + strings.TrimPrefix(cl.URL(0), "http://") + "?replication=2&consistency=ONE&timeout=5s"
	_, main, q := startQdrantServe(t, t.TempDir(), "--backend", backend)
	col := q + "/collections/c"
	qdrantCall(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 4, "distance": "Cosine"}}, nil)
	const dims, batch = 4, 25
	for from := 0; from < 100; from += batch {
		if status, err := qdrantWrite(t, "PUT", col+"/points?wait=true", pointBatch(from, from+batch, dims)); err != nil || status != "completed" {
			t.Fatalf("points %d-%d: %q, %v", from, from+batch-1, status, err)
		}
	}
	search := func(i int) []struct{ ID any } {
		var res []struct{ ID any }
		qdrantCall(t, "POST", col+"/points/search", map[string]any{"vector": []float32{1, float32(i), 0, 0}, "limit": 1}, &res)
		return res
	}
	if res := search(50); len(res) != 1 {
		t.Fatalf("search with every node up: %v", res)
	}

	if err := cl.Stop(2, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for from := 100; from < 300; from += batch {
		if status, err := qdrantWrite(t, "PUT", col+"/points", pointBatch(from, from+batch, dims)); err != nil || status != "acknowledged" {
			t.Fatalf("points %d-%d with node2 down: %q, %v", from, from+batch-1, status, err)
		}
		if res := search(from); len(res) != 1 {
			t.Fatalf("search with node2 down: %v", res)
		}
	}
	t.Logf("200 points acknowledged and 8 searches answered with node2 down in %v", time.Since(start).Round(time.Millisecond))
	t.Logf("the outbox drained with node2 down %v later", waitDrained(t, main, 2*time.Minute).Round(time.Millisecond))
	// Every acknowledged point, read back at ONE by a scroll. (A count
	// with a replica down may answer 503: Weaviate v1.35.2's Aggregate
	// fails with "inconsistent consistency levels" once gossip marks the
	// node dead — seen in CI — and takes no consistency level to avoid it.)
	var page struct {
		Points []struct{ ID any } `json:"points"`
	}
	qdrantCall(t, "POST", col+"/points/scroll", map[string]any{"limit": 1000}, &page)
	if len(page.Points) != 300 {
		t.Fatalf("scroll at ONE with node2 down: %d points, want 300", len(page.Points))
	}
	var p299 struct{ ID any }
	qdrantCall(t, "GET", col+"/points/299", nil, &p299)
	if fmt.Sprint(p299.ID) != "299" {
		t.Fatalf("a point written while node2 was down: %v", p299)
	}
	// What QUORUM meets with one of two replicas down depends on
	// Weaviate's membership: while the node is still listed, QUORUM is
	// both replicas and the write fails ("broadcast: cannot reach enough
	// replicas"); once gossip declares it dead (seen in CI 10 s after the
	// kill), v1.35.2 resolves QUORUM against the live replicas ("shard …
	// resolved to 1") and the write succeeds. Either is Weaviate's to
	// decide; what is ours is the classification: an error must be one the
	// sender retries and a read answers with 503 (weaviate.Unreachable),
	// never a refusal that would dead-letter an acknowledged write. (The
	// messages themselves are rows of search/weaviate's classification
	// test.)
	quorum, err := weaviate.New(weaviate.Options{URL: cl.URL(0), Consistency: weaviate.Quorum, HTTPClient: &http.Client{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	var qpts []store.Point
	for i := 1000; i < 1030; i++ {
		qpts = append(qpts, store.Point{ID: store.NumPointID(uint64(i)), Vectors: map[string][]float32{"": {1, float32(i), 0, 0}}})
	}
	werr := quorum.Upsert(ctx, "c", qpts)
	_, rerr := quorum.Get(ctx, "c", numIDs(1000, 1030), false, false)
	t.Logf("QUORUM with node2 down: write: %v; read: %v", werr, rerr)
	for _, err := range []error{werr, rerr} {
		if err != nil && (!weaviate.Unreachable(err) || weaviate.Permanent(err)) {
			t.Fatalf("QUORUM with one of two replicas down: %v, want success or an error weaviate.Unreachable classifies", err)
		}
	}
	// Whatever the QUORUM write reached is not the test's.
	if _, err := quorum.WithConsistency(weaviate.One).Delete(ctx, "c", numIDs(1000, 1030)); err != nil {
		t.Fatal(err)
	}

	if err := cl.Restart(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitHealthy(ctx, 2, 3); err != nil {
		t.Fatal(err)
	}
	back, err := weaviate.New(weaviate.Options{URL: cl.URL(2), Consistency: weaviate.All, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	// Measured, not asserted: how long a count at ONE through node2 (which
	// reads its own replica of a shard when it has one) takes to see every
	// point without a repairing read, by async replication alone.
	start = time.Now()
	one := back.WithConsistency(weaviate.One)
	for {
		n, err := one.Count(ctx, "c", nil)
		if err == nil && n == 300 {
			t.Logf("a count at ONE through the restarted node saw all 300 points %v after it was healthy", time.Since(start).Round(100*time.Millisecond))
			break
		}
		if time.Since(start) > 75*time.Second {
			t.Logf("a count at ONE through the restarted node: %d points (%v) 75 s after it was healthy", n, err)
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	ids := numIDs(0, 300)
	pts, err := back.Get(ctx, "c", ids, false, false)
	if err != nil || len(pts) != 300 {
		t.Fatalf("ALL read through the restarted node: %d points, %v", len(pts), err)
	}
	got := make([]store.PointID, len(pts))
	for i, p := range pts {
		got[i] = p.ID
	}
	slices.SortFunc(got, func(a, b store.PointID) int { return a.Compare(b) })
	if !slices.Equal(got, ids) {
		t.Fatalf("ALL read through the restarted node: not the 300 ids written")
	}
}
