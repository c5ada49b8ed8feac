// Command searchbench measures search at scale and prints one JSON line: it
// writes a store of synthetic chunks (clustered 384-d unit vectors, short
// texts made of bench/sentences.txt), opens search.Engine on it (timing the
// vector graph build), measures Engine.Search latency after the query
// vector (semantic and hybrid), recall@10 of semantic search against exact
// search, and the peak RSS of a real `edgesearch serve` over the same data
// directory answering GET /search.
//
// -profile small measures what `edgesearch serve --profile small` holds: the
// engine here builds the graph with that profile's parameters (so recall is
// the small graph's and the server loads the saved graph instead of
// rebuilding it), the store records the q8_0 model's name, and the server
// runs with --profile small and its one worker.
//
// The vectors are synthetic because embedding 100k real chunks takes hours
// on the target machine; clustered data, as in search's own tests, is where a
// weak graph loses recall. Recall is measured on documents, as the engine
// returns them: the exact answer ranks each document by its best chunk.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/edgesearch/edgesearch/bench/internal/serverenv"
	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

const (
	centres = 300 // clusters, as search's BenchmarkSearch100k
	spread  = 0.6 // noise norm around a centre, as there
	putDocs = 2000
	k       = 10
)

// Profiles, as cmd/edgesearch/profile.go sets them: the graph parameters
// and the default model of each. Keep in step with smallHNSW there.
var profiles = map[string]struct {
	params search.Params
	model  string // file name under ~/.cache/edgesearch
}{
	"standard": {search.Params{}, "all-MiniLM-L6-v2-f16.gguf"},
	"small":    {search.Params{M: 12, EfConstruction: 64, EfSearch: 64}, "all-MiniLM-L6-v2-q8_0.gguf"},
}

func main() {
	var (
		chunks    = flag.Int("chunks", 100000, "chunks in the store")
		perDoc    = flag.Int("per-doc", 4, "chunks per document")
		queries   = flag.Int("queries", 1000, "latency queries per mode")
		recallN   = flag.Int("recall-queries", 200, "queries for recall@10 against exact search")
		serveN    = flag.Int("serve-queries", 1000, "GET /search requests to the server")
		sentences = flag.String("sentences", "bench/sentences.txt", "words for the chunk texts")
		profile   = flag.String("profile", "standard", "standard or small: the graph parameters, default model and serve --profile")
		modelPath = flag.String("model", "", "GGUF model (the store records its name; serve embeds queries with it); default: the profile's in ~/.cache/edgesearch")
		threads   = flag.Int("threads", 0, "embedder workers of the server; 0 leaves the profile's (one per core in standard, one in small)")
		efSweep   = flag.String("ef-sweep", "", "comma-separated EfSearch values to measure recall@10 with on the same graph (e.g. 64,96,128)")
		serveArgs = flag.String("serve-flags", "", "more flags for serve, space-separated (e.g. \"--max-batch 8 --idle-threads 1\")")
		cli       = flag.String("cli", "bin/edgesearch", "binary to serve the store; empty skips the RSS measure")
		keep      = flag.String("keep", "", "data directory to build in and keep (default: a temporary one, removed)")
	)
	flag.Parse()
	prof, ok := profiles[*profile]
	if !ok {
		fmt.Fprintf(os.Stderr, "searchbench: -profile %q: want standard or small\n", *profile)
		os.Exit(2)
	}
	if *modelPath == "" {
		home, _ := os.UserHomeDir()
		*modelPath = filepath.Join(home, ".cache", "edgesearch", prof.model)
	}
	cfg := config{chunks: *chunks, perDoc: *perDoc, queries: *queries, recall: *recallN, serve: *serveN,
		sentences: *sentences, model: *modelPath, threads: *threads, cli: *cli, keep: *keep,
		profile: *profile, params: prof.params, serveArgs: strings.Fields(*serveArgs)}
	for _, f := range strings.FieldsFunc(*efSweep, func(r rune) bool { return r == ',' || r == ' ' }) {
		ef, err := strconv.Atoi(f)
		if err != nil || ef < 1 {
			fmt.Fprintf(os.Stderr, "searchbench: -ef-sweep %q: want positive integers\n", f)
			os.Exit(2)
		}
		cfg.efSweep = append(cfg.efSweep, ef)
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

type config struct {
	chunks, perDoc, queries, recall, serve int
	sentences, model, cli, keep            string
	threads                                int
	profile                                string
	params                                 search.Params // the profile's graph parameters
	serveArgs                              []string      // more flags for serve
	efSweep                                []int         // EfSearch values for extra recall measures
}

type result struct {
	Profile        string     `json:"profile"`
	Model          string     `json:"model"` // file name
	HNSW           string     `json:"hnsw"`  // M/EfConstruction/EfSearch, 0 = the search package's default
	Chunks         int        `json:"n_chunks"`
	Documents      int        `json:"n_documents"`
	Dims           int        `json:"dims"`
	StoreWriteS    float64    `json:"store_write_s"`
	BuildS         float64    `json:"hnsw_build_s"` // search.Open rebuilding graph and BM25 from the store
	SemanticP50Ms  float64    `json:"semantic_ms_p50"`
	SemanticP99Ms  float64    `json:"semantic_ms_p99"`
	HybridP50Ms    float64    `json:"hybrid_ms_p50"`
	HybridP99Ms    float64    `json:"hybrid_ms_p99"`
	KeywordP50Ms   float64    `json:"keyword_ms_p50"`
	RecallAt10     float64    `json:"recall_at_10"`
	RecallQueries  int        `json:"recall_queries"`
	ServeRSSMB     float64    `json:"serve_peak_rss_mb,omitempty"`  // VmHWM
	ServeNowMB     float64    `json:"serve_rss_after_mb,omitempty"` // VmRSS after the queries
	ServeAnonMB    float64    `json:"serve_rss_anon_mb,omitempty"`  // of which heap and guest memory
	ServeFileMB    float64    `json:"serve_rss_file_mb,omitempty"`  // of which file pages (the bbolt mmap, the binary)
	ServeStartS    float64    `json:"serve_start_s,omitempty"`      // exec to /health counting every chunk
	ServeHTTPP50Ms float64    `json:"serve_http_ms_p50,omitempty"`  // GET /search end to end, query embedding included
	ServeQueries   int        `json:"serve_queries,omitempty"`
	ServeGraph     string     `json:"serve_graph,omitempty"` // "loaded" or "rebuilt"
	ServeFlags     string     `json:"serve_flags,omitempty"` // -serve-flags, and GOMEMLIMIT when set
	EfSweep        []efResult `json:"ef_search_sweep,omitempty"`
}

// efResult is recall and latency with another EfSearch on the same graph.
type efResult struct {
	EfSearch      int     `json:"ef_search"`
	RecallAt10    float64 `json:"recall_at_10"`
	SemanticP50Ms float64 `json:"semantic_ms_p50"`
}

func run(ctx context.Context, cfg config) error {
	if cfg.chunks < 1 || cfg.perDoc < 1 || cfg.queries < 1 || cfg.recall < 1 {
		return errors.New("--chunks, --per-doc, --queries and --recall-queries must be at least 1")
	}
	words, err := readWords(cfg.sentences)
	if err != nil {
		return err
	}
	name, dims, err := modelInfo(ctx, cfg.model)
	if err != nil {
		return err
	}
	dir := cfg.keep
	if dir == "" {
		if dir, err = os.MkdirTemp("", "searchbench"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	r := rand.New(rand.NewPCG(1, 2))
	centre := makeCentres(r, dims)
	res := result{Profile: cfg.profile, Model: filepath.Base(cfg.model), Chunks: cfg.chunks, Dims: dims,
		HNSW: fmt.Sprintf("%d/%d/%d", cfg.params.M, cfg.params.EfConstruction, cfg.params.EfSearch)}

	st, err := store.Open(indexer.StorePath(dir), store.Options{Model: name, Dims: dims})
	if err != nil {
		return err
	}
	logf("writing %d chunks to %s", cfg.chunks, dir)
	start := time.Now()
	vecs, owner, err := fill(ctx, st, r, centre, words, cfg.chunks, cfg.perDoc)
	if err != nil {
		st.Close()
		return err
	}
	res.StoreWriteS = time.Since(start).Seconds()
	res.Documents = owner[len(owner)-1] + 1

	logf("opening the engine (building the graph)")
	start = time.Now()
	eng, err := search.Open(ctx, st, search.EngineOptions{Dir: dir, Params: cfg.params})
	if err != nil {
		st.Close()
		return err
	}
	res.BuildS = time.Since(start).Seconds()
	if eng.Loaded() {
		return errors.New("engine loaded a graph file from a fresh store")
	}
	logf("graph built in %.1fs", res.BuildS)

	type q struct {
		vec  []float32
		text string
	}
	qs := make([]q, max(cfg.queries, cfg.recall))
	for i := range qs {
		qs[i] = q{near(r, centre[r.IntN(len(centre))]), sentence(r, words, 3)}
	}
	for _, m := range []search.Mode{search.Semantic, search.Hybrid, search.Keyword} {
		lat := make([]float64, 0, cfg.queries)
		for i, qq := range qs[:cfg.queries] {
			t := time.Now()
			out, err := eng.Search(ctx, search.Query{Text: qq.text, Vector: qq.vec, K: k, Mode: m})
			lat = append(lat, float64(time.Since(t).Microseconds())/1000)
			if err != nil && !(m == search.Keyword && errors.Is(err, search.ErrNoQuery)) {
				return fmt.Errorf("%s query %d: %w", m, i, err)
			}
			if m != search.Keyword && len(out) != k {
				return fmt.Errorf("%s query %d: %d results, want %d", m, i, len(out), k)
			}
		}
		p50, p99 := percentile(lat, 50), percentile(lat, 99)
		switch m {
		case search.Semantic:
			res.SemanticP50Ms, res.SemanticP99Ms = p50, p99
		case search.Hybrid:
			res.HybridP50Ms, res.HybridP99Ms = p50, p99
		case search.Keyword:
			res.KeywordP50Ms = p50
		}
		logf("%s: p50 %.2f ms, p99 %.2f ms", m, p50, p99)
	}

	recallQs := make([][]float32, cfg.recall)
	exact := make([][]int, cfg.recall)
	for i, qq := range qs[:cfg.recall] {
		recallQs[i], exact[i] = qq.vec, exactDocs(vecs, owner, qq.vec, k)
	}
	if res.RecallAt10, _, err = recall(ctx, eng, recallQs, exact); err != nil {
		return err
	}
	res.RecallQueries = cfg.recall
	logf("recall@10 %.4f over %d queries", res.RecallAt10, cfg.recall)

	// Close saves the graph, so the server loads it as it would after any
	// clean restart.
	if err := eng.Close(); err != nil {
		st.Close()
		return err
	}
	// Other EfSearch values on the same graph: reopening loads the saved
	// graph (EfSearch is not part of its shape) and applies the value.
	for _, ef := range cfg.efSweep {
		p := cfg.params
		p.EfSearch = ef
		e, err := search.Open(ctx, st, search.EngineOptions{Dir: dir, Params: p})
		if err != nil {
			st.Close()
			return err
		}
		rc, p50, err := recall(ctx, e, recallQs, exact)
		if err = errors.Join(err, e.Close()); err != nil {
			st.Close()
			return err
		}
		if !e.Loaded() {
			logf("ef-search %d: the engine rebuilt the graph instead of loading it", ef)
		}
		res.EfSweep = append(res.EfSweep, efResult{EfSearch: ef, RecallAt10: rc, SemanticP50Ms: p50})
		logf("ef-search %d: recall@10 %.4f, semantic p50 %.2f ms", ef, rc, p50)
	}
	if err := st.Close(); err != nil {
		return err
	}
	vecs = nil
	if cfg.cli != "" && cfg.serve > 0 {
		texts := make([]string, cfg.serve)
		for i := range texts {
			texts[i] = sentence(r, words, 4)
		}
		if err := measureServe(cfg, dir, texts, &res); err != nil {
			return err
		}
		logf("serve: peak RSS %.0f MB, GET /search p50 %.1f ms", res.ServeRSSMB, res.ServeHTTPP50Ms)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// recall searches each of qs semantically and returns the share of the
// exact answers' documents found (recall@10 by document) and the p50
// latency of those searches.
func recall(ctx context.Context, eng *search.Engine, qs [][]float32, exact [][]int) (float64, float64, error) {
	var hits, want int
	lat := make([]float64, 0, len(qs))
	for i, q := range qs {
		t := time.Now()
		out, err := eng.Search(ctx, search.Query{Vector: q, K: k, Mode: search.Semantic})
		lat = append(lat, float64(time.Since(t).Microseconds())/1000)
		if err != nil {
			return 0, 0, err
		}
		got := map[string]bool{}
		for _, o := range out {
			got[o.ID] = true
		}
		for _, d := range exact[i] {
			if got[docID(d)] {
				hits++
			}
		}
		want += len(exact[i])
	}
	return float64(hits) / float64(want), percentile(lat, 50), nil
}

// modelInfo loads the model once for its name and dimensions, which the
// store records and the server checks.
func modelInfo(ctx context.Context, path string) (string, int, error) {
	pool, err := embedder.New(ctx, embedder.Options{ModelPath: path, Workers: 1})
	if err != nil {
		return "", 0, err
	}
	defer pool.Close()
	info := pool.Info()
	return info.Name, info.Dims, nil
}

func readWords(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	words := strings.Fields(string(b))
	if len(words) == 0 {
		return nil, fmt.Errorf("sentences %s: no words", path)
	}
	return words, nil
}

func sentence(r *rand.Rand, words []string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = words[r.IntN(len(words))]
	}
	return strings.Join(parts, " ")
}

func makeCentres(r *rand.Rand, dims int) [][]float64 {
	c := make([][]float64, centres)
	for i := range c {
		v := make([]float64, dims)
		for j := range v {
			v[j] = r.NormFloat64()
		}
		c[i] = unit(v)
	}
	return c
}

// near returns a unit vector drawn around centre.
func near(r *rand.Rand, centre []float64) []float32 {
	sd := spread / math.Sqrt(float64(len(centre)))
	v := make([]float64, len(centre))
	for j := range v {
		v[j] = centre[j] + sd*r.NormFloat64()
	}
	unit(v)
	out := make([]float32, len(v))
	for j := range v {
		out[j] = float32(v[j])
	}
	return out
}

func unit(v []float64) []float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = 1 / math.Sqrt(s)
	for j := range v {
		v[j] *= s
	}
	return v
}

func docID(i int) string { return fmt.Sprintf("doc-%06d", i) }

// fill writes n chunks, perDoc to a document (a document's chunks share a
// centre, as a real document's passages share a topic), in transactions
// of putDocs documents. It returns every vector and the document number
// of each, by chunk.
func fill(ctx context.Context, st *store.Store, r *rand.Rand, centre [][]float64, words []string, n, perDoc int) ([][]float32, []int, error) {
	vecs := make([][]float32, 0, n)
	owner := make([]int, 0, n)
	var batch []store.Document
	for d := 0; len(vecs) < n; d++ {
		c := centre[r.IntN(len(centre))]
		var text strings.Builder
		doc := store.Document{ID: docID(d), Title: sentence(r, words, 3), Source: "synthetic"}
		for j := 0; j < perDoc && len(vecs) < n; j++ {
			if j > 0 {
				text.WriteByte(' ')
			}
			s := sentence(r, words, 8+r.IntN(24))
			startAt := text.Len()
			text.WriteString(s)
			v := near(r, c)
			vecs, owner = append(vecs, v), append(owner, d)
			doc.Chunks = append(doc.Chunks, store.Chunk{Start: startAt, End: text.Len(), Tokens: strings.Count(s, " ") + 3, Vector: v})
		}
		doc.Text = text.String()
		batch = append(batch, doc)
		if len(batch) == putDocs || len(vecs) == n {
			if err := st.Put(ctx, batch); err != nil {
				return nil, nil, fmt.Errorf("put documents up to %s: %w", doc.ID, err)
			}
			batch = batch[:0:0]
		}
	}
	return vecs, owner, nil
}

// exactDocs ranks documents by their best chunk's cosine with q (vectors
// are unit length) and returns the top k document numbers.
func exactDocs(vecs [][]float32, owner []int, q []float32, k int) []int {
	best := map[int]float32{}
	for i, v := range vecs {
		var s float32
		for j := range v {
			s += v[j] * q[j]
		}
		if b, ok := best[owner[i]]; !ok || s > b {
			best[owner[i]] = s
		}
	}
	type scored struct {
		doc int
		s   float32
	}
	all := make([]scored, 0, len(best))
	for d, s := range best {
		all = append(all, scored{d, s})
	}
	slices.SortFunc(all, func(a, b scored) int {
		switch {
		case a.s > b.s:
			return -1
		case a.s < b.s:
			return 1
		}
		return a.doc - b.doc
	})
	out := make([]int, 0, k)
	for _, s := range all[:min(k, len(all))] {
		out = append(out, s.doc)
	}
	return out
}

func percentile(ms []float64, p float64) float64 {
	s := slices.Clone(ms)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// measureServe runs the real server on dir, waits until /health counts
// every chunk, sends the queries and reads the process's peak RSS.
func measureServe(cfg config, dir string, queries []string, res *result) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	args := []string{"serve", "--data", dir, "--addr", addr, "--model", cfg.model,
		"--profile", cfg.profile, "--log-format", "json"}
	if cfg.threads > 0 {
		args = append(args, "--threads", strconv.Itoa(cfg.threads))
	}
	args = append(args, cfg.serveArgs...)
	res.ServeFlags = strings.Join(cfg.serveArgs, " ")
	if l := os.Getenv("GOMEMLIMIT"); l != "" {
		res.ServeFlags = strings.TrimSpace(res.ServeFlags + " GOMEMLIMIT=" + l)
	}
	cmd := exec.Command(cfg.cli, args...)
	cmd.Env = serverenv.Clean() // settings go on the command line only
	logs, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cfg.cli, err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	graph := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		found := "loaded"
		for sc.Scan() {
			if strings.Contains(strings.ToLower(sc.Text()), "rebuild") {
				found = "rebuilt"
			}
			if strings.Contains(sc.Text(), `"msg":"documents loaded"`) {
				graph <- found
				break
			}
		}
		io.Copy(io.Discard, logs) // keep the pipe drained
	}()

	base := "http://" + addr
	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var h struct {
			Status string `json:"status"`
			Chunks int    `json:"chunks"`
		}
		if resp, err := client.Get(base + "/health"); err == nil {
			json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
		}
		if h.Status == "ok" && h.Chunks == res.Chunks {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("serve on %s: /health never counted %d chunks", dir, res.Chunks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.ServeStartS = time.Since(start).Seconds()
	select {
	case res.ServeGraph = <-graph:
	case <-time.After(5 * time.Second):
	}

	lat := make([]float64, 0, len(queries))
	for i, q := range queries {
		t := time.Now()
		resp, err := client.Get(base + "/search?k=10&q=" + url.QueryEscape(q))
		if err != nil {
			return fmt.Errorf("GET /search %d: %w", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, float64(time.Since(t).Microseconds())/1000)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /search %d: %d %.200s", i, resp.StatusCode, body)
		}
	}
	res.ServeHTTPP50Ms = percentile(lat, 50)
	res.ServeQueries = len(queries)

	mem, err := memory(cmd.Process.Pid)
	if err != nil {
		return err
	}
	res.ServeRSSMB, res.ServeNowMB = mem["VmHWM"], mem["VmRSS"]
	res.ServeAnonMB, res.ServeFileMB = mem["RssAnon"], mem["RssFile"]
	return nil
}

// memory reads the Vm* and Rss* lines of /proc/PID/status, in MB.
func memory(pid int) (map[string]float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("peak RSS needs /proc: %w", err)
	}
	mem := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		mem[strings.TrimSuffix(f[0], ":")] = kb / 1024
	}
	if mem["VmHWM"] == 0 {
		return nil, errors.New("no VmHWM in /proc status")
	}
	return mem, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "searchbench: "+format+"\n", args...)
}
