package weaviate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Consistency is Weaviate's consistency level for a read or write of
// replicated data: how many replicas must answer. "" leaves it to the
// server (QUORUM for replicated classes).
type Consistency string

// Weaviate's consistency levels.
const (
	One    Consistency = "ONE"
	Quorum Consistency = "QUORUM"
	All    Consistency = "ALL"
)

// Fusion is how hybrid search merges its keyword and vector rankings.
type Fusion string

// Weaviate's fusion types.
const (
	// RankedFusion sums alpha/(60+rank) of the vector ranking and
	// (1-alpha)/(60+rank) of the keyword ranking (rank from 0): with alpha
	// 0.5, half of search.Fuse's reciprocal rank score, so the same order.
	RankedFusion Fusion = "rankedFusion"
	// RelativeScoreFusion scales each ranking's scores to 0..1 first.
	RelativeScoreFusion Fusion = "relativeScoreFusion"
)

// Defaults of Options.
const (
	DefaultMaxResponseBytes = 64 << 20
	DefaultTimeout          = 60 * time.Second
	DefaultBatchSize        = 200
	DefaultHybridAlpha      = 0.5
)

// Options configure a Client. Zero fields take the defaults.
type Options struct {
	// URL is Weaviate's REST address, like http://127.0.0.1:8080. Required.
	URL string
	// APIKey, when set, is sent as a bearer token.
	APIKey string
	// HTTPClient makes the requests; nil takes one with DefaultTimeout.
	HTTPClient *http.Client
	// Consistency is the level of every read and write that takes one;
	// see Client.WithConsistency for one request.
	Consistency Consistency
	// ReplicationFactor is the number of replicas of each class Create
	// makes; 0 leaves it to the server (1 unless configured). Above 1,
	// Create turns on Weaviate's async replication too.
	ReplicationFactor int
	// MaxResponseBytes bounds every answer read; a longer one fails with
	// ErrResponseTooLarge. 0 takes DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// BatchSize is the most objects one batch request carries (Upsert
	// splits larger ones); 0 takes DefaultBatchSize.
	BatchSize int
	// HybridAlpha weighs hybrid search: 1 is vector search alone, 0
	// keyword search alone; 0 takes DefaultHybridAlpha (to ask for pure
	// keyword search, query with text and no vector). HybridFusion is
	// RankedFusion unless set.
	HybridAlpha  float64
	HybridFusion Fusion
}

// Client talks to one Weaviate server or cluster. It caches each class's
// vectors and properties, which it learns from the schema, so several
// clients (appliances) may share a cluster. Safe for concurrent use.
type Client struct {
	base   *url.URL
	opts   Options
	hc     *http.Client
	consis Consistency
	cache  *schemaCache
	// documents: the client's classes are documents indexes (see
	// DocumentsIndex), not collections of points.
	documents bool
}

// New returns a client for the Weaviate at opts.URL. It fails with a bad
// URL; it does not contact the server (see Ready).
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("weaviate url %q: want http://host:port", opts.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.HybridAlpha == 0 {
		opts.HybridAlpha = DefaultHybridAlpha
	}
	if opts.HybridFusion == "" {
		opts.HybridFusion = RankedFusion
	}
	switch opts.Consistency {
	case "", One, Quorum, All:
	default:
		return nil, fmt.Errorf("weaviate consistency %q: want ONE, QUORUM or ALL", opts.Consistency)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{base: u, opts: opts, hc: hc, consis: opts.Consistency, cache: &schemaCache{classes: map[string]*classInfo{}}}, nil
}

// WithConsistency returns a client that shares c's connection and schema
// cache but reads and writes at level l.
func (c *Client) WithConsistency(l Consistency) *Client {
	d := *c
	d.consis = l
	return &d
}

// DocumentsIndex returns a client that shares c's connection and schema
// cache but keeps its collections in classes of their own ("Esdoc_…"):
// a device's documents index (Chunks) is no collection of points, so List
// does not show it and no collection of points can reach it by name.
func (c *Client) DocumentsIndex() *Client {
	d := *c
	d.documents = true
	return &d
}

// Ready reports whether the server answers its readiness probe
// (/v1/.well-known/ready) with 200.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, "ready", http.MethodGet, "/v1/.well-known/ready", nil, nil, nil)
}

// do sends one request with a JSON body (nil for none) and decodes a 2xx
// JSON answer into out (nil to discard it). Any other status is an *Error
// carrying Weaviate's message.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("weaviate %s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("weaviate %s: %w", op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.opts.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.APIKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("weaviate %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("weaviate %s: read answer: %w", op, err)
	}
	if int64(len(data)) > c.opts.MaxResponseBytes {
		return fmt.Errorf("weaviate %s: %w (more than %d bytes)", op, ErrResponseTooLarge, c.opts.MaxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Op: op, Status: resp.StatusCode, Message: errorMessage(data)}
		switch {
		case resp.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%w: %w", e, ErrNotFound)
		case resp.StatusCode == http.StatusUnprocessableEntity && strings.Contains(e.Message, "already exists"):
			return fmt.Errorf("%w: %w", e, ErrExists)
		}
		return e
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("weaviate %s: decode answer: %w", op, err)
	}
	return nil
}

// errorMessage reads Weaviate's error shapes, {"error":[{"message":…}]}
// and {"message":…}, falling back to the raw text.
func errorMessage(data []byte) string {
	var e struct {
		Error []struct {
			Message string `json:"message"`
		} `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil {
		var msgs []string
		for _, m := range e.Error {
			msgs = append(msgs, m.Message)
		}
		if e.Message != "" {
			msgs = append(msgs, e.Message)
		}
		if len(msgs) > 0 {
			return strings.Join(msgs, "; ")
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// graphql runs one GraphQL query and decodes its data into out. Errors in
// the answer are an *Error with Status 0.
func (c *Client) graphql(ctx context.Context, op, query string, out any) error {
	var resp struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := c.do(ctx, op, http.MethodPost, "/v1/graphql", nil, map[string]string{"query": query}, &resp); err != nil {
		return err
	}
	if len(resp.Errors) > 0 {
		msgs := make([]string, len(resp.Errors))
		for i, e := range resp.Errors {
			msgs[i] = e.Message
		}
		return &Error{Op: op, Message: strings.Join(msgs, "; ")}
	}
	if err := json.Unmarshal(resp.Data, out); err != nil {
		return fmt.Errorf("weaviate %s: decode answer: %w", op, err)
	}
	return nil
}

// consistencyQuery is the query string of a REST call at c's level.
func (c *Client) consistencyQuery() url.Values {
	q := url.Values{}
	if c.consis != "" {
		q.Set("consistency_level", string(c.consis))
	}
	return q
}

// schemaCache holds what the client knows of each class, by class name.
type schemaCache struct {
	mu      sync.Mutex
	classes map[string]*classInfo
}
