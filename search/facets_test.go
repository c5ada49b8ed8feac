package search

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// facetEngine stores docs (one chunk each, over the whole text) with
// random 8-dimensional vectors.
func facetEngine(t testing.TB, docs []store.Document) *Engine {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "edgesearch.db"), store.Options{Model: "facets-test", Dims: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e, err := Open(context.Background(), st, EngineOptions{Dir: dir, Params: Params{Seed: 3}, SaveAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	rng := rand.New(rand.NewPCG(4, 4))
	for lo := 0; lo < len(docs); lo += 1000 {
		batch := docs[lo:min(len(docs), lo+1000)]
		for i := range batch {
			v := make([]float32, 8)
			for j := range v {
				v[j] = rng.Float32() - 0.5
			}
			batch[i].Chunks = []store.Chunk{{Start: 0, End: len(batch[i].Text), Tokens: 1, Vector: v}}
		}
		if _, err := e.Write(context.Background(), store.Change{Put: batch}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// library is n documents: every third mentions bees; sources spread over
// four folders; lang is en or de by parity, and every fifth has a year.
func library(n int) []store.Document {
	docs := make([]store.Document, n)
	for i := range docs {
		text := fmt.Sprintf("note %d about gardens", i)
		if i%3 == 0 {
			text += " and bees"
		}
		md := map[string]string{"lang": []string{"en", "de"}[i%2]}
		if i%5 == 0 {
			md["year"] = strconv.Itoa(2020 + i%4)
		}
		docs[i] = store.Document{ID: "d" + strconv.Itoa(i), Text: text, Metadata: md,
			Source: fmt.Sprintf("/home/ann/notes/folder%d/note%d.md", i%4, i)}
	}
	return docs
}

func valueCounts(fc FacetCount) map[string]int {
	out := map[string]int{}
	for _, v := range fc.Values {
		out[v.Value] = v.Count
	}
	return out
}

// TestFacetsCountEveryMatchNotOnePage pins that facets count all the
// documents a query matches, after its filters, not the page of results.
func TestFacetsCountEveryMatchNotOnePage(t *testing.T) {
	e := facetEngine(t, library(300))
	ctx := context.Background()
	q := Query{Text: "bees", Mode: Keyword, K: 10}
	page, err := e.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.Facets(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 10 || f.Documents != 100 || !f.Complete {
		t.Fatalf("page of %d, facets over %d documents (complete %v); want 10 and all 100 matches", len(page), f.Documents, f.Complete)
	}
	if got := valueCounts(f.Metadata[0]); f.Metadata[0].Key != "lang" || got["en"] != 50 || got["de"] != 50 {
		t.Errorf("lang facet %+v, want en 50, de 50", f.Metadata[0])
	}
	// 20 of the 100 (i%15 == 0) have a year: 2020 for i%60 == 0 and so on.
	if y := f.Metadata[1]; y.Key != "year" || y.Documents != 20 || len(y.Values) != 4 {
		t.Errorf("year facet %+v, want 20 documents over 4 years", y)
	}
	if s := f.Source; s.Documents != 100 || len(s.Values) != MaxFacetValues || s.Other != 90 {
		t.Errorf("source facet: %d documents, %d values, other %d; want 100, %d, 90", s.Documents, len(s.Values), s.Other, MaxFacetValues)
	}

	// Every match of a query that finds fewer than K agrees with Search.
	all, err := e.Search(ctx, Query{Text: "bees", Mode: Keyword, K: MaxK, Filter: map[string]string{"lang": "de"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err = e.Facets(ctx, Query{Text: "bees", Mode: Keyword, Filter: map[string]string{"lang": "de"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Documents != len(all) || len(all) != 50 {
		t.Errorf("filtered: facets count %d documents, search found %d; want 50 both", f.Documents, len(all))
	}

	// Semantic search ranks every document: all that pass the filter count.
	vec := make([]float32, 8)
	vec[0] = 1
	f, err = e.Facets(ctx, Query{Text: "bees", Vector: vec, Mode: Hybrid, Filter: map[string]string{"lang": "en"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Documents != 150 || len(f.Metadata) != 2 {
		t.Errorf("hybrid with a vector: %d documents, %d keys; want 150 (every en document) and 2", f.Documents, len(f.Metadata))
	}
	// A write is counted at once: cached facets do not outlive it.
	doc := store.Document{ID: "late", Text: "late note", Metadata: map[string]string{"lang": "en"}}
	doc.Chunks = []store.Chunk{{Start: 0, End: len(doc.Text), Tokens: 1, Vector: vec}}
	if _, err := e.Write(ctx, store.Change{Put: []store.Document{doc}}); err != nil {
		t.Fatal(err)
	}
	f, err = e.Facets(ctx, Query{Vector: vec, Mode: Semantic, Filter: map[string]string{"lang": "en"}})
	if err != nil || f.Documents != 151 {
		t.Errorf("after a write: %d documents, %v; want 151", f.Documents, err)
	}
	where, err := ParseFilter([]byte(`{"must":[{"key":"source","match":{"value":"/home/ann/notes/folder1/note1.md"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if f, err = e.Facets(ctx, Query{Vector: vec, Mode: Semantic, Where: where}); err != nil || f.Documents != 1 {
		t.Errorf("semantic with a where filter: %d documents, %v; want 1", f.Documents, err)
	}
	if _, err := e.Facets(ctx, Query{Text: "the", Mode: Keyword}); err == nil {
		t.Error("keyword facets for a stop word: no error, want ErrNoQuery")
	}
}

// TestFacetsAreBounded feeds hostile metadata: many keys, a key with
// thousands of values, long values, a metadata key "source"; the answer
// stays within the bounds and its counts still add up.
func TestFacetsAreBounded(t *testing.T) {
	const n = 3000
	docs := make([]store.Document, n)
	long := strings.Repeat("x", MaxFacetValueBytes+1)
	for i := range docs {
		md := map[string]string{"id": strconv.Itoa(i), "source": "meta", "long": long, "kind": strconv.Itoa(i % 20)}
		for k := range 30 {
			md["k"+strconv.Itoa(k)] = "v"
		}
		docs[i] = store.Document{ID: "d" + strconv.Itoa(i), Text: "bees " + strconv.Itoa(i), Metadata: md, Source: "s" + strconv.Itoa(i%50)}
	}
	e := facetEngine(t, docs)
	f, err := e.Facets(context.Background(), Query{Text: "bees", Mode: Keyword})
	if err != nil {
		t.Fatal(err)
	}
	if f.Documents != n || len(f.Metadata) != MaxFacetKeys {
		t.Fatalf("%d documents, %d keys; want %d and the bound %d", f.Documents, len(f.Metadata), n, MaxFacetKeys)
	}
	for _, fc := range f.Metadata {
		if fc.Key == SourceFilter {
			t.Errorf("the metadata key %q is reported, but filters by it match the source", fc.Key)
		}
	}
	for _, fc := range append(f.Metadata, f.Source) {
		if len(fc.Values) > MaxFacetValues {
			t.Errorf("key %q: %d values, over the bound %d", fc.Key, len(fc.Values), MaxFacetValues)
		}
		sum := fc.Other
		for _, v := range fc.Values {
			sum += v.Count
			if len(v.Value) > MaxFacetValueBytes {
				t.Errorf("key %q offers a value of %d bytes", fc.Key, len(v.Value))
			}
		}
		if sum != fc.Documents {
			t.Errorf("key %q: values and other sum to %d, want its %d documents", fc.Key, sum, fc.Documents)
		}
		if fc.Key == "id" && fc.Other < n-MaxFacetValues {
			t.Errorf("id: other %d, want the %d values past the bound", fc.Other, n-MaxFacetValues)
		}
	}

	// Past the scan bound the count stops and says so.
	e.opts.FacetScan = 500
	for _, q := range []Query{{Text: "bees", Mode: Keyword}, {Vector: make([]float32, 8), Mode: Semantic}} {
		f, err = e.Facets(context.Background(), q)
		if err != nil || f.Complete || f.Documents > 500 {
			t.Errorf("%s with a scan bound of 500: %d documents, complete %v, %v; want at most 500 and incomplete", q.Mode, f.Documents, f.Complete, err)
		}
	}
}

// BenchmarkFacets10k counts facets over 10,000 one-chunk documents (three
// metadata keys, 400 sources) for a keyword query every third document
// matches, and for a semantic query, which counts every document.
func BenchmarkFacets10k(b *testing.B) {
	docs := library(10_000)
	for i := range docs {
		docs[i].Source = fmt.Sprintf("/home/ann/notes/folder%d/note%d.md", i%20, i%400)
		docs[i].Metadata["type"] = []string{"md", "pdf", "txt"}[i%3]
	}
	e := facetEngine(b, docs)
	vec := make([]float32, 8)
	vec[0] = 1
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"keyword", Query{Text: "bees", Mode: Keyword}},
		{"keyword-all", Query{Text: "gardens", Mode: Keyword}},
		{"semantic-cached", Query{Vector: vec, Mode: Semantic}},
		{"semantic-filtered", Query{Vector: vec, Mode: Semantic, Filter: map[string]string{"lang": "de"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.Facets(context.Background(), bc.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("semantic-uncached", func(b *testing.B) {
		for b.Loop() {
			e.facets.clear() // as after a write
			if _, err := e.Facets(context.Background(), Query{Vector: vec, Mode: Semantic}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("search-keyword-k10", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.Search(context.Background(), Query{Text: "bees", Mode: Keyword}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("newest-page", func(b *testing.B) {
		for b.Loop() {
			e.newest.Store(nil) // as after a write: sort again
			if _, _, err := e.Newest(0, 20); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFacetsAndNewestDuringWrites runs Facets and Newest while documents
// are written, for the race detector, and checks the counts once done.
func TestFacetsAndNewestDuringWrites(t *testing.T) {
	e := facetEngine(t, library(100))
	ctx := context.Background()
	vec := make([]float32, 8)
	vec[1] = 1
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			d := store.Document{ID: fmt.Sprintf("w%d", i), Text: "bees again", Metadata: map[string]string{"lang": "en"}}
			d.Chunks = []store.Chunk{{Start: 0, End: len(d.Text), Tokens: 1, Vector: vec}}
			if _, err := e.Write(ctx, store.Change{Put: []store.Document{d}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		if _, err := e.Facets(ctx, Query{Vector: vec, Mode: Hybrid}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Facets(ctx, Query{Text: "bees", Mode: Keyword}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Newest(0, 5); err != nil {
			t.Fatal(err)
		}
	}
	f, err := e.Facets(ctx, Query{Vector: vec, Mode: Hybrid})
	if err != nil || f.Documents != 150 {
		t.Errorf("after the writes: %d documents, %v; want 150", f.Documents, err)
	}
	docs, total, err := e.Newest(0, 1)
	if err != nil || total != 150 || len(docs) != 1 || docs[0].ID != "w49" {
		t.Errorf("Newest(0, 1) = %v, %d, %v; want w49 of 150", docs, total, err)
	}
}
