package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// notes are the texts of collection "notes", one point each (ids 1…),
// stored under LangChain's payload key page_content.
var notes = []string{
	"Count varroa mites in late summer and treat the hive with oxalic acid in winter.",
	"Loosen the lug nuts before lifting the car, then swap in the spare wheel.",
	"Feed the sourdough starter with flour and water every day before baking bread.",
	"Go to bed at the same hour and avoid caffeine in the afternoon to sleep better.",
}

// makeTextCollection creates collection name (the model's size, cosine)
// with one point per text, embedded by the real model: point i+1 has
// payload {field: texts[i], "source": "note-i", "n": i}.
func makeTextCollection(t *testing.T, cols *search.Collections, name, field string, texts []string) {
	t.Helper()
	ctx := context.Background()
	dims := pool(t).Info().Dims
	if _, err := cols.Create(ctx, name, map[string]store.VectorParams{"": {Size: dims, Distance: store.Cosine}}); err != nil {
		t.Fatal(err)
	}
	embs := direct(t, pool(t), texts...)
	pts := make([]store.Point, len(texts))
	for i, e := range embs {
		payload, err := json.Marshal(map[string]any{field: texts[i], "source": "note-" + string(rune('a'+i)), "n": i})
		if err != nil {
			t.Fatal(err)
		}
		pts[i] = store.Point{ID: store.NumPointID(uint64(i + 1)), Vectors: map[string][]float32{"": e.Vector}, Payload: payload}
	}
	if err := cols.Upsert(ctx, name, pts); err != nil {
		t.Fatal(err)
	}
}

// makeCollection creates collection name with one unnamed vector of size
// dims and stores a point per payload (ids 1…), vectors (1, i, 0…).
func makeCollection(t *testing.T, cols *search.Collections, name string, dims int, dist store.Distance, payloads ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cols.Create(ctx, name, map[string]store.VectorParams{"": {Size: dims, Distance: dist}}); err != nil {
		t.Fatal(err)
	}
	var pts []store.Point
	for i, p := range payloads {
		v := make([]float32, dims)
		v[0], v[1] = 1, float32(i+1)
		var payload []byte
		if p != "" {
			payload = []byte(p)
		}
		pts = append(pts, store.Point{ID: store.NumPointID(uint64(i + 1)), Vectors: map[string][]float32{"": v}, Payload: payload})
	}
	if err := cols.Upsert(ctx, name, pts); err != nil {
		t.Fatal(err)
	}
}

// startCollections serves the main port with the real model over a new,
// empty collections engine.
func startCollections(t *testing.T, cfg web.Config) (*search.Collections, string) {
	t.Helper()
	cols := openCollections(t, t.TempDir())
	s, base := start(t, cfg, pool(t))
	s.SetCollections(cols)
	return cols, base
}

type collectionsAnswer struct {
	Collections []struct {
		Name       string  `json:"name"`
		Points     int     `json:"points"`
		VectorSize int     `json:"vector_size"`
		Distance   string  `json:"distance"`
		TextField  *string `json:"text_field"`
		Searchable bool    `json:"searchable"`
		Reason     string  `json:"reason"`
	} `json:"collections"`
}

type hitsAnswer struct {
	Collection string   `json:"collection"`
	Query      string   `json:"query"`
	TextField  *string  `json:"text_field"`
	TookMS     *float64 `json:"took_ms"`
	Results    []struct {
		ID      any             `json:"id"`
		Score   float32         `json:"score"`
		Text    *string         `json:"text"`
		Payload json.RawMessage `json:"payload"`
	} `json:"results"`
}

func TestCollectionsListNamesEachTextFieldAndWhatCannotBeSearched(t *testing.T) {
	cols, base := startCollections(t, web.Config{})
	dims := pool(t).Info().Dims
	makeTextCollection(t, cols, "langchain", "page_content", notes[:2])
	// "text" wins over a longer string field: the known names come first.
	makeCollection(t, cols, "both", dims, store.Dot,
		`{"text":"short","summary":"a much longer string than the text field"}`)
	makeCollection(t, cols, "guessed", dims, store.Cosine,
		`{"title":"Bees","summary":"Count mites in late summer"}`, `{"title":"Tires","n":3}`)
	makeCollection(t, cols, "numbers", dims, store.Euclid, `{"n":1,"tags":["a","b"]}`, "")
	makeCollection(t, cols, "small", 4, store.Cosine, `{"text":"four dimensions"}`)
	makeCollection(t, cols, "empty", dims, store.Cosine)

	var got collectionsAnswer
	r := call(t, "GET", base+"/collections", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /collections: %d %s", r.status, r.body)
	}
	r.decode(t, &got)
	str := func(s string) *string { return &s }
	want := []struct {
		name       string
		points     int
		size       int
		distance   string
		field      *string
		searchable bool
		reason     string
	}{
		{"both", 1, dims, "Dot", str("text"), true, ""},
		{"empty", 0, dims, "Cosine", nil, false, "no points"},
		{"guessed", 2, dims, "Cosine", str("summary"), true, ""},
		{"langchain", 2, dims, "Cosine", str("page_content"), true, ""},
		{"numbers", 2, dims, "Euclid", nil, false, "no text field"},
		{"small", 1, 4, "Cosine", str("text"), false, "4 dimensions"},
	}
	if len(got.Collections) != len(want) {
		t.Fatalf("%d collections, want %d: %s", len(got.Collections), len(want), r.body)
	}
	for i, w := range want {
		g := got.Collections[i]
		if g.Name != w.name || g.Points != w.points || g.VectorSize != w.size || g.Distance != w.distance || g.Searchable != w.searchable {
			t.Errorf("collection %d = %+v, want %+v", i, g, w)
		}
		if (g.TextField == nil) != (w.field == nil) || (g.TextField != nil && *g.TextField != *w.field) {
			t.Errorf("%s: text_field %v, want %v", w.name, deref(g.TextField), deref(w.field))
		}
		if !strings.Contains(g.Reason, w.reason) || (w.reason == "" && g.Reason != "") {
			t.Errorf("%s: reason %q, want one mentioning %q", w.name, g.Reason, w.reason)
		}
	}
	if !strings.Contains(string(r.body), `"text_field":null`) {
		t.Errorf("a collection without a text field must say text_field null: %s", r.body)
	}
}

func TestCollectionsListMarksTheDocumentsForThePickerToLeaveOut(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	s, base := start(t, web.Config{}, pool(t))
	s.SetEngine(l.engine)
	cols := openCollections(t, t.TempDir())
	s.SetCollections(cols)
	makeTextCollection(t, cols, "notes", "text", notes[:1])

	var got struct {
		Collections []struct {
			Name      string `json:"name"`
			Documents bool   `json:"documents"`
		} `json:"collections"`
	}
	r := call(t, "GET", base+"/collections", nil, nil)
	r.decode(t, &got)
	marked := map[string]bool{}
	for _, c := range got.Collections {
		marked[c.Name] = c.Documents
	}
	if d, ok := marked[search.DocumentsCollection]; !ok || !d || marked["notes"] || len(marked) != 2 {
		t.Fatalf("want %q marked as the documents and notes not: %s", search.DocumentsCollection, r.body)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestCollectionsSearchFindsTheNearestPointWithItsText(t *testing.T) {
	cols, base := startCollections(t, web.Config{})
	makeTextCollection(t, cols, "notes", "page_content", notes)
	url := base + "/collections/notes/search"

	var got hitsAnswer
	r := call(t, "POST", url, map[string]any{"query": "how do I get rid of mites in my beehive"}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	r.decode(t, &got)
	if len(got.Results) != len(notes) || got.TookMS == nil || got.Collection != "notes" || deref(got.TextField) != "page_content" {
		t.Fatalf("answer %s: want all %d points, took_ms, the collection and its text field", r.body, len(notes))
	}
	first := got.Results[0]
	if first.ID != float64(1) || deref(first.Text) != notes[0] {
		t.Fatalf("first result id %v text %q, want the varroa note (id 1): %s", first.ID, deref(first.Text), r.body)
	}
	var payload map[string]any
	if err := json.Unmarshal(first.Payload, &payload); err != nil || payload["source"] != "note-a" {
		t.Fatalf("first result's payload %s, want the whole payload with source note-a", first.Payload)
	}
	for i := 1; i < len(got.Results); i++ {
		if got.Results[i].Score > got.Results[i-1].Score {
			t.Fatalf("results not best first: %s", r.body)
		}
	}

	r = call(t, "POST", url, map[string]any{"query": "bread", "limit": 2}, nil)
	r.decode(t, &got)
	if len(got.Results) != 2 || deref(got.Results[0].Text) != notes[2] {
		t.Fatalf("limit 2, query bread: %s", r.body)
	}

	// The filter keeps only the tire note, however far it is from the query.
	r = call(t, "POST", url, map[string]any{"query": "mites in my beehive",
		"filter": map[string]any{"must": []any{map[string]any{"key": "source", "match": map[string]any{"value": "note-b"}}}}}, nil)
	r.decode(t, &got)
	if len(got.Results) != 1 || got.Results[0].ID != float64(2) {
		t.Fatalf("filtered to source note-b: %s", r.body)
	}
}

// TestCollectionsSearchModes: hybrid (the default) and keyword search the
// points' text by BM25 as well; keyword finds a word only where it is
// written and embeds nothing; semantic is the vectors alone.
func TestCollectionsSearchModes(t *testing.T) {
	cols, base := startCollections(t, web.Config{})
	makeTextCollection(t, cols, "notes", "page_content", notes)
	url := base + "/collections/notes/search"
	var got struct {
		Mode    string `json:"mode"`
		Results []struct {
			ID any `json:"id"`
		} `json:"results"`
	}
	ids := func() []any {
		var out []any
		for _, r := range got.Results {
			out = append(out, r.ID)
		}
		return out
	}
	r := call(t, "POST", url, map[string]any{"query": "oxalic"}, nil)
	r.decode(t, &got)
	if got.Mode != "hybrid" || len(got.Results) != len(notes) || got.Results[0].ID != float64(1) {
		t.Errorf("default mode: %s", r.body)
	}
	r = call(t, "POST", url, map[string]any{"query": "oxalic spare", "mode": "keyword"}, nil)
	r.decode(t, &got)
	if got.Mode != "keyword" || len(got.Results) != 2 || !slices.Contains(ids(), any(float64(1))) || !slices.Contains(ids(), any(float64(2))) {
		t.Errorf("keyword oxalic spare = %v (%s), want the varroa and the car notes only", ids(), r.body)
	}
	r = call(t, "POST", url, map[string]any{"query": "oxalic", "mode": "semantic"}, nil)
	r.decode(t, &got)
	if got.Mode != "semantic" || len(got.Results) != len(notes) {
		t.Errorf("semantic: %s", r.body)
	}
	r = call(t, "POST", url, map[string]any{"query": "x", "mode": "fuzzy"}, nil)
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "hybrid, semantic or keyword") {
		t.Errorf("mode fuzzy: %d %s", r.status, r.body)
	}
	// Points without text: keyword has nothing to search.
	makeCollection(t, cols, "bare", pool(t).Info().Dims, store.Cosine, `{"n":1}`)
	r = call(t, "POST", base+"/collections/bare/search", map[string]any{"query": "anything", "mode": "keyword"}, nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("keyword over points without text: %d %s", r.status, r.body)
	}
}

func TestCollectionsSearchRefusesWhatItCannotServe(t *testing.T) {
	cols, base := startCollections(t, web.Config{})
	makeTextCollection(t, cols, "notes", "text", notes[:1])
	makeCollection(t, cols, "small", 4, store.Cosine, `{"text":"four dimensions"}`)
	url := func(name string) string { return base + "/collections/" + name + "/search" }

	cases := []struct {
		name   string
		url    string
		body   any
		status int
		want   string
	}{
		{"unknown collection", url("nope"), map[string]any{"query": "x"}, http.StatusNotFound, `no collection named "nope"`},
		{"vectors not the model's size", url("small"), map[string]any{"query": "x"}, http.StatusBadRequest, "4-dimensional vectors"},
		{"bad filter", url("notes"), map[string]any{"query": "x", "filter": map[string]any{"must": "no"}}, http.StatusBadRequest, "filter"},
		{"unknown filter condition", url("notes"), map[string]any{"query": "x", "filter": map[string]any{"must": []any{map[string]any{"key": "a", "near": 1}}}}, http.StatusBadRequest, "filter"},
		{"no query", url("notes"), map[string]any{"limit": 3}, http.StatusBadRequest, `"query"`},
		{"blank query", url("notes"), map[string]any{"query": "  "}, http.StatusBadRequest, `"query"`},
		{"limit 0", url("notes"), map[string]any{"query": "x", "limit": 0}, http.StatusBadRequest, "1 to 100"},
		{"limit over 100", url("notes"), map[string]any{"query": "x", "limit": 101}, http.StatusBadRequest, "1 to 100"},
		{"not JSON", url("notes"), "query=x", http.StatusBadRequest, "invalid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			call(t, "POST", tc.url, tc.body, nil).wantError(t, tc.status, tc.want)
		})
	}
	if r := call(t, "GET", url("notes"), nil, nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("GET on the search route: %d %s", r.status, r.body)
	}
}

func TestCollectionsRoutesAnswer503UntilReady(t *testing.T) {
	// No collections engine yet: both routes are temporarily unavailable.
	_, base := start(t, web.Config{}, pool(t))
	for _, r := range []reply{
		call(t, "GET", base+"/collections", nil, nil),
		call(t, "POST", base+"/collections/notes/search", map[string]any{"query": "x"}, nil),
	} {
		r.wantError(t, http.StatusServiceUnavailable, "still loading")
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("503 without Retry-After")
		}
	}

	// An embedder that cannot take the query (closed here: refusing is
	// certain, where a full queue would be a race) is a 503 too.
	p, err := embedder.New(context.Background(), embedder.Options{ModelPath: modelPath(t), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	s, base := start(t, web.Config{}, p)
	cols := openCollections(t, t.TempDir())
	s.SetCollections(cols)
	makeTextCollection(t, cols, "notes", "text", notes[:1])
	r := call(t, "POST", base+"/collections/notes/search", map[string]any{"query": "mites"}, nil)
	r.wantError(t, http.StatusServiceUnavailable, "shutting down")
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
}

func TestCollectionsRoutesNeedTheAPIKey(t *testing.T) {
	cols, base := startCollections(t, web.Config{APIKey: "k"})
	makeTextCollection(t, cols, "notes", "text", notes[:1])
	call(t, "GET", base+"/collections", nil, nil).wantError(t, http.StatusUnauthorized, "API key")
	call(t, "POST", base+"/collections/notes/search", map[string]any{"query": "x"}, nil).wantError(t, http.StatusUnauthorized, "API key")
	if r := call(t, "GET", base+"/collections", nil, map[string]string{"X-API-Key": "k"}); r.status != http.StatusOK {
		t.Fatalf("with the key: %d %s", r.status, r.body)
	}
}

// uiPoints are the points of the browser test's collection "field-notes":
// a text under LangChain's page_content and a few other payload keys. The
// last one's text is markup, which the page must show as text.
var uiPoints = []map[string]any{
	{"page_content": "Count varroa mites in late summer with a sugar roll, and treat the colony with oxalic acid in winter when there is no brood.", "source": "beekeeping.md", "topic": "bees", "year": 2024},
	{"page_content": "Loosen the lug nuts before lifting the car with the jack, then swap in the spare wheel and tighten the nuts in a star pattern.", "source": "car-care.md", "topic": "car", "year": 2023},
	{"page_content": "Feed the sourdough starter with flour and water every day; it is ready to bake with when it doubles and smells sour.", "source": "baking.md", "topic": "kitchen", "year": 2025},
	{"page_content": "Go to bed at the same hour every day and keep caffeine to the morning: screens late at night delay melatonin.", "source": "sleep.md", "topic": "health", "year": 2022},
	{"page_content": "Prune apple trees in late winter while they are dormant; cut out crossing branches to open the centre to light.", "source": "garden.md", "topic": "garden", "year": 2024, "tags": []string{"fruit", "pruning"}},
	{"page_content": `<img src=x onerror="window.__pwned=1"> Markup in a payload is text, never HTML.`, "source": "<b>odd</b>.md", "topic": "safety", "year": 2025},
}

// TestCollectionsUIInBrowser runs web/uitest/collections.test.mjs: headless
// Chromium picks a collection of points in the web UI, searches it and
// finds the expected point first, sees the collections it cannot search
// disabled with the reason, and keeps the choice across a reload. The
// collections are made here through search.Collections, embedded by the
// real model. With -update-screenshots it writes docs/ui-collections.png.
func TestCollectionsUIInBrowser(t *testing.T) {
	node, chromium := browserTools(t)
	ctx := context.Background()
	s, base := startUIServer(t, web.Config{UI: web.UI()})
	cols := openCollections(t, t.TempDir())
	s.SetCollections(cols)

	dims := pool(t).Info().Dims
	if _, err := cols.Create(ctx, "field-notes", map[string]store.VectorParams{"": {Size: dims, Distance: store.Cosine}}); err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(uiPoints))
	for i, p := range uiPoints {
		texts[i] = p["page_content"].(string)
	}
	pts := make([]store.Point, len(uiPoints))
	for i, e := range direct(t, pool(t), texts...) {
		payload, err := json.Marshal(uiPoints[i])
		if err != nil {
			t.Fatal(err)
		}
		pts[i] = store.Point{ID: store.NumPointID(uint64(101 + i)), Vectors: map[string][]float32{"": e.Vector}, Payload: payload}
	}
	if err := cols.Upsert(ctx, "field-notes", pts); err != nil {
		t.Fatal(err)
	}
	makeCollection(t, cols, "image-vectors", dims, store.Dot, `{"width":640,"height":480}`, `{"width":800,"height":600}`)
	makeCollection(t, cols, "tiny", 4, store.Cosine, `{"text":"four dimensions"}`)

	runBrowserScript(t, node, chromium, 5*time.Minute, "collections.test.mjs", base)
}
