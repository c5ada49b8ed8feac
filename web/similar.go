package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// SimilarResponse is the answer of GET /documents/:id/similar: the
// neighbours of document ID, or of its chunk Chunk when one was asked for
// (null for the whole document). Results have the shape of search results.
type SimilarResponse struct {
	ID      string         `json:"id"`
	Chunk   *int           `json:"chunk"`
	TookMS  float64        `json:"took_ms"`
	Results []SearchResult `json:"results"`
}

// handleSimilar serves GET /documents/:id/similar?k=&chunk=&filter=: "more
// like this" for a document, or for one passage of it. No text is
// embedded: the stored chunk vectors are the query.
func (s *Server) handleSimilar(c *gin.Context) {
	start := time.Now()
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	k, err := queryInt(c, "k", search.DefaultK, 1, search.MaxK)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	chunk, asked := search.WholeDocument, (*int)(nil)
	if raw, ok := c.GetQuery("chunk"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil || n < 0 {
			s.abortWithError(c, badRequest("chunk=%q: want a chunk ordinal, a whole number from 0", raw))
			return
		}
		chunk, asked = n, &n
	}
	filter, err := parseFilters(c.QueryArray("filter"))
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	id := c.Param("id")
	results, err := e.Similar(c.Request.Context(), id, chunk, k, filter)
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(c, id)
		return
	case errors.Is(err, search.ErrBadParams):
		s.abortWithError(c, badRequest("%v", err))
		return
	case err != nil:
		s.abortWithError(c, err)
		return
	}
	sr := NewSearchResponse("", search.Semantic, 0, results)
	c.JSON(http.StatusOK, SimilarResponse{ID: id, Chunk: asked, Results: sr.Results,
		TookMS: float64(time.Since(start).Microseconds()) / 1000})
}
