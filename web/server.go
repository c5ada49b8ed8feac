package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
)

// Defaults for the zero values of Config.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultMaxBodyBytes    = 8 << 20
	DefaultMaxTexts        = 2048
	DefaultRetryAfter      = time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultIOTimeout       = 30 * time.Second
	DefaultMaxDocuments    = 10_000
	DefaultMaxFiles        = 100
)

// Config configures a Server. The zero value of every field means its default.
type Config struct {
	// Addr is the listen address for ListenAndServe; default
	// "127.0.0.1:8080", reachable from this machine only. A host name in it
	// is also allowed as a Host header (see AllowedHosts).
	Addr string
	// Version is reported by GET /.
	Version string
	// APIKey, when set, is required on every route except GET /health and
	// CORS preflights, as "Authorization: Bearer KEY" or "X-API-Key: KEY".
	// New refuses a key with spaces, control characters or non-ASCII
	// letters (see CheckAPIKey): no client could send it back intact.
	APIKey string
	// CORSOrigins lists the origins ("scheme://host[:port]") allowed to call
	// the API from a browser, and so to change data from a page of their
	// own; "*" allows any, which also turns the cross-origin check off: the
	// owner opened the API to every site. Empty (the default) sends no CORS
	// headers and refuses every cross-origin POST, PUT, PATCH and DELETE.
	CORSOrigins []string
	// AllowedHosts lists the names, besides IP literals, "localhost",
	// "*.localhost", the machine's host name and that name + ".local", that
	// clients may use to reach the server (the Host header). Other names get
	// 403, so a site whose name an attacker rebinds to this machine's address
	// (DNS rebinding) cannot read it. An entry ".example.com" allows
	// example.com and every name under it; "*" allows any name.
	AllowedHosts []string
	// MaxBodyBytes caps a request body; larger bodies get 413. Default 8 MiB.
	MaxBodyBytes int64
	// MaxTexts caps the texts in one embedding request; default 2048,
	// OpenAI's own limit, which clients batch under.
	MaxTexts int
	// MaxDocuments caps the documents one POST /documents may store, rows
	// of uploaded JSONL and CSV files included; default 10,000.
	MaxDocuments int
	// MaxFiles caps the files in one multipart upload; default 100.
	MaxFiles int
	// ParseLimits bound the parse of each uploaded file (see indexer.Limits);
	// zero fields mean the indexer's defaults.
	ParseLimits indexer.Limits
	// RetryAfter is advised on every 503; default 1s (rounded up to seconds).
	RetryAfter time.Duration
	// IOTimeout cuts a request whose body sends nothing, or whose client
	// reads nothing of the response, for this long; a slow but moving
	// upload or backup is never cut. Default 30s.
	IOTimeout time.Duration
	// ShutdownTimeout bounds how long Serve waits for requests in flight
	// after its context ends; default 10s.
	ShutdownTimeout time.Duration
	// UI, when set, serves GET / to browsers (clients that prefer text/html);
	// everyone else gets the API info as JSON. Nil: browsers get JSON too.
	UI http.Handler
	// Logger receives one line per request and every failure; default slog.Default().
	Logger *slog.Logger
}

// Server is the HTTP API. Make one with New; it is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	engine  *gin.Engine
	metrics *metrics
	started time.Time
	hosts   hostPolicy
	csrf    *http.CrossOriginProtection // nil: every origin may write (CORSOrigins "*")
	// pool is nil while the model loads; handlers read it once per request.
	pool atomic.Pointer[embedder.Pool]
	// index is nil until SetEngine; the document and search routes answer
	// 503 meanwhile.
	index atomic.Pointer[search.Engine]
	// inflight counts requests inside the handlers; stopping is set once
	// Serve has given them their time and cancelled what is left.
	inflight atomic.Int64
	stopping atomic.Bool
	// qdrant is the Qdrant-compatible API (QdrantHandler); colls is nil
	// until SetCollections, and its routes answer 503 meanwhile.
	qdrant *gin.Engine
	colls  atomic.Pointer[collectionsRef]
}

// New checks cfg, fills in its defaults and builds the routes. It fails only
// for a Config that cannot work (negative limits, an API key no client can
// send, a malformed origin or host name).
func New(cfg Config) (*Server, error) {
	if err := CheckAPIKey(cfg.APIKey); err != nil {
		return nil, fmt.Errorf("web config: %w", err)
	}
	hosts, err := newHostPolicy(cfg.AllowedHosts, cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("web config: %w", err)
	}
	csrf, err := newOriginPolicy(cfg.CORSOrigins)
	if err != nil {
		return nil, fmt.Errorf("web config: %w", err)
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("web config: max body bytes %d is negative", cfg.MaxBodyBytes)
	}
	if cfg.MaxTexts < 0 || cfg.MaxDocuments < 0 || cfg.MaxFiles < 0 {
		return nil, fmt.Errorf("web config: max texts, documents and files must not be negative")
	}
	if err := cfg.ParseLimits.Check(); err != nil {
		return nil, fmt.Errorf("web config: %w", err)
	}
	if cfg.RetryAfter < 0 || cfg.ShutdownTimeout < 0 || cfg.IOTimeout < 0 {
		return nil, fmt.Errorf("web config: durations must not be negative")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxTexts == 0 {
		cfg.MaxTexts = DefaultMaxTexts
	}
	if cfg.MaxDocuments == 0 {
		cfg.MaxDocuments = DefaultMaxDocuments
	}
	if cfg.MaxFiles == 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = DefaultIOTimeout
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: newMetrics(), started: time.Now(), hosts: hosts, csrf: csrf}
	s.engine = s.routes()
	s.qdrant = s.qdrantRoutes()
	return s, nil
}

// SetEmbedder makes the embedding routes live with a loaded pool, and
// /health report "ok". The Server does not close the pool.
func (s *Server) SetEmbedder(p *embedder.Pool) { s.pool.Store(p) }

// Handler returns the server as an http.Handler, for tests and for mounting.
func (s *Server) Handler() http.Handler { return s.engine }

// SetCollections makes the Qdrant-compatible routes live over vs (a
// *search.Collections), with the documents beside its collections as
// search.DocumentsCollection once SetEngine was called. The Server does not
// close it.
func (s *Server) SetCollections(vs vectorStore) {
	s.colls.Store(&collectionsRef{withDocuments{vs, s.index.Load}})
}

// QdrantHandler returns the Qdrant-compatible API (see qdrant.go) as an
// http.Handler, behind the same guards as Handler; ServeQdrant serves it.
func (s *Server) QdrantHandler() http.Handler { return s.qdrant }

// routes builds the gin engine. Middleware order matters: recovery outermost
// so a panic still yields JSON; observe next so it counts every answer,
// refusals included; the Host check before anything answers, preflights
// included, so a rebound name learns nothing; CORS before the cross-origin
// check and auth so browsers' preflights, which carry no credentials, are
// answered for the configured origins; the cross-origin check before auth,
// so a foreign page's write is refused whatever credentials ride along.
// The JSON routes also refuse browser requests that are not JSON (see
// requireJSON).
func (s *Server) routes() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true // c.Done() follows the request's context
	// Route on the path as sent, so an id holding "/" (sent as %2F, as
	// encodeURIComponent does) is one path segment, then unescape it.
	e.UseRawPath = true
	e.UnescapePathValues = true
	// Trust no proxy headers: a client must not choose the IP we log.
	_ = e.SetTrustedProxies(nil)
	e.Use(s.track(), s.recoverJSON(), s.observe(), s.ioTimeouts(), s.checkHost(), s.cors(), s.checkOrigin(), s.requireAPIKey())
	jsonOnly, jsonOrFiles := s.requireJSON(false), s.requireJSON(true)
	// Reads answer HEAD too (monitors probe /health with it); net/http
	// sends the headers and drops the body. /backup is GET only: a HEAD
	// would stream a whole snapshot into the void.
	get := func(path string, h gin.HandlerFunc) {
		e.GET(path, h)
		e.HEAD(path, h)
	}

	get("/", s.handleRoot)
	s.routeUI(e)
	get("/health", s.handleHealth)
	get("/metrics", s.handleMetrics)
	get("/openapi.json", s.handleOpenAPI)
	e.GET("/backup", s.handleBackup)
	e.POST("/embed", jsonOnly, s.handleEmbed)
	e.POST("/v1/embeddings", jsonOnly, s.handleOpenAIEmbeddings)
	get("/v1/models", s.handleOpenAIModels)
	get("/v1/models/:id", s.handleOpenAIModel)
	e.POST("/documents", jsonOrFiles, s.handleAddDocuments)
	e.POST("/index", jsonOrFiles, s.handleAddDocuments)
	get("/documents", s.handleListDocuments)
	get("/documents/:id", s.handleGetDocument)
	e.DELETE("/documents/:id", s.handleDeleteDocument)
	get("/documents/:id/similar", s.handleSimilar)
	get("/search", s.handleSearchGet)
	e.POST("/search", jsonOnly, s.handleSearchPost)
	get("/collections", s.handleListCollections)
	e.POST("/collections/:name/search", jsonOnly, s.handleCollectionSearch)

	e.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, "", fmt.Sprintf("no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "", fmt.Sprintf("method %s not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	return e
}

// ListenAndServe listens on Config.Addr and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := s.cfg.Addr
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("couldn't listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln until ctx ends, then shuts down in order:
// it stops accepting, gives requests in flight up to Config.ShutdownTimeout
// to finish, then cancels the ones still running (they answer 503 with
// Retry-After: embedding stops between guest steps) and waits for their
// handlers to return, so the caller may close the store and the embedder
// as soon as Serve returns. It closes ln and returns nil after a clean
// shutdown. Requests do not inherit ctx: ending it lets them finish first.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.engine)
}

// ServeQdrant is Serve for the Qdrant-compatible API (QdrantHandler), on a
// listener of its own; both share the requests-in-flight count, so either
// shutdown waits for the handlers of both.
func (s *Server) ServeQdrant(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.qdrant)
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	// Every request's context derives from base, so cancelling it reaches
	// every handler still running when the grace period is over.
	base, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	hs := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout, "in_flight", s.inflight.Load())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		// Out of patience: cancel what runs, let each handler answer, and
		// only then drop the connections.
		s.stopping.Store(true)
		cancelRequests()
		left := s.waitHandlers(shutdownCancelWait)
		s.log.Warn("requests cancelled at shutdown", "still_running", left)
		hs.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), serr)
	}
	if err != nil && s.inflight.Load() > 0 {
		return fmt.Errorf("shutting down %s: %d requests did not stop: %w", ln.Addr(), s.inflight.Load(), err)
	}
	return nil
}

// shutdownCancelWait bounds how long Serve waits for cancelled handlers:
// each stops at its next check of its context (a guest step, a parse read).
const shutdownCancelWait = 5 * time.Second

// InFlight is the number of requests inside the handlers now.
func (s *Server) InFlight() int64 { return s.inflight.Load() }

// waitHandlers waits up to d for the handlers in flight to return and
// reports how many are left.
func (s *Server) waitHandlers(d time.Duration) int64 {
	deadline := time.Now().Add(d)
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return s.inflight.Load()
}

// embedderOrErr returns the loaded pool, or ErrStarting while there is none.
func (s *Server) embedderOrErr() (*embedder.Pool, error) {
	p := s.pool.Load()
	if p == nil {
		return nil, ErrStarting
	}
	return p, nil
}

func (s *Server) retryAfterSeconds() int {
	return int((s.cfg.RetryAfter + time.Second - 1) / time.Second)
}
