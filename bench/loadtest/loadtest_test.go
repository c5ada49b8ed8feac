package main

import (
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"soon", 0},
		{"-3", 0},
		{"0", time.Second}, // a refusal always makes the client pause
		{"2", 2 * time.Second},
		{" 7 ", 7 * time.Second},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), time.Second},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestStatsCountsOnlyDeliberateRefusalsAsNoError pins what the goal "no
// errors but deliberate 503s" counts, and which outcomes carry a latency.
func TestStatsCountsOnlyDeliberateRefusalsAsNoError(t *testing.T) {
	var s stats
	s.add(outcome{status: 200, took: 10 * time.Millisecond})
	s.add(outcome{status: 201, took: 20 * time.Millisecond})
	s.add(outcome{status: 503, retryAfter: time.Second, took: time.Millisecond}) // refused: no latency, no error
	s.add(outcome{status: 503, took: 30 * time.Millisecond})                     // 503 without Retry-After: an error
	s.add(outcome{status: 500, took: 40 * time.Millisecond})
	s.add(outcome{err: errors.New("timeout"), timeout: true, took: 30 * time.Second}) // latency at the give-up time
	s.add(outcome{err: errors.New("reset")})                                          // no latency
	if s.requests != 7 || s.ok != 2 || s.refused != 1 || s.timeouts != 1 || s.connErrs != 1 {
		t.Errorf("counts %+v", s)
	}
	if got := s.errors(); got != 4 {
		t.Errorf("errors() = %d, want 4 (503 without Retry-After, 500, timeout, reset)", got)
	}
	if len(s.lat) != 5 || maxOf(s.lat) != 30000 {
		t.Errorf("latencies %v: want 5, the largest the timeout's 30000 ms", s.lat)
	}
	var m stats
	m.merge(&s)
	m.merge(&s)
	if m.requests != 14 || m.statuses[503] != 4 || m.errors() != 8 || len(m.lat) != 10 {
		t.Errorf("merged twice: %+v, errors %d", m, m.errors())
	}
}

func TestPercentile(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	for _, tc := range []struct{ p, want float64 }{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("p%.0f = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("p50 of nothing = %v, want NaN", got)
	}
}

func TestDocumentsWrittenDuringTheMixAreOneToThreeKB(t *testing.T) {
	w, err := loadWorkload("", "../sentences.txt", 5)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		d := w.document(r, "x")
		if len(d.Text) < 1024 || len(d.Text) > 3072 || !utf8.ValidString(d.Text) {
			t.Fatalf("document %d: %d bytes (valid UTF-8: %v), want 1024–3072", i, len(d.Text), utf8.ValidString(d.Text))
		}
	}
	if len(w.seed) != 5 || len(w.queries) == 0 {
		t.Errorf("%d seed documents, %d queries from the sentences", len(w.seed), len(w.queries))
	}
}

func TestClientDialsLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:80": true, "[::1]:80": true, "10.0.0.1:80": false,
		"0.0.0.0:80": false, "localhost:80": false, "example.com:80": false} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
	_, err := loopbackClient(time.Second, 1).Get("http://192.0.2.1:9/")
	if !errors.Is(err, errNotLoopback) {
		t.Errorf("GET of a non-loopback address: %v, want errNotLoopback", err)
	}
}

func TestProblemShapeCountsErrorsThatDifferInIDsTogether(t *testing.T) {
	a := problemShape(`index stored documents: index document "load-c05-00000": get chunk 532 from /tmp/x1/data/edgesearch.db: database not open`)
	b := problemShape(`index stored documents: index document "load-c06-00001": get chunk 534 from /tmp/x2/data/edgesearch.db: database not open`)
	want := `index stored documents: index document "…": get chunk N from PATH: database not open`
	if a != want || b != want {
		t.Errorf("shapes\n%s\n%s\nwant\n%s", a, b, want)
	}
}
