package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// The Qdrant-compatible REST API: collections of points, searched by
// vector, filtered by payload, in Qdrant's request and answer shapes, so
// the official Qdrant clients (Python, JavaScript, Rust, Go over REST) work
// against edgesearch unchanged. It is a second gin engine (QdrantHandler)
// for a port of its own, behind the same guards as the main API. What it
// does not do answers 4xx naming the feature; docs/qdrant.md lists them.

// QdrantVersion is the Qdrant version whose REST API these routes follow,
// reported by GET /. The official clients check it at construction and
// warn unless the major versions match and the minor versions differ by
// at most one, so 1.19 suits clients 1.18 to 1.20.
const QdrantVersion = "1.19.0"

// Bounds on the work of one Qdrant request, besides Config.MaxBodyBytes.
const (
	// QdrantMaxPoints caps the points one request upserts, retrieves,
	// deletes by id or changes the payload of by id.
	QdrantMaxPoints = 10_000
	// QdrantMaxResults caps limit + offset of a search, query, recommend
	// or scroll.
	QdrantMaxResults = 10_000
	// QdrantMaxBatch caps the searches in one batch request.
	QdrantMaxBatch = 100
	// QdrantMaxMMRPairs caps the similarities between points one query
	// with mmr may compute: candidates_limit × (limit + offset). Each costs
	// a pass over two vectors, so 1,000,000 of 384 dimensions is about a
	// second of one core.
	QdrantMaxMMRPairs = 1_000_000
	// qdrantDefaultScroll is Qdrant's default page of a scroll, and of a
	// query without a limit.
	qdrantDefaultScroll = 10
)

// vectorStore is what the Qdrant routes need of the collections engine
// (*search.Collections): collections of points with derived indexes, one
// way in for writes. Errors wrap store.ErrNotFound (no such collection),
// store.ErrExists, store.ErrInvalid, store.ErrBadPointID, search.ErrBadFilter,
// search.ErrDims, search.ErrBadVector or search.ErrBadParams for the
// client's mistakes.
type vectorStore interface {
	Create(ctx context.Context, name string, vectors map[string]store.VectorParams) (store.CollectionInfo, error)
	Drop(ctx context.Context, name string) (bool, error)
	Upsert(ctx context.Context, name string, pts []store.Point) error
	Delete(ctx context.Context, name string, ids []store.PointID) (int, error)
	DeleteWhere(ctx context.Context, name string, f *search.Filter) (int, error)
	UpdatePayload(ctx context.Context, name string, ids []store.PointID, f *search.Filter, op store.PayloadOp) (int, error)
	Query(ctx context.Context, name string, q search.PointQuery) ([]search.ScoredPoint, error)
	Scroll(ctx context.Context, name string, f *search.Filter, from *store.PointID, limit int, withPayload, withVectors bool) ([]store.Point, *store.PointID, error)
	Count(ctx context.Context, name string, f *search.Filter) (int, error)
	// CreatePayloadIndex and DeletePayloadIndex declare and drop a payload
	// field index (Qdrant's create_payload_index); PayloadIndexCounts
	// describes the declared ones.
	CreatePayloadIndex(ctx context.Context, name, field, schema string) error
	DeletePayloadIndex(ctx context.Context, name, field string) error
	PayloadIndexCounts(name string) (map[string]search.IndexedField, error)
	// List describes every collection, by name; Info describes one, or
	// fails with store.ErrNotFound.
	List() ([]store.CollectionInfo, error)
	Info(name string) (store.CollectionInfo, error)
}

// collectionsRef holds the vectorStore for an atomic.Pointer.
type collectionsRef struct{ vectorStore }

// errNoCollections: SetCollections has not been called yet (HTTP 503).
var errNoCollections = &requestError{ErrStarting, "the collections are still loading; retry shortly"}

func (s *Server) collectionsOrErr() (vectorStore, error) {
	r := s.colls.Load()
	if r == nil {
		return nil, errNoCollections
	}
	return r.vectorStore, nil
}

// qdrantRoutes builds the Qdrant engine. The guards are the main engine's
// (Host, cross-origin writes, JSON from browsers, the API key, stalled
// clients, the body limit in readJSON) answering in Qdrant's error shape;
// as in Qdrant, /, /healthz, /livez and /readyz need no key.
func (s *Server) qdrantRoutes() *gin.Engine {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.UseRawPath = true
	e.UnescapePathValues = true
	// A path with a trailing slash is not one of these routes: a 404 naming
	// it, not a redirect that clients would not follow for a POST.
	e.RedirectTrailingSlash = false
	_ = e.SetTrustedProxies(nil)
	e.Use(s.track(), s.qdrantStart(), s.qdrantRecover(), s.observe(), s.ioTimeouts(),
		s.qdrantCheckHost(), s.qdrantCORS(), s.qdrantCheckOrigin(), s.qdrantRequireJSON(), s.qdrantRequireAPIKey(),
		withRemoteRequest())
	get := func(path string, h gin.HandlerFunc) {
		e.GET(path, h)
		e.HEAD(path, h)
	}

	get("/", s.handleQdrantRoot)
	get("/healthz", s.handleQdrantHealthz)
	get("/livez", s.handleQdrantHealthz)
	get("/readyz", s.handleQdrantReadyz)
	get("/openapi.json", s.handleQdrantOpenAPI)

	get("/collections", s.handleQdrantListCollections)
	get("/collections/:collection", s.handleQdrantGetCollection)
	get("/collections/:collection/exists", s.handleQdrantCollectionExists)
	e.PUT("/collections/:collection", s.handleQdrantCreateCollection)
	e.PATCH("/collections/:collection", s.handleQdrantUpdateCollection)
	e.DELETE("/collections/:collection", s.handleQdrantDeleteCollection)
	e.PUT("/collections/:collection/index", s.handleQdrantCreateIndex)
	e.DELETE("/collections/:collection/index/:field", s.handleQdrantDeleteIndex)
	get("/collections/:collection/dead_letters", s.handleQdrantDeadLetters)
	e.DELETE("/collections/:collection/dead_letters", s.handleQdrantDiscardDeadLetters)

	e.PUT("/collections/:collection/points", s.handleQdrantUpsert)
	e.POST("/collections/:collection/points", s.handleQdrantRetrieve)
	get("/collections/:collection/points/:id", s.handleQdrantGetPoint)
	// gin routes a static segment before a parameter, so these POSTs
	// never reach :id (a GET only route there).
	e.POST("/collections/:collection/points/delete", s.handleQdrantDelete)
	e.POST("/collections/:collection/points/payload", s.handleQdrantSetPayload)
	e.PUT("/collections/:collection/points/payload", s.handleQdrantOverwritePayload)
	e.POST("/collections/:collection/points/payload/delete", s.handleQdrantDeletePayload)
	e.POST("/collections/:collection/points/payload/clear", s.handleQdrantClearPayload)
	e.POST("/collections/:collection/points/scroll", s.handleQdrantScroll)
	e.POST("/collections/:collection/points/count", s.handleQdrantCount)
	e.POST("/collections/:collection/points/search", s.handleQdrantSearch)
	e.POST("/collections/:collection/points/search/batch", s.handleQdrantSearchBatch)
	e.POST("/collections/:collection/points/query", s.handleQdrantQuery)
	e.POST("/collections/:collection/points/query/batch", s.handleQdrantQueryBatch)
	e.POST("/collections/:collection/points/recommend", s.handleQdrantRecommend)

	e.NoRoute(func(c *gin.Context) {
		s.qdrantFail(c, http.StatusNotFound, fmt.Sprintf(
			"Not found: edgesearch's Qdrant-compatible API does not serve %s %s (see docs/qdrant.md for what it does)",
			c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		s.qdrantFail(c, http.StatusMethodNotAllowed, fmt.Sprintf(
			"Method not allowed: edgesearch's Qdrant-compatible API does not serve %s %s (see docs/qdrant.md for what it does)",
			c.Request.Method, c.Request.URL.Path))
	})
	return e
}

// qdrantStartKey holds when a request reached the Qdrant engine, for the
// "time" every Qdrant answer carries.
const qdrantStartKey = "qdrant.start"

func (s *Server) qdrantStart() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(qdrantStartKey, time.Now())
		c.Next()
	}
}

// qdrantElapsed is the seconds since the request reached the engine.
func qdrantElapsed(c *gin.Context) float64 {
	if t, ok := c.Get(qdrantStartKey); ok {
		return time.Since(t.(time.Time)).Seconds()
	}
	return 0
}

// qdrantResponse is Qdrant's envelope of every JSON answer.
type qdrantResponse struct {
	Result any     `json:"result"`
	Status string  `json:"status"`
	Time   float64 `json:"time"`
}

// qdrantErrorResponse is Qdrant's envelope of a failure.
type qdrantErrorResponse struct {
	Status qdrantErrorStatus `json:"status"`
	Time   float64           `json:"time"`
}

type qdrantErrorStatus struct {
	Error string `json:"error"`
}

// qdrantOK answers result in Qdrant's envelope.
func qdrantOK(c *gin.Context, result any) {
	c.JSON(http.StatusOK, qdrantResponse{Result: result, Status: "ok", Time: qdrantElapsed(c)})
}

// qdrantUpdated answers a write as Qdrant does. A write to a local
// collection is done and durable before the answer, whatever "wait"
// asked: "completed". One to a collection on a remote backend without
// wait=true is durable in the outbox and not yet delivered (see
// Backends): "acknowledged", as Qdrant answers wait=false.
func qdrantUpdated(c *gin.Context) {
	status := "completed"
	if queuedWrite(c.Request.Context()) {
		status = "acknowledged"
	}
	qdrantOK(c, qdrantUpdateResult{OperationID: 0, Status: status})
}

type qdrantUpdateResult struct {
	OperationID uint64 `json:"operation_id"`
	Status      string `json:"status"`
}

// qdrantFail answers status with msg in Qdrant's error shape and stops the
// chain; every 503 advises Retry-After.
func (s *Server) qdrantFail(c *gin.Context, status int, msg string) {
	if status == http.StatusServiceUnavailable {
		c.Header("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
	}
	c.AbortWithStatusJSON(status, qdrantErrorResponse{Status: qdrantErrorStatus{Error: msg}, Time: qdrantElapsed(c)})
}

// qdrantRefuse answers a request a guard turns away, logged as the main
// engine's refusals are.
func (s *Server) qdrantRefuse(c *gin.Context, status int, reason, msg string) {
	s.log.Warn("request refused", "api", "qdrant", "method", c.Request.Method, "path", c.Request.URL.Path,
		"status", status, "reason", reason, "host", c.Request.Host, "origin", c.GetHeader("Origin"),
		"fetch_site", c.GetHeader("Sec-Fetch-Site"))
	s.qdrantFail(c, status, msg)
}

// qdrantAbort answers err with the status Qdrant gives its kind and a
// message in Qdrant's words ("Not found: …", "Wrong input: …"). Our own
// failures are logged and answered without internals.
func (s *Server) qdrantAbort(c *gin.Context, err error) {
	status, msg := qdrantStatus(err)
	if status >= http.StatusInternalServerError {
		s.log.Error("request failed", "api", "qdrant", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", status, "err", err)
	} else {
		s.log.Debug("request refused", "api", "qdrant", "method", c.Request.Method, "path", c.Request.URL.Path,
			"status", status, "err", err)
	}
	if status == http.StatusServiceUnavailable && s.stopping.Load() {
		msg = "Service unavailable: server is shutting down; retry shortly"
	}
	s.qdrantFail(c, status, msg)
}

// qdrantStatus maps an error to Qdrant's status and message. Qdrant
// answers 409 for a collection that exists, 404 for a missing collection
// or point, 400 for the rest of the client's mistakes.
func qdrantStatus(err error) (int, string) {
	switch {
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "Payload too large: " + err.Error()
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, "Unauthorized: " + err.Error()
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict, "Wrong input: " + err.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "Not found: " + err.Error()
	case errors.Is(err, ErrBadRequest), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrBadPointID),
		errors.Is(err, search.ErrBadFilter), errors.Is(err, search.ErrDims), errors.Is(err, search.ErrBadVector),
		errors.Is(err, search.ErrBadParams),
		errors.Is(err, embedder.ErrInvalidText):
		return http.StatusBadRequest, "Wrong input: " + err.Error()
	}
	status := statusOf(err)
	msg := clientMessage(err, status)
	switch status {
	case http.StatusServiceUnavailable:
		msg = "Service unavailable: " + msg
	case http.StatusInsufficientStorage:
		msg = "Insufficient storage: " + msg
	case http.StatusInternalServerError:
		msg = "Service internal error: " + msg
	}
	return status, msg
}

// qdrantRecover turns a panic into a logged 500 in Qdrant's shape.
func (s *Server) qdrantRecover() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.qdrantAbort(c, fmt.Errorf("panic in %s %s: %v", c.Request.Method, c.Request.URL.Path, v))
			}
		}()
		c.Next()
	}
}

// qdrantCheckHost is checkHost (DNS rebinding) in Qdrant's error shape.
func (s *Server) qdrantCheckHost() gin.HandlerFunc {
	return s.checkHostWith(s.qdrantRefuse, "Forbidden: ")
}

// qdrantCORS is cors for the Qdrant port: the same configured origins, and
// the methods and headers Qdrant's browser clients send (PATCH, api-key).
func (s *Server) qdrantCORS() gin.HandlerFunc {
	return s.corsFor("GET, POST, PUT, PATCH, DELETE, OPTIONS", "Api-Key, Authorization, Content-Type")
}

// qdrantCheckOrigin is checkOrigin (no writes from another site's page) in
// Qdrant's error shape.
func (s *Server) qdrantCheckOrigin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.csrf == nil || s.csrf.Check(c.Request) == nil {
			c.Next()
			return
		}
		from := c.GetHeader("Origin")
		if from == "" {
			from = "another site"
		}
		s.qdrantRefuse(c, http.StatusForbidden, "cross_origin_request", fmt.Sprintf(
			"Forbidden: cross-origin %s refused: a page on %s may not change data on this server; "+
				"to allow that origin, start the server with --cors-origins ORIGIN (EDGESEARCH_CORS_ORIGINS)",
			c.Request.Method, from))
	}
}

// qdrantRequireJSON is requireJSON for every route with a body: a browser
// must declare it JSON, which makes it ask the server first (a preflight).
func (s *Server) qdrantRequireJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		m := c.Request.Method
		if (m != http.MethodPost && m != http.MethodPut && m != http.MethodPatch) ||
			(c.GetHeader("Origin") == "" && c.GetHeader("Sec-Fetch-Site") == "") {
			c.Next()
			return
		}
		ct := c.GetHeader("Content-Type")
		mt, _, _ := mime.ParseMediaType(ct)
		if mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
			c.Next()
			return
		}
		s.qdrantRefuse(c, http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf(
			"Bad request: a browser request to %s must send Content-Type: application/json, not %q", c.Request.URL.Path, ct))
	}
}

// qdrantOpenPaths need no key, as in Qdrant: clients read the version at
// construction, and probes carry no secrets.
var qdrantOpenPaths = map[string]bool{"/": true, "/healthz": true, "/livez": true, "/readyz": true}

// qdrantRequireAPIKey refuses requests without the configured key, sent
// as Qdrant's clients send it ("api-key: KEY") or as
// "Authorization: Bearer KEY", compared in constant time.
func (s *Server) qdrantRequireAPIKey() gin.HandlerFunc {
	want := []byte(s.cfg.APIKey)
	return func(c *gin.Context) {
		if len(want) == 0 || qdrantOpenPaths[c.Request.URL.Path] || c.Request.Method == http.MethodOptions {
			c.Next()
			return
		}
		got := c.GetHeader("Api-Key")
		if got == "" {
			if auth := c.GetHeader("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
				got = strings.TrimSpace(auth[7:])
			}
		}
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="edgesearch"`)
			msg := "Unauthorized: Invalid API key"
			if got == "" {
				msg = "Unauthorized: Must provide an API key (header api-key) or an Authorization bearer token"
			}
			s.qdrantFail(c, http.StatusUnauthorized, msg)
			return
		}
		c.Next()
	}
}

// qdrantVersionInfo is GET /, which the clients read for the version.
type qdrantVersionInfo struct {
	Title   string `json:"title"`
	Version string `json:"version"`
}

func (s *Server) handleQdrantRoot(c *gin.Context) {
	c.JSON(http.StatusOK, qdrantVersionInfo{Title: "edgesearch " + s.cfg.Version + " - Qdrant-compatible vector search", Version: QdrantVersion})
}

// handleQdrantHealthz serves /healthz and /livez: the process answers.
func (s *Server) handleQdrantHealthz(c *gin.Context) {
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("healthz check passed"))
}

// handleQdrantReadyz serves /readyz: 200 once the collections are open,
// 503 before, as Qdrant answers while its shards load.
func (s *Server) handleQdrantReadyz(c *gin.Context) {
	if s.colls.Load() == nil {
		c.Header("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
		c.Data(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("collections are loading"))
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte("all shards are ready"))
}
