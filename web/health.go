package web

import (
	"net/http"
	"sort"
	"strconv"

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
}

// handleHealth serves GET /health: 200 when ready, 503 {"status":"starting"}
// while the model loads, so supervisors can wait for readiness.
func (s *Server) handleHealth(c *gin.Context) {
	pool := s.pool.Load()
	if pool == nil {
		c.Header("Retry-After", strconv.Itoa(s.retryAfterSeconds()))
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "starting"})
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
	}
	c.JSON(http.StatusOK, resp)
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
