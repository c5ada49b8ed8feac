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
	"github.com/edgesearch/edgesearch/search"
)

// embedBuckets are the latency histogram's upper bounds in seconds: one short
// query should take a few ms; a full batch on a Pi can take seconds.
var embedBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// searchBuckets are the search latency histogram's upper bounds in seconds:
// the index answers in about a millisecond, the query's embedding adds a few,
// and a busy Pi queueing behind imports can take seconds.
var searchBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

// searchModes lists every mode, so each has its series from the start: a
// series that appears only after its first search hides the rate's start.
var searchModes = []search.Mode{search.Hybrid, search.Semantic, search.Keyword}

// searchStats is one mode's share of the search metrics.
type searchStats struct {
	buckets  []uint64 // counts per searchBuckets bound, not cumulative
	count    uint64
	sum      float64
	failures uint64
}

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
	searches   map[search.Mode]*searchStats
	backups    uint64
	// backupFailures counts snapshots that were refused or cut short.
	backupFailures uint64
}

func newMetrics() *metrics {
	m := &metrics{requests: map[routeStatus]uint64{}, buckets: make([]uint64, len(embedBuckets)+1),
		searches: make(map[search.Mode]*searchStats, len(searchModes))}
	for _, mode := range searchModes {
		m.searches[mode] = &searchStats{buckets: make([]uint64, len(searchBuckets)+1)}
	}
	return m
}

// observeSearch records one search that got past parsing: its latency,
// whether or not it succeeded, so the histogram's count equals the
// requests counter; failures are counted beside them.
func (m *metrics) observeSearch(mode search.Mode, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.searches[mode]
	if !ok { // a mode added to search but not to searchModes
		return
	}
	sec := took.Seconds()
	st.buckets[sort.SearchFloat64s(searchBuckets, sec)]++
	st.count++
	st.sum += sec
	if err != nil {
		st.failures++
	}
}

// countBackup records one GET /backup that got as far as the store.
func (m *metrics) countBackup(ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ok {
		m.backups++
	} else {
		m.backupFailures++
	}
}

// storeCounts are the store's sizes at scrape time; ok is false while the
// store is not open, and then the gauges are left out rather than reported
// as 0, which would read as "every document is gone".
type storeCounts struct {
	documents, chunks int
	ok                bool
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
func (m *metrics) writeTo(w io.Writer, sc storeCounts) error {
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
	histogram(p, "edgesearch_embed_duration_seconds", "", embedBuckets, m.buckets, m.embedSum, m.embedCount)

	p("# HELP edgesearch_embedded_texts_total Texts embedded.\n")
	p("# TYPE edgesearch_embedded_texts_total counter\n")
	p("edgesearch_embedded_texts_total %d\n", m.texts)
	p("# HELP edgesearch_embed_rejections_total Embedding requests refused because the queue was full.\n")
	p("# TYPE edgesearch_embed_rejections_total counter\n")
	p("edgesearch_embed_rejections_total %d\n", m.rejections)
	p("# HELP edgesearch_embed_failures_total Embedding requests that failed for another reason.\n")
	p("# TYPE edgesearch_embed_failures_total counter\n")
	p("edgesearch_embed_failures_total %d\n", m.failures)

	p("# HELP edgesearch_search_requests_total Searches run, by mode: those that passed parameter checks, failed ones included.\n")
	p("# TYPE edgesearch_search_requests_total counter\n")
	for _, mode := range searchModes {
		p("edgesearch_search_requests_total{mode=%q} %d\n", mode.String(), m.searches[mode].count)
	}
	p("# HELP edgesearch_search_failures_total Searches that passed parameter checks and then failed, by mode.\n")
	p("# TYPE edgesearch_search_failures_total counter\n")
	for _, mode := range searchModes {
		p("edgesearch_search_failures_total{mode=%q} %d\n", mode.String(), m.searches[mode].failures)
	}
	p("# HELP edgesearch_search_duration_seconds Time to answer a search after its parameters were checked, the query's embedding included.\n")
	p("# TYPE edgesearch_search_duration_seconds histogram\n")
	for _, mode := range searchModes {
		st := m.searches[mode]
		histogram(p, "edgesearch_search_duration_seconds", fmt.Sprintf("mode=%q", mode.String()),
			searchBuckets, st.buckets, st.sum, st.count)
	}

	if sc.ok {
		p("# HELP edgesearch_documents Documents in the store.\n")
		p("# TYPE edgesearch_documents gauge\n")
		p("edgesearch_documents %d\n", sc.documents)
		p("# HELP edgesearch_chunks Chunks (embedded passages) in the store.\n")
		p("# TYPE edgesearch_chunks gauge\n")
		p("edgesearch_chunks %d\n", sc.chunks)
	}
	p("# HELP edgesearch_backups_total Snapshots sent in full by GET /backup.\n")
	p("# TYPE edgesearch_backups_total counter\n")
	p("edgesearch_backups_total %d\n", m.backups)
	p("# HELP edgesearch_backup_failures_total GET /backup requests refused by the store or cut short.\n")
	p("# TYPE edgesearch_backup_failures_total counter\n")
	p("edgesearch_backup_failures_total %d\n", m.backupFailures)
	return err
}

// histogram writes one Prometheus histogram series: counts holds the
// observations per bound of bounds (not cumulative) and one more above the
// last; labels ("k=\"v\"", or "") go before le.
func histogram(p func(string, ...any), name, labels string, bounds []float64, counts []uint64, sum float64, count uint64) {
	sep, braced := "", ""
	if labels != "" {
		sep, braced = labels+",", "{"+labels+"}"
	}
	var cum uint64
	for i, le := range bounds {
		cum += counts[i]
		p("%s_bucket{%sle=\"%s\"} %d\n", name, sep, strconv.FormatFloat(le, 'g', -1, 64), cum)
	}
	cum += counts[len(bounds)]
	p("%s_bucket{%sle=\"+Inf\"} %d\n", name, sep, cum)
	p("%s_sum%s %s\n", name, braced, strconv.FormatFloat(sum, 'g', -1, 64))
	p("%s_count%s %d\n", name, braced, count)
}

// handleMetrics serves GET /metrics. A store that cannot be counted leaves
// its gauges out (and is logged) rather than failing the scrape: the other
// metrics matter most exactly when something is wrong.
func (s *Server) handleMetrics(c *gin.Context) {
	var sc storeCounts
	if e := s.index.Load(); e != nil {
		var err error
		sc.documents, sc.chunks, err = e.Store().Count()
		if sc.ok = err == nil; !sc.ok {
			s.log.Warn("metrics: couldn't count the store", "err", err)
		}
	}
	c.Header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	c.Status(http.StatusOK)
	if err := s.metrics.writeTo(c.Writer, sc); err != nil {
		s.log.Debug("couldn't write metrics", "err", err)
	}
}
