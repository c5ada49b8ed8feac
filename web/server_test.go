package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/web"
)

// modelPath is the real model the tests embed with: $EDGESEARCH_MODEL, else
// the f16 all-MiniLM-L6-v2 that `make model` pulls.
func modelPath(t testing.TB) string {
	t.Helper()
	p := model.DefaultPath() // honours $EDGESEARCH_MODEL
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("model %s is missing: run `make model` or set EDGESEARCH_MODEL: %v", p, err)
	}
	return p
}

var (
	sharedOnce sync.Once
	sharedPool *embedder.Pool
	sharedErr  error
)

// pool is one real Pool shared by the tests: loading the model per test
// would dominate the run time. The servers never close it; TestMain does.
func pool(t testing.TB) *embedder.Pool {
	t.Helper()
	path := modelPath(t)
	sharedOnce.Do(func() {
		sharedPool, sharedErr = embedder.New(context.Background(), embedder.Options{ModelPath: path, Workers: 2})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedPool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedPool != nil {
		sharedPool.Close()
	}
	os.Exit(code)
}

// start serves a new Server with cfg (and p, when not nil) on a real
// 127.0.0.1 port until the test ends, and returns it with its base URL. The
// cleanup checks that Serve shut down cleanly.
func start(t *testing.T, cfg web.Config, p *embedder.Pool) (*web.Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p != nil {
		s.SetEmbedder(p)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after shutdown, want nil", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// reply is one HTTP answer, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
	openAI bool // the request went to a /v1/ route, whose errors are OpenAI's shape
}

// call sends one request; body may be nil, a string or []byte (sent as is),
// or anything else (sent as JSON). A "Host" in header sets the Host the
// request names.
func call(t *testing.T, method, url string, body any, header map[string]string) reply {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if strings.EqualFold(k, "Host") { // net/http sends req.Host, not a Host header
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: data, openAI: strings.HasPrefix(req.URL.Path, "/v1/")}
}

// decode unmarshals a JSON answer into v, failing the test if it is not JSON.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want application/json; body %s", ct, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, r.body)
	}
}

// wantError checks r is a JSON error with the status whose message contains
// want, in the shape of its route: OpenAI's error object under /v1/,
// {"error":"…"} elsewhere.
func (r reply) wantError(t *testing.T, status int, want string) {
	t.Helper()
	if r.openAI {
		r.wantOpenAIError(t, status, "", want)
		return
	}
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	var e struct {
		Error *string `json:"error"`
	}
	r.decode(t, &e)
	if e.Error == nil || *e.Error == "" {
		t.Fatalf("answer has no error message: %s", r.body)
	}
	if !strings.Contains(*e.Error, want) {
		t.Fatalf("error %q does not mention %q", *e.Error, want)
	}
}

// embedOK checks the server still embeds: every refusal test ends with it.
func embedOK(t *testing.T, base string, header map[string]string) {
	t.Helper()
	r := call(t, "POST", base+"/embed", map[string]any{"text": "still serving"}, header)
	if r.status != http.StatusOK {
		t.Fatalf("after the refusal, POST /embed answered %d: %s", r.status, r.body)
	}
}

func TestHealthReportsModelWhenReady(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	r := call(t, "GET", base+"/health", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var h map[string]any
	r.decode(t, &h)
	// No search index set: embedding works, search is still loading.
	want := map[string]any{"status": "ok", "model": p.Info().Name, "dims": 384.0, "index": "loading", "documents": 0.0, "chunks": 0.0}
	for k, v := range want {
		if h[k] != v {
			t.Errorf("health[%q] = %v, want %v (all: %s)", k, h[k], v, r.body)
		}
	}
}

func TestStartingServerAnswers503UntilEmbedderIsSet(t *testing.T) {
	s, base := start(t, web.Config{}, nil)

	r := call(t, "GET", base+"/health", nil, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("health while starting: status %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	var h map[string]any
	r.decode(t, &h)
	if h["status"] != "starting" {
		t.Fatalf("health while starting: %s", r.body)
	}
	for _, c := range []struct{ method, path string }{
		{"POST", "/embed"}, {"POST", "/v1/embeddings"}, {"GET", "/v1/models"},
	} {
		body := map[string]any{"text": "hi", "input": "hi"}
		if c.method == "GET" {
			body = nil
		}
		r := call(t, c.method, base+c.path, body, nil)
		r.wantError(t, http.StatusServiceUnavailable, "loading")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: 503 without Retry-After", c.method, c.path)
		}
	}

	s.SetEmbedder(pool(t))
	if r := call(t, "GET", base+"/health", nil, nil); r.status != http.StatusOK {
		t.Fatalf("health after SetEmbedder: %d %s", r.status, r.body)
	}
	embedOK(t, base, nil)
}

func TestRootAnswersAPIInfoAndHasAUIHook(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<h1>ui</h1>")
	})
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		name   string
		ui     http.Handler
		accept string
		wantUI bool
	}{
		{"no Accept", nil, "", false},
		{"curl", nil, "*/*", false},
		{"JSON client", nil, "application/json", false},
		{"browser before the UI exists", nil, browser, false},
		{"browser with the UI", ui, browser, true},
		{"JSON client with the UI", ui, "application/json", false},
	}
	p := pool(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, web.Config{UI: tt.ui, Version: "1.2.3"}, p)
			hdr := map[string]string{}
			if tt.accept != "" {
				hdr["Accept"] = tt.accept
			}
			r := call(t, "GET", base+"/", nil, hdr)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if tt.wantUI {
				if string(r.body) != "<h1>ui</h1>" {
					t.Fatalf("browser got %q, want the UI", r.body)
				}
				return
			}
			var info struct {
				Name, Version, Model string
				Dims                 int
				Routes               []struct{ Method, Path string }
			}
			r.decode(t, &info)
			if info.Name != "edgesearch" || info.Version != "1.2.3" || info.Model != p.Info().Name || info.Dims != 384 {
				t.Fatalf("info %s", r.body)
			}
			var routes []string
			for _, rt := range info.Routes {
				routes = append(routes, rt.Method+" "+rt.Path)
			}
			for _, want := range []string{"POST /embed", "POST /v1/embeddings", "GET /v1/models", "GET /health", "GET /metrics"} {
				if !strings.Contains(strings.Join(routes, ","), want) {
					t.Errorf("routes %v lack %s", routes, want)
				}
			}
		})
	}
}

func TestUnknownRouteIs404AndWrongMethodIs405AsJSON(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	call(t, "GET", base+"/nope", nil, nil).wantError(t, http.StatusNotFound, "/nope")
	call(t, "GET", base+"/embed", nil, nil).wantError(t, http.StatusMethodNotAllowed, "GET")
	call(t, "DELETE", base+"/v1/models", nil, nil).wantError(t, http.StatusMethodNotAllowed, "DELETE")
	embedOK(t, base, nil)
}

func TestAPIKeyIsRequiredWhenConfigured(t *testing.T) {
	const key = "s3cret-key"
	_, base := start(t, web.Config{APIKey: key}, pool(t))
	body := map[string]any{"text": "hello"}
	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		want   int
	}{
		{"no key", "POST", "/embed", nil, 401},
		{"wrong bearer", "POST", "/embed", map[string]string{"Authorization": "Bearer nope"}, 401},
		{"wrong X-API-Key", "POST", "/embed", map[string]string{"X-API-Key": "nope"}, 401},
		{"key without Bearer", "POST", "/embed", map[string]string{"Authorization": key}, 401},
		{"bearer", "POST", "/embed", map[string]string{"Authorization": "Bearer " + key}, 200},
		{"lower-case bearer", "POST", "/embed", map[string]string{"Authorization": "bearer " + key}, 200},
		{"X-API-Key", "POST", "/embed", map[string]string{"X-API-Key": key}, 200},
		{"openai without key", "POST", "/v1/embeddings", nil, 401},
		{"metrics without key", "GET", "/metrics", nil, 401},
		{"unknown route without key", "GET", "/nope", nil, 401},
		{"health stays open", "GET", "/health", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b any
			if tt.method == "POST" {
				b = body
			}
			r := call(t, tt.method, base+tt.path, b, tt.header)
			if tt.want == 401 {
				r.wantError(t, 401, "API key")
				return
			}
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
		})
	}
	embedOK(t, base, map[string]string{"X-API-Key": key})
}

func TestCORSAllowsOnlyConfiguredOrigins(t *testing.T) {
	p := pool(t)
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
	tests := []struct {
		name      string
		origins   []string
		origin    string
		wantAllow bool
	}{
		{"off by default", nil, "http://app.example", false},
		{"listed origin", []string{"http://app.example"}, "http://app.example", true},
		{"other origin", []string{"http://app.example"}, "http://evil.example", false},
		{"wildcard", []string{"*"}, "http://any.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := start(t, web.Config{CORSOrigins: tt.origins, APIKey: "k"}, p)
			hdr := map[string]string{"Origin": tt.origin}
			for k, v := range preflight {
				hdr[k] = v
			}
			r := call(t, "OPTIONS", base+"/embed", nil, hdr)
			got := r.header.Get("Access-Control-Allow-Origin")
			if tt.wantAllow {
				// The preflight succeeds without the API key: browsers send none.
				if r.status != http.StatusNoContent || got != tt.origin ||
					!strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
					t.Fatalf("preflight: status %d, headers %v", r.status, r.header)
				}
			} else if got != "" {
				t.Fatalf("preflight from %s allowed: %v", tt.origin, r.header)
			}
			r = call(t, "POST", base+"/embed", map[string]any{"text": "hi"}, map[string]string{"Origin": tt.origin, "X-API-Key": "k"})
			if !tt.wantAllow {
				// A page of an origin not allowed may not write at all.
				r.wantError(t, http.StatusForbidden, "cross-origin")
				if got := r.header.Get("Access-Control-Allow-Origin"); got != "" {
					t.Fatalf("POST /embed from %s: Access-Control-Allow-Origin %q", tt.origin, got)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("POST /embed: %d %s", r.status, r.body)
			}
			if got := r.header.Get("Access-Control-Allow-Origin"); got != tt.origin {
				t.Fatalf("POST /embed Access-Control-Allow-Origin %q, want %s", got, tt.origin)
			}
		})
	}
}

func TestServeShutsDownWhenContextEnds(t *testing.T) {
	s, err := web.New(web.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.SetEmbedder(pool(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	embedOK(t, "http://"+addr, nil)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v, want nil after a clean shutdown", err)
	}
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after shutdown", addr)
	}
}

func TestNewRefusesNegativeLimits(t *testing.T) {
	for _, cfg := range []web.Config{{MaxBodyBytes: -1}, {MaxTexts: -1}, {RetryAfter: -1}} {
		if _, err := web.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}
