package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
)

// embedRequest is POST /embed's body: one of text or texts. Fields stay raw
// so a wrong type gets a message naming the field (and the index).
type embedRequest struct {
	Text  json.RawMessage `json:"text"`
	Texts json.RawMessage `json:"texts"`
}

// embedOneResponse answers {"text":…}, in the seed server's shape plus
// n_tokens and truncated.
type embedOneResponse struct {
	NEmbedding int       `json:"n_embedding"`
	Embedding  []float32 `json:"embedding"`
	NTokens    int       `json:"n_tokens"`
	Truncated  bool      `json:"truncated"`
}

// embedManyResponse answers {"texts":[…]}, one entry per text in order.
type embedManyResponse struct {
	NEmbedding int         `json:"n_embedding"`
	Embeddings [][]float32 `json:"embeddings"`
	NTokens    []int       `json:"n_tokens"`
	Truncated  []bool      `json:"truncated"`
}

// handleEmbed serves POST /embed.
func (s *Server) handleEmbed(c *gin.Context) {
	var req embedRequest
	if err := s.readJSON(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	hasText, hasTexts := present(req.Text), present(req.Texts)
	switch {
	case hasText && hasTexts:
		s.abortWithError(c, badRequest(`send either "text" or "texts", not both`))
		return
	case !hasText && !hasTexts:
		s.abortWithError(c, badRequest(`missing "text" (a string) or "texts" (an array of strings)`))
		return
	}

	if hasText {
		text, err := s.parseText("text", req.Text)
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		embs, err := s.embed(c, []string{text})
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		e := embs[0]
		c.JSON(http.StatusOK, embedOneResponse{
			NEmbedding: len(e.Vector), Embedding: e.Vector, NTokens: e.Tokens, Truncated: e.Truncated,
		})
		return
	}

	texts, err := s.parseTexts("texts", req.Texts)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	embs, err := s.embed(c, texts)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	resp := embedManyResponse{
		Embeddings: make([][]float32, len(embs)),
		NTokens:    make([]int, len(embs)),
		Truncated:  make([]bool, len(embs)),
	}
	for i, e := range embs {
		resp.NEmbedding = len(e.Vector)
		resp.Embeddings[i], resp.NTokens[i], resp.Truncated[i] = e.Vector, e.Tokens, e.Truncated
	}
	c.JSON(http.StatusOK, resp)
}

// present reports whether a raw field was sent with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// parseText decodes one text field and refuses an empty or blank one: it has
// no meaning to embed, and is almost always a client bug.
func (s *Server) parseText(field string, raw json.RawMessage) (string, error) {
	var text string
	// null decodes into a string without complaint; it is still not a text.
	if err := json.Unmarshal(raw, &text); err != nil || !present(raw) {
		return "", badRequest("%q must be a string", field)
	}
	if strings.TrimSpace(text) == "" {
		return "", badRequest("%q is empty", field)
	}
	return text, nil
}

// parseTexts decodes an array of texts, each checked as by parseText, and
// enforces Config.MaxTexts.
func (s *Server) parseTexts(field string, raw json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, badRequest("%q must be an array of strings", field)
	}
	if len(items) == 0 {
		return nil, badRequest("%q is empty", field)
	}
	if len(items) > s.cfg.MaxTexts {
		return nil, badRequest("too many texts in %q: %d, limit %d", field, len(items), s.cfg.MaxTexts)
	}
	texts := make([]string, len(items))
	for i, item := range items {
		t, err := s.parseText(fmt.Sprintf("%s[%d]", field, i), item)
		if err != nil {
			return nil, err
		}
		texts[i] = t
	}
	return texts, nil
}

// embed runs the texts through the pool with the request's context, so a
// client that hangs up stops waiting in the queue, and records the metrics.
func (s *Server) embed(c *gin.Context, texts []string) ([]embedder.Embedding, error) {
	pool, err := s.embedderOrErr()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	embs, err := pool.Embed(c.Request.Context(), texts)
	s.metrics.observeEmbed(len(texts), time.Since(start), err)
	if err != nil {
		return nil, err
	}
	return embs, nil
}
