package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// backendConfig is a parsed --backend: the Weaviate client's options (a
// zero URL keeps every collection local), the bound on one call to it and
// the bounds of the outbox of writes waiting for it (0: web's defaults).
type backendConfig struct {
	Weaviate      weaviate.Options
	Timeout       time.Duration
	OutboxEntries int
	OutboxBytes   int64
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

// Bounds on the outbox parameters: at least room for one write, at most
// what a 32-bit build can keep in its 2 GiB store file beside the rest.
const (
	maxOutboxEntries = 10_000_000
	minOutboxBytes   = 1 << 20
	maxOutboxBytes   = 1 << 30
)

// parseBackend reads --backend: "" or "local" keeps every collection in
// this device's store (the zero Options); weaviate://HOST:PORT makes
// serve create new collections in the Weaviate whose REST API is at
// http://HOST:PORT, optionally with ?consistency=ONE|QUORUM|ALL (the
// level writes are delivered and reads made at), ?replication=N (replicas
// of each class it creates), ?timeout=DURATION (the bound on one call to
// it, defaultBackendTimeout unless given), and ?outbox_entries=N and
// ?outbox_bytes=SIZE (the bounds of the outbox of writes waiting for it,
// web.DefaultOutboxEntries and web.DefaultOutboxBytes unless given; SIZE
// as parseSize reads it), and ?documents=local|NAME (where the documents
// are indexed: see backendConfig.Documents). Anything else is an error naming
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
		case "outbox_entries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxOutboxEntries {
				return backendConfig{}, fmt.Errorf("%q: outbox_entries=%s: want a whole number from 1 to %d (writes kept while the cluster is unreachable)", raw, v, maxOutboxEntries)
			}
			bc.OutboxEntries = n
		case "outbox_bytes":
			n, err := parseSize(v)
			if err != nil || n < minOutboxBytes || n > maxOutboxBytes {
				return backendConfig{}, fmt.Errorf("%q: outbox_bytes=%s: want a size from 1MiB to 1GiB, such as 256MiB or 268435456", raw, v)
			}
			bc.OutboxBytes = n
		default:
			return backendConfig{}, fmt.Errorf("%q: unknown parameter %q: want consistency, documents, replication, timeout, outbox_entries or outbox_bytes", raw, k)
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

// setCollections makes srv serve the local collections, and a Weaviate's
// too when bc names one (--backend): new collections are then made there,
// and writes to them go through the outbox in st, whose senders start now
// (delivering what a previous run left). A cluster that does not answer
// yet is logged, not fatal: its collections take writes into the outbox
// and answer reads with 503 until it does. The returned stop ends the
// senders; call it before closing st.
func setCollections(ctx context.Context, srv *web.Server, local *search.Collections, st *store.Store, bc backendConfig, log *slog.Logger) (stop func(), err error) {
	opts := bc.Weaviate
	if opts.URL == "" {
		srv.SetCollections(local)
		return func() {}, nil
	}
	client, err := weaviate.New(opts)
	if err != nil {
		return nil, fmt.Errorf("--backend: %w", err)
	}
	b, err := web.NewBackends(local, client, web.BackendOptions{Where: opts.URL, Timeout: bc.Timeout, Store: st,
		OutboxEntries: bc.OutboxEntries, OutboxBytes: bc.OutboxBytes, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("--backend: %w", err)
	}
	if err := b.Start(ctx); err != nil {
		return nil, fmt.Errorf("--backend: the outbox: %w", err)
	}
	srv.SetCollections(b)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := b.Ready(rctx); err != nil {
		log.Warn("the Weaviate backend does not answer yet; writes to its collections are queued, reads answer 503 until it does", "url", opts.URL, "err", err)
	} else {
		log.Info("new collections are made in Weaviate", "url", opts.URL, "consistency", string(opts.Consistency),
			"replication", opts.ReplicationFactor)
	}
	return b.Close, nil
}
