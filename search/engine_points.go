package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/edgesearch/edgesearch/store"
)

// The documents as a collection of points: the store keeps every chunk as
// a point of DocumentsCollection (its id the chunk's, its vector the
// chunk's), and the Engine indexes them; here they are read, counted,
// scrolled and searched like any collection, each with its document's
// fields and its text as payload, so the Qdrant-compatible API and the UI
// reach the documents as they reach points. They are written only through
// Write (POST /documents, import), which chunks and embeds.

// DocumentsCollection is the collection of the documents' chunk points.
const DocumentsCollection = store.DocumentsCollection

// Chunk payload keys that are returned but cannot be filtered on: the
// chunk's text lives in the store, not in the engine's table, and the
// ordinal is not part of a document's filter payload.
const (
	chunkTextKey    = "text"
	chunkOrdinalKey = "chunk"
)

// ChunkPayload is the payload of the point for chunk ordinal of a
// document: DocumentPayload's fields, the chunk's ordinal and its text.
//
//	{"id": ID, "title": TITLE, "source": SOURCE, "metadata": {...}, "chunk": N, "text": TEXT}
func ChunkPayload(id, title, source string, metadata map[string]string, ordinal int, text string) map[string]any {
	p := DocumentPayload(id, title, source, metadata)
	p[chunkOrdinalKey] = ordinal
	p[chunkTextKey] = text
	return p
}

// PointsInfo describes the documents as a collection: the store's record
// of it (one unnamed cosine vector of the store's dimensions), with the
// number of chunks the engine has indexed.
func (e *Engine) PointsInfo() (store.CollectionInfo, error) {
	info, err := e.st.Collection(DocumentsCollection)
	if err != nil {
		return info, err
	}
	e.mu.RLock()
	info.Points = len(e.chunks)
	e.mu.RUnlock()
	return info, nil
}

// checkChunkFilter refuses a filter that names a key the engine cannot
// evaluate for a chunk (its text or ordinal): answering such a filter from
// the document payload would silently match nothing.
func checkChunkFilter(f *Filter) error {
	if f == nil {
		return nil
	}
	var bad string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if k, ok := v["key"].(string); ok && bad == "" {
				root, _, _ := strings.Cut(k, ".")
				root, _, _ = strings.Cut(root, "[")
				if root == chunkTextKey || root == chunkOrdinalKey {
					bad = k
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(f.tree())
	if bad != "" {
		return fmt.Errorf("the %q collection filters on its documents' id, title, source and metadata; %q cannot be filtered on: %w",
			DocumentsCollection, bad, ErrBadFilter)
	}
	return nil
}

// keepChunk returns the predicate for chunk ids that pass f (nil: every
// indexed chunk). Called with e.mu held.
func (e *Engine) keepChunk(f *Filter) func(id uint64) bool {
	return func(id uint64) bool {
		ref, ok := e.chunks[id]
		return ok && (f == nil || f.Match(store.NumPointID(id), ref.doc.payload()))
	}
}

// chunkIDs returns the ids f admits at most, sorted, when it names them
// (has_id), else nil. Ids that are not chunk ids (UUIDs) are dropped.
func chunkIDs(f *Filter) []uint64 {
	ids, _ := f.IDs()
	if ids == nil {
		return nil
	}
	out := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if n, ok := id.Num(); ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// QueryPoints is Collections.Query over the documents' chunks: the nearest
// chunks to q.Vector that pass q.Filter, with the same limits, offset,
// score threshold and exact option; with q.Text, fused with the chunks'
// BM25 ranking (keyword alone without a vector), as /search does. Filters
// apply inside the graph walk, or, when that is cheaper by Collections'
// cost model, to an exact search over the chunks they match. Chunk
// payloads (see ChunkPayload) and vectors are read from the store when
// asked for. It fails with ErrBadParams for a named vector or a limit or
// offset out of range, ErrDims for a vector of the wrong size, ErrBadVector
// for a zero or non-finite one and ErrBadFilter for a filter on text or
// chunk.
func (e *Engine) QueryPoints(ctx context.Context, q PointQuery) ([]ScoredPoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("query collection %q", DocumentsCollection)
	if q.Using != "" {
		return nil, fmt.Errorf("%s: it has no vector named %q, only the unnamed one: %w", what, q.Using, ErrBadParams)
	}
	byText := len(Terms(q.Text)) > 0
	if len(q.Vector) == 0 && q.Text != "" && !byText {
		return nil, fmt.Errorf("%s by text %q: no vector, and no searchable words: %w", what, q.Text, ErrNoQuery)
	}
	if len(q.Vector) != e.st.Dims() && (!byText || len(q.Vector) != 0) {
		return nil, fmt.Errorf("%s: vector has %d dims, the collection's has %d: %w", what, len(q.Vector), e.st.Dims(), ErrDims)
	}
	limit, err := checkLimit(q.Limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if q.Offset < 0 || q.Offset > MaxQueryOffset {
		return nil, fmt.Errorf("%s: offset %d, want 0 to %d: %w", what, q.Offset, MaxQueryOffset, ErrBadParams)
	}
	if err := checkChunkFilter(q.Filter); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	k := limit + q.Offset
	var hits []Hit
	if e.sync != nil {
		hits, err = e.queryBackend(ctx, q, k, byText)
	} else {
		hits, err = e.queryIndex(q, k, byText)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if t := q.ScoreThreshold; t != nil && !byText {
		hits = slices.DeleteFunc(hits, func(h Hit) bool { return h.Score < *t })
	}
	hits = hits[min(q.Offset, len(hits)):]
	out := make([]ScoredPoint, 0, len(hits))
	for _, h := range hits {
		sp := ScoredPoint{ID: store.NumPointID(h.ID), Score: h.Score}
		if q.WithPayload || q.WithVectors {
			p, ok, err := e.chunkPoint(h.ID, q.WithPayload, q.WithVectors)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			if !ok {
				continue // replaced or deleted since the search
			}
			sp.Payload, sp.Vectors = p.Payload, p.Vectors
		}
		out = append(out, sp)
	}
	return out, nil
}

// queryIndex ranks the chunks for QueryPoints in the engine's own indexes.
func (e *Engine) queryIndex(q PointQuery, k int, byText bool) ([]Hit, error) {
	g := e.index.Vectors
	e.mu.RLock()
	keep := e.keepChunk(q.Filter)
	var hits []Hit
	var err error
	switch ids := chunkIDs(q.Filter); {
	case byText:
		// The chunks' texts are in the keyword index: fuse, as /search does.
		mode := Hybrid
		if len(q.Vector) == 0 {
			mode = Keyword
		}
		hits, err = e.index.Search(mode, q.Vector, q.Text, k, keep)
	case ids != nil:
		hits, err = g.SearchExact(q.Vector, k, ids, keep)
	case q.Exact:
		hits, err = g.SearchExact(q.Vector, k, nil, keep)
	case q.Filter == nil:
		hits, err = g.SearchFunc(q.Vector, k, keep)
	default:
		// Few matches: compare exactly those when that costs less than a
		// filtered walk, by Collections' cost model (see exactCheaper).
		// The table is in memory, so the matches are counted, not
		// estimated.
		ef := max(g.Params().EfSearch, k)
		n := float64(len(e.chunks))
		matched := []uint64{} // not nil: SearchExact reads nil as every id
		exact := true
		for id := range e.chunks {
			if keep(id) {
				// More matches only make the walk cheaper: stop counting
				// once it is.
				if matched = append(matched, id); len(matched)%256 == 0 && !exactCheaper(n, float64(len(matched)), ef, scanCost) {
					exact = false
					break
				}
			}
		}
		if exact && exactCheaper(n, float64(len(matched)), ef, scanCost) {
			hits, err = g.SearchExact(q.Vector, k, matched, nil)
		} else {
			hits, err = g.SearchFunc(q.Vector, k, keep)
		}
	}
	e.mu.RUnlock()
	return hits, err
}

// queryBackend ranks the chunks for QueryPoints in the backend: it has no
// exact search (the filter is applied inside its own graph walk), and the
// table has the last word on every hit, as in Search.
func (e *Engine) queryBackend(ctx context.Context, q PointQuery, k int, byText bool) ([]Hit, error) {
	mode := Semantic
	if byText {
		mode = Hybrid
		if len(q.Vector) == 0 {
			mode = Keyword
		}
	}
	hits, err := e.sync.b.Search(ctx, mode, q.Vector, q.Text, q.Filter, min(k, backendMaxDepth))
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	keep := e.keepChunk(q.Filter)
	return slices.DeleteFunc(hits, func(h Hit) bool { return !keep(h.ID) }), nil
}

// chunkPoint reads chunk id from the store as a point, with its payload and
// vector when asked; ok is false when the chunk is gone.
func (e *Engine) chunkPoint(id uint64, withPayload, withVector bool) (store.Point, bool, error) {
	p := store.Point{ID: store.NumPointID(id)}
	c, err := e.st.ChunkByID(id)
	if errors.Is(err, store.ErrNotFound) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if withPayload {
		e.mu.RLock()
		ref, ok := e.chunks[id]
		e.mu.RUnlock()
		if !ok {
			return p, false, nil
		}
		d := ref.doc
		if p.Payload, err = json.Marshal(ChunkPayload(d.id, d.title, d.source, d.metadata, c.Ordinal, c.Text)); err != nil {
			return p, false, fmt.Errorf("chunk %d payload: %w", id, err)
		}
	}
	if withVector {
		p.Vectors = map[string][]float32{"": c.Vector}
	}
	return p, true, nil
}

// ScrollPoints is Collections.Scroll over the documents' chunks: up to
// limit chunk points that pass f, in id order from the id from (inclusive),
// and the id to continue from, nil at the end. Errors as QueryPoints.
func (e *Engine) ScrollPoints(ctx context.Context, f *Filter, from *store.PointID, limit int, withPayload, withVectors bool) ([]store.Point, *store.PointID, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	what := fmt.Sprintf("scroll collection %q", DocumentsCollection)
	limit, err := checkLimit(limit)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := checkChunkFilter(f); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	var start uint64
	if from != nil {
		n, ok := from.Num()
		if !ok {
			return nil, nil, nil // UUIDs sort after every integer: none left
		}
		start = n
	}
	var page []uint64
	var next *store.PointID
	if f == nil {
		// The store keeps the chunk points in id order: page through it.
		pts, nx, err := e.st.ScrollPoints(DocumentsCollection, from, limit)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", what, err)
		}
		for _, p := range pts {
			id, _ := p.ID.Num()
			page = append(page, id)
		}
		next = nx
	} else {
		e.mu.RLock()
		keep := e.keepChunk(f)
		ids := chunkIDs(f)
		if ids == nil {
			for id := range e.chunks {
				if id >= start && keep(id) {
					ids = append(ids, id)
				}
			}
			slices.Sort(ids)
		}
		for _, id := range ids {
			if id < start || !keep(id) {
				continue
			}
			if len(page) == limit {
				n := store.NumPointID(id)
				next = &n
				break
			}
			page = append(page, id)
		}
		e.mu.RUnlock()
	}
	pts := make([]store.Point, 0, len(page))
	for _, id := range page {
		p := store.Point{ID: store.NumPointID(id)}
		if withPayload || withVectors {
			var ok bool
			if p, ok, err = e.chunkPoint(id, withPayload, withVectors); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", what, err)
			} else if !ok {
				continue
			}
		}
		pts = append(pts, p)
	}
	return pts, next, nil
}

// CountPoints counts the documents' chunks that pass f (all for nil).
// Errors as QueryPoints.
func (e *Engine) CountPoints(ctx context.Context, f *Filter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkChunkFilter(f); err != nil {
		return 0, fmt.Errorf("count collection %q: %w", DocumentsCollection, err)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if f == nil {
		return len(e.chunks), nil
	}
	keep := e.keepChunk(f)
	n := 0
	if ids := chunkIDs(f); ids != nil {
		for _, id := range ids {
			if keep(id) {
				n++
			}
		}
		return n, nil
	}
	for id := range e.chunks {
		if keep(id) {
			n++
		}
	}
	return n, nil
}

// payload is the document's filter payload (DocumentPayload), made on
// first use and kept: entries never change once published.
func (d *docEntry) payload() map[string]any {
	if p := d.where.Load(); p != nil {
		return *p
	}
	p := DocumentPayload(d.id, d.title, d.source, d.metadata)
	d.where.Store(&p)
	return p
}
