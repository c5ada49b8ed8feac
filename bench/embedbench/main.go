// Command embedbench measures edgesearch's embedder the way bench/peers/*.py
// measure llama.cpp and sentence-transformers, and prints one JSON line:
// one-query latency, throughput on a file of sentences, process start to
// first vector (by running the CLI), and peak RSS.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/guest"
)

func main() {
	var (
		modelPath = flag.String("model", os.Getenv("EDGESEARCH_MODEL"), "GGUF model")
		sentences = flag.String("sentences", "bench/sentences.txt", "one sentence a line")
		threads   = flag.Int("threads", 2, "workers (guest instances)")
		cli       = flag.String("cli", "bin/edgesearch", "binary for the start-to-first-vector measure; empty skips it")
		rounds    = flag.Int("rounds", 3, "throughput rounds (the best is reported)")
		stacks    = flag.Int("stack-check", 12, "fresh one-worker pools timed with and without the embedder's stack check (0 skips)")
		busy      = flag.Duration("busy", 0, "how long to saturate the workers with bulk work while timing a 10 ms sleeper and one-query embeddings (0 skips)")
		kernels   = flag.String("kernels", "", `who runs the matrix products: "host", "guest" or "" (the embedder's default)`)
	)
	flag.Parse()
	kernelsOpt = *kernels
	if err := run(*modelPath, *sentences, *threads, *cli, *rounds, *stacks, *busy); err != nil {
		fmt.Fprintln(os.Stderr, "embedbench:", err)
		os.Exit(1)
	}
}

// kernelsOpt is -kernels, for every pool this run makes.
var kernelsOpt string

// result has the field names bench/peers/*.py print, so bench/report.py
// reads all three alike.
type result struct {
	Peer           string  `json:"peer"`
	Kernels        string  `json:"kernels"`
	Model          string  `json:"gguf"`
	Threads        int     `json:"threads"`
	Texts          int     `json:"n_texts"`
	Tokens         int     `json:"n_tokens"`
	TextsPerSec    float64 `json:"throughput_texts_per_s"`
	TokensPerSec   float64 `json:"throughput_tokens_per_s"`
	QueryP50Ms     float64 `json:"query_ms_p50"`
	QueryP90Ms     float64 `json:"query_ms_p90"`
	StartToFirstMs float64 `json:"start_to_first_vector_ms,omitempty"`
	LoadMs         float64 `json:"load_ms"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	WasmBytes      int     `json:"wasm_bytes"`
	Stacks         *stacks `json:"stack_check,omitempty"`
	Busy           *busy   `json:"busy,omitempty"`
}

// busy is how the process answers while every worker has bulk work: the
// lateness of a goroutine that sleeps 10 ms at a time (the Go scheduler and
// collector wait for goroutines inside guest calls), and the latency of a
// one-query Embed, idle and busy.
type busy struct {
	BulkAPI      bool    `json:"bulk_api"` // EmbedBulk (else Embed) carried the bulk work
	Seconds      float64 `json:"seconds"`
	GCs          uint32  `json:"gcs"`
	BulkTokens   int     `json:"bulk_tokens"`
	LateP50Ms    float64 `json:"sleeper_late_ms_p50"`
	LateP99Ms    float64 `json:"sleeper_late_ms_p99"`
	LateMaxMs    float64 `json:"sleeper_late_ms_max"`
	IdleQueryP50 float64 `json:"query_ms_p50_idle"`
	IdleQueryP99 float64 `json:"query_ms_p99_idle"`
	BusyQueries  int     `json:"busy_queries"`
	BusyQueryP50 float64 `json:"query_ms_p50_busy"`
	BusyQueryP99 float64 `json:"query_ms_p99_busy"`
}

// stacks is what the embedder's stack check (embedder/stack.go) changes:
// one-query latency of fresh single-worker pools with and without it.
type stacks struct {
	Pools       int       `json:"pools"`
	WithoutMs   []float64 `json:"query_ms_p50_without"`
	WithMs      []float64 `json:"query_ms_p50_with"`
	SlowWithout int       `json:"slow_without"` // pools ≥ 1.5× the fastest
	SlowWith    int       `json:"slow_with"`
}

func run(modelPath, sentencesPath string, threads int, cli string, rounds, stackPools int, busyFor time.Duration) error {
	texts, err := readLines(sentencesPath)
	if err != nil {
		return err
	}
	ctx := context.Background()
	res := result{Peer: "edgesearch", Kernels: kernelsOpt, Model: filepath.Base(modelPath), Threads: threads, Texts: len(texts), WasmBytes: len(guest.Binary)}

	t0 := time.Now()
	pool, err := embedder.New(ctx, embedder.Options{ModelPath: modelPath, Workers: threads, Kernels: kernelsOpt, MaxWait: -1})
	if err != nil {
		return err
	}
	res.Kernels = pool.Kernels()
	defer pool.Close()
	res.LoadMs = ms(time.Since(t0))

	// One short query at a time, as a search box sends them.
	const query = "how do vaccines train the immune system"
	var lat []float64
	for i := 0; i < 60; i++ {
		t := time.Now()
		if _, err := pool.Embed(ctx, []string{query}); err != nil {
			return err
		}
		if i >= 10 { // the first calls warm caches
			lat = append(lat, ms(time.Since(t)))
		}
	}
	sort.Float64s(lat)
	res.QueryP50Ms, res.QueryP90Ms = lat[len(lat)/2], lat[len(lat)*9/10]

	// Throughput: batches of 32 from as many goroutines as workers, twice
	// over, so every worker always has a batch waiting.
	for r := 0; r < rounds; r++ {
		t := time.Now()
		tokens, err := throughput(ctx, pool, texts, 2*threads)
		if err != nil {
			return err
		}
		el := time.Since(t).Seconds()
		if tps := float64(len(texts)) / el; tps > res.TextsPerSec {
			res.TextsPerSec, res.TokensPerSec, res.Tokens = tps, float64(tokens)/el, tokens
		}
	}

	if busyFor > 0 {
		if res.Busy, err = busyRun(ctx, pool, texts, threads, busyFor); err != nil {
			return err
		}
	}

	if cli != "" {
		var starts []float64
		for i := 0; i < 7; i++ {
			t := time.Now()
			cmd := exec.Command(cli, "embed", "--model", modelPath, "--threads", "1", "hello world")
			cmd.Stdout, cmd.Stderr = nil, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s embed: %w", cli, err)
			}
			starts = append(starts, ms(time.Since(t)))
		}
		sort.Float64s(starts)
		res.StartToFirstMs = starts[len(starts)/2]
	}

	if stackPools > 0 {
		if res.Stacks, err = stackCheck(ctx, modelPath, stackPools); err != nil {
			return err
		}
	}

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.PeakRSSMB = float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// stackCheck times the one-query latency of n fresh one-worker pools with
// the stack check and n without, alternating.
func stackCheck(ctx context.Context, modelPath string, n int) (*stacks, error) {
	const query = "how do vaccines train the immune system"
	st := &stacks{Pools: n}
	for i := 0; i < 2*n; i++ {
		keep := i%2 == 0
		pool, err := embedder.New(ctx, embedder.Options{ModelPath: modelPath, Workers: 1, KeepFirstStack: keep, Kernels: kernelsOpt})
		if err != nil {
			return nil, err
		}
		var lat []float64
		for j := 0; j < 16; j++ {
			t := time.Now()
			if _, err := pool.Embed(ctx, []string{query}); err != nil {
				pool.Close()
				return nil, err
			}
			if j >= 3 {
				lat = append(lat, ms(time.Since(t)))
			}
		}
		pool.Close()
		sort.Float64s(lat)
		if keep {
			st.WithoutMs = append(st.WithoutMs, lat[len(lat)/2])
		} else {
			st.WithMs = append(st.WithMs, lat[len(lat)/2])
		}
	}
	fastest := slices.Min(append(slices.Clone(st.WithoutMs), st.WithMs...))
	for _, v := range st.WithoutMs {
		if v >= 1.5*fastest {
			st.SlowWithout++
		}
	}
	for _, v := range st.WithMs {
		if v >= 1.5*fastest {
			st.SlowWith++
		}
	}
	return st, nil
}

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
	for s := 0; s < senders; s++ {
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

// busyRun keeps 2×threads senders of bulk batches (8 texts of about 256
// tokens, as a document upload's chunks) going for d, with a goroutine
// allocating 64 MB/s (as a server's requests do) so the collector runs,
// while it times a sleeper and one query at a time.
func busyRun(ctx context.Context, pool *embedder.Pool, sentences []string, threads int, d time.Duration) (*busy, error) {
	const query = "how do vaccines train the immune system"
	b := &busy{Seconds: d.Seconds()}
	bulkEmbed := pool.Embed
	if p, ok := any(pool).(interface {
		EmbedBulk(context.Context, []string) ([]embedder.Embedding, error)
	}); ok {
		bulkEmbed, b.BulkAPI = p.EmbedBulk, true
	}
	var chunks []string
	for i, chunk := 0, ""; i < len(sentences); i++ {
		if chunk += sentences[i] + " "; len(chunk) > 1400 {
			chunks = append(chunks, chunk)
			chunk = ""
		}
	}
	queryTimes := func(n int, pause time.Duration, stop <-chan struct{}) ([]float64, error) {
		var lat []float64
		for i := 0; i < n; i++ {
			select {
			case <-stop:
				return lat, nil
			case <-time.After(pause):
			}
			t := time.Now()
			if _, err := pool.Embed(ctx, []string{query}); err != nil {
				return nil, err
			}
			lat = append(lat, ms(time.Since(t)))
		}
		return lat, nil
	}
	idle, err := queryTimes(40, 20*time.Millisecond, nil)
	if err != nil {
		return nil, err
	}
	b.IdleQueryP50, b.IdleQueryP99 = pct(idle, 50), pct(idle, 99)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for s := 0; s < 2*threads; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s * 8; ; i += 8 {
				select {
				case <-stop:
					return
				default:
				}
				batch := make([]string, 8)
				for k := range batch {
					batch[k] = chunks[(i+k)%len(chunks)]
				}
				embs, err := bulkEmbed(ctx, batch)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				for _, e := range embs {
					b.BulkTokens += e.Tokens
				}
				mu.Unlock()
			}
		}()
	}
	var sink [][]byte
	wg.Add(1)
	go func() { // garbage, as a server makes it
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			mu.Lock()
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 256 {
				sink = sink[:0]
			}
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second) // every worker busy
	var gc0, gc1 runtime.MemStats
	runtime.ReadMemStats(&gc0)
	var busyQ []float64
	var qerr error
	qdone := make(chan struct{})
	go func() {
		defer close(qdone)
		busyQ, qerr = queryTimes(1<<30, 100*time.Millisecond, stop)
	}()
	var late []float64
	start := time.Now()
	for next := start.Add(10 * time.Millisecond); time.Since(start) < d; next = next.Add(10 * time.Millisecond) {
		time.Sleep(time.Until(next))
		l := time.Since(next)
		late = append(late, ms(l))
		if l > 10*time.Millisecond { // skip the ticks it slept through
			next = time.Now()
		}
	}
	runtime.ReadMemStats(&gc1)
	close(stop)
	<-qdone
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if qerr != nil {
		return nil, qerr
	}
	b.GCs = gc1.NumGC - gc0.NumGC
	b.LateP50Ms, b.LateP99Ms, b.LateMaxMs = pct(late, 50), pct(late, 99), slices.Max(late)
	b.BusyQueries = len(busyQ)
	if len(busyQ) > 0 {
		b.BusyQueryP50, b.BusyQueryP99 = pct(busyQ, 50), pct(busyQ, 99)
	}
	return b, nil
}

// pct is the p-th percentile (nearest rank) of v.
func pct(v []float64, p int) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines, sc.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
