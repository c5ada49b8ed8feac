package indexer

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/store"
)

// fullLane is a bulk embedder whose queue is full for its first `full`
// calls and then embeds every text as a one-dimensional vector; with
// backlog set it refuses to admit new work.
type fullLane struct {
	full    int32
	backlog bool // AdmitBulk refuses
	calls   atomic.Int32
}

func (f *fullLane) AdmitBulk() error {
	if f.backlog {
		return embedder.ErrOverloaded
	}
	return nil
}

func (f *fullLane) BulkQueueCap() int { return 256 }

func (f *fullLane) EmbedBulk(ctx context.Context, texts []string) ([]embedder.Embedding, error) {
	if f.calls.Add(1) <= f.full {
		return nil, embedder.ErrOverloaded
	}
	out := make([]embedder.Embedding, len(texts))
	for i := range out {
		out[i] = embedder.Embedding{Vector: []float32{1}, Tokens: 3}
	}
	return out, nil
}

// TestEmbedDocsAdmitsOrRefusesAtOnce pins the bulk lane's admission rule:
// a server's write (admit) that the pool does not admit is refused at once
// with ErrOverloaded, for a 503 with Retry-After, before any text is sent;
// admitted work, and an import (no admit) always, waits and tries again.
func TestEmbedDocsAdmitsOrRefusesAtOnce(t *testing.T) {
	docs := func() []store.Document {
		return []store.Document{{ID: "a", Text: "some text", Chunks: []store.Chunk{{Start: 0, End: 4}, {Start: 5, End: 9}}}}
	}
	lane := &fullLane{backlog: true}
	if err := embedDocs(context.Background(), lane, docs(), true); !errors.Is(err, embedder.ErrOverloaded) || lane.calls.Load() != 0 {
		t.Fatalf("admit with a backlog: %v after %d calls; want ErrOverloaded before any", err, lane.calls.Load())
	}
	lane = &fullLane{full: 1}
	if err := embedDocs(context.Background(), lane, docs(), true); err != nil || lane.calls.Load() != 2 {
		t.Fatalf("admitted work on a full queue: %v after %d calls; want success after 2 (it paces itself)", err, lane.calls.Load())
	}
	lane = &fullLane{full: 3, backlog: true} // an import does not ask
	d := docs()
	if err := embedDocs(context.Background(), lane, d, false); err != nil || lane.calls.Load() != 4 {
		t.Fatalf("import on a full queue: %v after %d calls; want success after 4", err, lane.calls.Load())
	}
	if len(d[0].Chunks[1].Vector) != 1 {
		t.Fatalf("vectors not filled in: %+v", d[0].Chunks)
	}
}

// TestEmbedDocsFitsItsCallsToTheBulkQueue pins the small profile's stall: a
// pool whose bulk queue holds 64 texts refused every call of 128 as
// overloaded, and embedDocs tried again forever (an import stopped at its
// first large batch, a POST /documents never answered).
func TestEmbedDocsFitsItsCallsToTheBulkQueue(t *testing.T) {
	pool, err := embedder.New(context.Background(), embedder.Options{ModelPath: modelFile(), Workers: 1, BulkQueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	text := strings.Repeat("Short sentence for a chunk. ", 200)
	doc := store.Document{ID: "long", Text: text}
	// 70 chunks: more than the queue holds, so one call of them all (the
	// old way) is refused, and few enough to embed quickly under qemu on
	// a busy machine (150 took over 2 minutes there).
	for i := range 70 {
		doc.Chunks = append(doc.Chunks, store.Chunk{Start: i * 28, End: i*28 + 27})
	}
	// Without the fix it never ends: the deadline makes that a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := embedDocs(ctx, pool, []store.Document{doc}, false); err != nil {
		t.Fatalf("70 chunks through a bulk queue of 64: %v", err)
	}
	for i, c := range doc.Chunks {
		if len(c.Vector) != pool.Info().Dims {
			t.Fatalf("chunk %d has no vector", i)
		}
	}
}
