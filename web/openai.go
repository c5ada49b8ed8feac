package web

import (
	"bufio"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
)

// openAIEmbeddingsRequest is the body of POST /v1/embeddings as OpenAI
// defines it. Model is accepted whatever it says: there is one model here,
// and clients such as LangChain always send some name.
type openAIEmbeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          json.RawMessage `json:"model"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           json.RawMessage `json:"user"`
}

type openAIEmbedding struct {
	Object string `json:"object"`
	Index  int    `json:"index"`
	// Embedding is []float32, or a base64 string of little-endian float32s
	// when the client asked for encoding_format "base64".
	Embedding any `json:"embedding"`
}

type openAIUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

type openAIModelList struct {
	Object string        `json:"object"`
	Data   []openAIModel `json:"data"`
}

type openAIModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// openAIErrorBody is OpenAI's error answer, which the openai clients parse
// into their exception's message and code.
type openAIErrorBody struct {
	Error openAIError `json:"error"`
}

type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"` // always null here: refusals are about the request, not a field
	Code    string  `json:"code"`
}

// handleOpenAIEmbeddings serves POST /v1/embeddings. Inputs longer than
// the model's context are embedded from their first tokens, as OpenAI's
// clients cut them themselves; the answer says how many were cut in the
// header X-Edgesearch-Truncated and lists them in "truncated_inputs".
func (s *Server) handleOpenAIEmbeddings(c *gin.Context) {
	var req openAIEmbeddingsRequest
	if err := s.readJSON(c, &req); err != nil {
		s.abortWithError(c, err)
		return
	}
	base64Wanted := false
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		base64Wanted = true
	default:
		s.abortWithError(c, badRequest(`encoding_format %q is not supported; use "float" or "base64"`, req.EncodingFormat))
		return
	}
	texts, err := s.parseOpenAIInput(req.Input)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	pool, err := s.embedderOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	info := pool.Info()
	// Only Matryoshka-trained models (text-embedding-3-*) keep their
	// meaning when cut to their first dimensions; a MiniLM vector cut short
	// is just a worse vector, so other sizes are refused, not faked.
	if req.Dimensions != nil && *req.Dimensions != info.Dims {
		s.abortWithError(c, badRequest("dimensions %d is not supported: model %s has %d dimensions and cannot shorten them; send dimensions %d or leave it out",
			*req.Dimensions, info.Name, info.Dims, info.Dims))
		return
	}
	embs, err := s.embed(c, texts)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	s.writeOpenAIEmbeddings(c, info.Name, embs, base64Wanted)
}

// writeOpenAIEmbeddings answers with OpenAI's list object,
//
//	{"object":"list","model":…,"data":[{"object":"embedding","index":0,"embedding":…},…],
//	 "usage":{"prompt_tokens":…,"total_tokens":…},"truncated_inputs":[…]}
//
// written one embedding at a time: 2,048 vectors as JSON numbers are about
// 9 MB of text, which need not sit in memory beside the vectors.
// truncated_inputs (the indexes of the inputs cut to the model's context)
// is ours and only there when some were; OpenAI's clients keep unknown
// fields without complaint (the Python client in model_extra).
func (s *Server) writeOpenAIEmbeddings(c *gin.Context, model string, embs []embedder.Embedding, base64Wanted bool) {
	var usage openAIUsage
	var truncated []int
	for i, e := range embs {
		usage.PromptTokens += e.Tokens
		if e.Truncated {
			truncated = append(truncated, i)
		}
	}
	usage.TotalTokens = usage.PromptTokens
	c.Header(truncatedHeader, strconv.Itoa(len(truncated)))
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)

	w := bufio.NewWriterSize(c.Writer, 32<<10)
	enc := json.NewEncoder(w)
	fmt.Fprintf(w, `{"object":"list","model":%s,"data":[`, jsonString(model))
	for i, e := range embs {
		if i > 0 {
			w.WriteByte(',')
		}
		var v any = e.Vector
		if base64Wanted {
			v = float32sBase64(e.Vector)
		}
		if err := enc.Encode(openAIEmbedding{Object: "embedding", Index: i, Embedding: v}); err != nil {
			s.log.Debug("embeddings answer not sent", "err", err)
			return
		}
	}
	w.WriteString(`],"usage":`)
	_ = enc.Encode(usage)
	if len(truncated) > 0 {
		w.WriteString(`,"truncated_inputs":`)
		_ = enc.Encode(truncated)
	}
	w.WriteString("}\n")
	if err := w.Flush(); err != nil {
		s.log.Debug("embeddings answer not sent", "err", err)
	}
}

// truncatedHeader counts the inputs of an embeddings answer that were longer
// than the model's context and embedded from their first tokens only.
const truncatedHeader = "X-Edgesearch-Truncated"

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// parseOpenAIInput accepts input as OpenAI defines it: a string, an array
// of strings, an array of token ids (one input) or an array of such arrays.
// Token ids are cl100k_base's (see openai_tokens.go) and are decoded to the
// text they stand for. It enforces Config.MaxTexts and MaxTokenIDs, and
// names the input (and the position of a bad token id) in its errors.
func (s *Server) parseOpenAIInput(raw json.RawMessage) ([]string, error) {
	const shape = `"input" must be a string, an array of strings, an array of token ids or an array of arrays of token ids`
	if !present(raw) {
		return nil, badRequest(`missing "input" (a string or an array of strings)`)
	}
	switch firstByte(raw) {
	case '"':
		t, err := s.parseText("input", raw)
		if err != nil {
			return nil, err
		}
		return []string{t}, nil
	case '[':
	default:
		return nil, badRequest(shape)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, badRequest(shape)
	}
	if len(items) == 0 {
		return nil, badRequest(`"input" is empty`)
	}
	switch b := firstByte(items[0]); {
	case b == '-' || (b >= '0' && b <= '9'):
		// One input as token ids.
		t, err := parseTokenIDs("input", raw, newTokenIDBudget())
		if err != nil {
			return nil, err
		}
		return []string{t}, nil
	case b == '[':
		if len(items) > s.cfg.MaxTexts {
			return nil, badRequest("too many texts in %q: %d, limit %d", "input", len(items), s.cfg.MaxTexts)
		}
		budget := newTokenIDBudget()
		texts := make([]string, len(items))
		for i, item := range items {
			field := fmt.Sprintf("input[%d]", i)
			if firstByte(item) != '[' {
				return nil, badRequest("%q must be an array of token ids, like the inputs before it", field)
			}
			t, err := parseTokenIDs(field, item, budget)
			if err != nil {
				return nil, err
			}
			texts[i] = t
		}
		return texts, nil
	default:
		return s.parseTextItems("input", items)
	}
}

// firstByte returns the first non-space byte of a JSON value, or 0.
func firstByte(raw json.RawMessage) byte {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return b
	}
	return 0
}

// float32sBase64 encodes v as OpenAI's base64 format: the raw little-endian
// float32 bytes, which clients decode with numpy.frombuffer(..., "<f4").
func float32sBase64(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// handleOpenAIModels serves GET /v1/models: the one loaded model.
func (s *Server) handleOpenAIModels(c *gin.Context) {
	pool, err := s.embedderOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	c.JSON(http.StatusOK, openAIModelList{Object: "list", Data: []openAIModel{s.openAIModel(pool)}})
}

// handleOpenAIModel serves GET /v1/models/{id} (client.models.retrieve):
// the loaded model under the id /v1/models lists, 404 for any other id.
// An id holding "/" arrives as %2F, as the clients send it.
func (s *Server) handleOpenAIModel(c *gin.Context) {
	pool, err := s.embedderOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	m := s.openAIModel(pool)
	if id := c.Param("id"); id != m.ID {
		writeError(c, http.StatusNotFound, "model_not_found",
			fmt.Sprintf("model %q does not exist here: this server has one model, %q (GET /v1/models lists it)", id, m.ID))
		return
	}
	c.JSON(http.StatusOK, m)
}

// openAIModel is the loaded model as OpenAI's model object.
func (s *Server) openAIModel(pool *embedder.Pool) openAIModel {
	return openAIModel{ID: pool.Info().Name, Object: "model", Created: s.started.Unix(), OwnedBy: "edgesearch"}
}
