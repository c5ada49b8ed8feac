package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/web"
)

// The guards pinned here keep a server on a home network safe from the
// browsers on it: a Host check against DNS rebinding, no state change from
// a page on another origin, and JSON routes that a browser can only reach
// with a preflight.

// openAIErr is OpenAI's error answer, as the openai clients parse it.
type openAIErr struct {
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

// wantOpenAIError checks r is OpenAI's error object with the status, the
// code (any code when code is "") and a message containing want.
func (r reply) wantOpenAIError(t *testing.T, status int, code, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var e openAIErr
	r.decode(t, &e)
	if e.Error == nil || e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == "" || (code != "" && e.Error.Code != code) {
		t.Fatalf("answer is not OpenAI's error object with code %q: %s", code, r.body)
	}
	if !strings.Contains(e.Error.Message, want) {
		t.Fatalf("error %q does not mention %q", e.Error.Message, want)
	}
}

func TestHostHeaderMustNameThisServer(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	p := pool(t)
	tests := []struct {
		name    string
		allowed []string
		host    string
		ok      bool
	}{
		{"IPv4 literal with port", nil, "127.0.0.1:8080", true},
		{"IPv4 literal without port", nil, "192.168.1.20", true},
		{"IPv6 literal with port", nil, "[::1]:8080", true},
		{"IPv6 literal without port", nil, "[::1]", true},
		{"localhost", nil, "localhost:8080", true},
		{"localhost in capitals with a trailing dot", nil, "LOCALHOST.:8080", true},
		{"a .localhost name", nil, "app.localhost:8080", true},
		{"the machine's name", nil, hostname + ":8080", true},
		{"the machine's mDNS name", nil, strings.ToUpper(hostname) + ".local:8080", true},
		{"a foreign name", nil, "evil.example:8080", false},
		{"a name ending in localhost without the dot", nil, "evillocalhost", false},
		{"localhost as a subdomain", nil, "localhost.evil.example", false},
		{"a name next to the machine's", nil, hostname + ".evil.example", false},
		{"a listed name", []string{"search.lan"}, "Search.LAN:8080", true},
		{"a name not listed", []string{"search.lan"}, "evil.example", false},
		{"a listed domain", []string{".example.com"}, "pi.example.com", true},
		{"a listed domain itself", []string{".example.com"}, "example.com:80", true},
		{"a name that only ends like the domain", []string{".example.com"}, "badexample.com", false},
		{"any name", []string{"*"}, "evil.example:8080", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, web.Config{AllowedHosts: tt.allowed}, p)
			r := call(t, "GET", base+"/health", nil, map[string]string{"Host": tt.host})
			if tt.ok {
				if r.status != http.StatusOK {
					t.Fatalf("Host %q: status %d, want 200: %s", tt.host, r.status, r.body)
				}
				return
			}
			r.wantError(t, http.StatusForbidden, "--allowed-hosts")
			if !strings.Contains(string(r.body), tt.host) {
				t.Errorf("the refusal does not name the host %q: %s", tt.host, r.body)
			}
		})
	}
}

func TestRebindingNameCannotReadDocumentsOrBackup(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	s, base := start(t, web.Config{}, pool(t))
	s.SetEngine(l.engine)
	addDocs(t, base, sampleDocs[0])
	rebound := map[string]string{"Host": "rebind.evil.example:8080", "Origin": "http://rebind.evil.example:8080", "Sec-Fetch-Site": "same-origin"}
	for _, path := range []string{"/documents", "/documents/bees", "/backup", "/search?q=bees", "/metrics", "/"} {
		call(t, "GET", base+path, nil, rebound).wantError(t, http.StatusForbidden, "rebind.evil.example")
	}
	call(t, "GET", base+"/v1/models", nil, rebound).wantOpenAIError(t, http.StatusForbidden, "host_not_allowed", "--allowed-hosts")
	// The same request by address is answered.
	if r := call(t, "GET", base+"/documents/bees", nil, nil); r.status != http.StatusOK {
		t.Fatalf("GET /documents/bees by address: %d %s", r.status, r.body)
	}
}

// browser is the headers a browser adds to a request from a page on
// origin, with Sec-Fetch-Site as the browser judges it.
func browser(origin, site string) map[string]string {
	return map[string]string{"Origin": origin, "Sec-Fetch-Site": site}
}

func TestCrossOriginWritesAreRefused(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	s, base := start(t, web.Config{}, pool(t))
	s.SetEngine(l.engine)
	addDocs(t, base, sampleDocs[0])
	self := base // a page of the server's own origin
	overwrite := map[string]any{"id": "bees", "text": "pwned"}

	refused := []struct {
		name   string
		method string
		path   string
		body   any
		header map[string]string
	}{
		{"cross-site JSON", "POST", "/documents", overwrite, browser("http://evil.example", "cross-site")},
		{"cross-site text/plain", "POST", "/documents", `{"id":"bees","text":"pwned"}`,
			merge(browser("http://evil.example", "cross-site"), map[string]string{"Content-Type": "text/plain"})},
		{"same-site page on another port", "POST", "/index", overwrite, browser("http://127.0.0.1:1", "same-site")},
		{"old browser: Origin alone, another host", "POST", "/documents", overwrite, map[string]string{"Origin": "http://evil.example"}},
		{"cross-site DELETE", "DELETE", "/documents/bees", nil, browser("http://evil.example", "cross-site")},
		{"cross-site search POST", "POST", "/search", map[string]any{"q": "bees"}, browser("http://evil.example", "cross-site")},
		{"sandboxed page: Origin null", "POST", "/embed", map[string]any{"text": "x"}, browser("null", "cross-site")},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			call(t, tt.method, base+tt.path, tt.body, tt.header).wantError(t, http.StatusForbidden, "cross-origin "+tt.method)
		})
	}
	t.Run("OpenAI route answers in OpenAI's shape", func(t *testing.T) {
		r := call(t, "POST", base+"/v1/embeddings", map[string]any{"input": "x"}, browser("http://evil.example", "cross-site"))
		r.wantOpenAIError(t, http.StatusForbidden, "cross_origin_request", "--cors-origins")
	})
	var doc struct{ Text string }
	call(t, "GET", base+"/documents/bees", nil, nil).decode(t, &doc)
	if doc.Text != sampleDocs[0]["text"] {
		t.Fatalf("a refused request changed the document: %q", doc.Text)
	}

	allowed := []struct {
		name   string
		header map[string]string
	}{
		{"same-origin page", browser(self, "same-origin")},
		{"old browser, same origin", map[string]string{"Origin": self}},
		{"user typed it (Sec-Fetch-Site none)", map[string]string{"Sec-Fetch-Site": "none"}},
		{"no browser headers (curl, openai clients)", nil},
	}
	for _, tt := range allowed {
		t.Run(tt.name, func(t *testing.T) {
			if r := call(t, "POST", base+"/documents", map[string]any{"id": "ok", "text": tt.name}, tt.header); r.status != http.StatusCreated {
				t.Fatalf("POST /documents: %d %s", r.status, r.body)
			}
			if r := call(t, "POST", base+"/v1/embeddings", map[string]any{"input": "x"}, tt.header); r.status != http.StatusOK {
				t.Fatalf("POST /v1/embeddings: %d %s", r.status, r.body)
			}
			if r := call(t, "DELETE", base+"/documents/ok", nil, tt.header); r.status != http.StatusNoContent {
				t.Fatalf("DELETE /documents/ok: %d %s", r.status, r.body)
			}
		})
	}
}

func TestCORSOriginsMayWrite(t *testing.T) {
	p := pool(t)
	t.Run("a listed origin writes, others do not", func(t *testing.T) {
		_, base := start(t, web.Config{CORSOrigins: []string{"http://app.example:3000"}}, p)
		app := browser("http://app.example:3000", "cross-site")
		r := call(t, "POST", base+"/embed", map[string]any{"text": "hi"}, app)
		if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "http://app.example:3000" {
			t.Fatalf("listed origin: %d, Access-Control-Allow-Origin %q: %s", r.status, r.header.Get("Access-Control-Allow-Origin"), r.body)
		}
		// Its preflight is answered, before any check that could refuse it.
		pre := merge(app, map[string]string{"Access-Control-Request-Method": "DELETE"})
		if r := call(t, "OPTIONS", base+"/documents/x", nil, pre); r.status != http.StatusNoContent {
			t.Fatalf("preflight of a listed origin: %d %s", r.status, r.body)
		}
		call(t, "POST", base+"/embed", map[string]any{"text": "hi"}, browser("http://app.example:4000", "cross-site")).
			wantError(t, http.StatusForbidden, "http://app.example:4000")
	})
	t.Run("* opens writes to every origin", func(t *testing.T) {
		_, base := start(t, web.Config{CORSOrigins: []string{"*"}}, p)
		if r := call(t, "POST", base+"/embed", map[string]any{"text": "hi"}, browser("http://any.example", "cross-site")); r.status != http.StatusOK {
			t.Fatalf("CORSOrigins *: %d %s", r.status, r.body)
		}
	})
}

func TestBrowserRequestsToJSONRoutesMustBeJSON(t *testing.T) {
	l := openLibrary(t, t.TempDir())
	// The origin is trusted: the 415 is what stops its pages' text/plain
	// and form posts, which a browser sends without a preflight.
	s, base := start(t, web.Config{CORSOrigins: []string{"http://app.example"}}, pool(t))
	s.SetEngine(l.engine)
	app := browser("http://app.example", "cross-site")
	same := browser(base, "same-origin")
	as := func(h map[string]string, ct string) map[string]string {
		return merge(h, map[string]string{"Content-Type": ct})
	}
	var files bytes.Buffer
	mw := multipart.NewWriter(&files)
	fw, _ := mw.CreateFormFile("file", "note.txt")
	fw.Write([]byte("A note about compost heaps."))
	mw.Close()

	tests := []struct {
		name   string
		path   string
		body   any
		header map[string]string
		want   int
	}{
		{"text/plain JSON to /documents", "/documents", `{"id":"n","text":"pwned"}`, as(app, "text/plain;charset=UTF-8"), 415},
		{"form to /index", "/index", "text=pwned", as(app, "application/x-www-form-urlencoded"), 415},
		{"no Content-Type to /embed", "/embed", `{"text":"x"}`, as(same, ""), 415},
		{"text/plain to /search", "/search", `{"q":"x"}`, as(same, "text/plain"), 415},
		{"multipart to /embed", "/embed", files.Bytes(), as(app, mw.FormDataContentType()), 415},
		{"JSON to /embed", "/embed", map[string]any{"text": "x"}, app, 200},
		{"+json to /embed", "/embed", map[string]any{"text": "x"}, as(app, "application/vnd.edgesearch+json"), 200},
		{"multipart to /documents", "/documents", files.Bytes(), as(app, mw.FormDataContentType()), 201},
		{"not a browser: text/plain", "/embed", `{"text":"x"}`, map[string]string{"Content-Type": "text/plain"}, 200},
		{"not a browser: curl -d", "/documents", `{"id":"c","text":"curl sends a form type"}`,
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", base+tt.path, tt.body, tt.header)
			if tt.want == 415 {
				r.wantError(t, http.StatusUnsupportedMediaType, "application/json")
				return
			}
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
		})
	}
	t.Run("OpenAI route answers in OpenAI's shape", func(t *testing.T) {
		r := call(t, "POST", base+"/v1/embeddings", `{"input":"x"}`, as(app, "text/plain"))
		r.wantOpenAIError(t, http.StatusUnsupportedMediaType, "unsupported_media_type", "application/json")
	})
	if r := call(t, "GET", base+"/documents/n", nil, nil); r.status != http.StatusNotFound {
		t.Fatalf("the refused text/plain document was stored: %d %s", r.status, r.body)
	}
}

func TestNewRefusesKeysNoClientCanSendBack(t *testing.T) {
	for _, key := range []string{" k", "k\n", "k\r\n", "two words", "tab\tkey", "nul\x00", "del\x7f", "schlüssel"} {
		if _, err := web.New(web.Config{APIKey: key}); err == nil {
			t.Errorf("New with API key %q succeeded; every client would get 401", key)
		}
	}
	for _, key := range []string{"", "k", "s3cret-Key_with.punct~!"} {
		if _, err := web.New(web.Config{APIKey: key}); err != nil {
			t.Errorf("New with API key %q: %v", key, err)
		}
	}
}

func TestKeyWithSpacesAroundItInTheRequestStillMatches(t *testing.T) {
	const key = "s3cret"
	_, base := start(t, web.Config{APIKey: key}, pool(t))
	for _, h := range []map[string]string{
		{"Authorization": "Bearer  " + key + " "},
		{"X-API-Key": " " + key + "\t"},
	} {
		if r := call(t, "POST", base+"/embed", map[string]any{"text": "hi"}, h); r.status != http.StatusOK {
			t.Errorf("%v: %d %s", h, r.status, r.body)
		}
	}
}

func TestNewRefusesMalformedOriginsAndHosts(t *testing.T) {
	for _, cfg := range []web.Config{
		{CORSOrigins: []string{"app.example"}},         // no scheme
		{CORSOrigins: []string{"http://app.example/"}}, // a path
		{AllowedHosts: []string{"http://pi.lan"}},      // a scheme
		{AllowedHosts: []string{"pi.lan:8080"}},        // a port
		{AllowedHosts: []string{"*.example.com"}},      // a wildcard; .example.com is the spelling
		{AllowedHosts: []string{"."}},                  // no name
	} {
		if _, err := web.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

// merge returns a copy of a with b's entries added.
func merge(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
