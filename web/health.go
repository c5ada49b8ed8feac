package web

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/gin-gonic/gin"
)

// healthResponse is GET /health once the model is loaded: embedding works
// from then on. Index says whether search does yet: "loading" while the
// store and its search index open (Documents and Chunks are 0 until then),
// "ready" after.
type healthResponse struct {
	Status    string `json:"status"`
	Model     string `json:"model"`
	Dims      int    `json:"dims"`
	Index     string `json:"index"`
	Documents int    `json:"documents"`
	Chunks    int    `json:"chunks"`
	// Backend describes the remote cluster new collections live on
	// (serve --backend), from what was recorded: /health calls nothing.
	// Absent when every collection is local.
	Backend *BackendHealth `json:"backend,omitempty"`
	// DocumentsBackend describes the backend the documents are indexed in
	// (serve --backend), from the engine's sender: absent when they are
	// indexed on the device.
	DocumentsBackend *DocumentsBackendHealth `json:"documents_backend,omitempty"`
}

// DocumentsBackendHealth is the engine's sender to the backend holding the
// documents' chunks (search.BackendState), as /health shows it.
type DocumentsBackendHealth struct {
	Backend string `json:"backend"`
	// Compared: the chunks it holds were compared with the store's since
	// start; until then Pending counts every chunk of the store.
	Compared bool `json:"compared"`
	// Pending chunks are still to be sent to it or removed from it.
	Pending int `json:"pending"`
	// Reachable is what the sender's last call found; null before any.
	Reachable *bool      `json:"reachable"`
	LastError string     `json:"last_error,omitempty"`
	LastOK    *time.Time `json:"last_ok,omitempty"`
	Sent      uint64     `json:"sent"`
}

// documentsBackendHealth reports e's backend sender, or nil without one.
func documentsBackendHealth(e *search.Engine) *DocumentsBackendHealth {
	st := e.BackendState()
	if st.Backend == "" {
		return nil
	}
	h := &DocumentsBackendHealth{Backend: st.Backend, Compared: st.Compared, Pending: st.Pending, Sent: st.Sent}
	switch {
	case st.LastError != nil:
		no := false
		h.Reachable, h.LastError = &no, st.LastError.Error()
	case !st.LastOK.IsZero():
		yes := true
		h.Reachable = &yes
	}
	if !st.LastOK.IsZero() {
		h.LastOK = &st.LastOK
	}
	return h
}

// handleHealth serves GET /health: 200 when ready, 503 {"status":"starting"}
// while the model loads, so supervisors can wait for readiness. Both carry
// "backend" when collections live on a remote cluster (BackendHealth).
func (s *Server) handleHealth(c *gin.Context) {
	pool := s.pool.Load()
	if pool == nil {
		c.Header("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
		starting := gin.H{"status": "starting"}
		if b := s.backends(); b != nil {
			if h, err := b.Health(); err == nil {
				starting["backend"] = h
			}
		}
		c.JSON(http.StatusServiceUnavailable, starting)
		return
	}
	info := pool.Info()
	resp := healthResponse{Status: "ok", Model: info.Name, Dims: info.Dims, Index: "loading"}
	if e := s.index.Load(); e != nil {
		resp.Index = "ready"
		docs, chunks, err := e.Store().Count()
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		resp.Documents, resp.Chunks = docs, chunks
		resp.DocumentsBackend = documentsBackendHealth(e)
	}
	if b := s.backends(); b != nil {
		h, err := b.Health()
		if err != nil {
			s.abortWithError(c, err)
			return
		}
		resp.Backend = &h
	}
	c.JSON(http.StatusOK, resp)
}

// backends returns the collections' Backends when they have a remote
// backend, else nil.
func (s *Server) backends() *Backends {
	r := s.colls.Load()
	if r == nil {
		return nil
	}
	vs := r.vectorStore
	if w, ok := vs.(withDocuments); ok {
		vs = w.vectorStore
	}
	b, _ := vs.(*Backends)
	return b
}

// apiInfo is GET / for programs.
type apiInfo struct {
	Name    string      `json:"name"`
	Version string      `json:"version"`
	Model   string      `json:"model,omitempty"`
	Dims    int         `json:"dims,omitempty"`
	Ready   bool        `json:"ready"`
	Routes  []routeInfo `json:"routes"`
}

type routeInfo struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// handleRoot serves GET /. Browsers (clients preferring text/html) get
// Config.UI when there is one — the hook for the web UI; everyone else, and
// browsers until the UI exists, get the API info as JSON.
func (s *Server) handleRoot(c *gin.Context) {
	if s.cfg.UI != nil && c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) == gin.MIMEHTML {
		s.cfg.UI.ServeHTTP(c.Writer, c.Request)
		return
	}
	info := apiInfo{Name: "edgesearch", Version: s.cfg.Version}
	if pool := s.pool.Load(); pool != nil {
		mi := pool.Info()
		info.Model, info.Dims, info.Ready = mi.Name, mi.Dims, true
	}
	// Listed from the engine itself so the list cannot drift from the routes.
	for _, r := range s.engine.Routes() {
		info.Routes = append(info.Routes, routeInfo{Method: r.Method, Path: r.Path})
	}
	sort.Slice(info.Routes, func(i, j int) bool {
		a, b := info.Routes[i], info.Routes[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	c.JSON(http.StatusOK, info)
}
