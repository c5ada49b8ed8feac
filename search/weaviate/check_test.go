package weaviate

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"syscall"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// The classification the outbox's sender acts on: Unreachable is retried
// (and answers 503 to a reader), Permanent goes to the dead letters,
// anything else is retried. The messages are v1.35.2's, as the 3-node
// test through serve logs them.
func TestErrorClassification(t *testing.T) {
	for _, tt := range []struct {
		name                   string
		err                    error
		unreachable, permanent bool
	}{
		{"no connection", &url.Error{Op: "Post", URL: "http://x", Err: syscall.ECONNREFUSED}, true, false},
		{"our timeout", fmt.Errorf("weaviate get: %w", context.DeadlineExceeded), true, false},
		{"gateway", &Error{Op: "batch", Status: 503, Message: "down"}, true, false},
		{"QUORUM read, one of two replicas down", &Error{Op: "get object", Status: 500,
			Message: `repo: object by id: search index es_c: cannot achieve consistency level "QUORUM": read error`}, true, false},
		{"QUORUM write, one of two replicas down", &Error{Op: "batch upsert: object 1", Message: "broadcast: cannot reach enough replicas"}, true, false},
		{"count with a replica down (GraphQL Aggregate)", &Error{Op: "count Es_c", Message: "inconsistent consistency levels: shard RpP4hMT3cXh0 resolved to 2, shard jN4Lbs8BXJYh resolved to 1"}, true, false},
		{"other 500", &Error{Op: "batch", Status: 500, Message: "boom"}, false, false},
		{"too many requests", &Error{Op: "batch", Status: 429, Message: "slow down"}, false, false},
		{"schema not loaded after a restart", &Error{Op: "add property", Status: 422, Message: "class is nil: not found"}, false, false},
		{"schema lag", &Error{Op: "batch upsert: object 1", Message: "could not find index for class"}, false, false},
		{"refused property value", &Error{Op: "add property", Status: 422, Message: "invalid dataType"}, false, true},
		{"refused object", &Error{Op: "batch upsert: object 1", Message: "new node has a vector with length 3. Existing nodes have vectors with length 2"}, false, true},
		{"class gone", fmt.Errorf("%w: %w", &Error{Op: "get class", Status: 404}, ErrNotFound), false, true},
		{"untranslatable filter", fmt.Errorf("delete from %q: %w", "c", ErrUnsupportedFilter), false, true},
		{"bad point", fmt.Errorf("point 1: %w", store.ErrInvalid), false, true},
		{"something else", errors.New("weaviate get: decode answer: unexpected end"), false, false},
		{"nil", nil, false, false},
	} {
		if got := Unreachable(tt.err); got != tt.unreachable {
			t.Errorf("%s: Unreachable = %v, want %v", tt.name, got, tt.unreachable)
		}
		if got := Permanent(tt.err); got != tt.permanent {
			t.Errorf("%s: Permanent = %v, want %v", tt.name, got, tt.permanent)
		}
	}
}
