package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// qdrantRecord is a point as Qdrant answers it (Record, and ScoredPoint
// with Version and Score). Payload and vector are left out unless asked
// for, as in Qdrant.
type qdrantRecord struct {
	ID      store.PointID   `json:"id"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Vector  any             `json:"vector,omitempty"`
}

type qdrantScoredPoint struct {
	ID store.PointID `json:"id"`
	// Version is Qdrant's per-point operation number, which edgesearch
	// does not keep; always 0.
	Version int             `json:"version"`
	Score   float32         `json:"score"`
	Payload json.RawMessage `json:"payload,omitempty"`
	Vector  any             `json:"vector,omitempty"`
}

// payloadSelector is with_payload: false, true, a list of keys to keep
// ({"include": […]} too) or {"exclude": […]}.
type payloadSelector struct {
	want             bool
	include, exclude []string
}

// parseWithPayload reads with_payload; null or absent means def. Keys are
// top-level payload keys: nested paths ("a.b") are refused.
func parseWithPayload(raw json.RawMessage, def bool) (payloadSelector, error) {
	if !present(raw) {
		return payloadSelector{want: def}, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return payloadSelector{want: b}, nil
	}
	var keys []string
	var obj struct {
		Include *[]string `json:"include"`
		Exclude *[]string `json:"exclude"`
	}
	sel := payloadSelector{want: true}
	switch {
	case json.Unmarshal(raw, &keys) == nil:
		sel.include = keys
	case json.Unmarshal(raw, &obj) == nil && (obj.Include == nil) != (obj.Exclude == nil):
		if obj.Include != nil {
			sel.include = *obj.Include
		} else {
			sel.exclude = *obj.Exclude
		}
	default:
		return sel, badRequest(`"with_payload" must be true, false, a list of keys, {"include": […]} or {"exclude": […]}`)
	}
	for _, k := range slices.Concat(sel.include, sel.exclude) {
		if k == "" || strings.ContainsAny(k, ".[]\"") {
			return sel, badRequest("with_payload key %q: only top-level payload keys are supported by edgesearch, not paths", k)
		}
	}
	if sel.include != nil && len(sel.include) == 0 {
		sel.include = []string{} // keep nothing, but still answer {}
	}
	return sel, nil
}

// apply returns the payload to answer: nil when not wanted, {} for a
// point without one, else the stored bytes or the selected keys.
func (p payloadSelector) apply(payload []byte) (json.RawMessage, error) {
	if !p.want {
		return nil, nil
	}
	if len(payload) == 0 {
		return json.RawMessage("{}"), nil
	}
	if p.include == nil && p.exclude == nil {
		return payload, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("stored payload: %w", err)
	}
	if p.include != nil {
		kept := make(map[string]json.RawMessage, len(p.include))
		for _, k := range p.include {
			if v, ok := m[k]; ok {
				kept[k] = v
			}
		}
		m = kept
	}
	for _, k := range p.exclude {
		delete(m, k)
	}
	return json.Marshal(m)
}

// vectorSelector is with_vector: false, true, or a list of vector names.
type vectorSelector struct {
	want  bool
	names []string
}

func parseWithVector(raw json.RawMessage, def bool) (vectorSelector, error) {
	if !present(raw) {
		return vectorSelector{want: def}, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return vectorSelector{want: b}, nil
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return vectorSelector{}, badRequest(`"with_vector" must be true, false or a list of vector names`)
	}
	return vectorSelector{want: true, names: names}, nil
}

// apply returns the vectors to answer: nil when not wanted, the unnamed
// vector as an array, named vectors as a map.
func (v vectorSelector) apply(vectors map[string][]float32) any {
	if !v.want || vectors == nil {
		return nil
	}
	if v.names != nil {
		out := make(map[string][]float32, len(v.names))
		for _, n := range v.names {
			if vec, ok := vectors[n]; ok {
				out[n] = vec
			}
		}
		return out
	}
	if vec, ok := vectors[""]; ok && len(vectors) == 1 {
		return vec
	}
	return vectors
}

// readQdrant decodes the body into v and answers the error if it fails.
func (s *Server) readQdrant(c *gin.Context, v any) bool {
	if err := s.readJSON(c, v); err != nil {
		s.qdrantAbort(c, err)
		return false
	}
	return true
}

// qdrantUpsert is PUT /collections/{name}/points: a list of points or a
// batch of columns. Conditional and shard-keyed upserts are refused.
type qdrantUpsert struct {
	Points       json.RawMessage `json:"points"`
	Batch        *qdrantBatch    `json:"batch"`
	ShardKey     json.RawMessage `json:"shard_key"`
	UpdateFilter json.RawMessage `json:"update_filter"`
	UpdateMode   *string         `json:"update_mode"`
}

type qdrantPointStruct struct {
	ID      *store.PointID  `json:"id"`
	Vector  json.RawMessage `json:"vector"`
	Payload json.RawMessage `json:"payload"`
}

type qdrantBatch struct {
	IDs      []store.PointID   `json:"ids"`
	Vectors  json.RawMessage   `json:"vectors"`
	Payloads []json.RawMessage `json:"payloads"`
}

func (s *Server) handleQdrantUpsert(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantUpsert
	if !s.readQdrant(c, &req) {
		return
	}
	pts, docs, err := parseQdrantUpsert(req)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if len(docs.docs) > 0 {
		// A missing collection is worth knowing before embedding for it.
		// One on a cluster that is down is not known missing: its writes
		// are checked against the vectors the outbox knows (Upsert).
		if _, err := vs.Info(c.Param("collection")); err != nil && !errors.Is(err, ErrUnavailable) {
			s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
			return
		}
		if err := docs.embed(s, c, true); err != nil {
			s.qdrantAbort(c, err)
			return
		}
	}
	if err := vs.Upsert(c.Request.Context(), c.Param("collection"), pts); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantUpdated(c)
}

// parseQdrantUpsert turns either form of an upsert into points, with the
// documents still to embed.
func parseQdrantUpsert(req qdrantUpsert) ([]store.Point, *qdrantDocs, error) {
	if err := unsupported("shard_key", req.ShardKey, "custom sharding"); err != nil {
		return nil, nil, err
	}
	if err := unsupported("update_filter", req.UpdateFilter, "conditional updates"); err != nil {
		return nil, nil, err
	}
	if req.UpdateMode != nil && *req.UpdateMode != "upsert" {
		return nil, nil, badRequest("update_mode %q is not supported by edgesearch: only \"upsert\"", *req.UpdateMode)
	}
	docs := &qdrantDocs{}
	switch {
	case present(req.Points) && req.Batch != nil:
		return nil, nil, badRequest(`give "points" or "batch", not both`)
	case present(req.Points):
		var list []qdrantPointStruct
		if err := json.Unmarshal(req.Points, &list); err != nil {
			return nil, nil, badRequest(`"points" must be an array of {"id", "vector", "payload"}: %s`, jsonProblem(err))
		}
		if len(list) > QdrantMaxPoints {
			return nil, nil, tooManyPoints(len(list))
		}
		pts := make([]store.Point, len(list))
		for i, p := range list {
			field := fmt.Sprintf("points[%d]", i)
			if p.ID == nil {
				return nil, nil, badRequest("%s.id is missing", field)
			}
			if !present(p.Vector) {
				return nil, nil, badRequest("%s.vector is missing", field)
			}
			vecs, err := parseQdrantVectorStruct(field+".vector", p.Vector)
			if err != nil {
				return nil, nil, err
			}
			pt := &pts[i]
			pt.ID, pt.Payload = *p.ID, p.Payload
			pt.Vectors = make(map[string][]float32, len(vecs))
			for name, v := range vecs {
				docs.take(v, func(vec []float32) { pt.Vectors[name] = vec })
			}
		}
		return pts, docs, nil
	case req.Batch != nil:
		return parseQdrantBatch(*req.Batch, docs)
	}
	return nil, nil, badRequest(`give "points": [{"id", "vector", "payload"}, …] or "batch": {"ids", "vectors", "payloads"}`)
}

func parseQdrantBatch(b qdrantBatch, docs *qdrantDocs) ([]store.Point, *qdrantDocs, error) {
	n := len(b.IDs)
	if n > QdrantMaxPoints {
		return nil, nil, tooManyPoints(n)
	}
	if b.Payloads != nil && len(b.Payloads) != n {
		return nil, nil, badRequest("batch has %d ids and %d payloads", n, len(b.Payloads))
	}
	columns := map[string]json.RawMessage{}
	switch firstByte(b.Vectors) {
	case '[':
		columns[""] = b.Vectors
	case '{':
		if err := json.Unmarshal(b.Vectors, &columns); err != nil {
			return nil, nil, badRequest("batch.vectors: %s", jsonProblem(err))
		}
	default:
		return nil, nil, badRequest(`batch.vectors must be an array of vectors or a map of vector names to arrays of vectors`)
	}
	pts := make([]store.Point, n)
	for i := range pts {
		pts[i].ID = b.IDs[i]
		pts[i].Vectors = make(map[string][]float32, len(columns))
		if b.Payloads != nil {
			pts[i].Payload = b.Payloads[i]
		}
	}
	for _, name := range sortedNames(columns) {
		field := "batch.vectors"
		if name != "" {
			field += "." + name
		}
		var items []json.RawMessage
		if err := json.Unmarshal(columns[name], &items); err != nil {
			return nil, nil, badRequest("%s must be an array of vectors: %s", field, jsonProblem(err))
		}
		if len(items) != n {
			return nil, nil, badRequest("batch has %d ids and %d vectors in %s", n, len(items), field)
		}
		for i, raw := range items {
			v, err := parseQdrantVector(fmt.Sprintf("%s[%d]", field, i), raw)
			if err != nil {
				return nil, nil, err
			}
			pt := &pts[i]
			docs.take(v, func(vec []float32) { pt.Vectors[name] = vec })
		}
	}
	return pts, docs, nil
}

func tooManyPoints(n int) error {
	return &requestError{ErrTooLarge, fmt.Sprintf("%d points in one request, limit %d: send them in several", n, QdrantMaxPoints)}
}

// qdrantIDs bounds a list of point ids.
func qdrantIDs(field string, ids []store.PointID) error {
	if len(ids) > QdrantMaxPoints {
		return &requestError{ErrTooLarge, fmt.Sprintf("%d ids in %q, limit %d", len(ids), field, QdrantMaxPoints)}
	}
	return nil
}

// hasIDFilter is the filter {"must": [{"has_id": ids}]}, and also f's
// conditions when f is not nil.
func hasIDFilter(ids []store.PointID, f *search.Filter) (*search.Filter, error) {
	cond := map[string]any{"must": []any{map[string]any{"has_id": ids}}}
	if f != nil {
		cond["must"] = []any{map[string]any{"has_id": ids}, f}
	}
	return marshalFilter(cond)
}

// excludeIDsFilter is f with its results stripped of ids, as Qdrant strips
// the points a query refers to from its answer.
func excludeIDsFilter(ids []store.PointID, f *search.Filter) (*search.Filter, error) {
	if len(ids) == 0 {
		return f, nil
	}
	cond := map[string]any{"must_not": []any{map[string]any{"has_id": ids}}}
	if f != nil {
		cond["must"] = []any{f}
	}
	return marshalFilter(cond)
}

func marshalFilter(v any) (*search.Filter, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return search.ParseFilter(b)
}

// fetchPoints returns the stored points among ids, each once, in the order
// asked.
func fetchPoints(c *gin.Context, vs vectorStore, name string, ids []store.PointID, withPayload, withVectors bool) ([]store.Point, error) {
	uniq := make([]store.PointID, 0, len(ids))
	seen := make(map[store.PointID]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		if _, err := vs.Info(name); err != nil {
			return nil, err
		}
		return nil, nil
	}
	f, err := hasIDFilter(uniq, nil)
	if err != nil {
		return nil, err
	}
	pts, _, err := vs.Scroll(c.Request.Context(), name, f, nil, len(uniq), withPayload, withVectors)
	if err != nil {
		return nil, err
	}
	at := make(map[store.PointID]int, len(uniq))
	for i, id := range uniq {
		at[id] = i
	}
	slices.SortFunc(pts, func(a, b store.Point) int { return at[a.ID] - at[b.ID] })
	return pts, nil
}

// records shapes stored points for an answer.
func records(pts []store.Point, ps payloadSelector, vsel vectorSelector) ([]qdrantRecord, error) {
	out := make([]qdrantRecord, len(pts))
	for i, p := range pts {
		payload, err := ps.apply(p.Payload)
		if err != nil {
			return nil, err
		}
		out[i] = qdrantRecord{ID: p.ID, Payload: payload, Vector: vsel.apply(p.Vectors)}
	}
	return out, nil
}

// qdrantRetrieve is POST /collections/{name}/points.
type qdrantRetrieve struct {
	IDs         []store.PointID `json:"ids"`
	WithPayload json.RawMessage `json:"with_payload"`
	WithVector  json.RawMessage `json:"with_vector"`
	WithVectors json.RawMessage `json:"with_vectors"`
	ShardKey    json.RawMessage `json:"shard_key"`
}

func (s *Server) handleQdrantRetrieve(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantRetrieve
	if !s.readQdrant(c, &req) {
		return
	}
	if req.IDs == nil {
		s.qdrantAbort(c, badRequest(`"ids" is missing`))
		return
	}
	if err := errors.Join(qdrantIDs("ids", req.IDs), unsupported("shard_key", req.ShardKey, "custom sharding")); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	ps, err := parseWithPayload(req.WithPayload, false)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	vsel, err := parseWithVector(firstPresent(req.WithVector, req.WithVectors), false)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	pts, err := fetchPoints(c, vs, c.Param("collection"), req.IDs, ps.want, vsel.want)
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	out, err := records(pts, ps, vsel)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	qdrantOK(c, out)
}

// firstPresent returns the first of raws that is set: Qdrant takes
// with_vectors as another spelling of with_vector.
func firstPresent(raws ...json.RawMessage) json.RawMessage {
	for _, r := range raws {
		if present(r) {
			return r
		}
	}
	return nil
}

// handleQdrantGetPoint serves GET /collections/{name}/points/{id}, with
// payload and vectors.
func (s *Server) handleQdrantGetPoint(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	id, err := store.ParsePointID(c.Param("id"))
	if err != nil {
		s.qdrantAbort(c, badRequest("Can not recognize %q as point id", c.Param("id")))
		return
	}
	pts, err := fetchPoints(c, vs, c.Param("collection"), []store.PointID{id}, true, true)
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	if len(pts) == 0 {
		s.qdrantAbort(c, &requestError{store.ErrNotFound, fmt.Sprintf("Point with id %s does not exists!", id)})
		return
	}
	out, err := records(pts, payloadSelector{want: true}, vectorSelector{want: true})
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	qdrantOK(c, out[0])
}

// qdrantSelector is Qdrant's PointsSelector: {"points": [ids]} or
// {"filter": {…}}, plus the fields of the payload requests.
type qdrantSelector struct {
	Points   *[]store.PointID `json:"points"`
	Filter   *search.Filter   `json:"filter"`
	ShardKey json.RawMessage  `json:"shard_key"`
}

// target checks that exactly one of points and filter is given.
func (sel qdrantSelector) target() ([]store.PointID, *search.Filter, error) {
	if err := unsupported("shard_key", sel.ShardKey, "custom sharding"); err != nil {
		return nil, nil, err
	}
	switch {
	case sel.Points != nil && sel.Filter != nil:
		return nil, nil, badRequest(`give "points" or "filter", not both`)
	case sel.Points != nil:
		if err := qdrantIDs("points", *sel.Points); err != nil {
			return nil, nil, err
		}
		return *sel.Points, nil, nil
	case sel.Filter != nil:
		return nil, sel.Filter, nil
	}
	return nil, nil, badRequest(`give "points": [ids] or "filter": {…}`)
}

func (s *Server) handleQdrantDelete(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantSelector
	if !s.readQdrant(c, &req) {
		return
	}
	ids, f, err := req.target()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if f != nil {
		_, err = vs.DeleteWhere(c.Request.Context(), c.Param("collection"), f)
	} else {
		_, err = vs.Delete(c.Request.Context(), c.Param("collection"), ids)
	}
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantUpdated(c)
}

// qdrantSetPayload is the body of POST and PUT .../points/payload.
type qdrantSetPayload struct {
	qdrantSelector
	Payload json.RawMessage `json:"payload"`
	Key     json.RawMessage `json:"key"`
}

func (s *Server) handleQdrantSetPayload(c *gin.Context)       { s.setPayload(c, false) }
func (s *Server) handleQdrantOverwritePayload(c *gin.Context) { s.setPayload(c, true) }

func (s *Server) setPayload(c *gin.Context, overwrite bool) {
	var req qdrantSetPayload
	if !s.readQdrant(c, &req) {
		return
	}
	if present(req.Key) {
		s.qdrantAbort(c, badRequest(`"key" (setting a payload under a nested key) is not supported by edgesearch; set the top-level key`))
		return
	}
	var set map[string]json.RawMessage
	if err := json.Unmarshal(req.Payload, &set); err != nil || set == nil {
		s.qdrantAbort(c, badRequest(`"payload" must be an object`))
		return
	}
	s.updatePayload(c, req.qdrantSelector, store.PayloadOp{Set: set, Overwrite: overwrite})
}

// qdrantDeletePayload is the body of POST .../points/payload/delete.
type qdrantDeletePayload struct {
	qdrantSelector
	Keys *[]string `json:"keys"`
}

func (s *Server) handleQdrantDeletePayload(c *gin.Context) {
	var req qdrantDeletePayload
	if !s.readQdrant(c, &req) {
		return
	}
	if req.Keys == nil {
		s.qdrantAbort(c, badRequest(`"keys" is missing`))
		return
	}
	for _, k := range *req.Keys {
		if k == "" || strings.ContainsAny(k, ".[]\"") {
			s.qdrantAbort(c, badRequest("key %q: only top-level payload keys can be deleted by edgesearch, not paths", k))
			return
		}
	}
	if len(*req.Keys) == 0 {
		// Nothing to delete; still check the collection and the selector.
		if _, _, err := req.target(); err != nil {
			s.qdrantAbort(c, err)
			return
		}
		s.checkCollectionThen(c, qdrantUpdated)
		return
	}
	s.updatePayload(c, req.qdrantSelector, store.PayloadOp{Delete: *req.Keys})
}

func (s *Server) handleQdrantClearPayload(c *gin.Context) {
	var req qdrantSelector
	if !s.readQdrant(c, &req) {
		return
	}
	s.updatePayload(c, req, store.PayloadOp{Clear: true})
}

func (s *Server) updatePayload(c *gin.Context, sel qdrantSelector, op store.PayloadOp) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	ids, f, err := sel.target()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if _, err := vs.UpdatePayload(c.Request.Context(), c.Param("collection"), ids, f, op); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantUpdated(c)
}

// checkCollectionThen runs then when the collection exists, else answers 404.
func (s *Server) checkCollectionThen(c *gin.Context, then func(*gin.Context)) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	if _, err := vs.Info(c.Param("collection")); err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	then(c)
}

// qdrantScroll is POST .../points/scroll.
type qdrantScroll struct {
	Offset      *store.PointID  `json:"offset"`
	Limit       *int            `json:"limit"`
	Filter      *search.Filter  `json:"filter"`
	WithPayload json.RawMessage `json:"with_payload"`
	WithVector  json.RawMessage `json:"with_vector"`
	WithVectors json.RawMessage `json:"with_vectors"`
	OrderBy     json.RawMessage `json:"order_by"`
	ShardKey    json.RawMessage `json:"shard_key"`
}

type qdrantScrollResult struct {
	Points         []qdrantRecord `json:"points"`
	NextPageOffset *store.PointID `json:"next_page_offset"`
}

func (s *Server) handleQdrantScroll(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantScroll
	// Qdrant takes an empty body as {}.
	if c.Request.ContentLength != 0 && !s.readQdrant(c, &req) {
		return
	}
	if err := errors.Join(unsupported("order_by", req.OrderBy, "ordering by a payload field"),
		unsupported("shard_key", req.ShardKey, "custom sharding")); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	limit, err := qdrantLimit(req.Limit, nil)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	ps, err := parseWithPayload(req.WithPayload, true)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	vsel, err := parseWithVector(firstPresent(req.WithVector, req.WithVectors), false)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	pts, next, err := vs.Scroll(c.Request.Context(), c.Param("collection"), req.Filter, req.Offset, limit, ps.want, vsel.want)
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	out, err := records(pts, ps, vsel)
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	qdrantOK(c, qdrantScrollResult{Points: out, NextPageOffset: next})
}

// qdrantLimit checks limit (default qdrantDefaultScroll) and offset
// against QdrantMaxResults.
func qdrantLimit(limit, offset *int) (int, error) {
	n := qdrantDefaultScroll
	if limit != nil {
		n = *limit
	}
	if n < 1 {
		return 0, badRequest("limit %d: want at least 1", n)
	}
	off := 0
	if offset != nil {
		off = *offset
	}
	if off < 0 {
		return 0, badRequest("offset %d: want 0 or more", off)
	}
	if n > QdrantMaxResults || off > QdrantMaxResults-n {
		return 0, &requestError{ErrBadRequest, fmt.Sprintf("limit %d + offset %d is over edgesearch's %d results a request; page with a filter or scroll", n, off, QdrantMaxResults)}
	}
	return n, nil
}

// qdrantCount is POST .../points/count. Counts are always exact.
type qdrantCount struct {
	Filter   *search.Filter  `json:"filter"`
	Exact    *bool           `json:"exact"`
	ShardKey json.RawMessage `json:"shard_key"`
}

func (s *Server) handleQdrantCount(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.qdrantAbort(c, err)
		return
	}
	var req qdrantCount
	if c.Request.ContentLength != 0 && !s.readQdrant(c, &req) {
		return
	}
	if err := unsupported("shard_key", req.ShardKey, "custom sharding"); err != nil {
		s.qdrantAbort(c, err)
		return
	}
	n, err := vs.Count(c.Request.Context(), c.Param("collection"), req.Filter)
	if err != nil {
		s.qdrantAbort(c, qdrantCollectionError(vs, c.Param("collection"), err))
		return
	}
	qdrantOK(c, gin.H{"count": n})
}
