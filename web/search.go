package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
)

// ErrNoIndex: the search engine is not open yet (HTTP 503).
var ErrNoIndex = errors.New("the document index is still loading; retry shortly")

// SearchResponse is the answer of GET and POST /search, and what
// `edgesearch search --json` prints.
type SearchResponse struct {
	Query   string         `json:"query"`
	Mode    string         `json:"mode"`
	TookMS  float64        `json:"took_ms"`
	Results []SearchResult `json:"results"`
	// Offset is how many better documents were skipped (the request's
	// offset); NextOffset, when the page was full, is the offset of the
	// next page (which may be empty), and absent otherwise.
	Offset     int  `json:"offset"`
	NextOffset *int `json:"next_offset,omitempty"`
	// Offsets names the unit of every offset in the answer (passage
	// matches, spans): "utf-8", byte offsets into the UTF-8 text. Go
	// slices strings with them as they are; JavaScript converts them with
	// TextEncoder, Python with str.encode().
	Offsets string `json:"offsets"`
	// Facets count every document the query matches, not only this page
	// (see search.Facets); absent when the request said facets=false.
	Facets *SearchFacets `json:"facets,omitempty"`
}

// OffsetUnit is SearchResponse.Offsets.
const OffsetUnit = "utf-8"

// SearchResult is one document found.
type SearchResult struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Source string  `json:"source"`
	Score  float32 `json:"score"`
	// Snippet is deprecated: Passage as HTML (the text escaped, matches in
	// <mark>…</mark>), kept for clients written before Passage.
	Snippet string `json:"snippet"`
	// Passage is the text to show under the result, with its matches.
	Passage  Passage           `json:"passage"`
	Metadata map[string]string `json:"metadata"`
	// Chunk is the ordinal of the document's chunk that matched best, for
	// GET /documents/:id/similar?chunk= ("more like this passage").
	Chunk int `json:"chunk"`
	// Span is where that chunk lies in the document's text (GET
	// /documents/:id), so a reader can show and mark the real passage.
	Span Span `json:"span"`
	// Similarity is the cosine similarity of that chunk to the query and
	// Match what it means: "strong", "partial" or "weak" (see
	// search.MatchOf), so that a person can tell ten good answers from ten
	// closest misses whatever the mode's score. Absent for keyword search,
	// which has no query vector.
	Similarity *float32 `json:"similarity,omitempty"`
	Match      string   `json:"match,omitempty"`
}

// Passage is a result's snippet: plain text, runs of white space as one
// space and "…" where the chunk was cut, and the [start, end) byte offsets
// into Text of the words that matched the query, ascending.
type Passage struct {
	Text    string   `json:"text"`
	Matches [][2]int `json:"matches"`
}

// Span is the [start, end) byte offsets of a result's chunk in its
// document's text, and those of the query's matches inside it (at most
// search.MaxSpanMatches), ascending.
type Span struct {
	Start   int      `json:"start"`
	End     int      `json:"end"`
	Matches [][2]int `json:"matches"`
}

// SearchFacets is search.Facets for the API.
type SearchFacets struct {
	Documents int          `json:"documents"`
	Complete  bool         `json:"complete"`
	Source    FacetCount   `json:"source"`
	Metadata  []FacetCount `json:"metadata"`
}

// FacetCount counts the values of one key. A value's filter is
// KEY=VALUE (source=VALUE for sources).
type FacetCount struct {
	Key       string       `json:"key"`
	Documents int          `json:"documents"`
	Values    []FacetValue `json:"values"`
	Other     int          `json:"other"`
}

// FacetValue is one value and its count. Label, on sources only, is the
// shortest end of the path that tells it from the other sources listed.
type FacetValue struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
	Count int    `json:"count"`
}

// NewSearchResponse shapes engine results for the API.
func NewSearchResponse(query string, mode search.Mode, took time.Duration, results []search.Result) SearchResponse {
	out := SearchResponse{Query: query, Mode: mode.String(), TookMS: float64(took.Microseconds()) / 1000,
		Results: make([]SearchResult, len(results)), Offsets: OffsetUnit}
	for i, r := range results {
		md := r.Metadata
		if md == nil {
			md = map[string]string{}
		}
		out.Results[i] = SearchResult{ID: r.ID, Title: r.Title, Source: r.Source, Score: r.Score,
			Snippet: SnippetHTML(r.Snippet), Passage: Passage{Text: r.Snippet.Text, Matches: nonNil(r.Snippet.Matches)},
			Metadata: md, Chunk: r.Chunk, Span: Span{Start: r.Span.Start, End: r.Span.End, Matches: nonNil(r.Span.Matches)}}
		if sim := r.Similarity; sim == sim { // not NaN
			out.Results[i].Similarity, out.Results[i].Match = &sim, search.MatchOf(sim)
		}
	}
	return out
}

func nonNil(m [][2]int) [][2]int {
	if m == nil {
		return [][2]int{}
	}
	return m
}

// SnippetHTML renders a snippet as the deprecated HTML field: the text
// escaped, each match in <mark>…</mark>.
func SnippetHTML(s search.Snippet) string {
	var b strings.Builder
	pos := 0
	for _, m := range s.Matches {
		if m[0] < pos || m[1] > len(s.Text) || m[0] > m[1] {
			continue // not from search.MakeSnippet; skip rather than panic
		}
		b.WriteString(html.EscapeString(s.Text[pos:m[0]]))
		b.WriteString("<mark>")
		b.WriteString(html.EscapeString(s.Text[m[0]:m[1]]))
		b.WriteString("</mark>")
		pos = m[1]
	}
	b.WriteString(html.EscapeString(s.Text[pos:]))
	return b.String()
}

// NewSearchFacets shapes the engine's facets for the API, labelling
// sources by the shortest ends of their paths that tell them apart.
func NewSearchFacets(f search.Facets) *SearchFacets {
	out := &SearchFacets{Documents: f.Documents, Complete: f.Complete, Source: facetCount(f.Source),
		Metadata: make([]FacetCount, len(f.Metadata))}
	for i, fc := range f.Metadata {
		out.Metadata[i] = facetCount(fc)
	}
	values := make([]string, len(out.Source.Values))
	for i, v := range out.Source.Values {
		values[i] = v.Value
	}
	for i, l := range SourceLabels(values) {
		out.Source.Values[i].Label = l
	}
	return out
}

func facetCount(fc search.FacetCount) FacetCount {
	out := FacetCount{Key: fc.Key, Documents: fc.Documents, Other: fc.Other, Values: make([]FacetValue, len(fc.Values))}
	for i, v := range fc.Values {
		out.Values[i] = FacetValue{Value: v.Value, Count: v.Count}
	}
	return out
}

// SourceLabels returns a short label for each source: its file name, with
// as many parent folders as it takes to differ from the others' labels
// (all of them at most, joined by "/"). A source without a name stays
// as it is.
func SourceLabels(sources []string) []string {
	parts := make([][]string, len(sources))
	depth := make([]int, len(sources))
	labels := make([]string, len(sources))
	for i, s := range sources {
		parts[i] = strings.FieldsFunc(s, func(r rune) bool { return r == '/' || r == '\\' })
		depth[i] = 1
	}
	label := func(i int) string {
		p := parts[i]
		if len(p) == 0 {
			return sources[i]
		}
		return strings.Join(p[len(p)-min(depth[i], len(p)):], "/")
	}
	for range 64 { // each round lengthens every clashing label by a folder
		seen := map[string][]int{}
		for i := range sources {
			labels[i] = label(i)
			seen[labels[i]] = append(seen[labels[i]], i)
		}
		clash := false
		for _, same := range seen {
			if len(same) < 2 {
				continue
			}
			for _, i := range same {
				if depth[i] < len(parts[i]) {
					depth[i]++
					clash = true
				}
			}
		}
		if !clash {
			break
		}
	}
	return labels
}

// SetEngine makes the document and search routes live over e. The Server
// does not close it.
func (s *Server) SetEngine(e *search.Engine) { s.index.Store(e) }

func (s *Server) engineOrErr() (*search.Engine, error) {
	e := s.index.Load()
	if e == nil {
		return nil, &requestError{ErrStarting, ErrNoIndex.Error()}
	}
	return e, nil
}

// searchRequest is POST /search's body. Filter is raw: an object
// {"key":"value"}, an array ["key=value"], one "key=value" string, or a
// filter in Qdrant's language ({"must":[…],"should":[…],"must_not":[…]})
// over each document's payload (search.DocumentPayload).
type searchRequest struct {
	Q      *string         `json:"q"`
	K      *int            `json:"k"`
	Offset int             `json:"offset"`
	Mode   string          `json:"mode"`
	Filter json.RawMessage `json:"filter"`
	// Facets false leaves the facet counts out of the answer.
	Facets *bool `json:"facets"`
}

// handleSearchGet serves GET /search?q=&k=&offset=&mode=&filter=key=value
// (repeatable)&facets=false.
func (s *Server) handleSearchGet(c *gin.Context) {
	k := 0
	if raw, ok := c.GetQuery("k"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			s.abortWithError(c, badRequest("k=%q: want a whole number from 1 to %d", raw, search.MaxK))
			return
		}
		if k = n; k == 0 {
			s.abortWithError(c, badRequest("k=0: want a whole number from 1 to %d", search.MaxK))
			return
		}
	}
	filter, err := parseFilters(c.QueryArray("filter"))
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	var where *search.Filter
	if raw, ok := c.GetQuery("where"); ok {
		if where, err = parseWhere([]byte(raw)); err != nil {
			s.abortWithError(c, err)
			return
		}
	}
	offset := 0
	if raw, ok := c.GetQuery("offset"); ok {
		if offset, err = strconv.Atoi(strings.TrimSpace(raw)); err != nil {
			s.abortWithError(c, badRequest("offset=%q: want a whole number from 0 to %d", raw, search.MaxOffset))
			return
		}
	}
	facets := true
	if raw, ok := c.GetQuery("facets"); ok {
		if facets, err = strconv.ParseBool(strings.TrimSpace(raw)); err != nil {
			s.abortWithError(c, badRequest("facets=%q: want true or false", raw))
			return
		}
	}
	s.runSearch(c, c.Query("q"), k, offset, c.Query("mode"), filter, where, facets)
}

// handleSearchPost serves POST /search {q, k, offset, mode, filter, facets}.
func (s *Server) handleSearchPost(c *gin.Context) {
	var req searchRequest
	if err := s.readJSON(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	if req.Q == nil {
		s.abortWithError(c, badRequest(`missing "q", the query text`))
		return
	}
	k := 0
	if req.K != nil {
		if k = *req.K; k == 0 {
			s.abortWithError(c, badRequest(`"k" is 0: want a whole number from 1 to %d`, search.MaxK))
			return
		}
	}
	var pairs []string
	var where *search.Filter
	if present(req.Filter) {
		var obj map[string]string
		var one string
		switch {
		case isQdrantFilter(req.Filter):
			var err error
			if where, err = parseWhere(req.Filter); err != nil {
				s.abortWithError(c, err)
				return
			}
		case json.Unmarshal(req.Filter, &obj) == nil:
			for key, v := range obj {
				pairs = append(pairs, key+"="+v)
			}
		case json.Unmarshal(req.Filter, &pairs) == nil:
		case json.Unmarshal(req.Filter, &one) == nil:
			pairs = []string{one}
		default:
			s.abortWithError(c, badRequest(`"filter" must be an object of strings, an array of "key=value" strings, one such string, or a filter {"must":[…],"should":[…],"must_not":[…]}`))
			return
		}
	}
	filter, err := parseFilters(pairs)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.runSearch(c, *req.Q, k, req.Offset, req.Mode, filter, where, req.Facets == nil || *req.Facets)
}

// isQdrantFilter reports whether raw is an object with one of the keys of
// Qdrant's filter, which a metadata key=value object never needs.
func isQdrantFilter(raw json.RawMessage) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return false
	}
	for _, k := range []string{"must", "should", "must_not", "min_should"} {
		if v, ok := obj[k]; ok && len(bytes.TrimSpace(v)) > 0 && bytes.TrimSpace(v)[0] != '"' {
			return true
		}
	}
	return false
}

// parseWhere reads a filter in Qdrant's language; a bad one is a 400 that
// says where it is wrong.
func parseWhere(raw []byte) (*search.Filter, error) {
	f, err := search.ParseFilter(raw)
	if err != nil {
		return nil, badRequest("filter: %v", err)
	}
	return f, nil
}

// parseFilters reads "key=value" pairs; a key given twice must match both
// values, which no document can, so it is refused as a likely mistake.
func parseFilters(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		key, val, ok := strings.Cut(p, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, badRequest("filter %q: want key=value", p)
		}
		if old, dup := out[key]; dup && old != val {
			return nil, badRequest("filter key %q given twice (%q and %q); a document has one value per key", key, old, val)
		}
		out[key] = val
	}
	return out, nil
}

// runSearch checks the query, embeds it when the mode uses vectors, and
// answers with the engine's results, and their facets when asked.
func (s *Server) runSearch(c *gin.Context, q string, k, offset int, modeName string, filter map[string]string, where *search.Filter, facets bool) {
	start := time.Now()
	if strings.TrimSpace(q) == "" {
		s.abortWithError(c, badRequest(`the query "q" is empty`))
		return
	}
	if k < 0 || k > search.MaxK {
		s.abortWithError(c, badRequest("k=%d: want a whole number from 1 to %d", k, search.MaxK))
		return
	}
	if offset < 0 || offset > search.MaxOffset {
		s.abortWithError(c, badRequest("offset=%d: want a whole number from 0 to %d", offset, search.MaxOffset))
		return
	}
	mode, err := search.ParseMode(modeName)
	if err != nil {
		s.abortWithError(c, badRequest("%v", err))
		return
	}
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if st := e.BackendState(); st.Backend != "" {
		// Searches see a write once the backend has it: say how many
		// chunks it still lacks, so a client can wait for 0.
		c.Header(PendingHeader, strconv.Itoa(st.Pending))
	}
	// The metrics' clock starts here, after the checks, so the histogram
	// shows what searching costs rather than how fast bad requests bounce.
	searchStart := time.Now()
	results, fc, err := s.searchWith(c, e, search.Query{Text: q, K: k, Offset: offset, Mode: mode, Filter: filter, Where: where}, facets)
	s.metrics.observeSearch(mode, time.Since(searchStart), err)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	resp := NewSearchResponse(q, mode, time.Since(start), results)
	if fc != nil {
		resp.Facets = NewSearchFacets(*fc)
	}
	resp.Offset = offset
	if k == 0 {
		k = search.DefaultK
	}
	if len(results) == k {
		next := offset + k
		resp.NextOffset = &next
	}
	c.JSON(http.StatusOK, resp)
}

// searchWith embeds the query when its mode uses vectors and runs it,
// counting the facets of every match too when facets is set.
func (s *Server) searchWith(c *gin.Context, e *search.Engine, query search.Query, facets bool) ([]search.Result, *search.Facets, error) {
	if query.Mode != search.Keyword {
		embs, err := s.embed(c, []string{query.Text})
		if err != nil {
			return nil, nil, err
		}
		query.Vector = embs[0].Vector
	}
	results, err := e.Search(c.Request.Context(), query)
	if err != nil {
		return nil, nil, searchError(err)
	}
	if !facets {
		return results, nil, nil
	}
	f, err := e.Facets(c.Request.Context(), query)
	if err != nil {
		return nil, nil, searchError(err)
	}
	return results, &f, nil
}

// searchError turns the engine's refusals of a query into 400s.
func searchError(err error) error {
	switch {
	case errors.Is(err, search.ErrNoQuery):
		return badRequest("the query has no searchable words for keyword search; try other words or mode=semantic")
	case errors.Is(err, search.ErrBadParams), errors.Is(err, search.ErrUnknownMode), errors.Is(err, search.ErrDims):
		return badRequest("%v", err)
	}
	return fmt.Errorf("search: %w", err)
}
