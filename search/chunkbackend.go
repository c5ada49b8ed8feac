package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/store"
)

// The documents' chunks in a search backend outside this process.
//
// With EngineOptions.Backend set, an Engine keeps no vector graph and no
// keyword index of its own: the backend (a Weaviate class, see
// search/weaviate.Chunks) holds a copy of every chunk — its vector, its
// text and its document's payload — and answers the engine's searches.
// The store stays the record of every document and chunk, as without a
// backend: a write is acknowledged once it is in the store, and a
// background sender brings the backend in step with it. Chunk ids are
// never reused (the store numbers them from a counter), so the sender's
// whole state is two sets of ids, "send" and "remove", and it can always
// be recomputed by comparing the ids the backend holds with the store's:
// that is what the engine does when it opens, so a write acknowledged just
// before a crash or while the backend was unreachable is sent later, and
// a chunk removed meanwhile is removed there too. Searches see a write
// once it is sent (Pending says how many chunks are not yet).

// ChunkBackend is what an Engine needs of a search backend for its chunks.
// Implementations must be safe for concurrent use.
type ChunkBackend interface {
	// Search returns up to k chunk ids, best first: by vector (Semantic),
	// by BM25 over the chunks' text (Keyword) or both fused (Hybrid), over
	// the chunks whose payload (ChunkPayload) passes where (nil: all).
	Search(ctx context.Context, mode Mode, vec []float32, text string, where *Filter, k int) ([]Hit, error)
	// Put stores chunks, replacing any with the same ids.
	Put(ctx context.Context, chunks []BackendChunk) error
	// Remove deletes chunks by id; unknown ids are not an error.
	Remove(ctx context.Context, ids []uint64) error
	// IDs calls fn with every chunk id the backend holds, a page at a time
	// in ascending order.
	IDs(ctx context.Context, fn func(ids []uint64) error) error
	// String names the backend in messages, e.g. its address.
	String() string
}

// BackendChunk is one chunk as a ChunkBackend stores it.
type BackendChunk struct {
	ID     uint64
	Vector []float32
	// Payload is ChunkPayload's: the document's fields, the ordinal and
	// the text (which the backend's keyword search reads).
	Payload map[string]any
}

// ErrBackendUnavailable means the search backend did not answer; the
// request may succeed later. Backends wrap their connection failures with
// it.
var ErrBackendUnavailable = errors.New("search backend is unreachable")

// Limits of the sender.
const (
	// backendPutBatch is how many chunks one Put carries.
	backendPutBatch = 128
	// backendRemoveBatch is how many ids one Remove carries.
	backendRemoveBatch = 1000
	// backendMaxBackoff is the longest wait between failed attempts.
	backendMaxBackoff = 5 * time.Second
)

// DefaultBackendTimeout bounds one call of the sender to the backend when
// EngineOptions.BackendTimeout is 0, and the comparison of ids at open
// at least.
const DefaultBackendTimeout = 30 * time.Second

// chunkSync is an engine's sender to its backend: the ids of chunks to
// send and to remove, and the goroutine that does it.
type chunkSync struct {
	e *Engine
	b ChunkBackend

	mu         sync.Mutex
	send, drop map[uint64]bool
	compared   bool // the backend's ids were compared with the store's
	lastErr    error
	lastErrAt  time.Time
	lastOK     time.Time
	sent       uint64 // chunks sent since open

	wake chan struct{} // 1-slot
	stop chan struct{}
	done chan struct{}
}

// BackendState is what Engine.BackendState reports.
type BackendState struct {
	// Backend names it; "" when the engine has none.
	Backend string
	// Compared says the backend's chunk ids were compared with the store's
	// since the engine opened.
	Compared bool
	// Pending is how many chunks are still to be sent to or removed from
	// the backend; before the comparison, every chunk of the store (any
	// may be missing there).
	Pending int
	// LastError is the last failure to reach it (nil after a success), and
	// LastErrorAt when it happened.
	LastError   error
	LastErrorAt time.Time
	// LastOK is when it last answered the sender.
	LastOK time.Time
	// Sent is how many chunks were sent since the engine opened.
	Sent uint64
}

func newChunkSync(e *Engine, b ChunkBackend) *chunkSync {
	return &chunkSync{e: e, b: b, send: map[uint64]bool{}, drop: map[uint64]bool{},
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// queue records chunks to send and to remove, and wakes the sender.
func (s *chunkSync) queue(send, drop []uint64) {
	s.mu.Lock()
	for _, id := range send {
		s.send[id] = true
	}
	for _, id := range drop {
		delete(s.send, id) // never sent, or sent: either way it goes
		s.drop[id] = true
	}
	s.mu.Unlock()
	s.poke()
}

func (s *chunkSync) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// state reports the sender. Until the comparison, any chunk of the table
// may be missing from the backend, so Pending counts them all: a client
// waiting for 0 never reads before the comparison has run.
func (s *chunkSync) state() BackendState {
	s.e.mu.RLock()
	table := len(s.e.chunks)
	s.e.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := len(s.send) + len(s.drop)
	if !s.compared {
		pending = max(pending, table+len(s.drop))
	}
	return BackendState{Backend: s.b.String(), Compared: s.compared, Pending: pending,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, LastOK: s.lastOK, Sent: s.sent}
}

func (s *chunkSync) failed(err error) {
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err, time.Now()
	s.mu.Unlock()
}

func (s *chunkSync) succeeded() {
	s.mu.Lock()
	s.lastErr, s.lastOK = nil, time.Now()
	s.mu.Unlock()
}

// run sends until close: first compares the backend's ids with the
// store's, then sends what is queued, retrying failures with a backoff
// from 100 ms doubling to backendMaxBackoff.
func (s *chunkSync) run() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := 100 * time.Millisecond
	failing := false // logged as failing; a line when that changes, not per retry
	for {
		worked, err := s.step(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait <-chan time.Time
		switch {
		case err != nil:
			s.failed(err)
			if !failing {
				fmt.Fprintf(s.e.opts.Progress, "search backend %s: %v (retrying every %v at most)\n", s.b, err, backendMaxBackoff)
				failing = true
			}
			wait = time.After(backoff)
			backoff = min(2*backoff, backendMaxBackoff)
		case worked:
			s.succeeded()
			if failing {
				fmt.Fprintf(s.e.opts.Progress, "search backend %s answers again; %d chunks to bring to it\n", s.b, s.state().Pending)
				failing = false
			}
			backoff = 100 * time.Millisecond
			continue
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-wait:
		}
	}
}

// step does one piece of work: the comparison, one batch of removals or
// one batch of chunks to send. worked is false when there was nothing to do.
func (s *chunkSync) step(ctx context.Context) (worked bool, err error) {
	s.mu.Lock()
	compared := s.compared
	var drop, send []uint64
	if compared {
		drop = takeIDs(s.drop, backendRemoveBatch)
		if len(drop) == 0 {
			send = takeIDs(s.send, backendPutBatch)
		}
	}
	s.mu.Unlock()
	limit := s.e.opts.BackendTimeout
	if limit <= 0 || !compared {
		// The comparison reads every id the backend holds, page after
		// page (each page is one request, which the backend bounds): a
		// large collection needs longer than one batch does.
		limit = max(limit, DefaultBackendTimeout)
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	switch {
	case !compared:
		return true, s.compare(cctx)
	case len(drop) > 0:
		if err := s.b.Remove(cctx, drop); err != nil {
			return false, fmt.Errorf("remove %d chunks: %w", len(drop), err)
		}
		s.mu.Lock()
		for _, id := range drop {
			delete(s.drop, id)
		}
		s.mu.Unlock()
		return true, nil
	case len(send) > 0:
		chunks, err := s.e.backendChunks(send)
		if err != nil {
			return false, err
		}
		if len(chunks) > 0 {
			if err := s.b.Put(cctx, chunks); err != nil {
				return false, fmt.Errorf("send %d chunks: %w", len(chunks), err)
			}
		}
		s.mu.Lock()
		for _, id := range send {
			delete(s.send, id)
		}
		s.sent += uint64(len(chunks))
		s.mu.Unlock()
		return true, nil
	}
	return false, nil
}

// takeIDs returns up to n of the ids in set, smallest first (so chunks
// reach the backend in the order they were written), without removing
// them: they leave the set once the backend took them.
func takeIDs(set map[uint64]bool, n int) []uint64 {
	if len(set) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids[:min(n, len(ids))]
}

// compare reads every id the backend holds and queues what differs from
// the engine's table: chunks it lacks are sent, chunks the store no longer
// has are removed. Writes made meanwhile are queued by Write as usual, and
// a chunk written after the table was read is never taken for a stray: the
// backend cannot hold it before the sender sent it.
func (s *chunkSync) compare(ctx context.Context) error {
	s.e.mu.RLock()
	local := make([]uint64, 0, len(s.e.chunks))
	for id := range s.e.chunks {
		local = append(local, id)
	}
	s.e.mu.RUnlock()
	slices.Sort(local)
	var send, drop []uint64
	i := 0
	prev, first := uint64(0), true
	err := s.b.IDs(ctx, func(ids []uint64) error {
		for _, id := range ids {
			if !first && id <= prev {
				return fmt.Errorf("backend %s listed chunk ids out of order (%d after %d)", s.b, id, prev)
			}
			prev, first = id, false
			for i < len(local) && local[i] < id {
				send = append(send, local[i])
				i++
			}
			if i < len(local) && local[i] == id {
				i++
				continue
			}
			drop = append(drop, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("compare the chunks held with the store's: %w", err)
	}
	send = append(send, local[i:]...)
	s.mu.Lock()
	for _, id := range send {
		s.send[id] = true
	}
	for _, id := range drop {
		if !s.send[id] {
			s.drop[id] = true
		}
	}
	s.compared = true
	s.mu.Unlock()
	if len(send)+len(drop) > 0 {
		fmt.Fprintf(s.e.opts.Progress, "search backend %s: %d chunks to send, %d to remove\n", s.b, len(send), len(drop))
	}
	return nil
}

func (s *chunkSync) close() {
	close(s.stop)
	<-s.done
}

// backendChunks reads the chunks ids from the store with their documents'
// payloads; chunks deleted since they were queued are left out.
func (e *Engine) backendChunks(ids []uint64) ([]BackendChunk, error) {
	out := make([]BackendChunk, 0, len(ids))
	for _, id := range ids {
		c, err := e.st.ChunkByID(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read chunk %d: %w", id, err)
		}
		e.mu.RLock()
		ref, ok := e.chunks[id]
		e.mu.RUnlock()
		if !ok {
			continue // its document was replaced or deleted since
		}
		d := ref.doc
		out = append(out, BackendChunk{ID: id, Vector: c.Vector,
			Payload: ChunkPayload(d.id, d.title, d.source, d.metadata, ref.ordinal, c.Text)})
	}
	return out, nil
}

// BackendState reports the engine's backend sender (zero without a
// backend).
func (e *Engine) BackendState() BackendState {
	if e.sync == nil {
		return BackendState{}
	}
	return e.sync.state()
}

// whereOf is the filter a backend applies for a Query: Where and every
// key=value of Filter, over ChunkPayload. A metadata value that is a JSON
// number is stored as a number (DocumentPayload), so it is matched as one;
// the engine checks every hit against the table anyway.
func whereOf(q Query) (*Filter, error) {
	var must []any
	keys := make([]string, 0, len(q.Filter))
	for k := range q.Filter {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := q.Filter[k]
		key := "metadata." + k
		if k == SourceFilter {
			key = "source"
		}
		cond := map[string]any{"key": key, "match": map[string]any{"value": v}}
		if k != SourceFilter && isJSONNumber(v) {
			if n, ok := parseInt64Literal(v); ok {
				cond["match"] = map[string]any{"value": n}
			} else {
				cond = map[string]any{"key": key, "range": map[string]any{"gte": json.Number(v), "lte": json.Number(v)}}
			}
		}
		must = append(must, cond)
	}
	if q.Where != nil {
		must = append(must, q.Where.tree())
	}
	if len(must) == 0 {
		return nil, nil
	}
	return filterOfTree(map[string]any{"must": must})
}

func filterOfTree(t map[string]any) (*Filter, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return ParseFilter(b)
}

// backendMaxDepth is the most chunks one backend search returns (Weaviate
// pages at most 10,000 objects).
const backendMaxDepth = 9999

// backendMode is the mode a backend searches for a query of mode: hybrid
// without a vector is keyword search, without searchable words semantic.
// It fails with ErrNoQuery as Index.Search does.
func backendMode(mode Mode, vec []float32, text string) (Mode, error) {
	hasText := len(Terms(text)) > 0
	switch mode {
	case Semantic:
		if len(vec) == 0 {
			return 0, fmt.Errorf("semantic search without a query vector: %w", ErrNoQuery)
		}
	case Keyword:
		if !hasText {
			return 0, fmt.Errorf("keyword search for %q: no searchable words: %w", text, ErrNoQuery)
		}
	case Hybrid:
		switch {
		case len(vec) == 0 && !hasText:
			return 0, fmt.Errorf("hybrid search for %q without a vector or searchable words: %w", text, ErrNoQuery)
		case len(vec) == 0:
			return Keyword, nil
		case !hasText:
			return Semantic, nil
		}
	default:
		return 0, fmt.Errorf("mode %d: %w", int(mode), ErrUnknownMode)
	}
	return mode, nil
}
