package web

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
)

// qdrantVector is one vector as a request gives it: numbers, or a
// Document (Qdrant's inference object {"text", "model"}) to embed with the
// loaded model before the request runs.
type qdrantVector struct {
	values []float32
	doc    *qdrantDocument
}

// qdrantDocument is Qdrant's models.Document.
type qdrantDocument struct {
	Text    *string         `json:"text"`
	Model   *string         `json:"model"`
	Options json.RawMessage `json:"options"`
	field   string          // where it was, for messages
}

// parseQdrantVector reads one vector: an array of numbers, or a Document.
// Multivectors ([[…]]), sparse vectors, images and other inference objects
// are refused by name.
func parseQdrantVector(field string, raw json.RawMessage) (qdrantVector, error) {
	switch firstByte(raw) {
	case '[':
		var v []float32
		if err := json.Unmarshal(raw, &v); err != nil {
			var multi [][]float32
			if json.Unmarshal(raw, &multi) == nil {
				return qdrantVector{}, badRequest("%s: multivectors are not supported by edgesearch; give one array of numbers", field)
			}
			return qdrantVector{}, badRequest("%s must be an array of numbers: %s", field, jsonProblem(err))
		}
		if len(v) == 0 {
			return qdrantVector{}, badRequest("%s is empty", field)
		}
		return qdrantVector{values: v}, nil
	case '{':
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return qdrantVector{}, badRequest("%s: %s", field, jsonProblem(err))
		}
		if err := inferenceKind(field, keys); err != nil {
			return qdrantVector{}, err
		}
		if _, ok := keys["text"]; ok {
			doc, err := parseQdrantDocument(field, raw)
			return qdrantVector{doc: doc}, err
		}
		return qdrantVector{}, badRequest(`%s must be an array of numbers or a document {"text": "…", "model": "…"}`, field)
	default:
		return qdrantVector{}, badRequest(`%s must be an array of numbers or a document {"text": "…", "model": "…"}`, field)
	}
}

// inferenceKind refuses the vector objects Qdrant knows and edgesearch
// does not serve, by the keys that mark them.
func inferenceKind(field string, keys map[string]json.RawMessage) error {
	_, indices := keys["indices"]
	_, values := keys["values"]
	_, image := keys["image"]
	_, object := keys["object"]
	switch {
	case indices || values:
		return badRequest("%s: sparse vectors are not supported by edgesearch", field)
	case image:
		return badRequest("%s: image inference is not supported by edgesearch; it embeds text documents", field)
	case object:
		return badRequest("%s: inference objects are not supported by edgesearch; send a document {\"text\", \"model\"}", field)
	}
	return nil
}

func parseQdrantDocument(field string, raw json.RawMessage) (*qdrantDocument, error) {
	var d qdrantDocument
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, badRequest("%s: a document is {\"text\": \"…\", \"model\": \"…\"}: %s", field, jsonProblem(err))
	}
	if d.Text == nil || d.Model == nil {
		return nil, badRequest(`%s: a document needs both "text" and "model"`, field)
	}
	if strings.TrimSpace(*d.Text) == "" {
		return nil, badRequest("%s.text is empty", field)
	}
	if err := unsupported(field+".options", d.Options, "model options"); err != nil {
		return nil, err
	}
	d.field = field
	return &d, nil
}

// parseQdrantVectorStruct reads a point's "vector": one unnamed vector (an
// array or a document) or a map of vector names to vectors.
func parseQdrantVectorStruct(field string, raw json.RawMessage) (map[string]qdrantVector, error) {
	if firstByte(raw) != '{' {
		v, err := parseQdrantVector(field, raw)
		if err != nil {
			return nil, err
		}
		return map[string]qdrantVector{"": v}, nil
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, badRequest("%s: %s", field, jsonProblem(err))
	}
	if err := inferenceKind(field, keys); err != nil {
		return nil, err
	}
	if t, ok := keys["text"]; ok && firstByte(t) == '"' {
		doc, err := parseQdrantDocument(field, raw)
		if err != nil {
			return nil, err
		}
		return map[string]qdrantVector{"": {doc: doc}}, nil
	}
	out := make(map[string]qdrantVector, len(keys))
	for _, name := range sortedNames(keys) {
		v, err := parseQdrantVector(field+"."+name, keys[name])
		if err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, nil
}

// qdrantBulkEmbedCall is the most texts one EmbedBulk call gets: the bulk
// queue refuses a call larger than itself (64 in the small profile).
const qdrantBulkEmbedCall = 32

// embedQdrantDocuments embeds the documents with the loaded model, in
// order, after checking each names that model. Queries go through the
// interactive lane; upserts (bulk) through the bulk lane, admitted as
// POST /documents is, so writes cannot starve searches.
func (s *Server) embedQdrantDocuments(c *gin.Context, docs []*qdrantDocument, bulk bool) ([][]float32, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	pool, err := s.embedderOrErr()
	if err != nil {
		return nil, err
	}
	name := pool.Info().Name
	texts := make([]string, len(docs))
	for i, d := range docs {
		if !qdrantModelMatches(*d.Model, name) {
			return nil, badRequest("%s.model %q is not served here: edgesearch embeds documents with %q", d.field, *d.Model, name)
		}
		texts[i] = *d.Text
	}
	var embs []embedder.Embedding
	if !bulk {
		embs, err = s.embed(c, texts)
	} else {
		embs, err = s.embedBulk(c, pool, texts)
	}
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(embs))
	for i, e := range embs {
		out[i] = e.Vector
	}
	return out, nil
}

// embedBulk embeds texts in the bulk lane, a call of at most
// qdrantBulkEmbedCall texts at a time, after asking the pool whether bulk
// work may start (503 with Retry-After when it may not).
func (s *Server) embedBulk(c *gin.Context, pool *embedder.Pool, texts []string) ([]embedder.Embedding, error) {
	if err := pool.AdmitBulk(); err != nil {
		return nil, err
	}
	out := make([]embedder.Embedding, 0, len(texts))
	for lo := 0; lo < len(texts); lo += qdrantBulkEmbedCall {
		hi := min(lo+qdrantBulkEmbedCall, len(texts))
		start := time.Now()
		embs, err := pool.EmbedBulk(c.Request.Context(), texts[lo:hi])
		s.metrics.observeEmbed(hi-lo, time.Since(start), err)
		if err != nil {
			return nil, err
		}
		out = append(out, embs...)
	}
	return out, nil
}

// qdrantModelMatches reports whether a document's model names the loaded
// one: the same name in any case, with or without an organisation prefix
// ("sentence-transformers/all-MiniLM-L6-v2", as fastembed names it, is
// "all-MiniLM-L6-v2"). Any other model is refused rather than embedded
// with ours, whose vectors would mean something else.
func qdrantModelMatches(asked, loaded string) bool {
	base := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
		return s
	}
	return asked != "" && base(asked) == base(loaded)
}

// qdrantDocs collects a request's documents and where each one's vector
// goes, so all of them are embedded in one pass before the request runs.
type qdrantDocs struct {
	docs []*qdrantDocument
	sets []func([]float32)
}

// take hands v's values to set now, or notes its document for embed to
// hand over its vector.
func (d *qdrantDocs) take(v qdrantVector, set func([]float32)) {
	if v.doc == nil {
		set(v.values)
		return
	}
	d.docs = append(d.docs, v.doc)
	d.sets = append(d.sets, set)
}

// embed embeds the documents taken and stores each vector where it goes.
func (d *qdrantDocs) embed(s *Server, c *gin.Context, bulk bool) error {
	vecs, err := s.embedQdrantDocuments(c, d.docs, bulk)
	if err != nil {
		return err
	}
	for i, v := range vecs {
		d.sets[i](v)
	}
	return nil
}
