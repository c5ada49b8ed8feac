package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/edgesearch/edgesearch/web"
)

type resultsAnswer struct {
	Offsets string `json:"offsets"`
	Results []struct {
		ID      string `json:"id"`
		Snippet string `json:"snippet"`
		Passage struct {
			Text    string   `json:"text"`
			Matches [][2]int `json:"matches"`
		} `json:"passage"`
		Chunk int `json:"chunk"`
		Span  struct {
			Start   int      `json:"start"`
			End     int      `json:"end"`
			Matches [][2]int `json:"matches"`
		} `json:"span"`
	} `json:"results"`
	Facets *struct {
		Documents int  `json:"documents"`
		Complete  bool `json:"complete"`
		Source    struct {
			Documents int `json:"documents"`
			Values    []struct {
				Value string `json:"value"`
				Label string `json:"label"`
				Count int    `json:"count"`
			} `json:"values"`
			Other int `json:"other"`
		} `json:"source"`
		Metadata []struct {
			Key    string `json:"key"`
			Values []struct {
				Value string `json:"value"`
				Count int    `json:"count"`
			} `json:"values"`
		} `json:"metadata"`
	} `json:"facets"`
}

// TestSearchAnswersPassagesSpansAndFacets pins the shape of a search
// answer: the passage as text with byte offsets of its matches (exact on
// text with emoji and accents), the chunk's span in the document, the
// deprecated HTML snippet still there, and facets over every match rather
// than the page, for GET and POST alike.
func TestSearchAnswersPassagesSpansAndFacets(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	var docs []map[string]any
	for i := range 12 {
		docs = append(docs, map[string]any{
			"id":       fmt.Sprintf("hive%d", i),
			"title":    fmt.Sprintf("Hive %d", i),
			"text":     strings.Repeat(fmt.Sprintf("Über Bienen 🐝 — notes nº %d, on the apiary's day. ", i), 60) + fmt.Sprintf("\n\nThe beekeeper inspected hive %d and found the queen laying well.", i),
			"source":   fmt.Sprintf("/home/ann/apiary/%s/hive%d.md", []string{"spring", "autumn"}[i%2], i),
			"metadata": map[string]string{"season": []string{"spring", "autumn"}[i%2]},
		})
	}
	docs = append(docs, map[string]any{"id": "other", "text": "Changing a tire needs a jack.", "source": "/home/ann/cars/tire.md"})
	addDocs(t, base, docs)

	get := func(r reply) resultsAnswer {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("search: %d %s", r.status, r.body)
		}
		var a resultsAnswer
		r.decode(t, &a)
		return a
	}
	for name, a := range map[string]resultsAnswer{
		"GET":  get(call(t, "GET", base+"/search?"+url.Values{"q": {"beekeeper queen"}, "mode": {"keyword"}, "k": {"3"}}.Encode(), nil, nil)),
		"POST": get(call(t, "POST", base+"/search", map[string]any{"q": "beekeeper queen", "mode": "keyword", "k": 3}, nil)),
	} {
		if len(a.Results) != 3 || a.Offsets != "utf-8" {
			t.Fatalf("%s: %d results, offsets %q; want 3 and utf-8", name, len(a.Results), a.Offsets)
		}
		r := a.Results[0]
		var words []string
		for _, m := range r.Passage.Matches {
			words = append(words, r.Passage.Text[m[0]:m[1]])
		}
		if !slices.Equal(words, []string{"beekeeper", "queen"}) || !strings.Contains(r.Snippet, "<mark>beekeeper</mark>") {
			t.Errorf("%s: passage %q marks %q, snippet %q", name, r.Passage.Text, words, r.Snippet)
		}
		var doc struct{ Text string }
		call(t, "GET", base+"/documents/"+r.ID, nil, nil).decode(t, &doc)
		if chunk := doc.Text[r.Span.Start:r.Span.End]; r.Span.Start == 0 || !utf8.ValidString(chunk) || !strings.Contains(chunk, "The beekeeper inspected") {
			t.Errorf("%s: span [%d,%d) of %q is %q, want the matching paragraph", name, r.Span.Start, r.Span.End, doc.Text, chunk)
		}
		for _, m := range r.Span.Matches {
			if w := doc.Text[m[0]:m[1]]; w != "beekeeper" && w != "queen" {
				t.Errorf("%s: span match %v is %q in the document", name, m, w)
			}
		}
		f := a.Facets
		if f == nil || f.Documents != 12 || !f.Complete || f.Source.Documents != 12 || len(f.Source.Values) != 10 || f.Source.Other != 2 {
			t.Fatalf("%s: facets %+v, want 12 documents (every match, not the page of 3), 10 sources listed and 2 other", name, f)
		}
		if v := f.Source.Values[0]; v.Label != "hive1.md" || v.Value != "/home/ann/apiary/autumn/hive1.md" || v.Count != 1 {
			t.Errorf("%s: first source %+v, want label hive1.md for the full path", name, v)
		}
		if len(f.Metadata) != 1 || f.Metadata[0].Key != "season" || len(f.Metadata[0].Values) != 2 || f.Metadata[0].Values[0].Count != 6 {
			t.Errorf("%s: metadata facets %+v, want season: 6 and 6", name, f.Metadata)
		}
	}
	a := get(call(t, "GET", base+"/search?"+url.Values{"q": {"beekeeper"}, "facets": {"false"}}.Encode(), nil, nil))
	if a.Facets != nil {
		t.Errorf("facets=false: facets %+v, want none", a.Facets)
	}
	if r := call(t, "GET", base+"/search?q=bees&facets=maybe", nil, nil); r.status != http.StatusBadRequest {
		t.Errorf("facets=maybe: status %d, want 400", r.status)
	}
}

func TestSourceLabelsAreShortAndDistinct(t *testing.T) {
	got := web.SourceLabels([]string{"/a/notes/x.md", "/b/notes/x.md", "/a/y.md", `C:\docs\z.txt`, "", "plain", "/c/notes/x.md/"})
	want := []string{"a/notes/x.md", "b/notes/x.md", "y.md", "z.txt", "", "plain", "c/notes/x.md"}
	if !slices.Equal(got, want) {
		t.Errorf("SourceLabels = %q, want %q", got, want)
	}
}
