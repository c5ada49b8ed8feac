package web_test

import (
	"net/http"
	"regexp"
	"strconv"
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

// metricValue finds the sample named exactly series (name with labels) in a
// scrape.
func metricValue(t *testing.T, text, series string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// TestMetricsCountSearchesByModeAndReportTheStore runs searches in two
// modes (and requests refused before searching, which must not count), then
// checks the per-mode counters, that each histogram is cumulative and agrees
// with its counter, and that the store gauges match GET /health.
func TestMetricsCountSearchesByModeAndReportTheStore(t *testing.T) {
	_, base := startLibrary(t, t.TempDir())
	addDocs(t, base, sampleDocs)

	searches := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/search?q=honeybees", nil, http.StatusOK},
		{"GET", "/search?q=honeybees&mode=hybrid", nil, http.StatusOK},
		{"POST", "/search", map[string]any{"q": "flat tire", "mode": "hybrid"}, http.StatusOK},
		{"GET", "/search?q=caffeine&mode=keyword", nil, http.StatusOK},
		{"POST", "/search", map[string]any{"q": "jack", "mode": "keyword"}, http.StatusOK},
		{"GET", "/search?q=the+of&mode=keyword", nil, http.StatusBadRequest}, // only stop words: searched, then refused
		{"GET", "/search?q=bees&mode=fuzzy", nil, http.StatusBadRequest},     // refused before searching
		{"GET", "/search?q=", nil, http.StatusBadRequest},                    // refused before searching
	}
	for _, s := range searches {
		if r := call(t, s.method, base+s.path, s.body, nil); r.status != s.status {
			t.Fatalf("%s %s: status %d, want %d: %s", s.method, s.path, r.status, s.status, r.body)
		}
	}
	var health struct{ Documents, Chunks int }
	call(t, "GET", base+"/health", nil, nil).decode(t, &health)
	if _, path := download(t, base, nil); path == "" {
		t.Fatal("GET /backup failed")
	}

	text := string(call(t, "GET", base+"/metrics", nil, nil).body)
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("line %d is not Prometheus text format: %q", i+1, line)
		}
	}
	for _, tt := range []struct {
		mode          string
		count, failed float64
	}{{"hybrid", 3, 0}, {"keyword", 3, 1}, {"semantic", 0, 0}} {
		label := `{mode="` + tt.mode + `"}`
		if got, _ := metricValue(t, text, "edgesearch_search_requests_total"+label); got != tt.count {
			t.Errorf("%s searches counted %v, want %v", tt.mode, got, tt.count)
		}
		if got, _ := metricValue(t, text, "edgesearch_search_failures_total"+label); got != tt.failed {
			t.Errorf("%s search failures %v, want %v", tt.mode, got, tt.failed)
		}
		if got, _ := metricValue(t, text, "edgesearch_search_duration_seconds_count"+label); got != tt.count {
			t.Errorf("%s histogram _count %v, want %v", tt.mode, got, tt.count)
		}
		sum, ok := metricValue(t, text, "edgesearch_search_duration_seconds_sum"+label)
		if !ok || sum < 0 || (tt.count > 0) != (sum > 0) {
			t.Errorf("%s histogram _sum %v (present %v) with %v searches", tt.mode, sum, ok, tt.count)
		}
		// Buckets are cumulative, in order, and end at +Inf with the count.
		bucket := regexp.MustCompile(`^edgesearch_search_duration_seconds_bucket\{mode="` + tt.mode + `",le="([^"]+)"\} (\d+)$`)
		prev, n, last := -1.0, 0, ""
		for _, line := range strings.Split(text, "\n") {
			m := bucket.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			v, _ := strconv.ParseFloat(m[2], 64)
			if v < prev {
				t.Errorf("%s bucket le=%s holds %v, less than the bucket before (%v)", tt.mode, m[1], v, prev)
			}
			prev, last = v, m[1]
			n++
		}
		if n < 2 || last != "+Inf" || prev != tt.count {
			t.Errorf("%s histogram: %d buckets, last le=%q holding %v; want +Inf last holding %v", tt.mode, n, last, prev, tt.count)
		}
	}
	for series, want := range map[string]int{"edgesearch_documents": health.Documents, "edgesearch_chunks": health.Chunks, "edgesearch_backups_total": 1} {
		if got, ok := metricValue(t, text, series); !ok || got != float64(want) {
			t.Errorf("%s = %v (present %v), want %d", series, got, ok, want)
		}
	}
	if health.Documents != len(sampleDocs) {
		t.Errorf("health reports %d documents, want %d", health.Documents, len(sampleDocs))
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", text)
	}
}

// TestMetricsLeaveOutStoreGaugesUntilTheStoreIsOpen: before SetEngine the
// document count is unknown, and 0 would read as "everything was deleted".
func TestMetricsLeaveOutStoreGaugesUntilTheStoreIsOpen(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	text := string(call(t, "GET", base+"/metrics", nil, nil).body)
	for _, series := range []string{"edgesearch_documents", "edgesearch_chunks"} {
		if v, ok := metricValue(t, text, series); ok {
			t.Errorf("%s = %v before the store is open, want it left out", series, v)
		}
	}
	if v, ok := metricValue(t, text, `edgesearch_search_requests_total{mode="semantic"}`); !ok || v != 0 {
		t.Errorf("semantic search counter = %v (present %v), want 0 from the start", v, ok)
	}
}
