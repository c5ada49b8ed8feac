package search

import (
	"context"
	"fmt"
)

// WholeDocument is the Similar chunk argument that asks for neighbours of
// the whole document rather than of one of its chunks.
const WholeDocument = -1

// Similar returns up to k documents (0 means DefaultK, at most MaxK) whose
// chunks lie nearest to document id, best first, never id itself: "more
// like this". With chunk set to an ordinal the query is that chunk's
// vector; with WholeDocument it is the normalised mean of all the
// document's chunk vectors, which stands for what the document is about as
// a whole. filter works as in Query. Snippets are the start of each
// neighbour's best chunk, since there are no query words to mark.
//
// It fails with store.ErrNotFound for an unknown id, ErrBadParams for k
// or chunk out of range, and with the store's errors.
func (e *Engine) Similar(ctx context.Context, id string, chunk, k int, filter map[string]string) ([]Result, error) {
	if k == 0 {
		k = DefaultK
	}
	if k < 1 || k > MaxK {
		return nil, fmt.Errorf("similar to %q: k %d, want 1..%d: %w", id, k, MaxK, ErrBadParams)
	}
	d, err := e.st.Get(id)
	if err != nil {
		return nil, fmt.Errorf("similar to %q: %w", id, err)
	}
	if len(d.Chunks) == 0 {
		return nil, nil // nothing to compare with; a stored document always has a chunk
	}
	var vec []float32
	switch {
	case chunk == WholeDocument:
		vec = make([]float32, len(d.Chunks[0].Vector))
		for _, c := range d.Chunks {
			for i, x := range c.Vector {
				vec[i] += x
			}
		}
		// Chunks pointing in opposite directions could cancel out; the
		// first chunk is then as good a stand-in as any.
		if normalize(vec, vec) != nil {
			vec = d.Chunks[0].Vector
		}
	case chunk >= 0 && chunk < len(d.Chunks):
		vec = d.Chunks[chunk].Vector
	default:
		return nil, fmt.Errorf("similar to %q: chunk %d, the document has chunks 0..%d: %w",
			id, chunk, len(d.Chunks)-1, ErrBadParams)
	}
	// The document itself is its own nearest neighbour and takes at most
	// one of the results (best chunk wins), so one extra covers it.
	want := min(k+1, MaxK)
	results, err := e.Search(ctx, Query{Vector: vec, K: want, Mode: Semantic, Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("similar to %q: %w", id, err)
	}
	out := results[:0]
	for _, r := range results {
		if r.ID != id {
			out = append(out, r)
		}
	}
	return out[:min(k, len(out))], nil
}
