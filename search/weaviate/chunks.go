package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Chunks keeps a search engine's document chunks in one Weaviate class: it
// is the engine's search.ChunkBackend (serve --backend puts the documents
// there). Each chunk is a point of the collection, its id the chunk's, its
// vector the unnamed cosine one and its payload search.ChunkPayload's, so
// the engine's filters over documents translate as any collection's.
//
// Weaviate's word tokenizer neither stems nor drops stop words, so its
// BM25 over raw text misses "migrate" for "migration". The copy's text is
// therefore our analyzer's terms (search.TextTerms: folded, stemmed, stop
// words dropped, every occurrence kept) joined by spaces, and every
// keyword query its distinct terms: Weaviate's BM25 then counts the same
// terms, as often, as ours. The chunk's own text stays in the
// store, where results and snippets are made from.
//
// The class is made on first use rather than by NewChunks, so that a
// device whose cluster is down at start still starts (its engine's sender
// retries).
type Chunks struct {
	c          *Client
	collection string
	dims       int

	mu    sync.Mutex
	ready bool // the class exists with the right vector
}

// NewChunks keeps chunks of dims-dimensional vectors in collection of the
// cluster c talks to, a documents index (Client.DocumentsIndex): no
// collection of points shares its class, and listings do not show it.
func NewChunks(c *Client, collection string, dims int) *Chunks {
	return &Chunks{c: c.DocumentsIndex(), collection: collection, dims: dims}
}

func (ch *Chunks) String() string {
	return fmt.Sprintf("weaviate %s (collection %q)", ch.c.opts.URL, ch.collection)
}

// ensure makes the class unless it exists, and checks an existing class's
// vector: a collection of another size or distance is not this engine's.
func (ch *Chunks) ensure(ctx context.Context) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.ready {
		return nil
	}
	want := store.VectorParams{Size: ch.dims, Distance: store.Cosine}
	info, err := ch.c.Info(ctx, ch.collection)
	if errors.Is(err, ErrNotFound) {
		info, err = ch.c.Create(ctx, ch.collection, map[string]store.VectorParams{"": want})
		if errors.Is(err, ErrExists) { // another caller made it meanwhile
			info, err = ch.c.Info(ctx, ch.collection)
		}
	}
	if err != nil {
		return ch.wrap(err)
	}
	if got, ok := info.Vectors[""]; !ok || len(info.Vectors) != 1 || got.Size != want.Size || got.Distance != want.Distance {
		return fmt.Errorf("%s holds other vectors than %d-dimensional cosine ones: not a documents collection of this device", ch, ch.dims)
	}
	ch.ready = true
	return nil
}

// Search ranks the chunks whose payload passes where, by vector, BM25 or
// Weaviate's hybrid search.
func (ch *Chunks) Search(ctx context.Context, mode search.Mode, vec []float32, text string, where *search.Filter, k int) ([]search.Hit, error) {
	if err := ch.ensure(ctx); err != nil {
		return nil, err
	}
	q := search.PointQuery{Filter: where, Limit: k}
	switch mode {
	case search.Semantic:
		q.Vector = vec
	case search.Keyword:
		q.Text = analyzedQuery(text)
	default:
		q.Vector, q.Text = vec, analyzedQuery(text)
	}
	sps, err := ch.c.Query(ctx, ch.collection, q)
	if err != nil {
		return nil, ch.wrap(err)
	}
	hits := make([]search.Hit, 0, len(sps))
	for _, sp := range sps {
		if n, ok := sp.ID.Num(); ok {
			hits = append(hits, search.Hit{ID: n, Score: sp.Score})
		}
	}
	return hits, nil
}

// Put writes chunks as points, replacing those with the same ids.
func (ch *Chunks) Put(ctx context.Context, chunks []search.BackendChunk) error {
	if err := ch.ensure(ctx); err != nil {
		return err
	}
	pts := make([]store.Point, len(chunks))
	for i, c := range chunks {
		if text, ok := c.Payload["text"].(string); ok {
			c.Payload = maps.Clone(c.Payload)
			c.Payload["text"] = analyzedText(text)
		}
		payload, err := json.Marshal(c.Payload)
		if err != nil {
			return fmt.Errorf("chunk %d payload: %w", c.ID, err)
		}
		pts[i] = store.Point{ID: store.NumPointID(c.ID), Vectors: map[string][]float32{"": c.Vector}, Payload: payload}
	}
	return ch.wrap(ch.c.Upsert(ctx, ch.collection, pts))
}

// Remove deletes the chunks ids.
func (ch *Chunks) Remove(ctx context.Context, ids []uint64) error {
	if err := ch.ensure(ctx); err != nil {
		return err
	}
	pids := make([]store.PointID, len(ids))
	for i, id := range ids {
		pids[i] = store.NumPointID(id)
	}
	_, err := ch.c.Delete(ctx, ch.collection, pids)
	return ch.wrap(err)
}

// analyzedText is a chunk's text as our keyword index counts it: every
// term, repeats kept (BM25 weighs how often a term occurs and how long the
// chunk is), space-separated.
func analyzedText(text string) string { return strings.Join(search.TextTerms(text), " ") }

// analyzedQuery is a keyword query as our index looks it up: its distinct
// terms, space-separated.
func analyzedQuery(text string) string { return strings.Join(search.Terms(text), " ") }

// IDs lists every chunk id of the collection in ascending order (the
// cursor's order is our id order; see the package comment).
func (ch *Chunks) IDs(ctx context.Context, fn func(ids []uint64) error) error {
	if err := ch.ensure(ctx); err != nil {
		return err
	}
	var from *store.PointID
	for {
		pts, next, err := ch.c.Scroll(ctx, ch.collection, nil, from, MaxPage-1, false, false)
		if err != nil {
			return ch.wrap(err)
		}
		ids := make([]uint64, 0, len(pts))
		for _, p := range pts {
			if n, ok := p.ID.Num(); ok {
				ids = append(ids, n)
			}
		}
		if err := fn(ids); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		from = next
	}
}

// wrap marks the failures to reach the cluster with
// search.ErrBackendUnavailable; a class dropped behind the engine's back
// is made again on the next call.
func (ch *Chunks) wrap(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotFound) {
		ch.mu.Lock()
		ch.ready = false
		ch.mu.Unlock()
	}
	if Unreachable(err) {
		return fmt.Errorf("%s: %w: %w", ch, search.ErrBackendUnavailable, err)
	}
	return fmt.Errorf("%s: %w", ch, err)
}

var _ search.ChunkBackend = (*Chunks)(nil)
