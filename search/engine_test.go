package search_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

var (
	poolOnce sync.Once
	thePool  *embedder.Pool
	poolErr  error
)

// pool is the real model, loaded once for every test of the package.
func pool(t testing.TB) *embedder.Pool {
	t.Helper()
	path := model.DefaultPath()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("model %s is missing: run `make model` or set EDGESEARCH_MODEL: %v", path, err)
	}
	poolOnce.Do(func() {
		thePool, poolErr = embedder.New(context.Background(), embedder.Options{ModelPath: path, Workers: 2})
	})
	if poolErr != nil {
		t.Fatal(poolErr)
	}
	return thePool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if thePool != nil {
		thePool.Close()
	}
	os.Exit(code)
}

// openStore opens (or creates) the store in dir for the test model.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	info := pool(t).Info()
	st, err := store.Open(filepath.Join(dir, "edgesearch.db"), store.Options{Model: info.Name, Dims: info.Dims})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// openEngine opens an engine over st with its graph in dir; progress lines
// go to the returned buffer.
func openEngine(t testing.TB, st *store.Store, dir string) (*search.Engine, *bytes.Buffer) {
	t.Helper()
	var progress bytes.Buffer
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir, Progress: &progress, Params: search.Params{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return e, &progress
}

// makeDoc embeds text as a document whose chunks are its paragraphs
// (separated by blank lines): the tests' stand-in for real chunking, which
// the indexer owns.
func makeDoc(t testing.TB, id, title, text string, meta map[string]string) store.Document {
	t.Helper()
	var spans [][2]int
	for start := 0; start < len(text); {
		end := strings.Index(text[start:], "\n\n")
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		if strings.TrimSpace(text[start:end]) != "" {
			spans = append(spans, [2]int{start, end})
		}
		start = end + 2
	}
	texts := make([]string, len(spans))
	for i, s := range spans {
		texts[i] = text[s[0]:s[1]]
	}
	embs, err := pool(t).Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	d := store.Document{ID: id, Title: title, Text: text, Metadata: meta, Source: "test/" + id + ".txt"}
	for i, s := range spans {
		d.Chunks = append(d.Chunks, store.Chunk{Start: s[0], End: s[1], Tokens: embs[i].Tokens, Vector: embs[i].Vector})
	}
	return d
}

var (
	corpusOnce sync.Once
	corpusEmb  []store.Document
)

// corpusDocs returns the relevance corpus embedded (once per test binary:
// embedding dominates the tests' time), as fresh copies Put may fill in.
func corpusDocs(t testing.TB) []store.Document {
	corpusOnce.Do(func() {
		for _, c := range corpus {
			corpusEmb = append(corpusEmb, makeDoc(t, c.id, c.title, c.text, map[string]string{"topic": c.topic}))
		}
	})
	docs := slices.Clone(corpusEmb)
	for i := range docs {
		docs[i].Chunks = slices.Clone(docs[i].Chunks)
	}
	return docs
}

func embedQuery(t testing.TB, q string) []float32 {
	t.Helper()
	embs, err := pool(t).Embed(context.Background(), []string{q})
	if err != nil {
		t.Fatal(err)
	}
	return embs[0].Vector
}

func ids(rs []search.Result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func find(t testing.TB, e *search.Engine, q search.Query) []search.Result {
	t.Helper()
	rs, err := e.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("search %q: %v", q.Text, err)
	}
	return rs
}

// corpusEngine is an engine over the relevance corpus in a fresh directory.
func corpusEngine(t *testing.T) (*search.Engine, *store.Store, string) {
	t.Helper()
	dir := t.TempDir()
	st := openStore(t, dir)
	t.Cleanup(func() { st.Close() })
	e, _ := openEngine(t, st, dir)
	if _, err := e.Write(context.Background(), store.Change{Put: corpusDocs(t)}); err != nil {
		t.Fatal(err)
	}
	return e, st, dir
}

// TestEngineRelevance pins that paraphrased questions find their document
// in the top 3 by meaning (semantic and hybrid), and that exact rare terms
// find theirs by keyword.
func TestEngineRelevance(t *testing.T) {
	e, _, _ := corpusEngine(t)
	var took time.Duration
	n := 0
	for _, mode := range []search.Mode{search.Semantic, search.Hybrid} {
		hits := 0
		for _, p := range paraphrases {
			vec := embedQuery(t, p.query)
			start := time.Now()
			rs := find(t, e, search.Query{Text: p.query, Vector: vec, K: 3, Mode: mode})
			took += time.Since(start)
			n++
			if slices.Contains(ids(rs), p.want) {
				hits++
			} else {
				t.Errorf("%s %q: top 3 %v, want %q among them", mode, p.query, ids(rs), p.want)
			}
		}
		t.Logf("%s: %d/%d paraphrases found in the top 3", mode, hits, len(paraphrases))
	}
	for _, x := range exactTerms {
		rs := find(t, e, search.Query{Text: x.query, Mode: search.Keyword, K: 3})
		if len(rs) == 0 || rs[0].ID != x.want {
			t.Errorf("keyword %q: got %v, want %q first", x.query, ids(rs), x.want)
			continue
		}
		if len(rs[0].Snippet.Matches) == 0 {
			t.Errorf("keyword %q: snippet %q marks nothing", x.query, rs[0].Snippet.Text)
		}
	}
	t.Logf("mean search latency after the query vector: %v over %d searches", took/time.Duration(n), n)
}

// marked returns the words a snippet marks.
func marked(s search.Snippet) []string {
	var out []string
	for _, m := range s.Matches {
		out = append(out, s.Text[m[0]:m[1]])
	}
	return out
}

// TestEngineResultShape pins what a result carries: the document's fields,
// a score, and a snippet with the query terms marked even in semantic mode.
func TestEngineResultShape(t *testing.T) {
	e, _, _ := corpusEngine(t)
	q := "espresso beans grind"
	rs := find(t, e, search.Query{Text: q, Vector: embedQuery(t, q), Mode: search.Semantic, K: 1})
	if len(rs) != 1 {
		t.Fatalf("got %d results, want 1", len(rs))
	}
	r := rs[0]
	if r.ID != "coffee" || r.Title != "Brewing espresso" || r.Source != "test/coffee.txt" || r.Metadata["topic"] != "food" || r.Chunk != 0 {
		t.Errorf("result = %+v, want the coffee document with its fields", r)
	}
	if r.Score <= 0 || r.Score > 1.0001 {
		t.Errorf("semantic score %v, want a cosine in (0, 1]", r.Score)
	}
	for _, want := range []string{"Grind", "beans"} {
		if !slices.Contains(marked(r.Snippet), want) {
			t.Errorf("snippet %q marks %q, lacks %s", r.Snippet.Text, marked(r.Snippet), want)
		}
	}
}

// TestEngineRestartLoadsGraph pins that a cleanly closed engine's graph is
// loaded, not rebuilt, and answers as before.
func TestEngineRestartLoadsGraph(t *testing.T) {
	e, st, dir := corpusEngine(t)
	q := "borrowing money to buy a house"
	vec := embedQuery(t, q)
	before := find(t, e, search.Query{Text: q, Vector: vec})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e2, progress := openEngine(t, st, dir)
	if !e2.Loaded() {
		t.Fatalf("reopened engine rebuilt its graph; progress: %s", progress)
	}
	if strings.Contains(progress.String(), "rebuilding") {
		t.Errorf("progress says it rebuilt: %q", progress)
	}
	if d, c := e2.Len(); d != len(corpus) || c != len(corpus) {
		t.Errorf("after restart %d documents, %d chunks; want %d of each", d, c, len(corpus))
	}
	after := find(t, e2, search.Query{Text: q, Vector: vec})
	if !slices.Equal(ids(before), ids(after)) {
		t.Errorf("results changed across restart: %v then %v", ids(before), ids(after))
	}
	if after[0].Title != "Choosing a home loan" || after[0].Metadata["topic"] != "money" {
		t.Errorf("after restart the first result is %+v", after[0])
	}
}

// TestEngineRebuildsBadGraph pins that a graph that is stale (the store was
// written while the engine was closed), damaged or missing is rebuilt, with
// a progress line, and finds everything stored.
func TestEngineRebuildsBadGraph(t *testing.T) {
	cases := []struct {
		name   string
		spoil  func(t *testing.T, st *store.Store, graph string)
		reason string
	}{
		{"stale", func(t *testing.T, st *store.Store, _ string) {
			d := makeDoc(t, "late", "Late arrival", "Axolotls regrow lost limbs in a few weeks.", nil)
			if err := st.Put(context.Background(), []store.Document{d}); err != nil {
				t.Fatal(err)
			}
		}, "stale"},
		{"damaged", func(t *testing.T, _ *store.Store, graph string) {
			data, err := os.ReadFile(graph)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(graph, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "damaged"},
		{"truncated", func(t *testing.T, _ *store.Store, graph string) {
			if err := os.Truncate(graph, 100); err != nil {
				t.Fatal(err)
			}
		}, "damaged"},
		{"missing", func(t *testing.T, _ *store.Store, graph string) {
			if err := os.Remove(graph); err != nil {
				t.Fatal(err)
			}
		}, "no saved index"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, st, dir := corpusEngine(t)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, st, filepath.Join(dir, search.GraphFile))
			e2, progress := openEngine(t, st, dir)
			if e2.Loaded() {
				t.Fatal("engine loaded a bad graph instead of rebuilding it")
			}
			if !strings.Contains(progress.String(), "rebuilding") || !strings.Contains(progress.String(), tc.reason) {
				t.Errorf("progress %q, want a rebuilding line saying %q", progress, tc.reason)
			}
			_, chunks, _ := st.Count()
			if _, c := e2.Len(); c != chunks {
				t.Errorf("rebuilt engine has %d chunks, store %d", c, chunks)
			}
			q := "my wireless internet connection is sluggish"
			if rs := find(t, e2, search.Query{Text: q, Vector: embedQuery(t, q), Mode: search.Semantic, K: 1}); len(rs) != 1 || rs[0].ID != "wifi" {
				t.Errorf("after rebuild got %v, want wifi", ids(rs))
			}
			// The rebuilt graph was saved: the next start loads it.
			if err := e2.Close(); err != nil {
				t.Fatal(err)
			}
			if e3, p := openEngine(t, st, dir); !e3.Loaded() {
				t.Errorf("the start after a rebuild rebuilt again: %s", p)
			}
		})
	}
}

// TestEngineDeleteAndReplace pins that deleted documents and replaced
// versions disappear from every mode.
func TestEngineDeleteAndReplace(t *testing.T) {
	e, _, _ := corpusEngine(t)
	ctx := context.Background()
	q := "Odoacer deposed the emperor"
	vec := embedQuery(t, q)
	if n, err := e.Write(ctx, store.Change{Delete: []string{"roman"}}); err != nil || n != 1 {
		t.Fatalf("delete = %d, %v", n, err)
	}
	for _, mode := range []search.Mode{search.Hybrid, search.Semantic, search.Keyword} {
		if rs := find(t, e, search.Query{Text: q, Vector: vec, Mode: mode, K: 30}); slices.Contains(ids(rs), "roman") {
			t.Errorf("%s: deleted document still found: %v", mode, ids(rs))
		}
	}
	if n, err := e.Write(ctx, store.Change{Delete: []string{"roman"}}); err != nil || n != 0 {
		t.Errorf("second delete = %d, %v; want 0 deleted", n, err)
	}

	// Same id, new text: only the new text matches.
	d := makeDoc(t, "tea", "Oolong", "Oolong is partly oxidised and tastes of orchids.", map[string]string{"topic": "drink"})
	if _, err := e.Write(ctx, store.Change{Put: []store.Document{d}}); err != nil {
		t.Fatal(err)
	}
	if rs := find(t, e, search.Query{Text: "steep leaves bitter", Mode: search.Keyword}); slices.Contains(ids(rs), "tea") {
		t.Errorf("old version of tea still matches: %v", ids(rs))
	}
	rs := find(t, e, search.Query{Text: "orchids", Mode: search.Keyword})
	if len(rs) != 1 || rs[0].ID != "tea" || rs[0].Title != "Oolong" || rs[0].Metadata["topic"] != "drink" {
		t.Errorf("new version: got %+v", rs)
	}
	if docs, chunks := e.Len(); docs != len(corpus)-1 || chunks != len(corpus)-1 {
		t.Errorf("engine has %d documents, %d chunks; want %d", docs, chunks, len(corpus)-1)
	}
}

// TestEngineFilters pins that filters apply inside the search: every match
// comes back even when it ranks far down, and nothing else does.
func TestEngineFilters(t *testing.T) {
	e, _, _ := corpusEngine(t)
	q := "volcano eruption magma"
	vec := embedQuery(t, q)
	for _, mode := range []search.Mode{search.Hybrid, search.Semantic} {
		rs := find(t, e, search.Query{Text: q, Vector: vec, Mode: mode, K: 10, Filter: map[string]string{"topic": "health"}})
		got := ids(rs)
		slices.Sort(got)
		if want := []string{"cpr", "sleep", "vaccine"}; !slices.Equal(got, want) {
			t.Errorf("%s topic=health: got %v, want %v", mode, got, want)
		}
	}
	rs := find(t, e, search.Query{Text: q, Vector: vec, Filter: map[string]string{"source": "test/moon.txt"}})
	if len(rs) != 1 || rs[0].ID != "moon" {
		t.Errorf("source filter: got %v, want [moon]", ids(rs))
	}
	rs = find(t, e, search.Query{Text: q, Vector: vec, Filter: map[string]string{"topic": "science", "source": "test/stars.txt"}})
	if len(rs) != 1 || rs[0].ID != "stars" {
		t.Errorf("two filters: got %v, want [stars]", ids(rs))
	}
	if rs := find(t, e, search.Query{Text: q, Vector: vec, Filter: map[string]string{"topic": "nothing"}}); len(rs) != 0 {
		t.Errorf("filter matching nothing: got %v", ids(rs))
	}
	if rs := find(t, e, search.Query{Text: "magma", Mode: search.Keyword, Filter: map[string]string{"topic": "food"}}); len(rs) != 0 {
		t.Errorf("keyword with a filter excluding the only match: got %v", ids(rs))
	}
}

// TestEngineWhereFilters pins Query.Where: Qdrant's filter language over
// each document's payload (DocumentPayload), inside the index walk, in
// every mode, and together with the key=value Filter.
func TestEngineWhereFilters(t *testing.T) {
	e, _, _ := corpusEngine(t)
	q := "volcano eruption magma"
	vec := embedQuery(t, q)
	where := func(js string) *search.Filter {
		t.Helper()
		f, err := search.ParseFilter([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	for _, mode := range []search.Mode{search.Hybrid, search.Semantic} {
		rs := find(t, e, search.Query{Text: q, Vector: vec, Mode: mode, K: 10,
			Where: where(`{"must":[{"key":"metadata.topic","match":{"value":"health"}}]}`)})
		got := ids(rs)
		slices.Sort(got)
		if want := []string{"cpr", "sleep", "vaccine"}; !slices.Equal(got, want) {
			t.Errorf("%s metadata.topic = health: got %v, want %v", mode, got, want)
		}
	}
	rs := find(t, e, search.Query{Text: q, Vector: vec, K: 20,
		Where: where(`{"must_not":[{"key":"metadata.topic","match":{"any":["health","science"]}}],"should":[{"key":"source","match":{"text":"moon"}},{"key":"id","match":{"value":"bread"}}]}`)})
	for _, r := range rs {
		if r.Metadata["topic"] == "health" || r.Metadata["topic"] == "science" || (r.ID != "bread" && !strings.Contains(r.Source, "moon")) {
			t.Errorf("must_not and should: got %s (%s, %v)", r.ID, r.Source, r.Metadata)
		}
	}
	rs = find(t, e, search.Query{Text: q, Vector: vec, Filter: map[string]string{"topic": "health"},
		Where: where(`{"must":[{"key":"id","match":{"value":"cpr"}}]}`)})
	if len(rs) != 1 || rs[0].ID != "cpr" {
		t.Errorf("Filter and Where together: got %v, want [cpr]", ids(rs))
	}
	if rs := find(t, e, search.Query{Text: "magma", Mode: search.Keyword, Where: where(`{"must":[{"is_empty":{"key":"metadata.topic"}}]}`)}); len(rs) != 0 {
		t.Errorf("every document has a topic, yet is_empty matched %v", ids(rs))
	}
}

func TestDocumentPayloadMakesNumbersOfNumericMetadata(t *testing.T) {
	p := search.DocumentPayload("d", "T", "s.jsonl", map[string]string{"year": "2021", "score": "-1.5e3", "zip": "01234", "name": "x"})
	md := p["metadata"].(map[string]any)
	if md["year"] != json.Number("2021") || md["score"] != json.Number("-1.5e3") || md["zip"] != "01234" || md["name"] != "x" {
		t.Errorf("metadata payload %#v", md)
	}
	f, err := search.ParseFilter([]byte(`{"must":[{"key":"metadata.year","range":{"gte":2000,"lt":2022}}]}`))
	if err != nil || !f.Match(search.PointID{}, p) {
		t.Errorf("range over a numeric metadata value: %v", err)
	}
}

// TestEngineBestChunkWins pins that a document comes back once, scored and
// snipped by its best chunk.
func TestEngineBestChunkWins(t *testing.T) {
	e, _, _ := corpusEngine(t)
	text := "The committee met on Tuesday to review the annual report.\n\n" +
		"Our lighthouse keeper trims the lamp wick and polishes the great lens every evening.\n\n" +
		"Minutes of the meeting were approved without changes."
	if _, err := e.Write(context.Background(), store.Change{Put: []store.Document{makeDoc(t, "multi", "Mixed notes", text, nil)}}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []search.Mode{search.Semantic, search.Hybrid, search.Keyword} {
		q := "lighthouse lamp lens"
		rs := find(t, e, search.Query{Text: q, Vector: embedQuery(t, q), Mode: mode, K: 40})
		n := 0
		for _, r := range rs {
			if r.ID == "multi" {
				n++
			}
		}
		if n != 1 || rs[0].ID != "multi" {
			t.Fatalf("%s: got %v, want multi first and once", mode, ids(rs))
		}
		if rs[0].Chunk != 1 || !slices.Contains(marked(rs[0].Snippet), "lighthouse") || strings.Contains(rs[0].Snippet.Text, "committee") {
			t.Errorf("%s: best chunk %d, snippet %q; want chunk 1 about the lighthouse", mode, rs[0].Chunk, rs[0].Snippet.Text)
		}
	}
}

// TestEngineWriteIsTheOnlyWayIn pins the engine's one write path: a
// change that puts one document and deletes another is searchable as a
// whole at once, a replaced version leaves no trace, and Save refuses to
// stamp a graph over a store written behind the engine's back.
func TestEngineWriteIsTheOnlyWayIn(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	e, _ := openEngine(t, st, dir)
	ctx := context.Background()
	put := func(id, title, text string) store.Change {
		return store.Change{Put: []store.Document{makeDoc(t, id, title, text, nil)}}
	}
	if _, err := e.Write(ctx, put("x", "v1", "Penguins huddle together for warmth.")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(ctx, put("x", "v2", "Kangaroos carry their young in a pouch.")); err != nil {
		t.Fatal(err)
	}
	if rs := find(t, e, search.Query{Text: "penguins kangaroos", Mode: search.Keyword}); len(rs) != 1 || rs[0].Title != "v2" {
		t.Errorf("after replacing v1: got %+v, want only v2", rs)
	}
	c := put("y", "owls", "Owls hunt silently at night.")
	c.Delete = []string{"x"}
	if n, err := e.Write(ctx, c); err != nil || n != 1 {
		t.Fatalf("put y, delete x = %d, %v", n, err)
	}
	if rs := find(t, e, search.Query{Text: "owls kangaroos", Mode: search.Keyword}); len(rs) != 1 || rs[0].Title != "owls" {
		t.Errorf("after put y, delete x: got %+v, want only y", rs)
	}
	if docs, chunks := e.Len(); docs != 1 || chunks != 1 {
		t.Errorf("indexed %d documents, %d chunks; want 1 and 1", docs, chunks)
	}
	if err := e.Save(); err != nil {
		t.Errorf("save in step with the store: %v", err)
	}
	// A refused change leaves the index as it was.
	bad := put("z", "bad", "Zebras graze.")
	bad.Put[0].Chunks[0].Vector = bad.Put[0].Chunks[0].Vector[:3]
	if _, err := e.Write(ctx, bad); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("write of a short vector: %v, want store.ErrInvalid", err)
	}
	if docs, _ := e.Len(); docs != 1 {
		t.Errorf("a refused write changed the index: %d documents", docs)
	}
	if err := st.Put(ctx, put("w", "behind", "Walruses bask on ice.").Put); err != nil {
		t.Fatal(err)
	}
	if err := e.Save(); !errors.Is(err, search.ErrBehind) {
		t.Errorf("save over a store written outside the engine: %v, want ErrBehind", err)
	}
}

// TestEngineSearchErrors pins the refusals of bad queries.
func TestEngineSearchErrors(t *testing.T) {
	e, _, _ := corpusEngine(t)
	vec := embedQuery(t, "anything")
	cases := []struct {
		name string
		q    search.Query
		want error
	}{
		{"negative k", search.Query{Text: "tea", K: -1}, search.ErrBadParams},
		{"k over the limit", search.Query{Text: "tea", K: search.MaxK + 1}, search.ErrBadParams},
		{"unknown mode", search.Query{Text: "tea", Mode: search.Mode(7)}, search.ErrUnknownMode},
		{"empty query", search.Query{Text: "  "}, search.ErrNoQuery},
		{"semantic without a vector", search.Query{Text: "tea", Mode: search.Semantic}, search.ErrNoQuery},
		{"keyword of stop words", search.Query{Text: "the and of", Mode: search.Keyword}, search.ErrNoQuery},
		{"vector of the wrong size", search.Query{Text: "tea", Vector: vec[:10], Mode: search.Semantic}, search.ErrDims},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := e.Search(context.Background(), tc.q); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := search.Open(context.Background(), e.Store(), search.EngineOptions{}); !errors.Is(err, search.ErrBadParams) {
		t.Errorf("open without a directory: %v, want ErrBadParams", err)
	}
}

// TestEngineConcurrent runs writers and searchers together; run with -race.
func TestEngineConcurrent(t *testing.T) {
	e, _, _ := corpusEngine(t)
	ctx := context.Background()
	q := "tea leaves"
	vec := embedQuery(t, q)
	extra := []store.Document{
		makeDoc(t, "c1", "one", "Lighthouses warn ships of rocks.", nil),
		makeDoc(t, "c2", "two", "Glaciers carve valleys over millennia.", nil),
		makeDoc(t, "c3", "three", "Tea ceremonies value calm and precision.", nil),
	}
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				d := extra[(w+i)%len(extra)]
				d.Chunks = slices.Clone(d.Chunks)
				if _, err := e.Write(ctx, store.Change{Put: []store.Document{d}}); err != nil {
					errc <- err
				}
				if i%3 == 2 {
					if _, err := e.Write(ctx, store.Change{Delete: []string{d.ID}}); err != nil {
						errc <- err
					}
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				for _, mode := range []search.Mode{search.Hybrid, search.Semantic, search.Keyword} {
					if _, err := e.Search(ctx, search.Query{Text: q, Vector: vec, Mode: mode}); err != nil {
						errc <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("close after concurrent writes: %v", err)
	}
}

// TestEngineSpanIsTheChunk pins a result's span: the document's text
// [Start:End] is exactly its best chunk, and each match in it is a query
// term, with multi-byte text before and inside the chunk.
func TestEngineSpanIsTheChunk(t *testing.T) {
	e, _, _ := corpusEngine(t)
	text := "Über die Brücke 🌉 gingen wir im Frühling.\n\n" +
		"Der Imker öffnet 🐝 die Bienenstöcke; the beekeeper checks the hives for mites.\n\n" +
		"Danach aßen wir Kuchen."
	doc := makeDoc(t, "imker", "Imker", text, nil)
	if _, err := e.Write(context.Background(), store.Change{Put: []store.Document{doc}}); err != nil {
		t.Fatal(err)
	}
	rs := find(t, e, search.Query{Text: "beekeeper hives", Mode: search.Keyword, K: 1})
	if len(rs) != 1 || rs[0].ID != "imker" {
		t.Fatalf("got %v, want imker", ids(rs))
	}
	sp := rs[0].Span
	chunk := doc.Chunks[rs[0].Chunk]
	if sp.Start != chunk.Start || sp.End != chunk.End || !strings.HasPrefix(text[sp.Start:sp.End], "Der Imker öffnet 🐝") {
		t.Fatalf("span [%d,%d) = %q, want the chunk [%d,%d)", sp.Start, sp.End, text[sp.Start:sp.End], chunk.Start, chunk.End)
	}
	var got []string
	for _, m := range sp.Matches {
		got = append(got, text[m[0]:m[1]])
	}
	if !slices.Equal(got, []string{"beekeeper", "hives"}) {
		t.Errorf("span matches %q, want beekeeper and hives", got)
	}
}
