package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

const (
	probeEvery = 100 * time.Millisecond // the /health prober's period
	maxPause   = 10 * time.Second       // the longest Retry-After a client honours
	errPause   = 100 * time.Millisecond // pause after a connection error, so a dead server is not spun on
)

// mixPlan says how one stretch of the mix runs.
type mixPlan struct {
	tag     string    // names the documents written ("r1", "shutdown")
	clients int       // closed-loop clients
	until   time.Time // no request starts after it
	probe   bool      // also probe /health every probeEvery
	// halt, when closed, stops new requests before until; requests in
	// flight go on.
	halt <-chan struct{}
	// signaled, when set, holds the time (Unix ns) SIGTERM was sent, 0
	// before; requests started before it and ended after it were in flight.
	signaled *atomic.Int64
}

// mixOut is what one stretch of the mix measured.
type mixOut struct {
	wall     time.Duration // first request to the last client's return
	routes   [nRoutes]stats
	acked    []string    // ids of documents answered 201
	inFlight int         // requests in flight when SIGTERM was sent
	answered map[int]int // of those, the ones answered, by status
}

// runMix runs p.clients closed-loop clients (60% hybrid search, 20% /embed,
// 15% POST /documents of 1–3 KB, 5% GET /documents?limit=20), each with
// one request at a time, and the /health prober if asked, until p.until,
// p.halt, ctx's end or the server's exit. It returns once every client
// has: each request is bounded by cfg.timeout, so that is at most
// p.until + cfg.timeout + maxPause.
func runMix(ctx context.Context, srv *server, cfg config, w *workload, p mixPlan) *mixOut {
	client := loopbackClient(cfg.timeout, p.clients)
	defer client.CloseIdleConnections()
	stopped := func() bool {
		select {
		case <-ctx.Done():
			return true
		case <-p.halt:
			return true
		default:
		}
		return !time.Now().Before(p.until) || !srv.alive()
	}
	start := time.Now()
	outs := make([]*mixOut, p.clients)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() { outs[i] = runClient(ctx, srv, client, w, p, i, stopped) })
	}
	var probed stats
	if p.probe {
		wg.Go(func() { probed = probeHealth(ctx, srv, cfg, p, stopped) })
	}
	wg.Wait()

	out := &mixOut{wall: time.Since(start), answered: map[int]int{}}
	for _, o := range outs {
		for r := range o.routes {
			out.routes[r].merge(&o.routes[r])
		}
		out.acked = append(out.acked, o.acked...)
		out.inFlight += o.inFlight
		for code, n := range o.answered {
			out.answered[code] += n
		}
	}
	out.routes[routeHealth].merge(&probed)
	return out
}

// runClient is one closed-loop client: it sends a request, waits for its
// answer, and sends the next, pausing for a 503's Retry-After (at most
// maxPause) and briefly after a connection error. Besides the time limit,
// it sends at most one request per millisecond of the plan, so the loop is
// bounded in count whatever the server answers.
func runClient(ctx context.Context, srv *server, client *http.Client, w *workload, p mixPlan, id int, stopped func() bool) *mixOut {
	h := fnv.New64a()
	h.Write([]byte(p.tag))
	r := rand.New(rand.NewPCG(h.Sum64(), uint64(id)))
	out := &mixOut{answered: map[int]int{}}
	limit := int(time.Until(p.until)/time.Millisecond) + 1
	for n := 0; n < limit && !stopped(); n++ {
		rt, req, docID, err := nextRequest(ctx, srv.base, w, r, fmt.Sprintf("load-%s-c%02d-%05d", p.tag, id, n))
		if err != nil {
			panic(err) // a request built from fixed parts: a bug here, not a measure
		}
		started := time.Now()
		o := send(client, req, false)
		ended := time.Now()
		out.routes[rt].add(o)
		if rt == routeAdd && o.status == http.StatusCreated {
			out.acked = append(out.acked, docID)
		}
		if p.signaled != nil {
			if sig := p.signaled.Load(); sig != 0 && started.UnixNano() < sig && ended.UnixNano() > sig {
				out.inFlight++
				if o.status != 0 {
					out.answered[o.status]++
				}
			}
		}
		switch {
		case o.refused():
			pause(ctx, p, min(o.retryAfter, maxPause))
		case o.err != nil && !o.timeout:
			pause(ctx, p, errPause)
		}
	}
	return out
}

// nextRequest draws a route from the mix and builds its request; for POST
// /documents it returns the id of the document it writes.
func nextRequest(ctx context.Context, base string, w *workload, r *rand.Rand, id string) (route, *http.Request, string, error) {
	var (
		rt     route
		method = http.MethodGet
		target string
		body   any
		docID  string
	)
	switch x := r.IntN(100); {
	case x < 60:
		rt, target = routeSearch, "/search?mode=hybrid&k=10&q="+url.QueryEscape(w.query(r))
	case x < 80:
		rt, method, target, body = routeEmbed, http.MethodPost, "/embed", map[string]string{"text": w.shortText(r)}
	case x < 95:
		rt, method, target, body, docID = routeAdd, http.MethodPost, "/documents", w.document(r, id), id
	default:
		rt, target = routeList, "/documents?limit=20"
	}
	req, err := newRequest(ctx, method, base+target, body)
	return rt, req, docID, err
}

// newRequest builds a request, with body as JSON when it is not nil.
func newRequest(ctx context.Context, method, target string, body any) (*http.Request, error) {
	if body == nil {
		return http.NewRequestWithContext(ctx, method, target, nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// probeHealth starts a GET /health every probeEvery until stopped, whether
// or not the last one was answered, as a monitor with a timeout does: a
// stall of ten seconds then weighs as the hundred probes it delays, not as
// one. Each probe is bounded by cfg.timeout, so at most
// cfg.timeout/probeEvery are in flight; it returns when the last has ended.
func probeHealth(ctx context.Context, srv *server, cfg config, p mixPlan, stopped func() bool) stats {
	client := loopbackClient(cfg.timeout, 8)
	defer client.CloseIdleConnections()
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	var (
		mu sync.Mutex
		st stats
		wg sync.WaitGroup
	)
	limit := int(time.Until(p.until)/probeEvery) + 1
	for n := 0; n < limit && !stopped(); n++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+"/health", nil)
		if err != nil {
			panic(err)
		}
		wg.Go(func() {
			o := send(client, req, false)
			mu.Lock()
			st.add(o)
			mu.Unlock()
		})
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	wg.Wait()
	return st
}

// pause sleeps for d, or less if ctx ends, p.halt closes or p.until comes.
func pause(ctx context.Context, p mixPlan, d time.Duration) {
	d = min(d, time.Until(p.until))
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-p.halt:
	}
}

// sampleRSS reads the server's VmRSS every probeEvery until done closes and
// returns the largest, in MiB: the peak when VmHWM cannot be reset.
func sampleRSS(pid int, done <-chan struct{}) <-chan float64 {
	peak := make(chan float64, 1)
	go func() {
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		var top float64
		for {
			if m, err := readMemory(pid); err == nil {
				top = max(top, m.RSS)
			}
			select {
			case <-tick.C:
			case <-done:
				peak <- top
				return
			}
		}
	}()
	return peak
}
