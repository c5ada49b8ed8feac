package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// uiFiles are the web UI's static files: plain HTML, CSS and JavaScript
// modules, no build step, so `go build` alone makes the binary.
//
//go:embed ui
var uiFiles embed.FS

// uiPrefix is where the UI's assets are served; the page at / refers to
// them as ui/<version>/<name>.
const uiPrefix = "/ui/"

// uiPolicy keeps the page to its own origin: no script, style, font or
// connection anywhere else, and no inline script for an injected string
// to run as.
const uiPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// uiAsset is one file, ready to send in both encodings.
type uiAsset struct {
	body, gz    []byte
	contentType string
	etag        string // of body; the gzip variant appends "-gz"
}

// uiHandler serves the page and its assets from memory.
type uiHandler struct {
	version string // hash of every file: the assets' URL segment
	index   uiAsset
	assets  map[string]uiAsset
}

// UI returns the handler for Config.UI: it answers "/" with the page and
// "/ui/<version>/<file>" with the page's assets, all embedded in the
// binary and compressed once at start. Assets are cached for a year
// (their URL changes with any file); the page is revalidated each time
// with its ETag, so an upgrade shows at the next load.
func UI() http.Handler {
	h, err := newUIHandler(uiFiles)
	if err != nil {
		// The files are compiled in; a failure here is a broken build,
		// caught by the package's tests before any release.
		panic(fmt.Sprintf("web ui: %v", err))
	}
	return h
}

func newUIHandler(files fs.FS) (*uiHandler, error) {
	sub, err := fs.Sub(files, "ui")
	if err != nil {
		return nil, err
	}
	raw := map[string][]byte{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		raw[p] = b
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded ui files: %w", err)
	}
	page, ok := raw["index.html"]
	if !ok {
		return nil, fmt.Errorf("embedded ui files lack index.html")
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	sum := sha256.New()
	for _, n := range names {
		fmt.Fprintf(sum, "%s\x00%d\x00", n, len(raw[n]))
		sum.Write(raw[n])
	}
	h := &uiHandler{version: hex.EncodeToString(sum.Sum(nil))[:12], assets: map[string]uiAsset{}}
	// The page names its assets "ui/x"; versioning the path makes every
	// relative import inside the modules versioned too.
	page = bytes.ReplaceAll(page, []byte(`"ui/`), []byte(`"ui/`+h.version+`/`))
	if h.index, err = newUIAsset("index.html", page); err != nil {
		return nil, err
	}
	for _, n := range names {
		if n == "index.html" {
			continue
		}
		if h.assets[n], err = newUIAsset(n, raw[n]); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func newUIAsset(name string, body []byte) (uiAsset, error) {
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		return uiAsset{}, fmt.Errorf("ui file %s: unknown content type", name)
	}
	if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
		ct += "; charset=utf-8"
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return uiAsset{}, err
	}
	if _, err := zw.Write(body); err != nil {
		return uiAsset{}, fmt.Errorf("compress ui file %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return uiAsset{}, fmt.Errorf("compress ui file %s: %w", name, err)
	}
	sum := sha256.Sum256(body)
	return uiAsset{body: body, gz: gz.Bytes(), contentType: ct,
		etag: `"` + hex.EncodeToString(sum[:8])}, nil
}

// ServeHTTP answers "/" and "/ui/<version>/<file>"; anything else is 404.
// An asset asked for under an old version is still served, uncached, so a
// page loaded before an upgrade keeps working.
func (h *uiHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		h.send(w, r, h.index, "no-cache")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, uiPrefix)
	version, name, ok2 := strings.Cut(rest, "/")
	a, ok3 := h.assets[name]
	if !ok || !ok2 || !ok3 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		// JSON, not %q: Go's escapes (\x00, \U0001f600) are not JSON's.
		json.NewEncoder(w).Encode(errorBody{Error: "no ui file " + r.URL.Path})
		return
	}
	cache := "public, max-age=31536000, immutable"
	if version != h.version {
		cache = "no-cache"
	}
	h.send(w, r, a, cache)
}

// send writes a, gzip-compressed when the client takes it, or 304 when
// the client's copy is current.
func (h *uiHandler) send(w http.ResponseWriter, r *http.Request, a uiAsset, cache string) {
	hdr := w.Header()
	body, etag := a.body, a.etag+`"`
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body, etag = a.gz, a.etag+`-gz"`
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Vary", "Accept-Encoding")
	hdr.Set("ETag", etag)
	hdr.Set("Cache-Control", cache)
	hdr.Set("Content-Security-Policy", uiPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		hdr.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// acceptsGzip reads an Accept-Encoding header; "gzip;q=0" refuses it.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// etagMatches reads If-None-Match: a list of tags, or "*".
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// routeUI serves the UI's assets when there is a UI. GET / itself is
// handleRoot's, which hands browsers to the same handler.
func (s *Server) routeUI(e *gin.Engine) {
	if s.cfg.UI == nil {
		return
	}
	e.GET(uiPrefix+"*file", gin.WrapH(s.cfg.UI))
	e.HEAD(uiPrefix+"*file", gin.WrapH(s.cfg.UI))
}

// isUIRequest reports whether c asks for the page or one of its assets,
// which need no API key: they hold no data, and the page must load to ask
// for the key.
func (s *Server) isUIRequest(c *gin.Context) bool {
	if s.cfg.UI == nil || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
		return false
	}
	p := c.Request.URL.Path
	return strings.HasPrefix(p, uiPrefix) ||
		(p == "/" && c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) == gin.MIMEHTML)
}
