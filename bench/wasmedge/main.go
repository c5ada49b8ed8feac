//go:build wasmedge

// Command wasmedge measures the same guest on the runtimes the embedder
// has: wazero, WasmEdge compiled ahead of time and WasmEdge interpreted,
// in one process, one after another, with the same model and workers. It
// prints one JSON line per runtime, with the field names
// bench/peers/llamacpp.py prints, so bench/wasmedge/run.sh can put
// llama.cpp beside them.
//
//	go run -tags wasmedge ./bench/wasmedge -model M.gguf -threads 2
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
)

// query is bench/peers/llamacpp.py's: the same short query for every peer.
const query = "how do I reset my router"

type result struct {
	Peer         string  `json:"peer"`
	Runtime      string  `json:"runtime"`
	WasmEdge     string  `json:"wasmedge,omitempty"`
	Model        string  `json:"gguf"`
	Threads      int     `json:"threads"`
	Texts        int     `json:"n_texts"`
	Tokens       int     `json:"n_tokens"`
	TextsPerSec  float64 `json:"throughput_texts_per_s"`
	TokensPerSec float64 `json:"throughput_tokens_per_s"`
	Queries      int     `json:"queries"`
	QueryP50Ms   float64 `json:"query_ms_p50"`
	QueryP90Ms   float64 `json:"query_ms_p90"`
	// LoadMs is New: compiling the guest (through an empty cache for the
	// AOT runtime, so its compile is in it) and loading the model into
	// every worker. CachedLoadMs is New again with the cache warm.
	LoadMs       float64 `json:"load_ms"`
	CachedLoadMs float64 `json:"load_ms_cached,omitempty"`
}

func main() {
	var (
		modelPath     = flag.String("model", os.Getenv("EDGESEARCH_MODEL"), "GGUF model")
		sentences     = flag.String("sentences", "bench/sentences.txt", "one sentence a line")
		threads       = flag.Int("threads", 2, "workers (guest instances)")
		runtimes      = flag.String("runtimes", "wazero,wasmedge,wasmedge-interp", "comma-separated runtimes to measure, in order")
		queries       = flag.Int("queries", 50, "one-query embeddings timed (after 5 untimed)")
		interpTexts   = flag.Int("interp-sentences", 40, "sentences the interpreter embeds (it is slow); the others embed the whole file")
		interpThreads = flag.Int("interp-threads", 0, "workers for the interpreter (0: -threads)")
		interpQueries = flag.Int("interp-queries", 5, "one-query embeddings timed on the interpreter")
	)
	flag.Parse()
	texts, err := readLines(*sentences)
	if err != nil {
		fail(err)
	}
	for _, rt := range strings.Split(*runtimes, ",") {
		n, th, q := len(texts), *threads, *queries
		if rt == "wasmedge-interp" {
			n, q = min(n, *interpTexts), *interpQueries
			if *interpThreads > 0 {
				th = *interpThreads
			}
		}
		res, err := measure(*modelPath, rt, texts[:n], th, q)
		if err != nil {
			fail(fmt.Errorf("%s: %w", rt, err))
		}
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wasmedge bench:", err)
	os.Exit(1)
}

func measure(modelPath, rt string, texts []string, threads, queries int) (*result, error) {
	ctx := context.Background()
	res := &result{Peer: "edgesearch", Runtime: rt, Model: filepath.Base(modelPath), Threads: threads, Texts: len(texts), Queries: queries}
	if strings.HasPrefix(rt, "wasmedge") {
		res.WasmEdge = embedder.WasmEdgeVersion()
	}
	cache, err := os.MkdirTemp("", "wasmedge-bench-cache-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(cache)
	opts := embedder.Options{ModelPath: modelPath, Workers: threads, Runtime: rt, CacheDir: cache, MaxWait: -1, QueueSize: 4096}

	t := time.Now()
	pool, err := embedder.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	res.LoadMs = ms(time.Since(t))
	if rt != "wasmedge-interp" {
		// Again, the compilation cache now warm: what a restart costs.
		pool.Close()
		t = time.Now()
		if pool, err = embedder.New(ctx, opts); err != nil {
			return nil, err
		}
		res.CachedLoadMs = ms(time.Since(t))
	}
	defer pool.Close()

	var lat []float64
	for i := 0; i < queries+5; i++ {
		t := time.Now()
		if _, err := pool.Embed(ctx, []string{query}); err != nil {
			return nil, err
		}
		if i >= 5 {
			lat = append(lat, ms(time.Since(t)))
		}
	}
	sort.Float64s(lat)
	res.QueryP50Ms, res.QueryP90Ms = lat[len(lat)/2], lat[len(lat)*9/10]

	t = time.Now()
	tokens, err := throughput(ctx, pool, texts, 2*threads)
	if err != nil {
		return nil, err
	}
	el := time.Since(t).Seconds()
	res.Tokens, res.TextsPerSec, res.TokensPerSec = tokens, round(float64(len(texts))/el), round(float64(tokens)/el)
	return res, nil
}

// throughput embeds texts in batches of 32 from senders goroutines, so
// every worker always has a batch waiting, and returns the tokens embedded.
func throughput(ctx context.Context, pool *embedder.Pool, texts []string, senders int) (int, error) {
	const batch = 32
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens int
		first  error
	)
	next := make(chan []string)
	go func() {
		defer close(next)
		for i := 0; i < len(texts); i += batch {
			next <- texts[i:min(i+batch, len(texts))]
		}
	}()
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range next {
				embs, err := pool.Embed(ctx, b)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				for _, e := range embs {
					tokens += e.Tokens
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return tokens, first
}

func readLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no sentences", path)
	}
	return out, nil
}

func ms(d time.Duration) float64 { return round(float64(d.Microseconds()) / 1000) }

func round(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
