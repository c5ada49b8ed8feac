package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
	"github.com/edgesearch/edgesearch/store"
)

// The same evaluation over each place the documents can be indexed: the
// engine's own graph and BM25, and Weaviate clusters (-weaviate 1,3), each
// started on loopback for the run with the harness the tests use.

// backendResult is one backend's evaluation.
type backendResult struct {
	Backend string `json:"backend"` // "local", "weaviate-1", "weaviate-3"
	Nodes   int    `json:"nodes,omitempty"`
	// Replication is the replication factor of the Weaviate class, and
	// Consistency the level of its reads and writes.
	Replication int    `json:"replication,omitempty"`
	Consistency string `json:"consistency,omitempty"`
	// IndexSeconds is from opening the engine over the imported store to
	// every chunk searchable: the graph loaded or built (local), or every
	// chunk sent to the cluster by the engine's sender (Weaviate).
	IndexSeconds     float64            `json:"index_s"`
	IndexChunksPerS  float64            `json:"index_chunks_per_s"`
	NDCG10           map[string]float64 `json:"ndcg_at_10"`
	NDCG10Top10      map[string]float64 `json:"ndcg_at_10_retrieving_10"`
	Recall100        map[string]float64 `json:"recall_at_100"`
	LatencyP50       map[string]float64 `json:"search_p50_ms"` // one search retrieving the top 100
	LatencyP99       map[string]float64 `json:"search_p99_ms"`
	QPS              float64            `json:"hybrid_qps"` // hybrid top-10 searches a second, Clients at once
	Clients          int                `json:"clients"`
	ConsistencyNotes string             `json:"notes,omitempty"`
}

// parseSizes reads -weaviate: "" or sizes like "1,3".
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n == 2 || n > 5 {
			return nil, fmt.Errorf("cluster size %q: want 1, 3, 4 or 5", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// evaluateAll evaluates the local engine over st, then each cluster size,
// and prints res as JSON.
func evaluateAll(ctx context.Context, st *store.Store, pool *embedder.Pool, dir string, queries []query, qrels map[string]map[string]int, clusters []int, res result) error {
	qtexts := make([]string, len(queries))
	for i, q := range queries {
		qtexts[i] = q.Text
	}
	qvecs, err := pool.Embed(ctx, qtexts)
	if err != nil {
		return fmt.Errorf("embed queries: %w", err)
	}

	start := time.Now()
	eng, err := search.Open(ctx, st, search.EngineOptions{Dir: dir})
	if err != nil {
		return err
	}
	local := backendResult{Backend: "local", IndexSeconds: time.Since(start).Seconds()}
	evaluate(ctx, eng, queries, qvecs, qrels, res.Threads, &local)
	if err := eng.Close(); err != nil {
		return err
	}
	local.IndexChunksPerS = float64(res.Chunks) / local.IndexSeconds
	res.IndexSeconds = local.IndexSeconds
	res.NDCG10, res.NDCG10Top10, res.Recall100 = local.NDCG10, local.NDCG10Top10, local.Recall100
	res.LatencyP50, res.LatencyP99 = local.LatencyP50, local.LatencyP99
	res.Backends = append(res.Backends, local)

	for _, n := range clusters {
		br, err := evaluateOnWeaviate(ctx, st, dir, n, queries, qvecs, qrels, res.Threads, res.Chunks)
		if err != nil {
			return fmt.Errorf("weaviate, %d nodes: %w", n, err)
		}
		res.Backends = append(res.Backends, br)
	}
	return writeResult(res)
}

// evaluateOnWeaviate starts an n-node cluster, indexes the store's chunks
// in it through an engine's sender, and evaluates that engine.
// weaviateSettle is -weaviate-settle.
var weaviateSettle time.Duration

func evaluateOnWeaviate(ctx context.Context, st *store.Store, dir string, n int, queries []query, qvecs []embedder.Embedding, qrels map[string]map[string]int, clients, chunks int) (backendResult, error) {
	br := backendResult{Backend: fmt.Sprintf("weaviate-%d", n), Nodes: n, Replication: min(n, 2), Consistency: string(weaviate.Quorum)}
	wdir, err := os.MkdirTemp("", "scifact-weaviate")
	if err != nil {
		return br, err
	}
	defer os.RemoveAll(wdir)
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	cl, err := weaviatetest.Start(sctx, weaviatetest.Config{Nodes: n, Dir: wdir})
	cancel()
	if err != nil {
		return br, err
	}
	defer cl.Close()
	client, err := weaviate.New(weaviate.Options{URL: cl.URL(0), ReplicationFactor: br.Replication, Consistency: weaviate.Quorum})
	if err != nil {
		return br, err
	}
	logf("weaviate, %d nodes (replication %d, %s): sending %d chunks", n, br.Replication, br.Consistency, chunks)
	start := time.Now()
	eng, err := search.Open(ctx, st, search.EngineOptions{Dir: dir, Backend: weaviate.NewChunks(client, "scifact", st.Dims())})
	if err != nil {
		return br, err
	}
	defer eng.Close()
	deadline := time.Now().Add(30 * time.Minute)
	for s := eng.BackendState(); !s.Compared || s.Pending > 0; s = eng.BackendState() {
		if time.Now().After(deadline) {
			return br, fmt.Errorf("chunks not all sent after 30 minutes: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	br.IndexSeconds = time.Since(start).Seconds()
	br.IndexChunksPerS = float64(chunks) / br.IndexSeconds
	logf("sent in %.1fs (%.0f chunks/s); evaluating", br.IndexSeconds, br.IndexChunksPerS)
	if weaviateSettle > 0 {
		logf("waiting %v first (-weaviate-settle)", weaviateSettle)
		time.Sleep(weaviateSettle)
	}
	evaluate(ctx, eng, queries, qvecs, qrels, clients, &br)
	return br, nil
}

// evaluate scores every query in every mode on eng (nDCG@10, recall@100,
// the latency of each search retrieving the top 100) and measures hybrid
// top-10 searches a second with clients at once.
func evaluate(ctx context.Context, eng *search.Engine, queries []query, qvecs []embedder.Embedding, qrels map[string]map[string]int, clients int, br *backendResult) {
	br.NDCG10, br.NDCG10Top10, br.Recall100 = map[string]float64{}, map[string]float64{}, map[string]float64{}
	br.LatencyP50, br.LatencyP99 = map[string]float64{}, map[string]float64{}
	for _, mode := range []search.Mode{search.Keyword, search.Semantic, search.Hybrid} {
		var sum, sumTop10, sumRecall float64
		var took []time.Duration
		failed := 0
		for i, q := range queries {
			t0 := time.Now()
			deep, err := eng.Search(ctx, search.Query{Text: q.Text, Vector: qvecs[i].Vector, K: retrieveK, Mode: mode})
			took = append(took, time.Since(t0))
			if err != nil && !errors.Is(err, search.ErrNoQuery) {
				failed++
				logf("query %s (%s): %v", q.ID, mode, err)
			}
			shallow, err := eng.Search(ctx, search.Query{Text: q.Text, Vector: qvecs[i].Vector, K: cutoff, Mode: mode})
			if err != nil && !errors.Is(err, search.ErrNoQuery) {
				failed++
			}
			rel := qrels[q.ID]
			sum += ndcg(ids(deep), rel, cutoff)
			sumTop10 += ndcg(ids(shallow), rel, cutoff)
			sumRecall += recall(ids(deep), rel)
		}
		n := float64(len(queries))
		m := mode.String()
		br.NDCG10[m], br.NDCG10Top10[m], br.Recall100[m] = sum/n, sumTop10/n, sumRecall/n
		slices.Sort(took)
		br.LatencyP50[m] = ms(took[len(took)/2])
		br.LatencyP99[m] = ms(took[min(len(took)-1, len(took)*99/100)])
		if failed > 0 {
			br.ConsistencyNotes += fmt.Sprintf("%d %s searches failed; ", failed, m)
		}
		logf("%s %s: nDCG@10 %.3f, p50 %.1f ms", br.Backend, m, br.NDCG10[m], br.LatencyP50[m])
	}

	// Throughput: clients searching at once, each through every query.
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range queries {
				j := (i + c*len(queries)/clients) % len(queries)
				if _, err := eng.Search(ctx, search.Query{Text: queries[j].Text, Vector: qvecs[j].Vector, K: cutoff, Mode: search.Hybrid}); err == nil {
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	br.QPS = float64(done.Load()) / time.Since(start).Seconds()
	br.Clients = clients
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func writeResult(res result) error { return json.NewEncoder(os.Stdout).Encode(res) }
