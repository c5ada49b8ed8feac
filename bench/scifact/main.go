// Command scifact measures search quality and bulk import throughput on the
// BEIR SciFact test set (shared/eval/scifact) and prints one JSON line.
//
// It imports the corpus into a temporary data directory the way
// `edgesearch import` does (indexer.Import over JSONL files; --via ingest
// uses indexer.Ingest batches instead), times it, then embeds the very same
// chunk texts again with bare Pool.Embed calls, so import/raw is the design's
// "bulk import ≥ 90% of raw embedding throughput" (compared in tokens/s,
// since the raw pass embeds an evenly spread sample of the chunks). It then runs every test
// query in keyword, semantic and hybrid mode and scores nDCG@10 against the
// qrels.
//
// Conventions, as BEIR evaluates dense retrievers: a document's text is its
// title, a space and its abstract (the title is also kept as the title);
// queries are embedded as they are; each query retrieves the top 100
// documents (the engine ranks documents by their best chunk) and nDCG is cut
// at 10, with gain equal to the qrels grade and the ideal DCG taken from the
// qrels. nDCG with retrieval cut at 10 is printed too, since hybrid fusion
// can change with the depth retrieved.
//
// --limit N keeps N documents for a quick run: every document the qrels name
// (in query order) first, then the rest of the corpus in file order, and only
// the queries whose relevant documents are all kept. Such a corpus is denser
// in relevant documents than the real one, so its scores are higher; only an
// unlimited run compares with the published numbers.
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Published nDCG@10 on this split (BEIR paper, MTEB), printed beside ours.
const (
	publishedBM25   = 0.665
	publishedMiniLM = 0.645
)

const (
	retrieveK  = 100 // documents retrieved per query, as BEIR does
	cutoff     = 10  // nDCG@10
	shardDocs  = 50  // documents per JSONL file handed to Import
	ingestDocs = 64  // documents per Ingest call with --via ingest
	rawCall    = 128 // texts per Embed call in the raw measure
	rawFlight  = 4   // Embed calls in flight in the raw measure
)

func main() {
	var (
		dataset   = flag.String("dataset", "../shared/eval/scifact", "folder with corpus.jsonl.gz, queries_test.jsonl, qrels_test.tsv")
		modelPath = flag.String("model", os.Getenv("EDGESEARCH_MODEL"), "GGUF model")
		threads   = flag.Int("threads", 2, "embedder workers")
		limit     = flag.Int("limit", 0, "keep this many documents (0: the whole corpus); see the package comment")
		via       = flag.String("via", "import", "import path to measure: import (indexer.Import, as `edgesearch import`) or ingest (indexer.Ingest batches)")
		keep      = flag.String("keep", "", "data directory to build in and keep (default: a temporary one, removed)")
		rawSample = flag.Int("raw-sample", 2000, "chunks (evenly spread) embedded again for the raw measure; 0: all")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
		reuse     = flag.Bool("reuse", false, "with -keep: when the directory already holds the imported corpus, skip the import and raw measures")
		clusters  = flag.String("weaviate", "", "also evaluate the documents indexed in Weaviate clusters of these sizes, e.g. 1,3 (weaviate-server from `make weaviate`)")
		settle    = flag.Duration("weaviate-settle", 0, "wait this long after the last chunk reached a Weaviate cluster before evaluating it")
	)
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "scifact:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if *modelPath == "" {
		home, _ := os.UserHomeDir()
		*modelPath = filepath.Join(home, ".cache", "edgesearch", "all-MiniLM-L6-v2-f16.gguf")
	}
	weaviateSettle = *settle
	sizes, err := parseSizes(*clusters)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scifact: -weaviate:", err)
		os.Exit(2)
	}
	if *reuse && *keep == "" {
		fmt.Fprintln(os.Stderr, "scifact: -reuse needs -keep DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), *dataset, *modelPath, *threads, *limit, *rawSample, *via, *keep, *reuse, sizes); err != nil {
		fmt.Fprintln(os.Stderr, "scifact:", err)
		os.Exit(1)
	}
}

type result struct {
	Dataset          string             `json:"dataset"`
	Limit            int                `json:"limit"` // 0: full corpus
	Documents        int                `json:"n_documents"`
	Chunks           int                `json:"n_chunks"`
	Queries          int                `json:"n_queries"`
	Threads          int                `json:"threads"`
	Via              string             `json:"import_via"`
	ImportSeconds    float64            `json:"import_s"`
	ImportChunksPerS float64            `json:"import_chunks_per_s"`
	ImportTokensPerS float64            `json:"import_tokens_per_s"`
	RawChunks        int                `json:"raw_embed_chunks"`
	RawSeconds       float64            `json:"raw_embed_s"`
	RawChunksPerS    float64            `json:"raw_embed_chunks_per_s"`
	RawTokensPerS    float64            `json:"raw_embed_tokens_per_s"`
	ImportRatio      float64            `json:"import_ratio"`
	IndexSeconds     float64            `json:"index_build_s"`
	NDCG10           map[string]float64 `json:"ndcg_at_10"`
	NDCG10Top10      map[string]float64 `json:"ndcg_at_10_retrieving_10"`
	Recall100        map[string]float64 `json:"recall_at_100"`
	Published        map[string]float64 `json:"published_ndcg_at_10"`
	RetrieveK        int                `json:"retrieve_k"`
	Reused           bool               `json:"reused_import,omitempty"` // -reuse: no import or raw measure this run
	// Latency of one search retrieving the top 100, by mode.
	LatencyP50 map[string]float64 `json:"search_p50_ms"`
	LatencyP99 map[string]float64 `json:"search_p99_ms"`
	// Backends: the same evaluation with the chunks in Weaviate (-weaviate).
	Backends []backendResult `json:"backends,omitempty"`
}

func run(ctx context.Context, dataset, modelPath string, threads, limit, rawSample int, via, keepDir string, reuse bool, clusters []int) error {
	if via != "import" && via != "ingest" {
		return fmt.Errorf("--via %q: want import or ingest", via)
	}
	corpus, err := readCorpus(filepath.Join(dataset, "corpus.jsonl.gz"))
	if err != nil {
		return err
	}
	queries, err := readQueries(filepath.Join(dataset, "queries_test.jsonl"))
	if err != nil {
		return err
	}
	qrels, err := readQrels(filepath.Join(dataset, "qrels_test.tsv"))
	if err != nil {
		return err
	}
	corpus, queries = limitCorpus(corpus, queries, qrels, limit)
	if len(corpus) == 0 || len(queries) == 0 {
		return errors.New("nothing to evaluate: no documents or no queries with all their relevant documents kept")
	}

	dir := keepDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "scifact-bench"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// MaxWait -1: a benchmark queues whole batches on purpose; the
	// interactive lane's bound would refuse them on a slow or busy machine.
	pool, err := embedder.New(ctx, embedder.Options{ModelPath: modelPath, Workers: threads, MaxWait: -1})
	if err != nil {
		return err
	}
	defer pool.Close()
	info := pool.Info()
	st, err := store.Open(indexer.StorePath(dir), store.Options{Model: info.Name, Dims: info.Dims})
	if err != nil {
		return err
	}
	defer st.Close()

	res := result{Dataset: dataset, Limit: limit, Documents: len(corpus), Queries: len(queries),
		Threads: threads, Via: via, RetrieveK: retrieveK,
		Published: map[string]float64{"bm25": publishedBM25, "all-MiniLM-L6-v2": publishedMiniLM}}

	have, _, err := st.Count()
	if err != nil {
		return err
	}
	if reuse && have == len(corpus) {
		logf("reusing the %d documents imported in %s", have, dir)
		chunks, err := storedChunks(ctx, st)
		if err != nil {
			return err
		}
		res.Chunks, res.Reused = len(chunks), true
		return evaluateAll(ctx, st, pool, dir, queries, qrels, clusters, res)
	}
	logf("importing %d documents via %s", len(corpus), via)
	took, err := importCorpus(ctx, st, pool, corpus, via, dir)
	if err != nil {
		return err
	}
	chunks, err := storedChunks(ctx, st)
	if err != nil {
		return err
	}
	res.Chunks = len(chunks)
	res.ImportSeconds = took.Seconds()
	res.ImportChunksPerS = float64(len(chunks)) / took.Seconds()
	res.ImportTokensPerS = float64(tokens(chunks)) / took.Seconds()
	logf("imported %d chunks in %.1fs (%.1f chunks/s); embedding them again with Pool.Embed", len(chunks), took.Seconds(), res.ImportChunksPerS)

	// A full second pass would double the run; an evenly spread sample has
	// the same mix of chunk lengths. Tokens/s is the fairer rate then, and
	// the ratio uses it.
	sample := spread(chunks, rawSample)
	texts := make([]string, len(sample))
	for i, c := range sample {
		texts[i] = c.Text
	}
	rawTook, err := rawEmbed(ctx, pool, texts)
	if err != nil {
		return err
	}
	res.RawChunks = len(sample)
	res.RawSeconds = rawTook.Seconds()
	res.RawChunksPerS = float64(len(sample)) / rawTook.Seconds()
	res.RawTokensPerS = float64(tokens(sample)) / rawTook.Seconds()
	res.ImportRatio = res.ImportTokensPerS / res.RawTokensPerS
	logf("raw embedding of %d chunks: %.1f chunks/s; import/raw (tokens/s) %.3f", len(sample), res.RawChunksPerS, res.ImportRatio)

	return evaluateAll(ctx, st, pool, dir, queries, qrels, clusters, res)
}

type document struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

type query struct {
	ID   string `json:"_id"`
	Text string `json:"text"`
}

func readCorpus(path string) ([]document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", path, err)
	}
	var docs []document
	err = eachLine(zr, func(n int, line []byte) error {
		var d document
		if err := json.Unmarshal(line, &d); err != nil {
			return fmt.Errorf("corpus %s line %d: %w", path, n, err)
		}
		docs = append(docs, d)
		return nil
	})
	return docs, err
}

func readQueries(path string) ([]query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var qs []query
	err = eachLine(f, func(n int, line []byte) error {
		var q query
		if err := json.Unmarshal(line, &q); err != nil {
			return fmt.Errorf("queries %s line %d: %w", path, n, err)
		}
		qs = append(qs, q)
		return nil
	})
	return qs, err
}

// readQrels returns query id → document id → relevance grade, skipping
// the header and grades of zero (not relevant).
func readQrels(path string) (map[string]map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qrels := map[string]map[string]int{}
	err = eachLine(f, func(n int, line []byte) error {
		fields := strings.Split(string(line), "\t")
		if n == 1 && fields[0] == "query-id" {
			return nil
		}
		if len(fields) != 3 {
			return fmt.Errorf("qrels %s line %d: %d fields, want 3", path, n, len(fields))
		}
		grade, err := strconv.Atoi(fields[2])
		if err != nil {
			return fmt.Errorf("qrels %s line %d: grade %q: %w", path, n, fields[2], err)
		}
		if grade <= 0 {
			return nil
		}
		if qrels[fields[0]] == nil {
			qrels[fields[0]] = map[string]int{}
		}
		qrels[fields[0]][fields[1]] = grade
		return nil
	})
	return qrels, err
}

func eachLine(r io.Reader, fn func(n int, line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		if err := fn(n, sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// limitCorpus keeps the queries that have relevance judgements and, when
// limit > 0, at most limit documents as the package comment describes.
func limitCorpus(corpus []document, queries []query, qrels map[string]map[string]int, limit int) ([]document, []query) {
	judged := queries[:0:0]
	for _, q := range queries {
		if len(qrels[q.ID]) > 0 {
			judged = append(judged, q)
		}
	}
	if limit <= 0 || limit >= len(corpus) {
		return corpus, judged
	}
	byID := make(map[string]document, len(corpus))
	for _, d := range corpus {
		byID[d.ID] = d
	}
	kept := map[string]bool{}
	var docs []document
	var qs []query
	for _, q := range judged {
		var need []string
		for id := range qrels[q.ID] {
			if _, ok := byID[id]; ok && !kept[id] {
				need = append(need, id)
			}
		}
		if len(docs)+len(need) > limit {
			break
		}
		sort.Strings(need)
		for _, id := range need {
			kept[id] = true
			docs = append(docs, byID[id])
		}
		qs = append(qs, q)
	}
	for _, d := range corpus {
		if len(docs) >= limit {
			break
		}
		if !kept[d.ID] {
			kept[d.ID] = true
			docs = append(docs, d)
		}
	}
	return docs, qs
}

// bodyText is what BEIR embeds and indexes for a document: title and text.
func bodyText(d document) string {
	return strings.TrimSpace(d.Title + " " + d.Text)
}

// importCorpus stores the corpus and returns the wall time of the import
// itself (writing the JSONL shards is not counted).
func importCorpus(ctx context.Context, st *store.Store, pool *embedder.Pool, corpus []document, via, dir string) (time.Duration, error) {
	if via == "ingest" {
		start := time.Now()
		for lo := 0; lo < len(corpus); lo += ingestDocs {
			batch := make([]indexer.Doc, 0, ingestDocs)
			for _, d := range corpus[lo:min(lo+ingestDocs, len(corpus))] {
				batch = append(batch, indexer.Doc{ID: d.ID, Title: d.Title, Text: bodyText(d)})
			}
			if _, err := indexer.Ingest(ctx, st, pool, batch); err != nil {
				return 0, fmt.Errorf("ingest documents %d..: %w", lo, err)
			}
		}
		return time.Since(start), nil
	}

	// Shards, so Import's stages overlap as they do over a folder of files.
	src := filepath.Join(dir, "corpus")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return 0, err
	}
	for lo, n := 0, 0; lo < len(corpus); lo, n = lo+shardDocs, n+1 {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		for _, d := range corpus[lo:min(lo+shardDocs, len(corpus))] {
			if err := enc.Encode(map[string]string{"_id": d.ID, "title": d.Title, "text": bodyText(d)}); err != nil {
				return 0, err
			}
		}
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("part-%04d.jsonl", n)), []byte(b.String()), 0o644); err != nil {
			return 0, err
		}
	}
	sum, err := indexer.Import(ctx, []string{src}, indexer.ImportOptions{Store: st, Embedder: pool, Progress: os.Stderr})
	if err != nil {
		return 0, err
	}
	if len(sum.Failures) > 0 {
		return 0, fmt.Errorf("import: %d failures, first %s", len(sum.Failures), sum.Failures[0])
	}
	if sum.Documents != len(corpus) {
		return 0, fmt.Errorf("import stored %d documents, want %d", sum.Documents, len(corpus))
	}
	return sum.Elapsed, nil
}

// storedChunks returns every stored chunk, without its vector.
func storedChunks(ctx context.Context, st *store.Store) ([]store.Chunk, error) {
	var chunks []store.Chunk
	_, err := st.ForEachChunk(ctx, func(c store.Chunk) error {
		c.Vector = nil
		chunks = append(chunks, c)
		return nil
	})
	return chunks, err
}

// spread returns n chunks evenly spaced through chunks (all when n <= 0 or
// n >= len(chunks)).
func spread(chunks []store.Chunk, n int) []store.Chunk {
	if n <= 0 || n >= len(chunks) {
		return chunks
	}
	out := make([]store.Chunk, n)
	for i := range out {
		out[i] = chunks[i*len(chunks)/n]
	}
	return out
}

// tokens sums the model tokens of chunks, [CLS] and [SEP] included.
func tokens(chunks []store.Chunk) int {
	n := 0
	for _, c := range chunks {
		n += c.Tokens
	}
	return n
}

// rawEmbed embeds texts with nothing but Embed calls, enough of them in
// flight to keep every worker busy, and returns the wall time.
func rawEmbed(ctx context.Context, pool *embedder.Pool, texts []string) (time.Duration, error) {
	start := time.Now()
	next := make(chan int)
	go func() {
		defer close(next)
		for lo := 0; lo < len(texts); lo += rawCall {
			next <- lo
		}
	}()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range rawFlight {
		wg.Go(func() {
			for lo := range next {
				if _, err := pool.Embed(ctx, texts[lo:min(lo+rawCall, len(texts))]); err != nil {
					mu.Lock()
					first = cmpOr(first, fmt.Errorf("raw embed of texts %d..: %w", lo, err))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func ids(results []search.Result) []string {
	out := make([]string, len(results))
	for i, r := range results {
		out[i] = r.ID
	}
	return out
}

// ndcg is nDCG@k as trec_eval computes it for BEIR: gain is the grade,
// discount log2(rank+1), ideal DCG from the judged grades sorted.
func ndcg(ranked []string, rel map[string]int, k int) float64 {
	var dcg float64
	for i, id := range ranked[:min(k, len(ranked))] {
		dcg += float64(rel[id]) / math.Log2(float64(i+2))
	}
	grades := make([]int, 0, len(rel))
	for _, g := range rel {
		grades = append(grades, g)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	var ideal float64
	for i, g := range grades[:min(k, len(grades))] {
		ideal += float64(g) / math.Log2(float64(i+2))
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// recall is the share of the relevant documents found in ranked.
func recall(ranked []string, rel map[string]int) float64 {
	found := 0
	for _, id := range ranked {
		if rel[id] > 0 {
			found++
		}
	}
	return float64(found) / float64(len(rel))
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scifact: "+format+"\n", args...)
}
