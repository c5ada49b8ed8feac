package weaviate

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Query searches a collection as search.Collections.Query does: by vector
// (nearVector on q.Using), by text alone (BM25 over the point's text), or
// by both (Weaviate's hybrid search, Options.HybridAlpha and HybridFusion),
// with q.Filter translated (ErrUnsupportedFilter when it cannot be),
// q.Limit and q.Offset. Scores are ours for vector search (see Score);
// BM25 and hybrid scores are Weaviate's. q.ScoreThreshold applies to vector
// search alone; q.Exact is ignored (Weaviate walks its graph).
func (c *Client) Query(ctx context.Context, collection string, q search.PointQuery) ([]search.ScoredPoint, error) {
	limit := q.Limit
	if limit == 0 {
		limit = search.DefaultQueryLimit
	}
	if limit < 1 || limit > search.MaxQueryLimit || q.Offset < 0 || q.Offset > search.MaxQueryOffset || limit+q.Offset > MaxPage {
		return nil, fmt.Errorf("query %q: limit %d offset %d: want 1 to %d results past 0 to %d, at most %d together: %w",
			collection, q.Limit, q.Offset, search.MaxQueryLimit, search.MaxQueryOffset, MaxPage, store.ErrInvalid)
	}
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return nil, err
	}
	tr, err := c.translate(ctx, collection, ci, q.Filter)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", collection, err)
	}
	if tr.None {
		return nil, nil
	}
	a := getArgs{limit: limit, offset: q.Offset, where: tr.Where, target: vectorName(q.Using)}
	vp, hasVector := ci.vectors[q.Using]
	if q.Vector != nil {
		if !hasVector {
			return nil, fmt.Errorf("query %q: no vector %q: %w", collection, q.Using, store.ErrInvalid)
		}
		if len(q.Vector) != vp.Size {
			// search.ErrDims as the local engine says it, so the routes
			// answer both backends alike.
			return nil, fmt.Errorf("query %q: vector %q has %d dims, the collection's has %d: %w: %w",
				collection, q.Using, len(q.Vector), vp.Size, search.ErrDims, store.ErrInvalid)
		}
	}
	switch {
	case q.Vector != nil && q.Text != "":
		a.hybrid = &hybridArgs{query: q.Text, vector: q.Vector}
	case q.Vector != nil:
		a.nearVector = q.Vector
		if q.ScoreThreshold != nil {
			// A hair looser than the threshold: Weaviate's distance is
			// float32; the exact test is below.
			d := maxDistance(vp.Distance, *q.ScoreThreshold)
			d = math.Nextafter(d+1e-6*math.Max(1, math.Abs(d)), math.Inf(1))
			a.distance = &d
		}
	case q.Text != "":
		a.bm25 = &q.Text
	default:
		return nil, fmt.Errorf("query %q: %w: %w", collection, errNoQuery, store.ErrInvalid)
	}
	hits, err := c.get(ctx, collection, ci, a, q.WithPayload, q.WithVectors)
	if err != nil {
		return nil, err
	}
	out := make([]search.ScoredPoint, 0, len(hits))
hits:
	for _, h := range hits {
		sp := search.ScoredPoint{ID: h.point.ID, Payload: h.point.Payload, Vectors: h.point.Vectors}
		switch {
		case h.distance != nil && a.nearVector != nil:
			sp.Score = Score(vp.Distance, *h.distance)
			if t := q.ScoreThreshold; t != nil && !passes(vp.Distance, sp.Score, *t) {
				break hits // results come best first: the rest fail too
			}
		case h.score != nil:
			sp.Score = float32(*h.score)
		}
		out = append(out, sp)
	}
	return out, nil
}

var errNoQuery = errors.New("a query needs a vector or text")

func passes(d store.Distance, score, t float32) bool {
	if d == store.Euclid {
		return score <= t
	}
	return score >= t
}
