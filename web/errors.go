package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Sentinel errors for requests the server refuses; each maps to one status in
// statusOf.
var (
	// ErrBadRequest: the body is not what the route expects (HTTP 400).
	ErrBadRequest = errors.New("bad request")
	// ErrTooLarge: the body is over Config.MaxBodyBytes (HTTP 413).
	ErrTooLarge = errors.New("request body too large")
	// ErrUnauthorized: an API key is configured and the request lacks it (HTTP 401).
	ErrUnauthorized = errors.New("missing or wrong API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'")
	// ErrStarting: the model is still loading (HTTP 503).
	ErrStarting = errors.New("the model is still loading; retry shortly")
	// ErrUnavailable: the backend holding a collection (a Weaviate
	// cluster) does not answer (HTTP 503).
	ErrUnavailable = errors.New("the backend holding the collection is unreachable")
)

// errorBody is the one shape of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// requestError is a refusal with a message for the client; it matches its
// sentinel with errors.Is, without the sentinel's text in the message.
type requestError struct {
	sentinel error
	msg      string
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.sentinel }

// badRequest makes an ErrBadRequest with a message meant for the client.
func badRequest(format string, args ...any) error {
	return &requestError{ErrBadRequest, fmt.Sprintf(format, args...)}
}

// statusOf maps an error from a handler or from the embedder to its HTTP status.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrBadRequest), errors.Is(err, embedder.ErrInvalidText):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, store.ErrNoSpace):
		return http.StatusInsufficientStorage
	case errors.Is(err, embedder.ErrOverloaded), errors.Is(err, ErrStarting), errors.Is(err, ErrUnavailable),
		errors.Is(err, search.ErrBackendUnavailable),
		errors.Is(err, embedder.ErrClosed), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// clientMessage is the text put in {"error":…}: the wrapped message for
// errors the client caused, and a generic one for our own failures so
// internals do not leak (they are logged instead).
func clientMessage(err error, status int) string {
	switch {
	case status == http.StatusInternalServerError:
		return "internal error; see the server log"
	case status == http.StatusInsufficientStorage:
		return "the disk holding the data directory is full: nothing of this request was stored; free some space and retry"
	case errors.Is(err, embedder.ErrOverloaded):
		return "server overloaded; retry later"
	case errors.Is(err, embedder.ErrClosed):
		return "server is shutting down"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "request cancelled before it was done"
	}
	return err.Error()
}

// abortWithError answers err as JSON with its status and stops the chain.
// Retry-After goes on every 503, since each of them is temporary.
func (s *Server) abortWithError(c *gin.Context, err error) {
	status := statusOf(err)
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
	}
	if status >= http.StatusInternalServerError {
		s.log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", status, "err", err)
	} else {
		s.log.Debug("request refused", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", status, "err", err)
	}
	msg := clientMessage(err, status)
	if status == http.StatusServiceUnavailable && s.stopping.Load() {
		msg = "server is shutting down; retry shortly"
	}
	writeError(c, status, "", msg)
}

// writeError answers with status and msg in the error shape the route
// speaks: OpenAI's error object under /v1/, whose clients read
// error.message and error.code (a bare string there loses the message),
// and {"error":"…"} everywhere else. code is OpenAI's error code; "" picks
// one from the status.
func writeError(c *gin.Context, status int, code, msg string) {
	if !strings.HasPrefix(c.Request.URL.Path, "/v1/") {
		c.AbortWithStatusJSON(status, errorBody{Error: msg})
		return
	}
	typ := "invalid_request_error"
	if status >= http.StatusInternalServerError {
		typ = "server_error"
	}
	if code == "" {
		switch status {
		case http.StatusUnauthorized:
			code = "invalid_api_key"
		case http.StatusNotFound:
			code = "not_found"
		case http.StatusMethodNotAllowed:
			code = "method_not_allowed"
		case http.StatusRequestEntityTooLarge:
			code = "request_too_large"
		case http.StatusServiceUnavailable:
			code = "overloaded"
		default:
			if status >= http.StatusInternalServerError {
				code = "internal_error"
			} else {
				code = "invalid_request"
			}
		}
	}
	c.AbortWithStatusJSON(status, openAIErrorBody{Error: openAIError{Message: msg, Type: typ, Code: code}})
}
