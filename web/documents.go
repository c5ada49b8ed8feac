package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

// Paging limits of GET /documents.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// addResponse answers POST /documents and POST /index.
type addResponse struct {
	IDs    []string `json:"ids"`
	Chunks int      `json:"chunks"` // chunks embedded and stored by this request
	// Unchanged counts the documents already stored as sent: not embedded
	// or written again.
	Unchanged int `json:"unchanged"`
}

// documentInfo is one document in GET /documents; GET /documents/:id adds
// the text.
type documentInfo struct {
	ID       string            `json:"id"`
	Title    string            `json:"title"`
	Source   string            `json:"source"`
	Metadata map[string]string `json:"metadata"`
	Chunks   int               `json:"chunks"`
	Created  time.Time         `json:"created"`
	Updated  time.Time         `json:"updated"`
	Text     *string           `json:"text,omitempty"`
}

type listResponse struct {
	Documents []documentInfo `json:"documents"`
	Total     int            `json:"total"`
}

// handleAddDocuments serves POST /documents and POST /index: one document,
// an array of them, {"documents":[…]}, or multipart files parsed by their
// names. All documents of a request are stored in one transaction, or none.
func (s *Server) handleAddDocuments(c *gin.Context) {
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	pool, err := s.embedderOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	var docs []indexer.Doc
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt == "multipart/form-data" {
		docs, err = s.readUploads(c)
	} else {
		docs, err = s.readDocuments(c)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	res, err := indexer.Ingest(c.Request.Context(), e, pool, docs)
	if err != nil {
		s.abortWithError(c, ingestError(err))
		return
	}
	resp := addResponse{IDs: res.IDs, Unchanged: res.Unchanged}
	for _, d := range res.Stored {
		resp.Chunks += len(d.Chunks)
	}
	c.JSON(http.StatusCreated, resp)
}

// readDocuments decodes a JSON body of one document, an array, or
// {"documents":[…]}, refusing a document without text.
func (s *Server) readDocuments(c *gin.Context) ([]indexer.Doc, error) {
	var raw json.RawMessage
	if err := s.readJSON(c, &raw); err != nil {
		return nil, err
	}
	var docs []indexer.Doc
	switch t := bytes.TrimSpace(raw); {
	case len(t) > 0 && t[0] == '[':
		if err := json.Unmarshal(t, &docs); err != nil {
			return nil, badRequest("invalid documents: %s", jsonProblem(err))
		}
	case len(t) > 0 && t[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(t, &probe); err != nil {
			return nil, badRequest("invalid JSON: %s", jsonProblem(err))
		}
		if list, ok := probe["documents"]; ok {
			if err := json.Unmarshal(list, &docs); err != nil {
				return nil, badRequest(`invalid "documents": %s`, jsonProblem(err))
			}
			if docs == nil {
				return nil, badRequest(`"documents" must be an array of documents`)
			}
			break
		}
		var d indexer.Doc
		if err := json.Unmarshal(t, &d); err != nil {
			return nil, badRequest("invalid document: %s", jsonProblem(err))
		}
		docs = []indexer.Doc{d}
	default:
		return nil, badRequest(`send a document {"text":…}, an array of them, or {"documents":[…]}`)
	}
	if len(docs) == 0 {
		return nil, badRequest("no documents in the request")
	}
	if len(docs) > s.cfg.MaxDocuments {
		return nil, s.tooManyDocuments(len(docs))
	}
	for i, d := range docs {
		if strings.TrimSpace(d.Text) == "" {
			return nil, badRequest(`document %d%s has no "text"`, i, idNote(d.ID))
		}
	}
	return docs, nil
}

func idNote(id string) string {
	if id == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", id)
}

// readUploads parses every file of a multipart body by its file name, as
// `edgesearch import` would parse it from disk, within Config.ParseLimits
// and the request's context. A file that fails, or any bad row in one,
// fails the request: nothing is stored. More than Config.MaxFiles files or
// Config.MaxDocuments documents (rows of all files together) are refused
// with 413, like a body over MaxBodyBytes: the request is too big for this
// server, and the client's remedy is the same, to split it.
func (s *Server) readUploads(c *gin.Context) ([]indexer.Doc, error) {
	limit := s.cfg.MaxBodyBytes
	if c.Request.ContentLength > limit {
		return nil, &requestError{ErrTooLarge, fmt.Sprintf("request body too large: %d bytes, limit %d", c.Request.ContentLength, limit)}
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return nil, badRequest("invalid multipart body: %v", err)
	}
	tooLarge := func(err error) bool {
		_, ok := errors.AsType[*http.MaxBytesError](err)
		return ok
	}
	var docs []indexer.Doc
	files := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if tooLarge(err) {
				return nil, &requestError{ErrTooLarge, fmt.Sprintf("request body too large: limit %d bytes", limit)}
			}
			return nil, badRequest("invalid multipart body: %v", err)
		}
		name := part.FileName()
		if name == "" {
			part.Close()
			continue // a plain form field
		}
		if files++; files > s.cfg.MaxFiles {
			part.Close()
			return nil, &requestError{ErrTooLarge, fmt.Sprintf("more than %d files in one request; send them in several", s.cfg.MaxFiles)}
		}
		// Read the whole part before parsing, so a slow upload is not
		// counted against the parse's time limit.
		data, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			if tooLarge(err) {
				return nil, &requestError{ErrTooLarge, fmt.Sprintf("request body too large: limit %d bytes", limit)}
			}
			return nil, badRequest("file %q: %v", name, err)
		}
		got, err := s.parseUpload(c.Request.Context(), name, data)
		if err != nil {
			return nil, err
		}
		docs = append(docs, got...)
		if len(docs) > s.cfg.MaxDocuments {
			return nil, s.tooManyDocuments(len(docs))
		}
	}
	if len(docs) == 0 {
		return nil, badRequest("no files in the multipart body")
	}
	return docs, nil
}

// tooManyDocuments refuses a request of n documents, over MaxDocuments.
func (s *Server) tooManyDocuments(n int) error {
	return &requestError{ErrTooLarge, fmt.Sprintf("%d documents in one request, over the limit of %d; send them in several requests", n, s.cfg.MaxDocuments)}
}

// parseUpload parses one uploaded file with the indexer's
// parser for its extension. The file's base name is its source; its ids
// follow the indexer's rule (from the bytes for a whole file, from each
// row otherwise), so two different files of the same name are two
// documents and the same bytes uploaded again, or imported from disk, are
// one. A file over a parse limit is refused with 413, other bad files with
// 400.
func (s *Server) parseUpload(ctx context.Context, name string, data []byte) ([]indexer.Doc, error) {
	base := path.Base(path.Clean("/" + strings.ReplaceAll(name, "\\", "/")))
	if !indexer.Supported(base) {
		return nil, badRequest("file %q: unsupported type; send .txt, .md, .html, .pdf, .jsonl or .csv", name)
	}
	docs, rows, err := indexer.Parse(ctx, base, bytes.NewReader(data), s.cfg.ParseLimits)
	switch {
	case err == nil:
	case errors.Is(err, indexer.ErrLimit):
		return nil, &requestError{ErrTooLarge, fmt.Sprintf("file %q: %v", name, err)}
	case ctx.Err() != nil:
		return nil, err // the client went away
	default:
		return nil, badRequest("file %q: %v", name, err)
	}
	if len(rows) > 0 {
		return nil, badRequest("file %q: %d bad rows, first: %v", name, len(rows), rows[0])
	}
	return docs, nil
}

// ingestError turns the indexer's and store's refusals into 400s.
func ingestError(err error) error {
	switch {
	case errors.Is(err, indexer.ErrNoText), errors.Is(err, indexer.ErrInvalid),
		errors.Is(err, store.ErrInvalid), errors.Is(err, indexer.ErrBinary):
		return badRequest("%v", err)
	case errors.Is(err, embedder.ErrInvalidText), errors.Is(err, embedder.ErrOverloaded):
		return err
	}
	return fmt.Errorf("ingest: %w", err)
}

// handleListDocuments serves GET /documents?offset=&limit=&order=: by id
// (order=id, the default, whose pages hold still while documents are
// added), or newest first (order=newest: latest first stored first, as
// the web UI lists them).
func (s *Server) handleListDocuments(c *gin.Context) {
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	offset, err := queryInt(c, "offset", 0, 0, 1<<31-1)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	limit, err := queryInt(c, "limit", DefaultListLimit, 1, MaxListLimit)
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	var docs []store.Document
	var total int
	switch order := c.Query("order"); order {
	case "", "id":
		docs, total, err = e.Store().List(offset, limit)
	case "newest":
		docs, total, err = e.Newest(offset, limit)
	default:
		err = badRequest("order=%q: want id or newest", order)
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	resp := listResponse{Documents: make([]documentInfo, len(docs)), Total: total}
	for i := range docs {
		resp.Documents[i] = info(&docs[i], e.ChunkCount(docs[i].ID))
	}
	c.JSON(http.StatusOK, resp)
}

func info(d *store.Document, chunks int) documentInfo {
	md := d.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return documentInfo{ID: d.ID, Title: d.Title, Source: d.Source, Metadata: md, Chunks: chunks,
		Created: d.Created, Updated: d.Updated}
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	raw, ok := c.GetQuery(name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s=%q: want a whole number from %d to %d", name, raw, lo, hi)
	}
	return n, nil
}

// handleGetDocument serves GET /documents/:id, text included.
func (s *Server) handleGetDocument(c *gin.Context) {
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	id := c.Param("id")
	d, err := e.Get(id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(c, id)
		return
	}
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	out := info(&d, len(d.Chunks))
	out.Text = &d.Text
	c.JSON(http.StatusOK, out)
}

// handleDeleteDocument serves DELETE /documents/:id: 204, or 404 if none.
func (s *Server) handleDeleteDocument(c *gin.Context) {
	e, err := s.engineOrErr()
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	id := c.Param("id")
	if id == "" {
		notFound(c, id)
		return
	}
	n, err := e.Write(c.Request.Context(), store.Change{Delete: []string{id}})
	if err != nil {
		s.abortWithError(c, err)
		return
	}
	if n == 0 {
		notFound(c, id)
		return
	}
	c.Status(http.StatusNoContent)
}

func notFound(c *gin.Context, id string) {
	c.AbortWithStatusJSON(http.StatusNotFound, errorBody{Error: fmt.Sprintf("no document with id %q", id)})
}
