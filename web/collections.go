package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// The main port's view of the collections of points (the vector store the
// Qdrant-compatible API writes), for the web UI: GET /collections says which
// collections a person can search by typing, and POST
// /collections/:name/search embeds a query with the loaded model and
// answers the nearest points with the payload field that holds their text.

// Bounds on the collection routes' work.
const (
	// CollectionSearchMaxLimit caps "limit" of POST /collections/:name/search.
	CollectionSearchMaxLimit = 100
	// collectionSearchDefaultLimit is the limit when the request gives none.
	collectionSearchDefaultLimit = 10
	// textFieldSample is how many points are read to guess a collection's
	// text field: enough to see past a few odd points, few enough that
	// listing many collections stays cheap.
	textFieldSample = 16
)

// CollectionSummary is one entry of GET /collections.
type CollectionSummary struct {
	Name   string `json:"name"`
	Points int    `json:"points"`
	// VectorSize and Distance are the default vector's: the unnamed one, or
	// the first named one in name order when there is no unnamed one.
	VectorSize int    `json:"vector_size"`
	Distance   string `json:"distance"`
	// TextField is the payload key shown and searched by (see textField),
	// null when no sampled point has a string field.
	TextField *string `json:"text_field"`
	// Searchable says whether POST /collections/:name/search can serve the
	// collection and shows its text; Reason says why not when it cannot.
	Searchable bool   `json:"searchable"`
	Reason     string `json:"reason,omitempty"`
	// Documents marks search.DocumentsCollection, the documents' chunks
	// seen as points. The UI leaves it out of the picker: its "Documents"
	// entry searches the same chunks through /search, with keyword and
	// hybrid modes, filters and the reader.
	Documents bool `json:"documents,omitempty"`
}

// CollectionSearchResponse is the answer of POST /collections/:name/search.
type CollectionSearchResponse struct {
	Collection string                `json:"collection"`
	Query      string                `json:"query"`
	Mode       string                `json:"mode"`
	TextField  *string               `json:"text_field"`
	TookMS     float64               `json:"took_ms"`
	Results    []CollectionSearchHit `json:"results"`
}

// CollectionSearchHit is one point found. Text is the payload's text field
// when it is a string there, else null; Payload is the whole payload ({}
// when the point has none).
type CollectionSearchHit struct {
	ID      store.PointID   `json:"id"`
	Score   float32         `json:"score"`
	Text    *string         `json:"text"`
	Payload json.RawMessage `json:"payload"`
}

// collectionSearchRequest is POST /collections/:name/search's body. Filter
// is in Qdrant's language, over the points' payloads.
type collectionSearchRequest struct {
	Query  *string         `json:"query"`
	Limit  *int            `json:"limit"`
	Filter json.RawMessage `json:"filter"`
	Mode   string          `json:"mode"`
}

// handleListCollections serves GET /collections: every collection, in name
// order, with its text field and whether the UI can search it.
func (s *Server) handleListCollections(c *gin.Context) {
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	infos, err := vs.List()
	if err != nil {
		s.abortWithError(c, fmt.Errorf("list collections: %w", err))
		return
	}
	dims := 0 // unknown while the model loads: only the text field decides
	if p := s.pool.Load(); p != nil {
		dims = p.Info().Dims
	}
	out := make([]CollectionSummary, 0, len(infos))
	for _, info := range infos {
		field, err := textField(c.Request.Context(), vs, info.Name)
		if errors.Is(err, store.ErrNotFound) {
			continue // dropped since List
		}
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		_, vp := defaultVector(info)
		sum := CollectionSummary{Name: info.Name, Points: info.Points, VectorSize: vp.Size,
			Distance: vp.Distance.String(), TextField: field, Searchable: true,
			Documents: info.Name == search.DocumentsCollection}
		switch {
		case dims != 0 && vp.Size != dims:
			sum.Searchable, sum.Reason = false, fmt.Sprintf("its vectors have %d dimensions; the model here makes %d", vp.Size, dims)
		case field == nil && info.Points == 0:
			sum.Searchable, sum.Reason = false, "it has no points yet"
		case field == nil:
			sum.Searchable, sum.Reason = false, "its points have no text field in their payload"
		}
		out = append(out, sum)
	}
	c.JSON(http.StatusOK, gin.H{"collections": out})
}

// handleCollectionSearch serves POST /collections/:name/search {query,
// limit, filter, mode}: the query embedded by the model in the interactive
// lane (503 with Retry-After when the embedder is full) for the
// collection's nearest points by its default vector, and, in the hybrid
// mode (the default) and the keyword mode, its words looked up in the
// points' text by BM25, the two rankings fused. A collection whose vectors
// are not the model's size is a 400 that says so; an unknown one a 404.
func (s *Server) handleCollectionSearch(c *gin.Context) {
	start := time.Now()
	name := c.Param("name")
	var req collectionSearchRequest
	if err := s.readJSON(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	if req.Query == nil || strings.TrimSpace(*req.Query) == "" {
		s.abortWithError(c, badRequest(`the query "query" is missing or empty`))
		return
	}
	limit := collectionSearchDefaultLimit
	if req.Limit != nil {
		if limit = *req.Limit; limit < 1 || limit > CollectionSearchMaxLimit {
			s.abortWithError(c, badRequest(`"limit" is %d: want a whole number from 1 to %d`, limit, CollectionSearchMaxLimit))
			return
		}
	}
	mode, err := search.ParseMode(req.Mode)
	if err != nil {
		s.abortWithError(c, badRequest(`"mode" is %q: want hybrid, semantic or keyword`, req.Mode))
		return
	}
	var filter *search.Filter
	if present(req.Filter) {
		f, err := search.ParseFilter(req.Filter)
		if err != nil {
			s.abortWithError(c, badRequest("filter: %v", err))
			return
		}
		filter = f
	}
	vs, err := s.collectionsOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	info, err := vs.Info(name)
	if errors.Is(err, store.ErrNotFound) {
		noCollection(c, name)
		return
	}
	if err != nil {
		s.abortWithError(c, fmt.Errorf("collection %q: %w", name, err))
		return
	}
	pool, err := s.embedderOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	using, vp := defaultVector(info)
	if model := pool.Info(); vp.Size != model.Dims {
		s.abortWithError(c, badRequest("collection %q has %d-dimensional vectors but the model %s makes %d: "+
			"it cannot be searched by text here; query it with your own vectors through the Qdrant-compatible API",
			name, vp.Size, model.Name, model.Dims))
		return
	}
	field, err := textField(c.Request.Context(), vs, name)
	if err != nil {
		s.collectionFailed(c, name, err)
		return
	}
	// Hybrid and keyword search the points' text by BM25 too (points with
	// a text field; see search.TextFields); keyword embeds nothing.
	q := search.PointQuery{Using: using, Filter: filter, Limit: limit, WithPayload: true}
	if mode != search.Keyword {
		embs, err := s.embed(c, []string{*req.Query})
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		q.Vector = embs[0].Vector
	}
	if mode != search.Semantic {
		q.Text = *req.Query
	}
	hits, err := vs.Query(c.Request.Context(), name, q)
	if err != nil {
		s.collectionFailed(c, name, err)
		return
	}
	out := CollectionSearchResponse{Collection: name, Query: *req.Query, Mode: mode.String(), TextField: field,
		Results: make([]CollectionSearchHit, len(hits))}
	for i, h := range hits {
		payload := json.RawMessage(h.Payload)
		if len(payload) == 0 {
			payload = json.RawMessage("{}")
		}
		out.Results[i] = CollectionSearchHit{ID: h.ID, Score: h.Score, Text: payloadString(h.Payload, field), Payload: payload}
	}
	out.TookMS = float64(time.Since(start).Microseconds()) / 1000
	c.JSON(http.StatusOK, out)
}

// collectionFailed answers an error of the collections engine: 404 for a
// collection gone since it was looked up, 400 for the request's mistakes,
// the usual mapping for the rest.
func (s *Server) collectionFailed(c *gin.Context, name string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		noCollection(c, name)
	case errors.Is(err, search.ErrBadFilter), errors.Is(err, search.ErrBadParams),
		errors.Is(err, search.ErrDims), errors.Is(err, search.ErrBadVector), errors.Is(err, search.ErrNoQuery):
		s.abortWithError(c, badRequest("%v", err))
	default:
		s.abortWithError(c, fmt.Errorf("search collection %q: %w", name, err))
	}
}

func noCollection(c *gin.Context, name string) {
	c.AbortWithStatusJSON(http.StatusNotFound, errorBody{Error: fmt.Sprintf("no collection named %q; GET /collections lists them", name)})
}

// defaultVector is the vector a text query searches: the unnamed one, or
// the first named one in name order.
func defaultVector(info store.CollectionInfo) (string, store.VectorParams) {
	if vp, ok := info.Vectors[""]; ok {
		return "", vp
	}
	names := make([]string, 0, len(info.Vectors))
	for n := range info.Vectors {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "", store.VectorParams{}
	}
	return names[0], info.Vectors[names[0]]
}

// textField guesses which top-level payload key holds the collection's
// text from its first few points: the first of search.TextFields that is a
// string in one of them, else the key with the longest string value (ties
// to the smaller name), else nil. It fails with store.ErrNotFound for an
// unknown collection.
func textField(ctx context.Context, vs vectorStore, name string) (*string, error) {
	pts, _, err := vs.Scroll(ctx, name, nil, nil, textFieldSample, true, false)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{} // keys that are a string in some point
	best, bestLen := "", -1
	for _, p := range pts {
		var obj map[string]json.RawMessage
		if len(p.Payload) == 0 || json.Unmarshal(p.Payload, &obj) != nil {
			continue
		}
		for k, raw := range obj {
			var str string
			if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &str) != nil {
				continue
			}
			seen[k] = true
			if n := len(str); n > bestLen || (n == bestLen && k < best) {
				best, bestLen = k, n
			}
		}
	}
	for _, k := range search.TextFields {
		if seen[k] {
			return &k, nil
		}
	}
	if bestLen < 0 {
		return nil, nil
	}
	return &best, nil
}

// payloadString is payload[field] when it is a string, else nil.
func payloadString(payload []byte, field *string) *string {
	if field == nil || len(payload) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(payload, &obj) != nil {
		return nil
	}
	var str string
	if raw, ok := obj[*field]; !ok || len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &str) != nil {
		return nil
	}
	return &str
}
