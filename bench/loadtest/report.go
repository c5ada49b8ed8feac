package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Goals of issue 10, on the 2-core target machine.
const (
	goalHealthP99Ms = 100  // /health p99 while the server is busy
	goalSearchRatio = 5    // search p99 under load ÷ idle search p99
	goalRSSGrowth   = 0.10 // "flat": the last run's RSS within 10% of the first's
)

// report is everything measured, rendered by markdown.
type report struct {
	cfg                    config
	command                string
	started                time.Time
	version, model, source string
	cpus                   int
	seedDocs, seedChunks   int
	seedTook               time.Duration
	selfCPU, wall          time.Duration // the load generator's CPU time, and the whole run's
	idleSearch, idleHealth stats
	// The idle searches again while writers index (searchWhileIndexing).
	indexSearch, indexWrites stats
	indexAcked               []string
	runs                     []runResult
	died                     string // why the runs ended early, if the server exited
	shutdown                 shutdownResult
	restart                  restartResult
	log                      logSummary // of the first server
}

func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := r.cfg
	p("# edgesearch under load\n\n")
	p("```\n%s\n```\n\n", r.command)
	extra := "its defaults"
	if len(cfg.extra) > 0 {
		extra = "`" + strings.Join(cfg.extra, " ") + "`"
	}
	p("- Server: `%s serve` (version %s) with %s, model %s, a fresh data directory, on 127.0.0.1.\n",
		cfg.bin, orDash(r.version), extra, orDash(r.model))
	p("- Machine: %d CPUs, shared by the server, this load generator and whatever else runs: absolute times are pessimistic. Started %s.\n",
		r.cpus, r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("- Seeded %d documents (%d chunks) from %s in %.1f s.\n", r.seedDocs, r.seedChunks, r.source, r.seedTook.Seconds())
	p("- Mix: %d closed-loop clients for %s per run, %d run(s) on the same server: 60%% GET /search (hybrid, k=10), "+
		"20%% POST /embed of a dozen words, 15%% POST /documents of one 1–3 KB document with a new id, "+
		"5%% GET /documents?limit=20; one GET /health every 100 ms. Per-request timeout %s; a 503 with Retry-After "+
		"is a deliberate refusal: the client waits that long (at most %s) and it is counted apart.\n\n",
		cfg.clients, cfg.duration, cfg.runs, cfg.timeout, maxPause)

	if r.died != "" {
		p("**The server exited during the runs.**\n\n```\n%s\n```\n\n", r.died)
	}

	idleP99 := percentile(r.idleSearch.lat, 99)
	p("## Goals (issue 10)\n\n")
	p("| goal |")
	for _, rr := range r.runs {
		p(" run %d |", rr.n)
	}
	p(" met |\n|---|")
	for range r.runs {
		p("---:|")
	}
	p("---|\n")
	goal := func(name string, cell func(rr runResult) (string, bool)) {
		p("| %s |", name)
		met := len(r.runs) > 0
		for _, rr := range r.runs {
			s, ok := cell(rr)
			met = met && ok
			p(" %s |", s)
		}
		p(" %s |\n", yesNo(met))
	}
	goal(fmt.Sprintf("/health p99 during the mix ≤ %d ms", goalHealthP99Ms), func(rr runResult) (string, bool) {
		v := percentile(rr.mix.routes[routeHealth].lat, 99)
		return fmtMS(v) + " ms", v <= goalHealthP99Ms
	})
	goal(fmt.Sprintf("search p99 under the whole mix ≤ %d× idle search p99 (%s ms)", goalSearchRatio, fmtMS(idleP99)), func(rr runResult) (string, bool) {
		v := percentile(rr.mix.routes[routeSearch].lat, 99)
		ratio := v / idleP99
		return fmt.Sprintf("%.1f× (%s ms)", ratio, fmtMS(v)), ratio <= goalSearchRatio
	})
	goal(fmt.Sprintf("search p99 while %d writers index ≤ %d× idle search p99 (%s ms)", cfg.indexWriters, goalSearchRatio, fmtMS(idleP99)), func(runResult) (string, bool) {
		v := percentile(r.indexSearch.lat, 99)
		ratio := v / idleP99
		return fmt.Sprintf("%.1f× (%s ms)", ratio, fmtMS(v)), ratio <= goalSearchRatio
	})
	goal("no errors but deliberate 503s (other statuses, timeouts, connection errors)", func(rr runResult) (string, bool) {
		n := 0
		for i := range rr.mix.routes {
			n += rr.mix.routes[i].errors()
		}
		return fmt.Sprint(n), n == 0
	})
	goal("no acknowledged document lost (read back after the run)", func(rr runResult) (string, bool) {
		v := rr.verify
		return fmt.Sprintf("%d of %d lost, %d unverified", v.lost, len(rr.ackedIDs), v.unverified), v.lost == 0 && v.unverified == 0
	})
	if len(r.runs) > 1 {
		first := r.runs[0]
		goal(fmt.Sprintf("flat RSS: peak and end within %.0f%% of run 1's", goalRSSGrowth*100), func(rr runResult) (string, bool) {
			gp, ge := rr.peak/first.peak-1, rr.memEnd.RSS/first.memEnd.RSS-1
			return fmt.Sprintf("peak %+.0f%%, end %+.0f%%", gp*100, ge*100), gp <= goalRSSGrowth && ge <= goalRSSGrowth
		})
	}
	p("\n")

	p("## Idle baseline, and the same searches while indexing\n\n")
	p("| request | requests | p50 ms | p90 ms | p99 ms | max ms | status codes |\n|---|---:|---:|---:|---:|---:|---|\n")
	idleRow := func(name string, s stats) {
		p("| %s | %d | %s | %s | %s | %s | %s |\n", name, s.requests, fmtMS(percentile(s.lat, 50)), fmtMS(percentile(s.lat, 90)),
			fmtMS(percentile(s.lat, 99)), fmtMS(maxOf(s.lat)), codes(s))
	}
	idleRow(fmt.Sprintf("GET /search (hybrid), %d client(s), one request at a time", cfg.idleClients), r.idleSearch)
	idleRow("GET /health, one at a time", r.idleHealth)
	idleRow(fmt.Sprintf("GET /search (hybrid), the same, while %d writers post documents", cfg.indexWriters), r.indexSearch)
	p("\n")
	p("The writers meanwhile: %d requests, %d stored (201), %d refused with 503 and Retry-After, %d other errors; p50 %s ms, p99 %s ms over the answers that were not refusals.\n\n",
		r.indexWrites.requests, r.indexWrites.ok, r.indexWrites.refused, r.indexWrites.errors(),
		fmtMS(percentile(r.indexWrites.lat, 50)), fmtMS(percentile(r.indexWrites.lat, 99)))

	for _, rr := range r.runs {
		p("## Run %d: %d clients, %s (wall %.1f s)\n\n", rr.n, cfg.clients, cfg.duration, rr.mix.wall.Seconds())
		p("| route | requests | 2xx/s | p50 ms | p90 ms | p99 ms | max ms | status codes | refused 503 | timeouts | conn errors |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n")
		var all stats
		for rt := range nRoutes {
			s := rr.mix.routes[rt]
			if rt != routeHealth {
				all.merge(&s)
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %d |\n", routeNames[rt], s.requests,
				rate(s.ok, rr.mix.wall), fmtMS(percentile(s.lat, 50)), fmtMS(percentile(s.lat, 90)),
				fmtMS(percentile(s.lat, 99)), fmtMS(maxOf(s.lat)), codes(s), s.refused, s.timeouts, s.connErrs)
		}
		p("| all but /health | %d | %s | %s | %s | %s | %s | %s | %d | %d | %d |\n\n", all.requests,
			rate(all.ok, rr.mix.wall), fmtMS(percentile(all.lat, 50)), fmtMS(percentile(all.lat, 90)),
			fmtMS(percentile(all.lat, 99)), fmtMS(maxOf(all.lat)), codes(all), all.refused, all.timeouts, all.connErrs)
		v := rr.verify
		p("Documents acknowledged with 201: %d; read back by id: %d present, **lost: %d**, unverified: %d. Documents in the store after: %d.\n",
			len(rr.ackedIDs), v.present, v.lost, v.unverified, rr.docsAfter)
		if v.firstLost != "" {
			p("First lost: `%s`.\n", v.firstLost)
		}
		if v.firstProblem != "" {
			p("First unverified: `%s`.\n", v.firstProblem)
		}
		p("\n")
	}

	if len(r.runs) > 0 {
		p("## Server memory (RSS, MiB)\n\n")
		p("| run | start | peak | end | end, anonymous | peak from |\n|---|---:|---:|---:|---:|---|\n")
		for _, rr := range r.runs {
			p("| %d | %.0f | %.0f | %.0f | %.0f | %s |\n", rr.n, rr.memStart.RSS, rr.peak, rr.memEnd.RSS, rr.memEnd.Anon, rr.peakFrom)
		}
		p("\nStart: before the run's first request; end: when its last client returned; anonymous: heap and guest memory (the rest is file pages: the binary, the store's mmap).\n\n")
	}

	if s := r.shutdown; s.mix != nil {
		p("## Shutdown under load\n\n")
		answered := 0
		for _, n := range s.mix.answered {
			answered += n
		}
		p("- SIGTERM after %s of the mix (%d clients), no new requests after it: %d requests in flight, %d answered (%s), **%d got no response**.\n",
			s.loadFor, cfg.clients, s.mix.inFlight, answered, codeList(s.mix.answered), s.mix.inFlight-answered)
		killed := "no"
		if s.stop.killed {
			killed = fmt.Sprintf("yes, after %s", killAfter)
		}
		p("- The server exited %.2f s after SIGTERM (%s); SIGKILL needed: %s.\n", s.stop.took.Seconds(), s.stop.status, killed)
		p("- Documents acknowledged during this phase: %d.\n", len(s.ackedIDs))
		if rs := r.restart; rs.err != nil {
			p("- Restart on the same data failed: %v\n", rs.err)
		} else {
			v := rs.verify
			p("- Restarted on the same data: ready in %.1f s with %d documents. Every document acknowledged since the start (%d) read back: %d present, **lost: %d**, unverified: %d.\n",
				rs.ready.Seconds(), rs.docs, v.checked, v.present, v.lost, v.unverified)
			if v.firstLost != "" {
				p("  First lost: `%s`.\n", v.firstLost)
			}
			if v.firstProblem != "" {
				p("  First unverified: `%s`.\n", v.firstProblem)
			}
			p("- Idle SIGTERM after the read-back: exited in %.2f s (%s).\n", rs.stop.took.Seconds(), rs.stop.status)
		}
		p("\n")
	}
	if len(r.log.levels) > 0 {
		p("Server log (first server): %s lines.", levelList(r.log.levels))
		if len(r.log.problems) > 0 {
			p(" Most frequent warnings and errors:\n\n")
			keys := make([]string, 0, len(r.log.problems))
			for k := range r.log.problems {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b string) int {
				if d := r.log.problems[b] - r.log.problems[a]; d != 0 {
					return d
				}
				return strings.Compare(a, b)
			})
			for _, k := range keys[:min(5, len(keys))] {
				p("- %d × `%s`\n", r.log.problems[k], strings.ReplaceAll(k, "`", "'"))
			}
		} else {
			p("\n")
		}
		p("\n")
	}

	if r.selfCPU > 0 {
		p("The load generator itself used %.1f s of CPU over the %.0f s of the whole run.\n\n", r.selfCPU.Seconds(), r.wall.Seconds())
	}
	p("## How to read this\n\n")
	p("Latencies are end to end at the client, to the last byte of the body, over every answer but deliberate " +
		"refusals (503 with Retry-After), plus the requests the client gave up on, at the time it did. " +
		"The /health prober starts a probe every 100 ms whether or not the last was answered, as a monitor with a timeout " +
		"does, so a stall counts once per probe it delays. 2xx/s is successful answers per second of the run's wall time (which runs past the duration while the last " +
		"requests finish). Timeouts: the client's timeout passed; connection errors: refused, reset or closed with no " +
		"answer. The load generator runs on the same cores as the server.\n")
	return b.String()
}

// codes lists a stats' status codes, "200: 12, 503: 3".
func codes(s stats) string { return codeList(s.statuses) }

func codeList(m map[int]int) string {
	if len(m) == 0 {
		return "—"
	}
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func levelList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// fmtMS formats milliseconds with three significant figures or so; "—"
// when there were none.
func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	case v < 100:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// rate formats n per second of d.
func rate(n int, d time.Duration) string {
	v := float64(n) / d.Seconds()
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
