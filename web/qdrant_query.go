package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// A search, query or recommend request is read into a qdrantPlan, whose
// documents are then embedded and whose point ids are then looked up
// (all of a batch's at once), before the engine runs it.

// qdrantInput is one vector a query refers to: given (numbers, or a
// document filled in when embedded) or the vector of a stored point.
type qdrantInput struct {
	values []float32
	id     *store.PointID
}

type qdrantPlan struct {
	// query is what the engine runs; Vector is set by resolve.
	query search.PointQuery
	// nearest is the vector to search near, or positive and negative are
	// recommend's examples (average_vector strategy).
	nearest            *qdrantInput
	positive, negative []*qdrantInput
	// mmr, when set, reranks the nearest points for diversity.
	mmr     *qdrantMMR
	payload payloadSelector
	vector  vectorSelector
}

// qdrantSearchParams is "params"; only exact changes what is returned.
// hnsw_ef, quantization, indexed_only and acorn tune speed and recall and
// are ignored.
type qdrantSearchParams struct {
	Exact *bool `json:"exact"`
}

// qdrantCommon holds the fields search, query and recommend share.
type qdrantCommon struct {
	Filter         *search.Filter      `json:"filter"`
	Params         *qdrantSearchParams `json:"params"`
	Limit          *int                `json:"limit"`
	Top            *int                `json:"top"`
	Offset         *int                `json:"offset"`
	WithPayload    json.RawMessage     `json:"with_payload"`
	WithVector     json.RawMessage     `json:"with_vector"`
	WithVectors    json.RawMessage     `json:"with_vectors"`
	ScoreThreshold *float32            `json:"score_threshold"`
	ShardKey       json.RawMessage     `json:"shard_key"`
	LookupFrom     json.RawMessage     `json:"lookup_from"`
}

// plan checks the shared fields into a plan. needLimit: search and
// recommend require a limit, query defaults it to 10.
func (r qdrantCommon) plan(needLimit bool) (*qdrantPlan, error) {
	if err := errors.Join(unsupported("shard_key", r.ShardKey, "custom sharding"),
		unsupported("lookup_from", r.LookupFrom, "vectors from another collection")); err != nil {
		return nil, err
	}
	limit := r.Limit
	if limit == nil {
		limit = r.Top
	}
	if limit == nil && needLimit {
		return nil, badRequest(`"limit" is missing`)
	}
	n, err := qdrantLimit(limit, r.Offset)
	if err != nil {
		return nil, err
	}
	p := &qdrantPlan{}
	p.query.Filter, p.query.Limit, p.query.ScoreThreshold = r.Filter, n, r.ScoreThreshold
	if r.Offset != nil {
		p.query.Offset = *r.Offset
	}
	if r.Params != nil && r.Params.Exact != nil {
		p.query.Exact = *r.Params.Exact
	}
	if p.payload, err = parseWithPayload(r.WithPayload, false); err != nil {
		return nil, err
	}
	if p.vector, err = parseWithVector(firstPresent(r.WithVector, r.WithVectors), false); err != nil {
		return nil, err
	}
	p.query.WithPayload, p.query.WithVectors = p.payload.want, p.vector.want
	return p, nil
}

// qdrantSearch is POST .../points/search: "vector" is an array, or
// {"name", "vector"} for a named vector.
type qdrantSearch struct {
	qdrantCommon
	Vector json.RawMessage `json:"vector"`
}

func (r qdrantSearch) plan() (*qdrantPlan, error) {
	p, err := r.qdrantCommon.plan(true)
	if err != nil {
		return nil, err
	}
	raw := r.Vector
	if firstByte(raw) == '{' {
		var named struct {
			Name   *string         `json:"name"`
			Vector json.RawMessage `json:"vector"`
		}
		if err := json.Unmarshal(raw, &named); err != nil || named.Name == nil || !present(named.Vector) {
			return nil, badRequest(`"vector" must be an array of numbers or {"name": "…", "vector": […]}`)
		}
		p.query.Using, raw = *named.Name, named.Vector
		if firstByte(raw) == '{' {
			return nil, badRequest("vector: sparse vectors are not supported by edgesearch")
		}
	}
	if firstByte(raw) != '[' {
		return nil, badRequest(`"vector" must be an array of numbers or {"name": "…", "vector": […]}`)
	}
	v, err := parseQdrantVector("vector", raw)
	if err != nil {
		return nil, err
	}
	p.nearest = &qdrantInput{values: v.values}
	return p, nil
}

// qdrantQuery is POST .../points/query.
type qdrantQuery struct {
	qdrantCommon
	Query    json.RawMessage `json:"query"`
	Using    *string         `json:"using"`
	Prefetch json.RawMessage `json:"prefetch"`
}

// qdrantUnsupportedQueries are the query kinds Qdrant has and edgesearch
// refuses, each named in the refusal.
var qdrantUnsupportedQueries = map[string]string{
	"discover": "discovery search", "context": "context search", "order_by": "ordering by a payload field",
	"fusion": "fusion of prefetches", "rrf": "fusion of prefetches", "formula": "score formulas",
	"sample": "random sampling", "relevance_feedback": "relevance feedback",
}

func (r qdrantQuery) plan(docs *qdrantDocs) (*qdrantPlan, error) {
	if err := unsupported("prefetch", r.Prefetch, "prefetch and multi-stage queries"); err != nil {
		return nil, err
	}
	p, err := r.qdrantCommon.plan(false)
	if err != nil {
		return nil, err
	}
	if r.Using != nil {
		p.query.Using = *r.Using
	}
	raw := r.Query
	if !present(raw) {
		return nil, badRequest(`"query" is missing (listing points without one is not supported here; use /points/scroll)`)
	}
	if firstByte(raw) == '{' {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, badRequest("query: %s", jsonProblem(err))
		}
		for _, k := range sortedNames(keys) {
			if what, ok := qdrantUnsupportedQueries[k]; ok {
				return nil, badRequest("query.%s is not supported by edgesearch (%s); see docs/qdrant.md", k, what)
			}
		}
		if nearest, ok := keys["nearest"]; ok {
			if p.mmr, err = parseMMR(keys["mmr"], p.query.Limit, p.query.Offset); err != nil {
				return nil, err
			}
			p.nearest, err = parseQdrantInput("query.nearest", nearest, docs)
			return p, err
		}
		if rec, ok := keys["recommend"]; ok {
			var ex qdrantExamples
			if err := json.Unmarshal(rec, &ex); err != nil {
				return nil, badRequest("query.recommend: %s", jsonProblem(err))
			}
			return p, ex.plan("query.recommend", p)
		}
	}
	p.nearest, err = parseQdrantInput("query", raw, docs)
	return p, err
}

// qdrantMMR is query.mmr: maximal marginal relevance.
type qdrantMMR struct {
	lambda     float64 // the weight of relevance, 1 − diversity
	candidates int     // how many of the nearest points it picks from
}

// parseMMR reads query.mmr, {"diversity", "candidates_limit"}, or returns
// nil when it is absent. As in Qdrant, diversity (0 to 1) defaults to 0.5
// and candidates_limit to limit. A candidates_limit over QdrantMaxResults,
// or one whose similarities with limit + offset picks would be over
// QdrantMaxMMRPairs, is refused.
func parseMMR(raw json.RawMessage, limit, offset int) (*qdrantMMR, error) {
	if !present(raw) {
		return nil, nil
	}
	var m struct {
		Diversity       *float64 `json:"diversity"`
		CandidatesLimit *int     `json:"candidates_limit"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, badRequest("query.mmr: %s", jsonProblem(err))
	}
	out := &qdrantMMR{lambda: 0.5, candidates: limit}
	if m.Diversity != nil {
		if !(*m.Diversity >= 0 && *m.Diversity <= 1) {
			return nil, badRequest("query.mmr.diversity %g: want 0 to 1", *m.Diversity)
		}
		out.lambda = 1 - *m.Diversity
	}
	if m.CandidatesLimit != nil {
		if *m.CandidatesLimit < 0 || *m.CandidatesLimit > QdrantMaxResults {
			return nil, badRequest("query.mmr.candidates_limit %d: want 0 to %d", *m.CandidatesLimit, QdrantMaxResults)
		}
		out.candidates = *m.CandidatesLimit
	}
	if pairs := out.candidates * (limit + offset); pairs > QdrantMaxMMRPairs {
		return nil, badRequest("query.mmr: candidates_limit %d × (limit + offset) %d = %d similarities, over edgesearch's %d a query; ask for fewer",
			out.candidates, limit+offset, pairs, QdrantMaxMMRPairs)
	}
	return out, nil
}

// parseQdrantInput reads a VectorInput: an array of numbers, a document,
// or a point id (a number or a UUID string).
func parseQdrantInput(field string, raw json.RawMessage, docs *qdrantDocs) (*qdrantInput, error) {
	switch b := firstByte(raw); {
	case b == '"' || (b >= '0' && b <= '9') || b == '-':
		var id store.PointID
		if err := json.Unmarshal(raw, &id); err != nil {
			return nil, badRequest("%s: %v", field, err)
		}
		return &qdrantInput{id: &id}, nil
	case b == '[' || b == '{':
		v, err := parseQdrantVector(field, raw)
		if err != nil {
			return nil, err
		}
		in := &qdrantInput{}
		docs.take(v, func(vec []float32) { in.values = vec })
		return in, nil
	}
	return nil, badRequest("%s must be a vector, a document or a point id", field)
}

// qdrantExamples are recommend's positive and negative examples: point ids
// or vectors. Only the average_vector strategy is served.
type qdrantExamples struct {
	Positive []json.RawMessage `json:"positive"`
	Negative []json.RawMessage `json:"negative"`
	Strategy *string           `json:"strategy"`
}

func (ex qdrantExamples) plan(field string, p *qdrantPlan) error {
	if ex.Strategy != nil && *ex.Strategy != "average_vector" {
		return badRequest("%s.strategy %q is not supported by edgesearch: only \"average_vector\"", field, *ex.Strategy)
	}
	if len(ex.Positive) == 0 {
		return badRequest("%s: at least one positive example is required", field)
	}
	if len(ex.Positive)+len(ex.Negative) > QdrantMaxPoints {
		return tooManyPoints(len(ex.Positive) + len(ex.Negative))
	}
	noDocs := &qdrantDocs{}
	read := func(list []json.RawMessage, name string) ([]*qdrantInput, error) {
		out := make([]*qdrantInput, len(list))
		for i, raw := range list {
			in, err := parseQdrantInput(fmt.Sprintf("%s.%s[%d]", field, name, i), raw, noDocs)
			if err != nil {
				return nil, err
			}
			out[i] = in
		}
		return out, nil
	}
	var err error
	if p.positive, err = read(ex.Positive, "positive"); err != nil {
		return err
	}
	if p.negative, err = read(ex.Negative, "negative"); err != nil {
		return err
	}
	if len(noDocs.docs) > 0 {
		return badRequest("%s: documents as examples are not supported by edgesearch; give point ids or vectors", field)
	}
	return nil
}

// qdrantRecommend is POST .../points/recommend.
type qdrantRecommend struct {
	qdrantCommon
	qdrantExamples
	Using *string `json:"using"`
}

func (r qdrantRecommend) plan() (*qdrantPlan, error) {
	p, err := r.qdrantCommon.plan(true)
	if err != nil {
		return nil, err
	}
	if r.Using != nil {
		p.query.Using = *r.Using
	}
	return p, r.qdrantExamples.plan("recommend", p)
}

// resolve turns the plans' point ids into their stored vectors, sets each
// query's vector (recommend's: the positive average plus its distance from
// the negative one, as Qdrant's average_vector) and strips the points
// referred to from the results, as Qdrant does.
func (s *Server) resolve(c *gin.Context, vs vectorStore, name string, plans []*qdrantPlan) error {
	var ids []store.PointID
	for _, p := range plans {
		for _, in := range p.inputs() {
			if in.id != nil {
				ids = append(ids, *in.id)
			}
		}
	}
	stored := map[store.PointID]store.Point{}
	if len(ids) > 0 {
		if len(ids) > QdrantMaxPoints {
			return tooManyPoints(len(ids))
		}
		pts, err := fetchPoints(c, vs, name, ids, false, true)
		if err != nil {
			return err
		}
		for _, pt := range pts {
			stored[pt.ID] = pt
		}
	}
	for _, p := range plans {
		var refs []store.PointID
		vec := func(in *qdrantInput) ([]float32, error) {
			if in.id == nil {
				return in.values, nil
			}
			pt, ok := stored[*in.id]
			if !ok {
				return nil, &requestError{store.ErrNotFound, fmt.Sprintf("No point with id %s found", in.id)}
			}
			v, ok := pt.Vectors[p.query.Using]
			if !ok {
				return nil, badRequest("point %s has no vector named %q", in.id, p.query.Using)
			}
			refs = append(refs, *in.id)
			return v, nil
		}
		if p.nearest != nil {
			v, err := vec(p.nearest)
			if err != nil {
				return err
			}
			p.query.Vector = v
		} else {
			pos, err := averageVector(p.positive, vec)
			if err != nil {
				return err
			}
			if len(p.negative) > 0 {
				neg, err := averageVector(p.negative, vec)
				if err != nil {
					return err
				}
				for i := range pos {
					pos[i] += pos[i] - neg[i]
				}
			}
			p.query.Vector = pos
		}
		f, err := excludeIDsFilter(refs, p.query.Filter)
		if err != nil {
			return err
		}
		p.query.Filter = f
	}
	return nil
}

// inputs lists every vector the plan refers to.
func (p *qdrantPlan) inputs() []*qdrantInput {
	if p.nearest != nil {
		return []*qdrantInput{p.nearest}
	}
	return append(append([]*qdrantInput(nil), p.positive...), p.negative...)
}

// averageVector is the element-wise mean of the inputs' vectors, which must
// have one length.
func averageVector(ins []*qdrantInput, vec func(*qdrantInput) ([]float32, error)) ([]float32, error) {
	var sum []float64
	for i, in := range ins {
		v, err := vec(in)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			sum = make([]float64, len(v))
		} else if len(v) != len(sum) {
			return nil, badRequest("recommend examples have %d and %d dimensions", len(sum), len(v))
		}
		for j, x := range v {
			sum[j] += float64(x)
		}
	}
	out := make([]float32, len(sum))
	for j, x := range sum {
		out[j] = float32(x / float64(len(ins)))
	}
	return out, nil
}

// run runs resolved plans and shapes their results.
func (s *Server) run(c *gin.Context, vs vectorStore, name string, plans []*qdrantPlan) ([][]qdrantScoredPoint, error) {
	out := make([][]qdrantScoredPoint, len(plans))
	for i, p := range plans {
		var hits []search.ScoredPoint
		var err error
		if p.mmr != nil {
			hits, err = queryMMR(c.Request.Context(), vs, name, p.query, *p.mmr)
		} else {
			hits, err = vs.Query(c.Request.Context(), name, p.query)
		}
		if err != nil {
			return nil, err
		}
		res := make([]qdrantScoredPoint, len(hits))
		for j, h := range hits {
			payload, err := p.payload.apply(h.Payload)
			if err != nil {
				return nil, err
			}
			res[j] = qdrantScoredPoint{ID: h.ID, Score: h.Score, Payload: payload, Vector: p.vector.apply(h.Vectors)}
		}
		out[i] = res
	}
	return out, nil
}

// queryMMR answers q with maximal marginal relevance, as Qdrant does: the
// m.candidates nearest points that pass q's filter and score threshold,
// of which q.Limit + q.Offset are picked, the nearest first, then each
// time the one with the highest λ·relevance − (1 − λ)·(its highest
// similarity to those picked); the first q.Offset picks are skipped.
// Scores stay the query's.
func queryMMR(ctx context.Context, vs vectorStore, name string, q search.PointQuery, m qdrantMMR) ([]search.ScoredPoint, error) {
	if m.candidates == 0 {
		return nil, nil
	}
	k, offset := q.Limit+q.Offset, q.Offset
	q.Limit, q.Offset, q.WithVectors = m.candidates, 0, true
	cands, err := vs.Query(ctx, name, q)
	if err != nil {
		return nil, err
	}
	info, err := vs.Info(name)
	if err != nil {
		return nil, err
	}
	picked := mmrPick(cands, q.Using, info.Vectors[q.Using].Distance, m.lambda, k)
	if offset >= len(picked) {
		return nil, nil
	}
	return picked[offset:], nil
}

// mmrPick picks k of cands (best first) by maximal marginal relevance with
// relevance weight lambda. Similarity is the collection's own: cosine, dot
// product, or for Euclid the negated squared distance, and relevance is
// the query's score on that scale (Qdrant scores Euclid the same way
// inside, and reports the distance).
func mmrPick(cands []search.ScoredPoint, using string, d store.Distance, lambda float64, k int) []search.ScoredPoint {
	k = min(k, len(cands))
	relevance := make([]float64, len(cands))
	for i, c := range cands {
		relevance[i] = float64(c.Score)
		if d == store.Euclid {
			relevance[i] = -relevance[i] * relevance[i]
		}
	}
	// closest[i] is candidate i's highest similarity to those picked,
	// updated with each pick: k passes over the candidates in all.
	closest := make([]float64, len(cands))
	taken := make([]bool, len(cands))
	out := make([]search.ScoredPoint, 0, k)
	last := -1
	for len(out) < k {
		best, bestScore := -1, 0.0
		for i := range cands {
			if taken[i] {
				continue
			}
			score := relevance[i]
			if last >= 0 {
				sim := similarity(d, cands[i].Vectors[using], cands[last].Vectors[using])
				if len(out) == 1 || sim > closest[i] {
					closest[i] = sim
				}
				score = lambda*relevance[i] - (1-lambda)*closest[i]
			}
			// Strictly greater: a tie goes to the one the query ranks first.
			if best < 0 || score > bestScore {
				best, bestScore = i, score
			}
		}
		taken[best], last = true, best
		out = append(out, cands[best])
	}
	return out
}

// similarity is how alike a and b are under d, higher for more alike:
// cosine, dot product, or the negated squared Euclidean distance. Vectors
// of different lengths (never stored in one collection) or a zero vector
// under cosine are 0.
func similarity(d store.Distance, a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb, sq float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		sq += (x - y) * (x - y)
	}
	switch d {
	case store.Euclid:
		return -sq
	case store.Dot:
		return dot
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// answerPlans embeds the documents, resolves the ids and runs the plans,
// or answers the first error.
func (s *Server) answerPlans(c *gin.Context, vs vectorStore, plans []*qdrantPlan, docs *qdrantDocs) ([][]qdrantScoredPoint, bool) {
	name := c.Param("collection")
	if len(docs.docs) > 0 {
		if _, err := vs.Info(name); err != nil {
			s.qdrantAbort(c, qdrantCollectionError(vs, name, err))
			return nil, false
		}
		if err := docs.embed(s, c, false); err != nil {
			s.qdrantAbort(c, err)
			return nil, false
		}
	}
	if err := s.resolve(c, vs, name, plans); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, name, err))
		return nil, false
	}
	res, err := s.run(c, vs, name, plans)
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, name, err))
		return nil, false
	}
	return res, true
}

func (s *Server) handleQdrantSearch(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantSearch
	if !s.readQdrant(c, &req) {
		return
	}
	p, err := req.plan()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if res, ok := s.answerPlans(c, vs, []*qdrantPlan{p}, &qdrantDocs{}); ok {
		qdrantOK(c, res[0])
	}
}

// qdrantBatch reads {"searches": […]}, at most QdrantMaxBatch of them.
func (s *Server) readQdrantBatch(c *gin.Context) ([]json.RawMessage, bool) {
	var req struct {
		Searches *[]json.RawMessage `json:"searches"`
	}
	if !s.readQdrant(c, &req) {
		return nil, false
	}
	if req.Searches == nil {
		s.qdrantAbort(c, badRequest(`"searches" is missing`))
		return nil, false
	}
	if len(*req.Searches) > QdrantMaxBatch {
		s.qdrantAbort(c, badRequest("%d searches in one batch, limit %d", len(*req.Searches), QdrantMaxBatch))
		return nil, false
	}
	return *req.Searches, true
}

func (s *Server) handleQdrantSearchBatch(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	raws, ok := s.readQdrantBatch(c)
	if !ok {
		return
	}
	plans := make([]*qdrantPlan, len(raws))
	for i, raw := range raws {
		var req qdrantSearch
		if err := json.Unmarshal(raw, &req); err != nil {
			s.qdrantAbort(c, badRequest("searches[%d]: %s", i, jsonProblem(err)))
			return
		}
		if plans[i], err = req.plan(); err != nil {
			s.qdrantAbort(c, fmt.Errorf("searches[%d]: %w", i, err))
			return
		}
	}
	if res, ok := s.answerPlans(c, vs, plans, &qdrantDocs{}); ok {
		qdrantOK(c, res)
	}
}

// qdrantQueryResponse is QueryResponse.
type qdrantQueryResponse struct {
	Points []qdrantScoredPoint `json:"points"`
}

func (s *Server) handleQdrantQuery(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantQuery
	if !s.readQdrant(c, &req) {
		return
	}
	docs := &qdrantDocs{}
	p, err := req.plan(docs)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if res, ok := s.answerPlans(c, vs, []*qdrantPlan{p}, docs); ok {
		qdrantOK(c, qdrantQueryResponse{Points: res[0]})
	}
}

func (s *Server) handleQdrantQueryBatch(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	raws, ok := s.readQdrantBatch(c)
	if !ok {
		return
	}
	docs := &qdrantDocs{}
	plans := make([]*qdrantPlan, len(raws))
	for i, raw := range raws {
		var req qdrantQuery
		if err := json.Unmarshal(raw, &req); err != nil {
			s.qdrantAbort(c, badRequest("searches[%d]: %s", i, jsonProblem(err)))
			return
		}
		if plans[i], err = req.plan(docs); err != nil {
			s.qdrantAbort(c, fmt.Errorf("searches[%d]: %w", i, err))
			return
		}
	}
	res, ok := s.answerPlans(c, vs, plans, docs)
	if !ok {
		return
	}
	out := make([]qdrantQueryResponse, len(res))
	for i, r := range res {
		out[i] = qdrantQueryResponse{Points: r}
	}
	qdrantOK(c, out)
}

func (s *Server) handleQdrantRecommend(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantRecommend
	if !s.readQdrant(c, &req) {
		return
	}
	p, err := req.plan()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if res, ok := s.answerPlans(c, vs, []*qdrantPlan{p}, &qdrantDocs{}); ok {
		qdrantOK(c, res[0])
	}
}
