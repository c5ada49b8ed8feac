package web_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// library is a store and engine in dir, closed (graph saved) when the test ends
// unless closed earlier.
type library struct {
	st     *store.Store
	engine *search.Engine
	once   sync.Once
}

func (l *library) close(t *testing.T) {
	l.once.Do(func() {
		if err := l.engine.Close(); err != nil {
			t.Errorf("close engine: %v", err)
		}
		if err := l.st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
}

func openLibrary(t *testing.T, dir string) *library {
	t.Helper()
	return openLibraryWith(t, dir, nil)
}

// openLibraryWith is openLibrary whose engine indexes its chunks in b
// (nil: its own indexes).
func openLibraryWith(t *testing.T, dir string, b search.ChunkBackend) *library {
	t.Helper()
	info := pool(t).Info()
	st, err := store.Open(indexer.StorePath(dir), store.Options{Model: info.Name, Dims: info.Dims})
	if err != nil {
		t.Fatal(err)
	}
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	l := &library{st: st, engine: e}
	t.Cleanup(func() { l.close(t) })
	return l
}

// startLibrary serves the document routes over a library in dir.
func startLibrary(t *testing.T, dir string) (*library, string) {
	t.Helper()
	return startLibraryWith(t, dir, web.Config{})
}

// startLibraryWith is startLibrary with a configuration.
func startLibraryWith(t *testing.T, dir string, cfg web.Config) (*library, string) {
	t.Helper()
	l := openLibrary(t, dir)
	s, base := start(t, cfg, pool(t))
	s.SetEngine(l.engine)
	return l, base
}

// upload posts files, {name, content} in order, as one multipart body.
func upload(t *testing.T, base string, files ...[2]string) reply {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
	}
	mw.Close()
	return call(t, "POST", base+"/documents", body.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()})
}

type added struct {
	IDs    []string `json:"ids"`
	Chunks int      `json:"chunks"`
}

func addDocs(t *testing.T, base string, body any) added {
	t.Helper()
	r := call(t, "POST", base+"/documents", body, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("POST /documents: status %d: %s", r.status, r.body)
	}
	var a added
	r.decode(t, &a)
	return a
}

type searchAnswer struct {
	Query   string  `json:"query"`
	Mode    string  `json:"mode"`
	TookMS  float64 `json:"took_ms"`
	Results []struct {
		ID       string            `json:"id"`
		Title    string            `json:"title"`
		Source   string            `json:"source"`
		Score    float64           `json:"score"`
		Snippet  string            `json:"snippet"`
		Metadata map[string]string `json:"metadata"`
	} `json:"results"`
}

func (a searchAnswer) ids() []string {
	var out []string
	for _, r := range a.Results {
		out = append(out, r.ID)
	}
	return out
}

func searchGet(t *testing.T, base string, params url.Values) searchAnswer {
	t.Helper()
	r := call(t, "GET", base+"/search?"+params.Encode(), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /search?%s: status %d: %s", params.Encode(), r.status, r.body)
	}
	var a searchAnswer
	r.decode(t, &a)
	return a
}

var sampleDocs = []map[string]any{
	{"id": "bees", "title": "Keeping honeybees", "text": "A beekeeper inspects the hive every week in spring, looking for the queen, eggs and capped brood.", "metadata": map[string]string{"topic": "nature"}},
	{"id": "tires", "title": "Changing a flat tire", "text": "Loosen the lug nuts before lifting the car with the jack, then swap in the spare wheel.", "metadata": map[string]string{"topic": "cars"}, "source": "manual.pdf"},
	{"id": "sleep", "title": "Better sleep", "text": "Go to bed at the same hour every day and avoid caffeine in the afternoon; screens delay melatonin.", "metadata": map[string]string{"topic": "health"}},
}

// TestDocumentRoutes walks every document and search route through its
// successful use, in every body shape.
func TestDocumentRoutes(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	testDocumentRoutes(t, base, func() {})
}

// testDocumentRoutes is the body of TestDocumentRoutes, run on a server at
// base whose engine may keep its chunks in a backend: settle waits until
// the backend holds every write made so far.
func testDocumentRoutes(t *testing.T, base string, settle func()) {

	// One document, an array, and {"documents": [...]}, on both routes.
	if a := addDocs(t, base, sampleDocs[0]); !slices.Equal(a.IDs, []string{"bees"}) || a.Chunks != 1 {
		t.Errorf("one document: %+v", a)
	}
	if a := addDocs(t, base, sampleDocs[1:]); !slices.Equal(a.IDs, []string{"tires", "sleep"}) || a.Chunks != 2 {
		t.Errorf("array: %+v", a)
	}
	r := call(t, "POST", base+"/index", map[string]any{"documents": []map[string]any{{"text": "Krill feed humpback whales in polar seas."}}}, nil)
	var a added
	r.decode(t, &a)
	if r.status != http.StatusCreated || len(a.IDs) != 1 || a.IDs[0] == "" {
		t.Fatalf("POST /index: %d %s", r.status, r.body)
	}
	whale := a.IDs[0]
	settle()

	// List and get.
	var list struct {
		Documents []struct {
			ID       string            `json:"id"`
			Title    string            `json:"title"`
			Source   string            `json:"source"`
			Metadata map[string]string `json:"metadata"`
			Chunks   int               `json:"chunks"`
			Created  string            `json:"created"`
			Updated  string            `json:"updated"`
		} `json:"documents"`
		Total int `json:"total"`
	}
	// Listed in id order: bees, the whale (its id from its content, "r…"), sleep, tires.
	call(t, "GET", base+"/documents?offset=2&limit=2", nil, nil).decode(t, &list)
	if list.Total != 4 || len(list.Documents) != 2 || list.Documents[0].ID != "sleep" || list.Documents[0].Chunks != 1 || list.Documents[0].Created == "" {
		t.Errorf("list page: %+v", list)
	}
	var doc map[string]any
	r = call(t, "GET", base+"/documents/tires", nil, nil)
	r.decode(t, &doc)
	if r.status != http.StatusOK || doc["text"] != sampleDocs[1]["text"] || doc["source"] != "manual.pdf" || doc["chunks"] != 1.0 {
		t.Errorf("get tires: %d %s", r.status, r.body)
	}

	// Search: GET and POST, every mode, filters.
	got := searchGet(t, base, url.Values{"q": {"insects that make honey"}, "k": {"1"}})
	if got.Mode != "hybrid" || got.Query != "insects that make honey" || !slices.Equal(got.ids(), []string{"bees"}) || got.Results[0].Title != "Keeping honeybees" {
		t.Errorf("hybrid search: %+v", got)
	}
	got = searchGet(t, base, url.Values{"q": {"lug nuts"}, "mode": {"keyword"}})
	if !slices.Equal(got.ids(), []string{"tires"}) || !strings.Contains(got.Results[0].Snippet, "<mark>lug</mark> <mark>nuts</mark>") || got.Results[0].Metadata["topic"] != "cars" {
		t.Errorf("keyword search: %+v", got)
	}
	got = searchGet(t, base, url.Values{"q": {"animals"}, "mode": {"semantic"}, "filter": {"topic=health", "source="}})
	if len(got.Results) != 1 || got.Results[0].ID != "sleep" {
		t.Errorf("filtered search: %+v", got)
	}
	var post searchAnswer
	r = call(t, "POST", base+"/search", map[string]any{"q": "trouble falling asleep", "k": 2, "mode": "semantic", "filter": map[string]string{"topic": "health"}}, nil)
	r.decode(t, &post)
	if r.status != http.StatusOK || !slices.Equal(post.ids(), []string{"sleep"}) || post.Mode != "semantic" {
		t.Errorf("POST /search: %d %s", r.status, r.body)
	}
	r = call(t, "POST", base+"/search", map[string]any{"q": "car wheel", "filter": []string{"source=manual.pdf"}}, nil)
	r.decode(t, &post)
	if !slices.Equal(post.ids(), []string{"tires"}) {
		t.Errorf("POST /search with a filter array: %s", r.body)
	}
	// Qdrant's filter language over the documents' payloads.
	r = call(t, "POST", base+"/search", map[string]any{"q": "trouble falling asleep", "mode": "semantic",
		"filter": map[string]any{"should": []any{map[string]any{"key": "metadata.topic", "match": map[string]any{"value": "cars"}}},
			"must_not": []any{map[string]any{"is_empty": map[string]any{"key": "metadata.topic"}}}}}, nil)
	r.decode(t, &post)
	if r.status != http.StatusOK || !slices.Equal(post.ids(), []string{"tires"}) {
		t.Errorf("POST /search with a Qdrant filter: %d %s", r.status, r.body)
	}
	got = searchGet(t, base, url.Values{"q": {"animals"}, "mode": {"semantic"}, "where": {`{"must":{"key":"metadata.topic","match":{"any":["health"]}}}`}})
	if !slices.Equal(got.ids(), []string{"sleep"}) {
		t.Errorf("GET /search?where=: %+v", got)
	}

	// Health counts; delete; replace.
	var h map[string]any
	call(t, "GET", base+"/health", nil, nil).decode(t, &h)
	if h["documents"] != 4.0 || h["chunks"] != 4.0 || h["index"] != "ready" {
		t.Errorf("health: %v", h)
	}
	if r := call(t, "DELETE", base+"/documents/"+whale, nil, nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	settle()
	if got := searchGet(t, base, url.Values{"q": {"krill"}, "mode": {"keyword"}}); len(got.Results) != 0 {
		t.Errorf("deleted document still found: %+v", got)
	}
	addDocs(t, base, map[string]any{"id": "bees", "title": "Wasps", "text": "Wasps build paper nests from chewed wood."})
	settle()
	if got := searchGet(t, base, url.Values{"q": {"beekeeper"}, "mode": {"keyword"}}); len(got.Results) != 0 {
		t.Errorf("replaced text still found: %+v", got)
	}
	call(t, "GET", base+"/health", nil, nil).decode(t, &h)
	if h["documents"] != 3.0 || h["chunks"] != 3.0 {
		t.Errorf("health after delete and replace: %v", h)
	}
}

// TestDocumentUploads pins multipart uploads: files parsed by name, rows of
// a JSONL file as documents, and an edited file uploaded again under the
// same name stored beside the first (its id is that of its bytes).
func TestDocumentUploads(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	files := map[string]string{
		"notes/garden.md": "# Compost\n\nPile green scraps and brown leaves, keep the heap damp and turn it.",
		"rows.jsonl":      `{"_id":"r1","title":"Chess","text":"Control the centre and castle early.","level":"beginner"}` + "\n",
	}
	up := func(files map[string]string) reply {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("note", "ignored")
		for _, name := range []string{"notes/garden.md", "rows.jsonl", "bad.exe", "empty.txt"} {
			text, ok := files[name]
			if !ok {
				continue
			}
			w, err := mw.CreateFormFile("file", name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(text))
		}
		mw.Close()
		return call(t, "POST", base+"/documents", body.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()})
	}
	r := up(files)
	var a added
	r.decode(t, &a)
	if r.status != http.StatusCreated || len(a.IDs) != 2 || a.IDs[1] != "r1" {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var doc map[string]any
	call(t, "GET", base+"/documents/"+a.IDs[0], nil, nil).decode(t, &doc)
	if doc["title"] != "Compost" || doc["source"] != "garden.md" { // the multipart reader keeps the base name only
		t.Errorf("uploaded markdown: %v", doc)
	}
	got := searchGet(t, base, url.Values{"q": {"castle"}, "mode": {"keyword"}, "filter": {"level=beginner"}})
	if !slices.Equal(got.ids(), []string{"r1"}) {
		t.Errorf("JSONL row search: %+v", got)
	}
	r2 := up(files)
	var a2 added
	r2.decode(t, &a2)
	if !slices.Equal(a2.IDs, a.IDs) {
		t.Errorf("the same files uploaded again got ids %q, first %q; want the same", a2.IDs, a.IDs)
	}
	files["notes/garden.md"] = "# Compost v2\n\nWorms speed up composting."
	r2 = up(files)
	r2.decode(t, &a2)
	if a2.IDs[0] == a.IDs[0] || a2.IDs[1] != "r1" {
		t.Errorf("an edited garden.md got id %q, the first %q; want another", a2.IDs[0], a.IDs[0])
	}

	for name, want := range map[string]string{"bad.exe": "unsupported", "empty.txt": "empty.txt"} {
		files := map[string]string{name: "\x00\x01binary"}
		if name == "empty.txt" {
			files[name] = "   "
		}
		up(files).wantError(t, http.StatusBadRequest, want)
	}
	var list struct{ Total int }
	call(t, "GET", base+"/documents", nil, nil).decode(t, &list)
	if list.Total != 3 {
		t.Errorf("after refused uploads %d documents, want 3", list.Total)
	}
}

// TestUploadIdentity pins the id rule for uploads: a file's id is that of
// its bytes, so files that share a name are distinct documents, the same
// bytes are one document however they arrive, and rows without ids are
// told apart by their content, not their file's name.
func TestUploadIdentity(t *testing.T) {
	l, base := startLibrary(t, t.TempDir())
	ids := func(r reply) []string {
		t.Helper()
		var a added
		if r.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		r.decode(t, &a)
		return a.IDs
	}
	total := func() int {
		t.Helper()
		n, _, err := l.st.Count()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	readme := func(tool string) [2]string {
		return [2]string{"README.md", "# " + tool + "\n\nRun " + tool + " with --help to list its options."}
	}

	// Two different README.md files in one request, then two more in two.
	one := ids(upload(t, base, readme("rake"), readme("hoe")))
	two := append(ids(upload(t, base, readme("spade"))), ids(upload(t, base, readme("fork")))...)
	all := append(one, two...)
	slices.Sort(all)
	if len(slices.Compact(all)) != 4 || total() != 4 {
		t.Fatalf("four different README.md files got ids %q, %q; store holds %d", one, two, total())
	}

	// The same bytes again, under another name: the same document.
	again := ids(upload(t, base, [2]string{"copy-of-readme.md", readme("rake")[1]}))
	if again[0] != one[0] || total() != 4 {
		t.Errorf("the same bytes got %q, first %q; store holds %d", again[0], one[0], total())
	}
	// ... and the id an import of those bytes from disk would give.
	p := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(p, []byte(readme("rake")[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, _, err := indexer.ParseFile(context.Background(), p, indexer.Limits{})
	if err != nil || docs[0].ID != one[0] {
		t.Errorf("import of the same bytes: id %q, %v; upload %q", docs[0].ID, err, one[0])
	}

	// Rows without ids from two different files of the same name.
	rows1 := ids(upload(t, base, [2]string{"data.jsonl", `{"text":"Oats grow in cool weather."}` + "\n" + `{"text":"Rye tolerates poor soil."}` + "\n"}))
	rows2 := ids(upload(t, base, [2]string{"data.jsonl", `{"text":"Barley ripens early."}` + "\n" + `{"text":"Millet likes heat."}` + "\n"}))
	if len(rows1) != 2 || len(rows2) != 2 || total() != 8 {
		t.Errorf("rows of two data.jsonl files: %q and %q; store holds %d, want 8", rows1, rows2, total())
	}
}

// TestUploadLimits pins the refusals of uploads over the server's limits:
// 413 for a request with too many files or documents and for a file over a
// parse limit (the request is too big for this server; the remedy is to
// split it or raise the limit), 400 for a malformed file.
func TestUploadLimits(t *testing.T) {
	l, base := startLibraryWith(t, t.TempDir(), web.Config{MaxFiles: 2, MaxDocuments: 3,
		ParseLimits: indexer.Limits{MaxFileBytes: 1000, MaxDepth: 8}})
	rows := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "{\"text\": \"row %d about hedges\"}\n", i)
		}
		return b.String()
	}
	upload(t, base, [2]string{"a.txt", "a"}, [2]string{"b.txt", "b"}, [2]string{"c.txt", "c"}).
		wantError(t, http.StatusRequestEntityTooLarge, "more than 2 files")
	upload(t, base, [2]string{"rows.jsonl", rows(4)}).wantError(t, http.StatusRequestEntityTooLarge, "over the limit of 3")
	upload(t, base, [2]string{"a.jsonl", rows(2)}, [2]string{"b.jsonl", rows(2)}).
		wantError(t, http.StatusRequestEntityTooLarge, "over the limit of 3")
	call(t, "POST", base+"/documents", []map[string]string{{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}}, nil).
		wantError(t, http.StatusRequestEntityTooLarge, "4 documents")
	upload(t, base, [2]string{"big.txt", strings.Repeat("word ", 300)}).
		wantError(t, http.StatusRequestEntityTooLarge, "MaxFileBytes")
	// A quote inside a CSV field is a bad row, not a server error.
	upload(t, base, [2]string{"rows.csv", "text,lang\nhe said \"hi\" there,en\n"}).
		wantError(t, http.StatusBadRequest, "rows.csv")
	if n, _, _ := l.st.Count(); n != 0 {
		t.Errorf("refused uploads stored %d documents", n)
	}
	// Deep Markdown within the limits is stored, its text kept.
	r := upload(t, base, [2]string{"deep.md", strings.Repeat(">", 500) + " hedges need trimming"})
	if r.status != http.StatusCreated {
		t.Errorf("deep Markdown: %d %s", r.status, r.body)
	}
}

// TestDocumentAndSearchErrors pins every refusal: status, JSON error, and
// nothing stored lost.
func TestDocumentAndSearchErrors(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, sampleDocs)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"invalid JSON", "POST", "/documents", `{"text":`, 400, "invalid JSON"},
		{"no text", "POST", "/documents", map[string]any{"id": "x", "title": "t"}, 400, `no "text"`},
		{"blank text in an array", "POST", "/documents", []map[string]any{{"text": "ok"}, {"text": "  "}}, 400, "document 1"},
		{"empty array", "POST", "/documents", `[]`, 400, "no documents"},
		{"wrong type", "POST", "/index", `{"text": 5}`, 400, "text"},
		{"documents not an array", "POST", "/documents", `{"documents": {}}`, 400, "documents"},
		{"a number", "POST", "/documents", `42`, 400, "send a document"},
		{"empty metadata key", "POST", "/documents", map[string]any{"text": "hello", "metadata": map[string]string{"": "v"}}, 400, "metadata key"},
		{"bad offset", "GET", "/documents?offset=-1", nil, 400, "offset"},
		{"bad limit", "GET", "/documents?limit=0", nil, 400, "limit"},
		{"limit too big", "GET", "/documents?limit=5000", nil, 400, "limit"},
		{"get missing", "GET", "/documents/nope", nil, 404, "nope"},
		{"delete missing", "DELETE", "/documents/nope", nil, 404, "nope"},
		{"empty q", "GET", "/search?q=", nil, 400, "empty"},
		{"no q", "GET", "/search", nil, 400, "empty"},
		{"k zero", "GET", "/search?q=tea&k=0", nil, 400, "k=0"},
		{"k too big", "GET", "/search?q=tea&k=101", nil, 400, "k=101"},
		{"k not a number", "GET", "/search?q=tea&k=ten", nil, 400, "k="},
		{"unknown mode", "GET", "/search?q=tea&mode=fuzzy", nil, 400, "fuzzy"},
		{"filter without =", "GET", "/search?q=tea&filter=topic", nil, 400, "key=value"},
		{"filter empty key", "GET", "/search?q=tea&filter==x", nil, 400, "key=value"},
		{"filter key twice", "GET", "/search?q=tea&filter=a=1&filter=a=2", nil, 400, "twice"},
		{"keyword stop words", "GET", "/search?q=the&mode=keyword", nil, 400, "searchable words"},
		{"post no q", "POST", "/search", map[string]any{"k": 3}, 400, `"q"`},
		{"post k negative", "POST", "/search", map[string]any{"q": "tea", "k": -2}, 400, "k=-2"},
		{"post bad filter", "POST", "/search", map[string]any{"q": "tea", "filter": 7}, 400, "filter"},
		{"post bad Qdrant filter", "POST", "/search", map[string]any{"q": "tea", "filter": map[string]any{"must": []any{map[string]any{"key": "x", "range": map[string]any{}}}}}, 400, "must[0].range: no bound"},
		{"get bad where", "GET", "/search?q=tea&where=%7B%22must%22%3A5%7D", nil, 400, "filter"},
		{"post invalid JSON", "POST", "/search", `{"q": "tea"`, 400, "invalid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			call(t, tc.method, base+tc.path, tc.body, nil).wantError(t, tc.status, tc.want)
		})
	}
	var list struct{ Total int }
	call(t, "GET", base+"/documents", nil, nil).decode(t, &list)
	if list.Total != len(sampleDocs) {
		t.Errorf("after the refusals %d documents, want %d", list.Total, len(sampleDocs))
	}
	if got := searchGet(t, base, url.Values{"q": {"lug nuts"}}); len(got.Results) == 0 || got.Results[0].ID != "tires" {
		t.Errorf("search after the refusals: %+v", got)
	}
}

// TestDocumentRoutesWaitForEngine pins 503 with Retry-After before
// SetEngine.
func TestDocumentRoutesWaitForEngine(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	for _, path := range []string{"/documents", "/search?q=tea", "/documents/x"} {
		r := call(t, "GET", base+path, nil, nil)
		r.wantError(t, http.StatusServiceUnavailable, "loading")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("GET %s: no Retry-After", path)
		}
	}
}

// TestServerRestartKeepsDocuments pins that a new server over the same
// directory finds everything, with the graph loaded rather than rebuilt.
func TestServerRestartKeepsDocuments(t *testing.T) {
	dir := t.TempDir()
	l, base := startLibrary(t, dir)
	addDocs(t, base, sampleDocs)
	before := searchGet(t, base, url.Values{"q": {"changing a wheel"}})
	l.close(t)

	l2, base2 := startLibrary(t, dir)
	if !l2.engine.Loaded() {
		t.Error("the restarted engine rebuilt its graph instead of loading it")
	}
	after := searchGet(t, base2, url.Values{"q": {"changing a wheel"}})
	if !slices.Equal(before.ids(), after.ids()) || len(after.Results) != len(sampleDocs) {
		t.Errorf("results before restart %v, after %v", before.ids(), after.ids())
	}
	var doc map[string]any
	call(t, "GET", base2+"/documents/sleep", nil, nil).decode(t, &doc)
	if doc["text"] != sampleDocs[2]["text"] {
		t.Errorf("document after restart: %v", doc)
	}
}

// TestDocumentRoutesConcurrent mixes writers, deleters and searchers; run
// under -race.
func TestDocumentRoutesConcurrent(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, sampleDocs)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 4 {
				id := fmt.Sprintf("w%d-%d", w, i%2)
				r := call(t, "POST", base+"/documents", map[string]any{"id": id, "text": fmt.Sprintf("Note %d from writer %d about gardens.", i, w)}, nil)
				if r.status != http.StatusCreated {
					t.Errorf("POST: %d %s", r.status, r.body)
				}
				if i == 3 {
					if r := call(t, "DELETE", base+"/documents/"+id, nil, nil); r.status != http.StatusNoContent {
						t.Errorf("DELETE: %d %s", r.status, r.body)
					}
				}
			}
		}()
	}
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				for _, path := range []string{"/search?q=gardens", "/search?q=gardens&mode=keyword", "/documents?limit=5", "/health"} {
					if r := call(t, "GET", base+path, nil, nil); r.status != http.StatusOK {
						t.Errorf("GET %s: %d %s", path, r.status, r.body)
					}
				}
			}
		}()
	}
	wg.Wait()
	var list struct{ Total int }
	call(t, "GET", base+"/documents", nil, nil).decode(t, &list)
	if want := len(sampleDocs) + 3; list.Total != want {
		t.Errorf("after the concurrent writes %d documents, want %d", list.Total, want)
	}
	got := searchGet(t, base, url.Values{"q": {"gardens"}, "mode": {"keyword"}, "k": {"100"}})
	if len(got.Results) != 3 {
		t.Errorf("keyword search finds %v, want the 3 surviving notes", got.ids())
	}
}

// TestSearchPages: offset skips the best documents, pages do not overlap
// and together are the same as one larger page; a full page says where the
// next starts, the last does not; an offset out of range is a 400.
func TestSearchPages(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	var docs []map[string]any
	topics := []string{"bees and honey", "the hive in winter", "varroa mites", "queen bees", "pollen and nectar",
		"swarming in spring", "beekeeping suits", "smoking the hive", "wax combs", "drone bees", "bee stings", "honey harvest"}
	for i, topic := range topics {
		docs = append(docs, map[string]any{"id": fmt.Sprintf("d%02d", i), "text": "A note about " + topic + "."})
	}
	addDocs(t, base, docs)
	type page struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
		Offset     int  `json:"offset"`
		NextOffset *int `json:"next_offset"`
	}
	get := func(url string) page {
		t.Helper()
		r := call(t, "GET", url, nil, nil)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", url, r.status, r.body)
		}
		var p page
		r.decode(t, &p)
		return p
	}
	ids := func(p page) []string {
		var out []string
		for _, r := range p.Results {
			out = append(out, r.ID)
		}
		return out
	}
	all := get(base + "/search?q=bees&k=12&mode=semantic")
	first := get(base + "/search?q=bees&k=5&mode=semantic")
	if first.Offset != 0 || first.NextOffset == nil || *first.NextOffset != 5 {
		t.Fatalf("first page: offset %d, next %v", first.Offset, first.NextOffset)
	}
	second := get(base + "/search?q=bees&k=5&offset=5&mode=semantic")
	third := get(base + fmt.Sprintf("/search?q=bees&k=5&offset=%d&mode=semantic", *second.NextOffset))
	if third.NextOffset != nil || len(third.Results) != 2 {
		t.Errorf("last page: %d results, next %v; want 2 and none", len(third.Results), third.NextOffset)
	}
	paged := append(append(ids(first), ids(second)...), ids(third)...)
	if !slices.Equal(paged, ids(all)) {
		t.Errorf("pages %v, one page %v", paged, ids(all))
	}
	r := call(t, "POST", base+"/search", map[string]any{"q": "bees", "k": 5, "offset": 5, "mode": "semantic"}, nil)
	var post page
	r.decode(t, &post)
	if !slices.Equal(ids(post), ids(second)) || post.Offset != 5 {
		t.Errorf("POST offset 5: %s", r.body)
	}
	for _, bad := range []string{"offset=-1", "offset=1001", "offset=x"} {
		if r := call(t, "GET", base+"/search?q=bees&"+bad, nil, nil); r.status != 400 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
}

// TestSearchSaysHowCloseAMatchIs: results carry the best chunk's cosine
// similarity and what it means, so that a query about the documents' topic
// reads as a strong match and a query about nothing in them reads as ten
// weak ones, in every mode that has a query vector.
func TestSearchSaysHowCloseAMatchIs(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, []map[string]any{
		{"id": "mites", "text": "Varroa mites are parasites that weaken honey bee colonies; treat the hive with oxalic acid in winter."},
		{"id": "bread", "text": "Feed the sourdough starter with flour and water every day before baking bread."},
		{"id": "tyre", "text": "Loosen the lug nuts before lifting the car, then swap in the spare wheel."},
	})
	type answer struct {
		Results []struct {
			ID         string   `json:"id"`
			Similarity *float32 `json:"similarity"`
			Match      string   `json:"match"`
		} `json:"results"`
	}
	get := func(q, mode string) answer {
		t.Helper()
		r := call(t, "GET", base+"/search?q="+url.QueryEscape(q)+"&mode="+mode, nil, nil)
		var a answer
		r.decode(t, &a)
		if len(a.Results) == 0 {
			t.Fatalf("%q %s: no results: %s", q, mode, r.body)
		}
		return a
	}
	for _, mode := range []string{"hybrid", "semantic"} {
		a := get("parasites in my beehive", mode)
		if r := a.Results[0]; r.ID != "mites" || r.Similarity == nil || r.Match != "strong" {
			t.Errorf("%s: best result %+v, want mites as a strong match", mode, r)
		}
		a = get("cheap flights to paris next weekend", mode)
		for _, r := range a.Results {
			if r.Match != "weak" || r.Similarity == nil || *r.Similarity >= 0.3 {
				t.Errorf("%s: an off-topic query got %s (%v) for %s, want weak", mode, r.Match, deref32(r.Similarity), r.ID)
			}
		}
	}
	for _, r := range get("sourdough", "keyword").Results {
		if r.Similarity != nil || r.Match != "" {
			t.Errorf("keyword search has no query vector, yet %s says %v %q", r.ID, deref32(r.Similarity), r.Match)
		}
	}
}

func deref32(f *float32) any {
	if f == nil {
		return nil
	}
	return *f
}
