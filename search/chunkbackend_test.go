package search_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// hungBackend is a search backend that holds every id and never answers a
// write: each Put waits for its context.
type hungBackend struct{ puts chan struct{} }

func (b *hungBackend) Search(ctx context.Context, mode search.Mode, vec []float32, text string, where *search.Filter, k int) ([]search.Hit, error) {
	return nil, search.ErrBackendUnavailable
}

func (b *hungBackend) Put(ctx context.Context, chunks []search.BackendChunk) error {
	select {
	case b.puts <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func (b *hungBackend) Remove(ctx context.Context, ids []uint64) error { return nil }

func (b *hungBackend) IDs(ctx context.Context, fn func(ids []uint64) error) error { return nil }

func (b *hungBackend) String() string { return "hung" }

// TestBackendCallsStopAtTheTimeout: a backend that takes a batch and never
// answers holds the sender only for EngineOptions.BackendTimeout (serve's
// --backend ?timeout=), then the failure is reported and retried.
func TestBackendCallsStopAtTheTimeout(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	if _, err := st.Write(context.Background(), store.Change{Put: []store.Document{makeDoc(t, "d1", "one", "a paragraph about rivers", nil)}}); err != nil {
		t.Fatal(err)
	}
	b := &hungBackend{puts: make(chan struct{}, 1)}
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir, Backend: b, BackendTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	select {
	case <-b.puts:
	case <-time.After(10 * time.Second):
		t.Fatal("the sender sent nothing")
	}
	// Far below the 30 s default: the configured bound is what ends the call.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := e.BackendState()
		if s.LastError != nil {
			if !errors.Is(s.LastError, context.DeadlineExceeded) {
				t.Fatalf("the hung batch failed with %v, want its deadline", s.LastError)
			}
			if s.Pending == 0 {
				t.Fatalf("pending %d after a failed batch", s.Pending)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a hung batch was not ended by the 200 ms bound in 5 s: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
