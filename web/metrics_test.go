package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/web"
)

// sample is one line of the Prometheus text format: name, optional labels,
// a number.
var sample = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [0-9.e+-]+$|^[a-zA-Z_:][a-zA-Z0-9_:]*\{le="\+Inf"\} [0-9]+$`)

func TestMetricsCountRequestsTextsAndLatency(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	call(t, "POST", base+"/embed", map[string]any{"text": "one"}, nil)
	call(t, "POST", base+"/embed", map[string]any{"texts": []string{"two", "three"}}, nil)
	call(t, "POST", base+"/embed", `{"text":""}`, nil)
	call(t, "GET", base+"/no/such/path", nil, nil)

	r := call(t, "GET", base+"/metrics", nil, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	text := string(r.body)
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		if !sample.MatchString(line) {
			t.Errorf("line %d is not Prometheus text format: %q", i+1, line)
		}
	}
	for _, want := range []string{
		`edgesearch_http_requests_total{route="/embed",status="200"} 2`,
		`edgesearch_http_requests_total{route="/embed",status="400"} 1`,
		`edgesearch_http_requests_total{route="unmatched",status="404"} 1`,
		`edgesearch_embed_duration_seconds_bucket{le="+Inf"} 2`,
		`edgesearch_embed_duration_seconds_count 2`,
		`edgesearch_embedded_texts_total 3`,
		`edgesearch_embed_rejections_total 0`,
		`# TYPE edgesearch_embed_duration_seconds histogram`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}
