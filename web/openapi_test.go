package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/web"
)

// openAPIRequirements pins the validator and schemathesis that
// web/openapitest/check.py drives; `make test-deps` installs them.
var openAPIRequirements = filepath.Join("openapitest", "requirements.txt")

// describedRoutes reads an OpenAPI document and returns its operations as
// "METHOD /path" with gin's parameter syntax ({id} as :id), and the
// wildcard parameters ({file} of a route gin writes *file) as given.
func describedRoutes(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("%s: openapi %q, want 3.1.0", file, doc.OpenAPI)
	}
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "head", "post", "put", "patch", "delete", "options", "trace":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// registeredRoutes lists an engine's routes as "METHOD /path", gin's
// parameters written as OpenAPI's: :id and *file both as {id} and {file}.
func registeredRoutes(t *testing.T, h http.Handler) []string {
	t.Helper()
	e, ok := h.(*gin.Engine)
	if !ok {
		t.Fatalf("handler is %T, not a *gin.Engine", h)
	}
	param := regexp.MustCompile(`[:*]([A-Za-z_]+)`)
	var out []string
	for _, r := range e.Routes() {
		out = append(out, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	slices.Sort(out)
	return out
}

// TestOpenAPIDescribesEveryRoute: every route either port registers
// (the UI's assets included, as `serve` builds them in) is an operation of
// that port's description, and the description names no route that does
// not exist.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	s, err := web.New(web.Config{UI: web.UI()})
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []struct {
		file    string
		handler http.Handler
	}{
		{"openapi.json", s.Handler()},
		{"openapi_qdrant.json", s.QdrantHandler()},
	} {
		t.Run(port.file, func(t *testing.T) {
			described, registered := describedRoutes(t, port.file), registeredRoutes(t, port.handler)
			for _, r := range registered {
				if !slices.Contains(described, r) {
					t.Errorf("route %s is registered but not described in web/%s", r, port.file)
				}
			}
			for _, d := range described {
				if !slices.Contains(registered, d) {
					t.Errorf("web/%s describes %s, which no route serves", port.file, d)
				}
			}
			t.Logf("%d operations", len(registered))
		})
	}
}

// TestOpenAPIServedOnBothPorts: GET /openapi.json answers each port's
// committed description, byte for byte, behind the API key like every
// route but the probes.
func TestOpenAPIServedOnBothPorts(t *testing.T) {
	const key = "openapi-key"
	srv := newQdrantServer(t, web.Config{APIKey: key}, nil)
	base, qbase := serveMain(t, srv), serveQdrant(t, srv)
	for _, tc := range []struct{ url, file, header string }{
		{base, "openapi.json", "X-API-Key"},
		{qbase, "openapi_qdrant.json", "api-key"},
	} {
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if r := call(t, "GET", tc.url+"/openapi.json", nil, nil); r.status != http.StatusUnauthorized {
			t.Errorf("%s/openapi.json without the key: status %d, want 401", tc.url, r.status)
		}
		r := call(t, "GET", tc.url+"/openapi.json", nil, map[string]string{tc.header: key})
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s/openapi.json: status %d, type %q", tc.url, r.status, r.header.Get("Content-Type"))
		}
		if !bytes.Equal(r.body, want) {
			t.Errorf("%s/openapi.json is not web/%s", tc.url, tc.file)
		}
	}
}

// TestOpenAPISchemathesis runs web/openapitest/check.py against a live
// server with the real model, an API key and the UI, as `edgesearch serve
// --qdrant-addr` runs: both descriptions must pass openapi-spec-validator,
// and schemathesis's requests to every operation of both ports must get
// no 5xx and no answer the description does not allow. The store holds
// fixture data the descriptions' examples name: the documents "bees" and
// "train" and the 4-dimensional collection "fixture" with points 1 to 3.
// No operation is left out, but the destructive ones (DELETE
// /documents/{id}, DELETE /collections/{collection}) run last, in a pass of
// their own, once check.py has seen the fixtures outlive every other
// operation. It fails, never skips, when the pinned packages are missing.
func TestOpenAPISchemathesis(t *testing.T) {
	python := requirePinned(t, openAPIRequirements)
	const key = "schemathesis-key"
	srv := newQdrantServer(t, web.Config{APIKey: key, UI: web.UI()}, pool(t))
	setLibraryAndCollections(t, srv, t.TempDir())
	base, qbase := serveMain(t, srv), serveQdrant(t, srv)
	auth := map[string]string{"Authorization": "Bearer " + key}
	for _, f := range []struct {
		method, url string
		body        any
	}{
		{"POST", base + "/documents", []map[string]any{
			{"id": "bees", "title": "Bees", "text": "Bees make honey in the hive and pollinate flowers.", "metadata": map[string]string{"lang": "en"}},
			{"id": "train", "title": "Trains", "text": "The train leaves the station at noon from platform four.", "metadata": map[string]string{"lang": "en"}},
		}},
		{"PUT", qbase + "/collections/fixture", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Cosine"}}},
		{"PUT", qbase + "/collections/fixture/points", map[string]any{"points": []map[string]any{
			{"id": 1, "vector": []float32{0.1, 0.2, 0.3, 0.4}, "payload": map[string]any{"text": "one", "color": "red"}},
			{"id": 2, "vector": []float32{0.4, 0.3, 0.2, 0.1}, "payload": map[string]any{"text": "two", "color": "blue"}},
			{"id": 3, "vector": []float32{0.2, 0.2, 0.2, 0.2}, "payload": map[string]any{"text": "three"}},
		}}},
	} {
		if r := call(t, f.method, f.url, f.body, auth); r.status/100 != 2 {
			t.Fatalf("%s %s: status %d: %s", f.method, f.url, r.status, r.body)
		}
	}
	script, err := filepath.Abs(filepath.Join("openapitest", "check.py"))
	if err != nil {
		t.Fatal(err)
	}
	// A bound on a hung run; check.py bounds each request and the number
	// of requests itself.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, base, qbase, key)
	cmd.Dir = t.TempDir()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("check.py (%.1f s):\n%s", time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("check.py: %v", err)
	}
	// What the server answered, by route and status, from its own count.
	// The key rides on every request, so a 401 would mean the run tested
	// the key check rather than the routes behind it.
	r := call(t, "GET", base+"/metrics", nil, auth)
	answers := regexp.MustCompile(`(?m)^edgesearch_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\d+)$`).FindAllStringSubmatch(string(r.body), -1)
	var summary strings.Builder
	for _, a := range answers {
		fmt.Fprintf(&summary, "%s %s: %s\n", a[1], a[2], a[3])
		if a[2] == "401" {
			t.Errorf("%s answered 401 %s times: the run did not send the key", a[1], a[3])
		}
	}
	t.Logf("answers by route and status:\n%s", summary.String())
}

// TestUIMissingFileAnswersJSON: a missing UI file is a 404 whose body is
// JSON whatever the path holds (schemathesis found characters outside the
// Basic Multilingual Plane written as Go's \U escapes, which JSON lacks).
func TestUIMissingFileAnswersJSON(t *testing.T) {
	_, base := start(t, web.Config{UI: web.UI()}, nil)
	for _, name := range []string{"nope.js", "x/nope.js", "%F3%9C%9D%B9%F0%92%B9%80R", "%E2%80%A8%22%5C", "%00%1F"} {
		r := call(t, "GET", base+"/ui/"+name, nil, nil)
		if r.status != http.StatusNotFound {
			t.Errorf("GET /ui/%s: status %d, want 404", name, r.status)
			continue
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || !strings.HasPrefix(e.Error, "no ui file /ui/") {
			t.Errorf("GET /ui/%s: body %q is not {\"error\": \"no ui file …\"}: %v", name, r.body, err)
		}
	}
}
