package web

import (
	"encoding/json"
	"errors"
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
	return s.parseTextItems(field, items)
}

// parseTextItems is parseTexts for an array already split into its items.
func (s *Server) parseTextItems(field string, items []json.RawMessage) ([]string, error) {
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

// embedPiece is the most texts of one request handed to the pool at once:
// two full batches for each of two workers. A request of 2,048 texts then
// never needs room for all of them in the pool's queue (1,024 by default,
// 256 in the small profile), and queries get in between two pieces rather
// than after the whole request.
const embedPiece = 128

// embed runs the texts through the pool with the request's context, so a
// client that hangs up stops waiting in the queue, and records the metrics.
// It hands the pool at most embedPiece texts at a time, each piece once the
// one before is done. A first piece the pool refuses (ErrOverloaded) fails
// the request at once, so an overloaded server answers 503 before doing any
// of it; a later piece refused, because queries came in meanwhile, waits
// for them and is tried again until the request's context ends, so work
// already done is not thrown away.
func (s *Server) embed(c *gin.Context, texts []string) ([]embedder.Embedding, error) {
	pool, err := s.embedderOrErr()
	if err != nil {
		return nil, err
	}
	ctx := c.Request.Context()
	out := make([]embedder.Embedding, 0, len(texts))
	for lo := 0; lo < len(texts); lo += embedPiece {
		piece := texts[lo:min(lo+embedPiece, len(texts))]
		for wait := pieceRetryMin; ; wait = min(2*wait, pieceRetryMax) {
			start := time.Now()
			embs, err := pool.Embed(ctx, piece)
			retry := lo > 0 && errors.Is(err, embedder.ErrOverloaded)
			if !retry { // a piece tried again is not counted as refused
				s.metrics.observeEmbed(len(piece), time.Since(start), err)
			}
			if err == nil {
				out = append(out, embs...)
				break
			}
			if !retry {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return out, nil
}

// pieceRetryMin and pieceRetryMax bound the wait before a refused piece of a
// request already under way is tried again: about a query's time at first,
// then the pool's default MaxWait.
const (
	pieceRetryMin = 10 * time.Millisecond
	pieceRetryMax = 200 * time.Millisecond
)
