package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/embedder"
)

// embedBuckets are the latency histogram's upper bounds in seconds: one short
// query should take a few ms; a full batch on a Pi can take seconds.
var embedBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type routeStatus struct {
	route  string
	status int
}

// metrics holds the counters behind GET /metrics. One mutex guards all of
// it: updates are a few additions per request, far cheaper than embedding.
type metrics struct {
	mu         sync.Mutex
	requests   map[routeStatus]uint64
	buckets    []uint64 // counts per embedBuckets bound, not cumulative
	embedCount uint64
	embedSum   float64
	texts      uint64
	rejections uint64
	failures   uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[routeStatus]uint64{}, buckets: make([]uint64, len(embedBuckets)+1)}
}

func (m *metrics) countRequest(route string, status int) {
	m.mu.Lock()
	m.requests[routeStatus{route, status}]++
	m.mu.Unlock()
}

// observeEmbed records one call to the pool: its latency and texts when it
// succeeded, a rejection when the queue was full, a failure otherwise.
func (m *metrics) observeEmbed(texts int, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case err == nil:
		sec := took.Seconds()
		i := sort.SearchFloat64s(embedBuckets, sec) // first bound ≥ sec
		m.buckets[i]++
		m.embedCount++
		m.embedSum += sec
		m.texts += uint64(texts)
	case errors.Is(err, embedder.ErrOverloaded):
		m.rejections++
	default:
		m.failures++
	}
}

// writeTo writes the Prometheus text exposition format (version 0.0.4).
func (m *metrics) writeTo(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}

	p("# HELP edgesearch_http_requests_total HTTP requests answered, by route pattern and status.\n")
	p("# TYPE edgesearch_http_requests_total counter\n")
	keys := make([]routeStatus, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].route != keys[j].route {
			return keys[i].route < keys[j].route
		}
		return keys[i].status < keys[j].status
	})
	for _, k := range keys {
		p("edgesearch_http_requests_total{route=%s,status=\"%d\"} %d\n", strconv.Quote(k.route), k.status, m.requests[k])
	}

	p("# HELP edgesearch_embed_duration_seconds Time to embed one request's texts, queueing included.\n")
	p("# TYPE edgesearch_embed_duration_seconds histogram\n")
	var cum uint64
	for i, le := range embedBuckets {
		cum += m.buckets[i]
		p("edgesearch_embed_duration_seconds_bucket{le=\"%s\"} %d\n", strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += m.buckets[len(embedBuckets)]
	p("edgesearch_embed_duration_seconds_bucket{le=\"+Inf\"} %d\n", cum)
	p("edgesearch_embed_duration_seconds_sum %s\n", strconv.FormatFloat(m.embedSum, 'g', -1, 64))
	p("edgesearch_embed_duration_seconds_count %d\n", m.embedCount)

	p("# HELP edgesearch_embedded_texts_total Texts embedded.\n")
	p("# TYPE edgesearch_embedded_texts_total counter\n")
	p("edgesearch_embedded_texts_total %d\n", m.texts)
	p("# HELP edgesearch_embed_rejections_total Embedding requests refused because the queue was full.\n")
	p("# TYPE edgesearch_embed_rejections_total counter\n")
	p("edgesearch_embed_rejections_total %d\n", m.rejections)
	p("# HELP edgesearch_embed_failures_total Embedding requests that failed for another reason.\n")
	p("# TYPE edgesearch_embed_failures_total counter\n")
	p("edgesearch_embed_failures_total %d\n", m.failures)
	return err
}

// handleMetrics serves GET /metrics.
func (s *Server) handleMetrics(c *gin.Context) {
	c.Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.Status(http.StatusOK)
	if err := s.metrics.writeTo(c.Writer); err != nil {
		s.log.Debug("couldn't write metrics", "err", err)
	}
}
