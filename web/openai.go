package web

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"

	"github.com/gin-gonic/gin"
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

type openAIEmbeddingsResponse struct {
	Object string            `json:"object"`
	Data   []openAIEmbedding `json:"data"`
	Model  string            `json:"model"`
	Usage  openAIUsage       `json:"usage"`
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

// handleOpenAIEmbeddings serves POST /v1/embeddings.
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
	if req.Dimensions != nil && *req.Dimensions != info.Dims {
		s.abortWithError(c, badRequest("dimensions %d is not supported: model %s has %d", *req.Dimensions, info.Name, info.Dims))
		return
	}
	embs, err := s.embed(c, texts)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	resp := openAIEmbeddingsResponse{Object: "list", Data: make([]openAIEmbedding, len(embs)), Model: info.Name}
	for i, e := range embs {
		var v any = e.Vector
		if base64Wanted {
			v = float32sBase64(e.Vector)
		}
		resp.Data[i] = openAIEmbedding{Object: "embedding", Index: i, Embedding: v}
		resp.Usage.PromptTokens += e.Tokens
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	c.JSON(http.StatusOK, resp)
}

// parseOpenAIInput accepts input as a string or an array of strings. Token
// id arrays (OpenAI allows them) are refused: ids from OpenAI's tokenizer
// mean nothing to a WordPiece model.
func (s *Server) parseOpenAIInput(raw json.RawMessage) ([]string, error) {
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
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, badRequest(`"input" must be a string or an array of strings`)
		}
		for _, it := range items {
			if b := firstByte(it); b == '[' || b == '-' || (b >= '0' && b <= '9') {
				return nil, badRequest(`"input" as token ids is not supported; send the text as strings`)
			}
		}
		return s.parseTexts("input", raw)
	default:
		return nil, badRequest(`"input" must be a string or an array of strings`)
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
	c.JSON(http.StatusOK, openAIModelList{Object: "list", Data: []openAIModel{{
		ID: pool.Info().Name, Object: "model", Created: s.started.Unix(), OwnedBy: "edgesearch",
	}}})
}
