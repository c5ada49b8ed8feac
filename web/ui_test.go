package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/web"
)

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// uiFiles reads the UI's source files as they are on disk, to compare
// with what the server sends.
func uiFiles(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir("ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(strings.TrimPrefix(p, "ui"+string(filepath.Separator)))] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assetURLs returns the ui/<version>/<file> paths the page refers to.
func assetURLs(t *testing.T, page []byte) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`"(ui/[0-9a-f]{12}/[a-z]+\.[a-z]+)"`).FindAllSubmatch(page, -1) {
		out = append(out, "/"+string(m[1]))
	}
	if len(out) == 0 {
		t.Fatalf("the page refers to no versioned assets:\n%s", page)
	}
	return out
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRootServesThePageToBrowsersAndAPIInfoToPrograms(t *testing.T) {
	_, base := start(t, web.Config{UI: web.UI()}, pool(t))
	page := call(t, "GET", base+"/", nil, map[string]string{"Accept": browserAccept, "Accept-Encoding": "identity"})
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("browser got %d %s", page.status, page.header.Get("Content-Type"))
	}
	if !bytes.Contains(page.body, []byte(`<script type="module" src="ui/`)) {
		t.Fatalf("page has no module script:\n%s", page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Fatalf("Content-Security-Policy %q does not keep the page to its origin", csp)
	}
	var info struct{ Name string }
	call(t, "GET", base+"/", nil, map[string]string{"Accept": "application/json"}).decode(t, &info)
	if info.Name != "edgesearch" {
		t.Fatalf("JSON client got %+v", info)
	}
}

// TestUIIsCompressedCachedAndRevalidated pins the headers of the page and
// of every asset, for each way a client may ask.
func TestUIIsCompressedCachedAndRevalidated(t *testing.T) {
	_, base := start(t, web.Config{UI: web.UI()}, pool(t))
	files := uiFiles(t)
	page := call(t, "GET", base+"/", nil, map[string]string{"Accept": browserAccept, "Accept-Encoding": "identity"})
	type target struct{ path, file, cache string }
	targets := []target{{"/", "index.html", "no-cache"}}
	for _, u := range assetURLs(t, page.body) {
		targets = append(targets, target{u, u[strings.LastIndex(u, "/")+1:], "public, max-age=31536000, immutable"})
	}
	// An asset under another version (a page loaded before an upgrade)
	// still loads, but must not be cached as if it were that version.
	old := targets[1]
	old.path = "/ui/000000000000/" + old.file
	old.cache = "no-cache"
	targets = append(targets, old)

	encodings := []struct {
		accept string
		gzip   bool
	}{
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"identity", false},
		{"gzip;q=0", false},
		{"", false},
	}
	for _, tg := range targets {
		for _, enc := range encodings {
			t.Run(tg.path+" "+enc.accept, func(t *testing.T) {
				hdr := map[string]string{"Accept": browserAccept, "Accept-Encoding": enc.accept}
				if enc.accept == "" {
					hdr["Accept-Encoding"] = "identity;q=1" // net/http would add gzip itself
				}
				r := call(t, "GET", base+tg.path, nil, hdr)
				if r.status != 200 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				body := r.body
				if got := r.header.Get("Content-Encoding") == "gzip"; got != enc.gzip {
					t.Fatalf("gzip %v, want %v", got, enc.gzip)
				}
				if enc.gzip {
					body = gunzip(t, body)
				}
				want := files[tg.file]
				if tg.file == "index.html" {
					// The page's asset paths carry the version; nothing else changes.
					want = regexp.MustCompile(`"ui/`).ReplaceAll(want, []byte(`"ui/VERSION/`))
					body = regexp.MustCompile(`"ui/[0-9a-f]{12}/`).ReplaceAll(body, []byte(`"ui/VERSION/`))
				}
				if !bytes.Equal(body, want) {
					t.Fatalf("body differs from ui/%s", tg.file)
				}
				if cc := r.header.Get("Cache-Control"); cc != tg.cache {
					t.Fatalf("Cache-Control %q, want %q", cc, tg.cache)
				}
				if v := r.header.Get("Vary"); v != "Accept-Encoding" {
					t.Fatalf("Vary %q", v)
				}
				etag := r.header.Get("ETag")
				if !strings.HasPrefix(etag, `"`) {
					t.Fatalf("ETag %q", etag)
				}
				hdr["If-None-Match"] = etag
				again := call(t, "GET", base+tg.path, nil, hdr)
				if again.status != http.StatusNotModified || len(again.body) != 0 {
					t.Fatalf("revalidation with the ETag: status %d, %d bytes", again.status, len(again.body))
				}
				hdr["If-None-Match"] = `"stale"`
				if again := call(t, "GET", base+tg.path, nil, hdr); again.status != 200 {
					t.Fatalf("revalidation with another ETag: status %d", again.status)
				}
			})
		}
	}
}

func TestUIFirstLoadStaysUnder100KiBWithNothingFromElsewhere(t *testing.T) {
	total := 0
	offsite := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
	cssLoads := regexp.MustCompile(`@import|url\(`)
	for name, b := range uiFiles(t) {
		total += len(b)
		// The SVG's XML namespace is a name, not a request.
		if m := offsite.Find(bytes.ReplaceAll(b, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil)); m != nil {
			t.Errorf("ui/%s refers to %q: the page must load nothing from elsewhere", name, m)
		}
		if m := cssLoads.Find(b); strings.HasSuffix(name, ".css") && m != nil {
			t.Errorf("ui/%s loads %q: keep the styles in one file", name, m)
		}
	}
	if total >= 100<<10 {
		t.Fatalf("the UI's files total %d bytes, over the 100 KiB first-load budget", total)
	}
	t.Logf("UI files: %d bytes", total)
}

func TestUIAnswersUnknownFilesAndMethodsWithErrors(t *testing.T) {
	_, base := start(t, web.Config{UI: web.UI()}, pool(t))
	call(t, "GET", base+"/ui/nothing.js", nil, nil).wantError(t, http.StatusNotFound, "no ui file")
	call(t, "GET", base+"/ui/000000000000/nothing.js", nil, nil).wantError(t, http.StatusNotFound, "no ui file")
	call(t, "GET", base+"/ui/000000000000/../server.go", nil, nil).wantError(t, http.StatusNotFound, "")
	call(t, "POST", base+"/ui/000000000000/app.js", "x", nil).wantError(t, http.StatusMethodNotAllowed, "POST")

	_, bare := start(t, web.Config{}, pool(t))
	call(t, "GET", bare+"/ui/000000000000/app.js", nil, nil).wantError(t, http.StatusNotFound, "no route")
}

// TestUINeedsNoAPIKeyButTheDataDoes: the page must load to ask for the
// key; it holds no data, and everything with data still needs the key.
func TestUINeedsNoAPIKeyButTheDataDoes(t *testing.T) {
	const key = "k3y"
	_, base := start(t, web.Config{UI: web.UI(), APIKey: key}, pool(t))
	page := call(t, "GET", base+"/", nil, map[string]string{"Accept": browserAccept, "Accept-Encoding": "identity"})
	if page.status != 200 {
		t.Fatalf("page without key: status %d: %s", page.status, page.body)
	}
	for _, u := range assetURLs(t, page.body) {
		if r := call(t, "GET", base+u, nil, nil); r.status != 200 {
			t.Fatalf("%s without key: status %d", u, r.status)
		}
	}
	call(t, "GET", base+"/", nil, map[string]string{"Accept": "application/json"}).wantError(t, 401, "API key")
	call(t, "GET", base+"/documents", nil, map[string]string{"Accept": browserAccept}).wantError(t, 401, "API key")
	call(t, "POST", base+"/", "x", map[string]string{"Accept": browserAccept}).wantError(t, 401, "API key")
}
