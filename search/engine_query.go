package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"strings"

	"github.com/edgesearch/edgesearch/store"
)

// Limits on Query.K and Query.Offset.
const (
	DefaultK  = 10
	MaxK      = 100
	MaxOffset = 1000
)

// SourceFilter is the Query.Filter key that matches a document's source
// rather than a metadata field.
const SourceFilter = "source"

// Query is one search.
type Query struct {
	// Text is what the user typed: keyword search looks up its terms, and
	// snippets mark them.
	Text string
	// Vector is the embedding of Text; required by Semantic, used by Hybrid
	// when given (without it Hybrid is keyword search).
	Vector []float32
	// K is how many documents to return: 0 means DefaultK, at most MaxK.
	K int
	// Offset skips that many of the best documents first, for the next
	// page of results: 0 to MaxOffset.
	Offset int
	// Mode selects the indexes; the zero value is Hybrid.
	Mode Mode
	// Filter keeps documents whose metadata has every key=value given;
	// the key "source" matches the document's source instead.
	Filter map[string]string
	// Where keeps documents that pass a filter in Qdrant's language, over
	// the payload DocumentPayload gives each document. Both Filter and
	// Where apply when both are given.
	Where *Filter
}

// Result is one document that matched, by its best chunk.
type Result struct {
	ID       string
	Title    string
	Source   string
	Score    float32 // of the best chunk: cosine, BM25 or fused RRF score by mode
	Snippet  Snippet // the best chunk's passage around the query terms
	Metadata map[string]string
	Chunk    int  // ordinal of the best chunk in the document
	Span     Span // where that chunk lies in the document's text
	// Similarity is the cosine similarity of the best chunk to the query
	// vector, whatever the mode ranked by, so that results of any mode
	// say how close they are (see MatchOf); NaN when the query had no
	// vector (keyword search).
	Similarity float32
}

// Thresholds of MatchOf on the cosine similarity of a chunk to a query,
// for all-MiniLM-L6-v2. Measured on 120 SciFact test queries by
// bench/matchcalib (bench/RESULTS.md, "How close is a match"): a query and
// its relevant abstract median 0.60 (p25 0.46); the best of 200 unrelated
// abstracts of the same field median 0.39 (p95 0.55); off-topic queries
// (cakes, flights, jokes) against all of them at most 0.20.
const (
	StrongMatch  = 0.5
	PartialMatch = 0.3
)

// MatchOf names how close a chunk with this cosine similarity to the query
// is: "strong", "partial" or "weak"; "" for NaN (no query vector).
func MatchOf(similarity float32) string {
	switch {
	case similarity != similarity:
		return ""
	case similarity >= StrongMatch:
		return "strong"
	case similarity >= PartialMatch:
		return "partial"
	}
	return "weak"
}

// Search returns up to q.K documents best first, after the q.Offset best,
// each represented by its best-scoring chunk. Filters are applied inside the index walk, so K
// documents come back whenever K match. It fails with ErrBadParams for K
// out of range, ErrUnknownMode, ErrNoQuery when the mode's input is missing
// (no searchable words for Keyword, no vector for Semantic), and ErrDims for
// a vector of the wrong length.
func (e *Engine) Search(ctx context.Context, q Query) ([]Result, error) {
	k := q.K
	if k == 0 {
		k = DefaultK
	}
	if k < 1 || k > MaxK {
		return nil, fmt.Errorf("search k %d, want 1..%d: %w", q.K, MaxK, ErrBadParams)
	}
	if q.Offset < 0 || q.Offset > MaxOffset {
		return nil, fmt.Errorf("search offset %d, want 0..%d: %w", q.Offset, MaxOffset, ErrBadParams)
	}
	k += q.Offset
	if q.Mode < Hybrid || q.Mode > Keyword {
		return nil, fmt.Errorf("search mode %d: %w", int(q.Mode), ErrUnknownMode)
	}
	if strings.TrimSpace(q.Text) == "" && len(q.Vector) == 0 {
		return nil, fmt.Errorf("search without a query text or vector: %w", ErrNoQuery)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	type best struct {
		hit Hit
		ref chunkRef
	}
	var picked []best
	keep := func(id uint64) bool {
		ref, ok := e.chunks[id]
		return ok && matches(ref.doc, q.Filter) &&
			(q.Where == nil || q.Where.Match(PointID{}, ref.doc.payload()))
	}
	// rank returns the best depth chunks; it is called with e.mu held for
	// reading, which a backend's search (a network call) must not hold:
	// it lets go for the call and takes it again for the hits.
	rank := func(depth int) ([]Hit, error) {
		return e.index.Search(q.Mode, q.Vector, q.Text, depth, keep)
	}
	if e.sync != nil {
		mode, err := backendMode(q.Mode, q.Vector, q.Text)
		if err != nil {
			return nil, err
		}
		where, err := whereOf(q)
		if err != nil {
			return nil, fmt.Errorf("search filter: %w", err)
		}
		rank = func(depth int) ([]Hit, error) {
			e.mu.RUnlock()
			hits, err := e.sync.b.Search(ctx, mode, q.Vector, q.Text, where, depth)
			e.mu.RLock()
			return hits, err
		}
	}
	e.mu.RLock()
	total := len(e.chunks)
	if e.sync != nil {
		total = min(total, backendMaxDepth)
	}
	// Several chunks of one document may rank together; ask for more
	// chunks until k distinct documents are found or the index runs dry.
	for depth := min(max(3*k, 30), max(total, 1)); ; depth = min(4*depth, total) {
		hits, err := rank(depth)
		if err != nil {
			e.mu.RUnlock()
			return nil, err
		}
		picked = picked[:0]
		seen := map[*docEntry]bool{}
		for _, h := range hits {
			ref := e.chunks[h.ID]
			if ref.doc == nil || seen[ref.doc] {
				continue
			}
			// A backend may hold chunks the table has dropped since, or an
			// older payload of a document: the table has the last word.
			if e.sync != nil && !keep(h.ID) {
				continue
			}
			seen[ref.doc] = true
			picked = append(picked, best{h, ref})
			if len(picked) == k {
				break
			}
		}
		if len(picked) == k || len(hits) < depth || depth >= total {
			break
		}
	}
	e.mu.RUnlock()
	picked = picked[min(q.Offset, len(picked)):]

	terms := Terms(q.Text)
	var qnorm []float32
	if len(q.Vector) > 0 {
		qnorm = make([]float32, len(q.Vector))
		if normalize(qnorm, q.Vector) != nil {
			qnorm = nil
		}
	}
	out := make([]Result, 0, len(picked))
	for _, p := range picked {
		d := p.ref.doc
		c, err := e.st.ChunkByID(p.hit.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // replaced or deleted since the search; its successor was not ranked
		}
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		sim := float32(math.NaN())
		if qnorm != nil && len(c.Vector) == len(qnorm) {
			cv := make([]float32, len(c.Vector))
			if normalize(cv, c.Vector) == nil {
				sim = dot(qnorm, cv)
			}
		}
		marks := termMatches(c.Text, terms)
		out = append(out, Result{
			ID:         d.id,
			Title:      d.title,
			Source:     d.source,
			Score:      p.hit.Score,
			Snippet:    snippetOf(c.Text, marks),
			Metadata:   maps.Clone(d.metadata),
			Chunk:      p.ref.ordinal,
			Span:       spanOf(c.Start, c.End, marks),
			Similarity: sim,
		})
	}
	return out, nil
}

// DocumentPayload is the payload a Where filter sees for a document:
//
//	{"id": ID, "title": TITLE, "source": SOURCE, "metadata": {KEY: VALUE, ...}}
//
// so a filter names a metadata field as "metadata.KEY", as LangChain's
// Qdrant store lays out its payloads. A metadata value that is a JSON
// number (as a JSONL row's numeric field is stored) is a number there, so
// range conditions work on it; every other value is a string.
func DocumentPayload(id, title, source string, metadata map[string]string) map[string]any {
	md := make(map[string]any, len(metadata))
	for k, v := range metadata {
		if isJSONNumber(v) {
			md[k] = json.Number(v)
		} else {
			md[k] = v
		}
	}
	return map[string]any{"id": id, "title": title, "source": source, "metadata": md}
}

// isJSONNumber reports whether s is a number as JSON writes one.
func isJSONNumber(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil && n.String() == s
}

// matches reports whether d passes every key=value of filter.
func matches(d *docEntry, filter map[string]string) bool {
	for k, v := range filter {
		if k == SourceFilter {
			if d.source != v {
				return false
			}
			continue
		}
		got, ok := d.metadata[k]
		if !ok || got != v {
			return false
		}
	}
	return true
}
