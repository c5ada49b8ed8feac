package weaviate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// Checks a caller can make before it queues a write for later (an
// outbox), so that what Weaviate would refuse is refused now, and the
// classification of a failed write: worth retrying or not.

// Vectors returns a collection's vectors, from the client's cache when it
// holds the class, else from the server (ErrNotFound when there is no
// such class).
func (c *Client) Vectors(ctx context.Context, collection string) (map[string]store.VectorParams, error) {
	ci, err := c.class(ctx, collection, false)
	if err != nil {
		return nil, err
	}
	return ci.vectors, nil
}

// CheckPoints reports whether Upsert would accept pts into a collection
// with these vectors, without a request: every id has a UUID
// (ErrUnmappableID), every point exactly the collection's vectors at their
// sizes, and a payload of at most store.MaxPayloadBytes that is a JSON
// object flatten can read (store.ErrInvalid). The error names the point.
func CheckPoints(collection string, vectors map[string]store.VectorParams, pts []store.Point) error {
	for i, p := range pts {
		if _, err := ObjectID(p.ID); err != nil {
			return fmt.Errorf("upsert into %q: point %d: %w", collection, i, err)
		}
		if err := checkVectors(vectors, p.Vectors); err != nil {
			return fmt.Errorf("upsert into %q: point %v: %w", collection, p.ID, err)
		}
		if len(p.Payload) > store.MaxPayloadBytes {
			return fmt.Errorf("upsert into %q: point %v: payload of %d bytes, more than %d: %w",
				collection, p.ID, len(p.Payload), store.MaxPayloadBytes, store.ErrInvalid)
		}
		if _, err := flatten(p.Payload); err != nil {
			return fmt.Errorf("upsert into %q: point %v: %w: %w", collection, p.ID, err, store.ErrInvalid)
		}
	}
	return nil
}

// CheckFilter reports whether f translates to a where filter over the
// properties the client has seen the collection's class hold, without a
// request (none when the class is not cached). ErrUnsupportedFilter names
// the condition. A filter that passes may still be refused later: a range
// with two bounds becomes untranslatable once some point holds several
// numbers at its key (see Translate).
func (c *Client) CheckFilter(collection string, f *search.Filter) error {
	props := map[string]bool{}
	c.cache.mu.Lock()
	if ci := c.cache.classes[c.className(collection)]; ci != nil {
		for k := range ci.props {
			props[k] = true
		}
	}
	c.cache.mu.Unlock()
	if _, _, err := translate(f, props); err != nil {
		return fmt.Errorf("collection %q: %w", collection, err)
	}
	return nil
}

// consistencyMessages are what Weaviate v1.35 says when a replicated
// write or read cannot reach the replicas its consistency level needs
// (usecases/replica: "cannot achieve consistency level", wrapping "cannot
// reach enough replicas"): a 500, or an object's error in a 200 batch
// answer, or a GraphQL error. A node coming back fixes it.
var consistencyMessages = []string{"cannot achieve consistency level", "cannot reach enough replicas", "inconsistent consistency levels"}

// temporaryMessages are further object and GraphQL errors that come and go
// with the cluster's state: a node shutting down or unreachable, a shard
// made read-only (disk full), a class or property the node has not
// applied from the schema yet (v1.35.2 answers adding a property with 422
// "class is nil: not found" for a moment after a node restarts).
var temporaryMessages = []string{"connection refused", "context deadline exceeded", "timeout", "shutting down",
	"read-only", "readonly", "could not find index", "no such prop", "no bucket for prop", "not ready", "unavailable",
	"broken pipe", "connection reset", "EOF", "class is nil"}

// Unreachable reports whether err says the cluster, or enough of its
// replicas, did not answer: no connection, a timeout, HTTP 502, 503 or
// 504, or a consistency level that could not be met (see
// consistencyMessages). Waiting and asking again can succeed.
func Unreachable(err error) bool {
	var we *Error
	var ue *url.Error
	var ne net.Error
	switch {
	case err == nil:
		return false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &we):
		if we.Status == 502 || we.Status == 503 || we.Status == 504 {
			return true
		}
		return containsAny(we.Message, consistencyMessages)
	case errors.As(err, &ue), errors.As(err, &ne):
		return true
	}
	return false
}

// Permanent reports whether err is a refusal that sending the same write
// again cannot turn into success: our own checks (store.ErrInvalid,
// ErrUnmappableID, ErrUnsupportedFilter), a class that no longer exists,
// an answer too large, a 4xx from Weaviate other than 408 and 429, or an
// object's error, that is not one of the passing states of a cluster
// (temporaryMessages, consistencyMessages). Anything else (a 5xx, no
// answer, an error this package does not know) is worth retrying.
func Permanent(err error) bool {
	var we *Error
	switch {
	case err == nil || Unreachable(err):
		return false
	case errors.Is(err, store.ErrInvalid), errors.Is(err, ErrUnmappableID), errors.Is(err, ErrUnsupportedFilter),
		errors.Is(err, ErrNotFound), errors.Is(err, ErrResponseTooLarge), errors.Is(err, store.ErrBadPointID):
		return true
	case errors.As(err, &we):
		switch {
		case we.Status == 408 || we.Status == 429 || we.Status >= 500 || containsAny(we.Message, temporaryMessages):
			return false
		case we.Status >= 400:
			return true
		}
		// Status 0: an object's or a GraphQL error inside a 200 answer.
		return !containsAny(we.Message, temporaryMessages) && !containsAny(we.Message, consistencyMessages)
	}
	return false
}

func containsAny(s string, subs []string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(s, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}
