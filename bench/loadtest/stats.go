package main

import (
	"math"
	"slices"
)

// route is one kind of request in the mix.
type route int

const (
	routeSearch route = iota
	routeEmbed
	routeAdd
	routeList
	routeHealth
	nRoutes
)

var routeNames = [nRoutes]string{
	routeSearch: "GET /search (hybrid)",
	routeEmbed:  "POST /embed",
	routeAdd:    "POST /documents",
	routeList:   "GET /documents?limit=20",
	routeHealth: "GET /health (prober)",
}

// stats are the outcomes of one route's requests. Latencies are of answers
// other than deliberate refusals (503 with Retry-After, which say nothing
// of how long work takes), plus requests the client gave up on, at the
// time it did: leaving those out would hide the slowest requests.
type stats struct {
	requests int
	ok       int // 2xx
	refused  int // 503 with Retry-After
	timeouts int // the client's timeout passed
	connErrs int // no response for another reason: refused, reset, closed
	statuses map[int]int
	lat      []float64 // ms
}

func (s *stats) add(o outcome) {
	s.requests++
	switch {
	case o.status != 0:
		if s.statuses == nil {
			s.statuses = map[int]int{}
		}
		s.statuses[o.status]++
		if o.status >= 200 && o.status < 300 {
			s.ok++
		}
		if o.refused() {
			s.refused++
			return
		}
	case o.timeout:
		s.timeouts++
	default:
		s.connErrs++
		return
	}
	s.lat = append(s.lat, float64(o.took.Microseconds())/1000)
}

func (s *stats) merge(o *stats) {
	s.requests += o.requests
	s.ok += o.ok
	s.refused += o.refused
	s.timeouts += o.timeouts
	s.connErrs += o.connErrs
	for code, n := range o.statuses {
		if s.statuses == nil {
			s.statuses = map[int]int{}
		}
		s.statuses[code] += n
	}
	s.lat = append(s.lat, o.lat...)
}

// errors counts what the goal forbids: any outcome but a 2xx or a
// deliberate refusal.
func (s *stats) errors() int {
	n := s.timeouts + s.connErrs
	for code, c := range s.statuses {
		if code < 200 || code >= 300 {
			n += c
		}
	}
	return n - s.refused
}

// percentile returns the p-th percentile (nearest rank) of ms, NaN for none.
func percentile(ms []float64, p float64) float64 {
	if len(ms) == 0 {
		return math.NaN()
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func maxOf(ms []float64) float64 {
	if len(ms) == 0 {
		return math.NaN()
	}
	return slices.Max(ms)
}
