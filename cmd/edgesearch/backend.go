package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgesearch/edgesearch/search/weaviate"
)

// backendConfig is a parsed --backend: the Weaviate client's options (a
// zero URL keeps every collection local) and the bound on one call to it.
type backendConfig struct {
	Weaviate weaviate.Options
	Timeout  time.Duration
	// Documents names the Weaviate collection that indexes this device's
	// documents: "" for "documents-" and the start of the store's ID
	// (devices sharing a cluster must not share it), "local" to keep them
	// in the device's own indexes.
	Documents string
}

// defaultBackendTimeout bounds one call to the cluster unless ?timeout=
// says otherwise: a cluster that stops answering costs a request that
// long, then 503 with Retry-After.
const defaultBackendTimeout = 10 * time.Second

// parseBackend reads --backend: "" or "local" keeps every collection in
// this device's store (the zero Options); weaviate://HOST:PORT makes
// serve create new collections in the Weaviate whose REST API is at
// http://HOST:PORT, optionally with ?consistency=ONE|QUORUM|ALL (the
// level writes are acknowledged at) and ?replication=N (replicas of each
// class it creates) and ?timeout=DURATION (the bound on one call to it,
// defaultBackendTimeout unless given) and ?documents=local|NAME (where the
// documents are indexed: see backendConfig.Documents). Anything else is an
// error naming
// what it wants.
func parseBackend(raw string) (backendConfig, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "local" {
		return backendConfig{}, nil
	}
	bc := backendConfig{Timeout: defaultBackendTimeout}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "weaviate" || u.Host == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.Fragment != "" {
		return backendConfig{}, fmt.Errorf("%q: want local or weaviate://HOST:PORT", raw)
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
				return backendConfig{}, fmt.Errorf("%q: consistency=%s: want ONE, QUORUM or ALL", raw, v)
			}
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 10*time.Minute {
				return backendConfig{}, fmt.Errorf("%q: timeout=%s: want a duration such as 10s, at most 10m", raw, v)
			}
			bc.Timeout = d
		case "documents":
			if v != "local" && !validDocumentsName(v) {
				return backendConfig{}, fmt.Errorf("%q: documents=%s: want local or a collection name of letters, digits, - and _ (at most 64)", raw, v)
			}
			bc.Documents = v
		case "replication":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return backendConfig{}, fmt.Errorf("%q: replication=%s: want a whole number ≥ 1", raw, v)
			}
			opts.ReplicationFactor = n
		default:
			return backendConfig{}, fmt.Errorf("%q: unknown parameter %q: want consistency, documents, replication or timeout", raw, k)
		}
	}
	bc.Weaviate = opts
	return bc, nil
}

// validDocumentsName reports whether s may name the documents' collection.
func validDocumentsName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
