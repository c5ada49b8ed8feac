package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Bounds of Facets. Documents, metadata and queries come from anyone who
// can write to the API, so every count the answer or the work could grow
// with is capped.
const (
	// MaxFacetScan is how many documents (semantic and hybrid search) or
	// keyword postings (keyword search) one Facets call visits at most
	// unless EngineOptions.FacetScan says otherwise (serve --facet-scan);
	// past it the counts are partial and Facets.Complete is false.
	MaxFacetScan = 100_000
	// MaxFacetKeys is how many metadata keys are reported, the most
	// common first.
	MaxFacetKeys = 8
	// MaxFacetValues is how many values of a key (and sources) are
	// reported, the most common first; the rest are summed in Other.
	MaxFacetValues = 10
	// MaxFacetDistinct is how many distinct values of one key (and how
	// many distinct keys) are counted; values first seen after that are
	// summed in Other only.
	MaxFacetDistinct = 1000
	// MaxFacetKeysPerDoc is how many metadata keys of one document are
	// counted.
	MaxFacetKeysPerDoc = 64
	// MaxFacetValueBytes is the longest key or value offered as a facet;
	// longer ones (no use as a filter button) are summed in Other.
	MaxFacetValueBytes = 256
)

// facetScan is the engine's bound on one facet count (EngineOptions.FacetScan).
func (e *Engine) facetScan() int {
	if e.opts.FacetScan > 0 {
		return e.opts.FacetScan
	}
	return MaxFacetScan
}

// Facets count the documents that match a query, after its filters, by
// source and by metadata value, so a client can offer filters with counts
// over every match rather than over one page of results.
//
// Which documents match depends on the mode: keyword search (and hybrid
// search without a vector) matches the documents that hold a query term;
// semantic and hybrid search rank every document, so every document that
// passes the filters is counted.
type Facets struct {
	// Documents is how many matching documents were counted.
	Documents int
	// Complete is false when MaxFacetScan stopped the count early.
	Complete bool
	// Source counts the documents' sources.
	Source FacetCount
	// Metadata counts the values of the most common metadata keys, most
	// common key first. The key "source" is left out: a filter
	// source=VALUE matches the document's source, not that key.
	Metadata []FacetCount
}

// FacetCount is the count of one key's values.
type FacetCount struct {
	Key string // the metadata key; "source" for Facets.Source
	// Documents is how many counted documents have the key (a source).
	Documents int
	// Values are the most common values, count descending, then value.
	Values []FacetValue
	// Other is how many of Documents have a value not in Values.
	Other int
}

// FacetValue is one value and how many documents have it.
type FacetValue struct {
	Value string
	Count int
}

// tally counts the values of one key, remembering at most
// MaxFacetDistinct of them.
type tally struct {
	docs   int
	counts map[string]int
	other  int // documents whose value is not in counts
}

func (t *tally) add(v string) {
	t.docs++
	if len(v) > MaxFacetValueBytes {
		t.other++
		return
	}
	if _, ok := t.counts[v]; !ok && len(t.counts) >= MaxFacetDistinct {
		t.other++
		return
	}
	t.counts[v]++
}

func (t *tally) result(key string) FacetCount {
	fc := FacetCount{Key: key, Documents: t.docs, Other: t.other}
	for v, n := range t.counts {
		fc.Values = append(fc.Values, FacetValue{v, n})
	}
	slices.SortFunc(fc.Values, func(a, b FacetValue) int {
		return cmp.Or(b.Count-a.Count, strings.Compare(a.Value, b.Value))
	})
	if len(fc.Values) > MaxFacetValues {
		for _, v := range fc.Values[MaxFacetValues:] {
			fc.Other += v.Count
		}
		fc.Values = fc.Values[:MaxFacetValues]
	}
	return fc
}

// facetCache keeps the facets of semantic and hybrid queries, which count
// every document that passes the filters and so depend on the filters
// alone: a search as you type pays for them once. Writers clear it while
// holding Engine.mu for writing; Facets fills it while holding it for
// reading, so an entry never outlives the documents it counted.
type facetCache struct {
	mu      sync.Mutex
	entries map[string]Facets
}

// maxFacetCache is how many filters' facets are kept; a full cache is
// emptied rather than managed.
const maxFacetCache = 64

func (c *facetCache) get(key string) (Facets, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.entries[key]
	return f.clone(), ok
}

func (c *facetCache) put(key string, f Facets) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxFacetCache {
		c.entries = map[string]Facets{}
	}
	c.entries[key] = f.clone()
}

func (c *facetCache) clear() {
	c.mu.Lock()
	c.entries = nil
	c.mu.Unlock()
}

func (f Facets) clone() Facets {
	f.Source.Values = slices.Clone(f.Source.Values)
	f.Metadata = slices.Clone(f.Metadata)
	for i := range f.Metadata {
		f.Metadata[i].Values = slices.Clone(f.Metadata[i].Values)
	}
	return f
}

// filterKey is a cache key for filter: its pairs sorted, NUL-separated
// (NUL cannot occur in a key).
func filterKey(filter map[string]string) string {
	pairs := make([]string, 0, len(filter))
	for k, v := range filter {
		pairs = append(pairs, k+"\x00"+v)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "\x00\x00")
}

// Facets counts the documents matching q (its Text, Vector, Mode, Filter
// and Where; K and Offset do not matter) by source and metadata. The work
// is bounded by MaxFacetScan documents or postings; the facets of
// semantic and hybrid queries without a Where filter are cached until the
// next write. It fails like Search for an unknown mode or a query without
// the mode's input.
func (e *Engine) Facets(ctx context.Context, q Query) (Facets, error) {
	if q.Mode < Hybrid || q.Mode > Keyword {
		return Facets{}, fmt.Errorf("facets mode %d: %w", int(q.Mode), ErrUnknownMode)
	}
	keyword := q.Mode == Keyword || (q.Mode == Hybrid && len(q.Vector) == 0)
	var terms []string
	if keyword {
		if terms = Terms(q.Text); len(terms) == 0 {
			return Facets{}, fmt.Errorf("facets for %q: no searchable words: %w", q.Text, ErrNoQuery)
		}
	} else if len(q.Vector) == 0 {
		return Facets{}, fmt.Errorf("semantic facets without a query vector: %w", ErrNoQuery)
	}

	f := Facets{Complete: true}
	source := tally{counts: map[string]int{}}
	keys := map[string]*tally{}
	visited := 0
	count := func(d *docEntry) bool {
		if visited++; visited%4096 == 0 && ctx.Err() != nil {
			return false
		}
		if !matches(d, q.Filter) || (q.Where != nil && !q.Where.Match(PointID{}, d.payload())) {
			return true
		}
		f.Documents++
		source.add(d.source)
		n := 0
		for k, v := range d.metadata {
			if n++; n > MaxFacetKeysPerDoc {
				break
			}
			if k == SourceFilter {
				continue
			}
			t := keys[k]
			if t == nil {
				if len(keys) >= MaxFacetDistinct || len(k) > MaxFacetValueBytes {
					continue // not offered: too many keys, or too long
				}
				t = &tally{counts: map[string]int{}}
				keys[k] = t
			}
			t.add(v)
		}
		return true
	}

	// A backend's keyword matches are its BM25 hits, as many as the scan
	// bound and its page allow; they are fetched before the table is
	// locked (a network call must not hold writers back).
	var backendHits []Hit
	if keyword && e.sync != nil {
		where, err := whereOf(q)
		if err != nil {
			return Facets{}, fmt.Errorf("facets filter: %w", err)
		}
		limit := min(e.facetScan(), backendMaxDepth)
		if backendHits, err = e.sync.b.Search(ctx, Keyword, nil, q.Text, where, limit); err != nil {
			return Facets{}, err
		}
		f.Complete = len(backendHits) < limit
	}

	e.mu.RLock()
	defer e.mu.RUnlock()
	cacheKey, cached := "", !keyword && q.Where == nil
	if cached {
		cacheKey = filterKey(q.Filter)
		if f, ok := e.facets.get(cacheKey); ok {
			return f, nil
		}
	}
	if keyword && e.sync != nil {
		seen := map[*docEntry]bool{}
		for _, h := range backendHits {
			ref, ok := e.chunks[h.ID]
			if !ok || seen[ref.doc] {
				continue
			}
			seen[ref.doc] = true
			if !count(ref.doc) {
				break
			}
		}
	} else if keyword {
		seen := map[*docEntry]bool{}
		f.Complete = e.index.Keywords.Matching(terms, e.facetScan(), func(id uint64) bool {
			ref, ok := e.chunks[id]
			if !ok || seen[ref.doc] {
				return true
			}
			seen[ref.doc] = true
			return count(ref.doc)
		})
	} else {
		for _, d := range e.docs {
			if len(d.chunks) == 0 {
				continue
			}
			if visited >= e.facetScan() {
				f.Complete = false
				break
			}
			if !count(d) {
				break
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return Facets{}, err
	}

	f.Source = source.result(SourceFilter)
	ranked := make([]string, 0, len(keys))
	for k := range keys {
		ranked = append(ranked, k)
	}
	slices.SortFunc(ranked, func(a, b string) int {
		return cmp.Or(keys[b].docs-keys[a].docs, strings.Compare(a, b))
	})
	for _, k := range ranked[:min(len(ranked), MaxFacetKeys)] {
		f.Metadata = append(f.Metadata, keys[k].result(k))
	}
	if cached {
		e.facets.put(cacheKey, f)
	}
	return f, nil
}
