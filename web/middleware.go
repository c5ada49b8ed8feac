package web

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// recoverJSON turns a panic in a handler into a logged 500 with a JSON body,
// so one bad request cannot take the server down or answer in HTML.
func (s *Server) recoverJSON() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { // the client went away; net/http expects this one
					panic(v)
				}
				s.abortWithError(c, fmt.Errorf("panic in %s %s: %v", c.Request.Method, c.Request.URL.Path, v))
			}
		}()
		c.Next()
	}
}

// observe logs one line per request and counts it in the metrics by route
// pattern (not raw path, which would let clients grow the label set).
func (s *Server) observe() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		s.metrics.countRequest(route, status)
		s.log.Info("request",
			"method", c.Request.Method,
			"path", c.Request.URL.Path,
			"status", status,
			"bytes", c.Writer.Size(),
			"duration", time.Since(start),
			"client", c.ClientIP())
	}
}

// cors answers browsers for the configured origins. With no origins
// configured it does nothing, so cross-origin pages cannot read answers.
func (s *Server) cors() gin.HandlerFunc {
	any := slices.Contains(s.cfg.CORSOrigins, "*")
	return func(c *gin.Context) {
		origin := c.GetHeader("Origin")
		if origin == "" || len(s.cfg.CORSOrigins) == 0 {
			c.Next()
			return
		}
		h := c.Writer.Header()
		h.Add("Vary", "Origin")
		if !any && !slices.Contains(s.cfg.CORSOrigins, origin) {
			c.Next() // no CORS headers: the browser withholds the answer
			return
		}
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Retry-After")
		if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key")
			h.Set("Access-Control-Max-Age", "600")
			c.AbortWithStatus(http.StatusNoContent)
			return
		}
		c.Next()
	}
}

// requireAPIKey refuses requests without the configured key. GET /health
// stays open so load balancers and supervisors can probe without secrets,
// and so does the web UI's page, which then asks the person for the key.
func (s *Server) requireAPIKey() gin.HandlerFunc {
	want := []byte(s.cfg.APIKey)
	return func(c *gin.Context) {
		if len(want) == 0 || c.Request.URL.Path == "/health" || s.isUIRequest(c) {
			c.Next()
			return
		}
		got := c.GetHeader("X-API-Key")
		if got == "" {
			if auth := c.GetHeader("Authorization"); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
				got = strings.TrimSpace(auth[7:])
			}
		}
		// Constant time, so the key cannot be guessed byte by byte from timings.
		if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="edgesearch"`)
			s.abortWithError(c, ErrUnauthorized)
			return
		}
		c.Next()
	}
}
