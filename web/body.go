package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// readJSON reads the request body, at most Config.MaxBodyBytes of it, checks
// it is valid UTF-8 and one JSON value, and decodes it into v. Errors wrap
// ErrTooLarge or ErrBadRequest.
func (s *Server) readJSON(c *gin.Context, v any) error {
	limit := s.cfg.MaxBodyBytes
	if c.Request.ContentLength > limit {
		// Refuse before reading a byte of a body we would not accept.
		return &requestError{ErrTooLarge, fmt.Sprintf("request body too large: %d bytes, limit %d", c.Request.ContentLength, limit)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &requestError{ErrTooLarge, fmt.Sprintf("request body too large: limit %d bytes", limit)}
		}
		return badRequest("couldn't read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; send JSON")
	}
	// encoding/json would turn invalid bytes into U+FFFD and embed a text the
	// client never sent; refuse instead.
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON: %s", jsonProblem(err))
	}
	if dec.More() {
		return badRequest("invalid JSON: more than one value in the body")
	}
	return nil
}

// jsonProblem phrases a decoding error for the client.
func jsonProblem(err error) string {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("the body must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "ptr", "interface":
		return "a value"
	default:
		return "a number"
	}
}
