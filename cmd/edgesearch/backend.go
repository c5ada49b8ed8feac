package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/edgesearch/edgesearch/search/weaviate"
)

// parseBackend reads --backend: "" or "local" keeps every collection in
// this device's store (the zero Options); weaviate://HOST:PORT makes
// serve create new collections in the Weaviate whose REST API is at
// http://HOST:PORT, optionally with ?consistency=ONE|QUORUM|ALL (the
// level writes are acknowledged at) and ?replication=N (replicas of each
// class it creates). Anything else is an error naming what it wants.
func parseBackend(raw string) (weaviate.Options, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "local" {
		return weaviate.Options{}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "weaviate" || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.Fragment != "" {
		return weaviate.Options{}, fmt.Errorf("%q: want local or weaviate://HOST:PORT", raw)
	}
	opts := weaviate.Options{URL: "http://" + u.Host}
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "consistency":
			switch c := weaviate.Consistency(strings.ToUpper(v)); c {
			case weaviate.One, weaviate.Quorum, weaviate.All:
				opts.Consistency = c
			default:
				return weaviate.Options{}, fmt.Errorf("%q: consistency=%s: want ONE, QUORUM or ALL", raw, v)
			}
		case "replication":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return weaviate.Options{}, fmt.Errorf("%q: replication=%s: want a whole number ≥ 1", raw, v)
			}
			opts.ReplicationFactor = n
		default:
			return weaviate.Options{}, fmt.Errorf("%q: unknown parameter %q: want consistency or replication", raw, k)
		}
	}
	return opts, nil
}
