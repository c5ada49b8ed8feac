package web

import (
	"crypto/subtle"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// track counts the requests inside the handlers, for Serve's shutdown.
func (s *Server) track() gin.HandlerFunc {
	return func(c *gin.Context) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		c.Next()
	}
}

// ioTimeouts cuts a client that stalls: each read of the request body and
// each write of the response pushes the connection's deadline Config.IOTimeout
// ahead, so a large upload or backup that keeps moving is never cut, and one
// that stops moving for that long fails its read or write. That ends the
// handler (and, for a backup, releases the store's read transaction, which
// would otherwise keep the file from growing under writers).
func (s *Server) ioTimeouts() gin.HandlerFunc {
	d := s.cfg.IOTimeout
	return func(c *gin.Context) {
		rc := http.NewResponseController(c.Writer)
		if c.Request.Body != nil && c.Request.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(d))
			c.Request.Body = &stallReader{ReadCloser: c.Request.Body, rc: rc, d: d}
		}
		c.Writer = &stallWriter{ResponseWriter: c.Writer, rc: rc, d: d}
		c.Next()
		// The connection may carry the next request: no deadline left over.
		_ = rc.SetWriteDeadline(time.Time{})
	}
}

type stallReader struct {
	io.ReadCloser
	rc *http.ResponseController
	d  time.Duration
}

func (r *stallReader) Read(p []byte) (int, error) {
	_ = r.rc.SetReadDeadline(time.Now().Add(r.d))
	return r.ReadCloser.Read(p)
}

type stallWriter struct {
	gin.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *stallWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.Write(p)
}

func (w *stallWriter) WriteString(str string) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.d))
	return w.ResponseWriter.WriteString(str)
}

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
	return s.corsFor("GET, POST, PUT, DELETE, OPTIONS", "Authorization, Content-Type, X-API-Key")
}

// corsFor is cors allowing these methods and request headers in preflights.
func (s *Server) corsFor(methods, headers string) gin.HandlerFunc {
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
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", headers)
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

// CheckAPIKey reports whether key can be required of clients: it must be
// visible ASCII, without spaces or control characters. HTTP strips the
// spaces around a header value, and browsers send header values as Latin-1
// bytes, so a key outside that set could never be sent back intact and
// would lock everyone out. The empty key (no key) is fine.
func CheckAPIKey(key string) error {
	for i := 0; i < len(key); i++ {
		switch b := key[i]; {
		case b == ' ' || b == '\t' || b == '\n' || b == '\r':
			return fmt.Errorf("the API key holds a space or a line break at byte %d; a key must be one word", i)
		case b < 0x20 || b == 0x7f:
			return fmt.Errorf("the API key holds a control character at byte %d", i)
		case b > 0x7f:
			return fmt.Errorf("the API key holds a non-ASCII character at byte %d; use letters, digits and punctuation", i)
		}
	}
	return nil
}

// hostPolicy is the set of names the server answers to (see
// Config.AllowedHosts). IP literals are always allowed: a rebinding attack
// needs a name the attacker controls, and a browser sends the name, not the
// address, in Host.
type hostPolicy struct {
	any      bool
	names    map[string]bool // lower case, no trailing dot
	suffixes []string        // ".example.com"
}

// newHostPolicy makes the policy for the allowed entries plus the machine's
// own names and the host name in the listen address, if it has one. It
// refuses entries that are not host names (a scheme, a port, a path).
func newHostPolicy(allowed []string, addr string) (hostPolicy, error) {
	p := hostPolicy{names: map[string]bool{"localhost": true}}
	add := func(name string) {
		if name = normalHost(name); name != "" {
			p.names[name] = true
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		add(h)
		add(h + ".local")
		if short, _, ok := strings.Cut(h, "."); ok {
			add(short)
			add(short + ".local")
		}
	}
	if host, _, err := net.SplitHostPort(addr); err == nil {
		add(host)
	}
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
		case a == "*":
			p.any = true
		case strings.ContainsAny(a, ":/ \t@*") || strings.Trim(a, ".") == "":
			return hostPolicy{}, fmt.Errorf("allowed host %q: want a host name such as pi.lan, or .example.com for a domain and its subdomains (no scheme, port or wildcard)", a)
		case strings.HasPrefix(a, "."):
			p.suffixes = append(p.suffixes, "."+normalHost(a[1:]))
		default:
			add(a)
		}
	}
	return p, nil
}

// normalHost lower-cases a host name and drops a trailing dot, so
// "PI.local." and "pi.local" are one name.
func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// allows reports whether a request's Host header (with or without a port)
// names this server.
func (p hostPolicy) allows(hostport string) bool {
	if p.any || hostport == "" { // no Host at all (HTTP/1.0): not a browser
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = normalHost(host)
	if p.names[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, s := range p.suffixes {
		if host == s[1:] || strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// checkHost refuses requests whose Host header names a host the server does
// not know it has: against DNS rebinding, where a page on the attacker's
// name, once the name resolves to this machine, would read every answer
// (documents, /backup) as same-origin.
func (s *Server) checkHost() gin.HandlerFunc { return s.checkHostWith(s.refuse, "") }

// checkHostWith is checkHost refusing through refuse (each port's error
// shape), its message after prefix.
func (s *Server) checkHostWith(refuse func(*gin.Context, int, string, string), prefix string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.hosts.allows(c.Request.Host) {
			c.Next()
			return
		}
		name, _, err := net.SplitHostPort(c.Request.Host)
		if err != nil {
			name = c.Request.Host
		}
		refuse(c, http.StatusForbidden, "host_not_allowed", fmt.Sprintf(
			prefix+"host %q is not one this server answers to (it could be a DNS rebinding attack); "+
				"if it is this server's name, allow it with edgesearch serve --allowed-hosts %s (or EDGESEARCH_ALLOWED_HOSTS)",
			c.Request.Host, normalHost(name)))
	}
}

// newOriginPolicy makes the cross-origin check trusting the configured CORS
// origins; it returns nil for "*", which turns the check off.
func newOriginPolicy(origins []string) (*http.CrossOriginProtection, error) {
	if slices.Contains(origins, "*") {
		return nil, nil
	}
	p := http.NewCrossOriginProtection()
	for _, o := range origins {
		if err := p.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("CORS origin: %w (want scheme://host[:port], e.g. http://pi.local:3000)", err)
		}
	}
	return p, nil
}

// checkOrigin refuses state-changing requests (POST, PUT, PATCH, DELETE)
// that a browser sends for a page on another site or origin, unless that
// origin is one of Config.CORSOrigins. Browsers say where a request comes
// from in Sec-Fetch-Site, or in Origin (older ones); requests with neither
// header — curl, the openai clients, edgesearch's own CLI — are not from a
// page and pass. Without this, a page on any site could store, replace and
// delete documents with "simple" requests that need no preflight.
func (s *Server) checkOrigin() gin.HandlerFunc {
	return func(c *gin.Context) {
		if s.csrf == nil || s.csrf.Check(c.Request) == nil {
			c.Next()
			return
		}
		from := c.GetHeader("Origin")
		if from == "" {
			from = "another site"
		}
		s.refuse(c, http.StatusForbidden, "cross_origin_request", fmt.Sprintf(
			"cross-origin %s refused: a page on %s may not change data on this server; "+
				"to allow that origin, start the server with --cors-origins ORIGIN (EDGESEARCH_CORS_ORIGINS)",
			c.Request.Method, from))
	}
}

// requireJSON refuses a browser's request (one carrying Origin or
// Sec-Fetch-Site) to a JSON route unless its body is declared JSON
// (application/json or a +json type), or, with files, multipart/form-data.
// A browser sends text/plain and form bodies from any page without asking
// the server first; JSON makes it send a CORS preflight, which only the
// configured origins pass. Clients that are not browsers keep the old
// leniency (curl -d sends application/x-www-form-urlencoded).
func (s *Server) requireJSON(files bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.GetHeader("Origin") == "" && c.GetHeader("Sec-Fetch-Site") == "" {
			c.Next()
			return
		}
		ct := c.GetHeader("Content-Type")
		mt, _, _ := mime.ParseMediaType(ct)
		if mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) ||
			(files && mt == "multipart/form-data") {
			c.Next()
			return
		}
		want := "Content-Type: application/json"
		if files {
			want += " (or multipart/form-data for files)"
		}
		s.refuse(c, http.StatusUnsupportedMediaType, "unsupported_media_type", fmt.Sprintf(
			"a browser request to %s must send %s, not %q", c.Request.URL.Path, want, ct))
	}
}

// refuse answers a request one of the guards above turns away, in the error
// shape its route speaks: OpenAI's error object on /v1, where clients parse
// that, {"error":"…"} elsewhere. Refusals are logged as warnings: each is a
// misconfigured client or an attack the owner may want to know of.
func (s *Server) refuse(c *gin.Context, status int, code, msg string) {
	s.log.Warn("request refused", "method", c.Request.Method, "path", c.Request.URL.Path,
		"status", status, "reason", code, "host", c.Request.Host, "origin", c.GetHeader("Origin"),
		"fetch_site", c.GetHeader("Sec-Fetch-Site"))
	writeError(c, status, code, msg)
}
