package indexer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/store"
)

// embedCall is how many chunk texts go into one Embed call: enough for the
// pool to fill its micro-batches on every worker, few enough to leave room
// in its queue for a server's queries.
const embedCall = 128

// StorePath is the store file inside the data directory dataDir.
func StorePath(dataDir string) string {
	return filepath.Join(dataDir, "edgesearch.db")
}

// Ingested says what Ingest did.
type Ingested struct {
	// IDs are the documents' ids in the order given, a repeated id once.
	IDs []string
	// Stored are the documents written now, as stored (ids, chunks with
	// their vectors and spans, timestamps), in the order of IDs.
	Stored []store.Document
	// Unchanged counts the documents that were already stored with the
	// same id, text, title, source and metadata: nothing was embedded or
	// written for them.
	Unchanged int
}

// Library is where Ingest reads and writes documents: a *store.Store, or a
// *search.Engine when a server keeps its indexes in step with the store.
type Library interface {
	Get(id string) (store.Document, error)
	Write(ctx context.Context, c store.Change) (int, error)
}

// Ingest chunks, embeds and stores docs in lib, all in one transaction.
//
// A document without ID gets one derived from its title, text and
// metadata (not its source), so sending the same document twice stores it
// once and two different documents never replace each other. A stored
// document with the same id is replaced, unless it is the same in every
// field given: then it is left as it is and not embedded again, so a
// client that sends a batch again (an import resumed after a crash) pays
// only for what is new. When two documents in docs share an id the later
// one wins and the earlier is not stored.
//
// Nothing is stored unless every document is good: Ingest fails with
// ErrNoText for an empty text (or one with nothing to embed), ErrInvalid
// for text that is not UTF-8, an over-long id or source, a NUL in either
// or an empty metadata key, naming the document by its position; and with
// the embedder's or store's error otherwise. When Ingest returns nil the
// documents are on disk (see store.Store.Write).
//
// The chunks go to the embedder's bulk lane, behind queries. When that lane
// is backlogged (its oldest chunk has waited longer than the pool's
// MaxBulkWait) or full as Ingest starts, Ingest fails at once with
// embedder.ErrOverloaded (a server answers 503 with Retry-After) instead of
// waiting its turn; once its first texts are taken, it paces the rest.
func Ingest(ctx context.Context, lib Library, emb *embedder.Pool, docs []Doc) (Ingested, error) {
	var res Ingested
	// Later documents with an id replace earlier ones: only the last of
	// each id is looked at.
	last := make(map[string]int, len(docs))
	for i := range docs {
		d := &docs[i]
		if !utf8.ValidString(d.Text) {
			return res, fmt.Errorf("document %d: text is not valid UTF-8: %w", i, ErrInvalid)
		}
		d.Text = strings.TrimSpace(d.Text)
		if err := normalize(d); err != nil {
			return res, fmt.Errorf("document %d: %w", i, err)
		}
		if _, dup := last[d.ID]; !dup {
			res.IDs = append(res.IDs, d.ID)
		}
		last[d.ID] = i
	}
	prepared := make([]store.Document, 0, len(last))
	for _, id := range res.IDs {
		i := last[id]
		d := docs[i]
		if same, err := storedAlike(lib, d); err != nil {
			return res, err
		} else if same {
			res.Unchanged++
			continue
		}
		sd, err := prepare(ctx, emb, d)
		if err != nil {
			return res, fmt.Errorf("document %d (%q): %w", i, d.ID, err)
		}
		prepared = append(prepared, sd)
	}
	if len(prepared) == 0 {
		return res, nil
	}
	if err := embedDocs(ctx, emb, prepared, true); err != nil {
		return res, err
	}
	if _, err := lib.Write(ctx, store.Change{Put: prepared}); err != nil {
		return res, err
	}
	res.Stored = prepared
	return res, nil
}

// storedAlike reports whether d is stored under its id with the same text,
// title, source and metadata, and with its chunks (a reindex cut short
// leaves documents without them).
func storedAlike(lib Library, d Doc) (bool, error) {
	old, err := lib.Get(d.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return old.Hash == store.HashText(d.Text) && old.Title == d.Title && old.Source == d.Source &&
		maps.Equal(old.Metadata, d.Metadata) && len(old.Chunks) > 0, nil
}

// normalize fills in a missing id and checks what store.Put would refuse,
// so one bad document cannot fail a whole import batch there.
func normalize(d *Doc) error {
	if d.Text == "" {
		return ErrNoText
	}
	if d.ID == "" {
		d.ID = contentID(*d)
	}
	if err := store.CheckID(d.ID); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	switch {
	case len(d.Source) > store.MaxSourceLen:
		return fmt.Errorf("source longer than %d bytes: %w", store.MaxSourceLen, ErrInvalid)
	case strings.IndexByte(d.Source, 0) >= 0 || !utf8.ValidString(d.Source):
		return fmt.Errorf("source %q: not UTF-8 or holds NUL: %w", d.Source, ErrInvalid)
	}
	for k := range d.Metadata {
		if k == "" {
			return fmt.Errorf("metadata key is empty: %w", ErrInvalid)
		}
	}
	return nil
}

// prepare tokenizes and chunks d into a store document whose chunks have
// their spans but no vectors yet.
func prepare(ctx context.Context, emb *embedder.Pool, d Doc) (store.Document, error) {
	toks, err := tokenize(ctx, emb, d.Text)
	if err != nil {
		return store.Document{}, err
	}
	spans := Chunk(d.Text, toks, emb.Info().MaxTokens-2)
	if len(spans) == 0 {
		return store.Document{}, fmt.Errorf("nothing to embed in %d bytes of text: %w", len(d.Text), ErrNoText)
	}
	sd := store.Document{ID: d.ID, Title: d.Title, Source: d.Source, Metadata: d.Metadata, Text: d.Text,
		Chunks: make([]store.Chunk, len(spans))}
	for i, s := range spans {
		sd.Chunks[i] = store.Chunk{Start: s.Start, End: s.End, Tokens: s.Pieces + 2}
	}
	return sd, nil
}

// bulkEmbedder is what embedDocs needs of an *embedder.Pool.
type bulkEmbedder interface {
	EmbedBulk(ctx context.Context, texts []string) ([]embedder.Embedding, error)
	AdmitBulk() error
	BulkQueueCap() int
}

// embedDocs fills in the vector of every chunk of docs on the embedder's
// bulk lane, sending up to embedCall texts per EmbedBulk call with a few
// calls in flight, so the pool's workers always find a batch waiting. A
// call that finds the lane's queue full waits and tries again. With admit
// set, embedDocs first asks the pool whether to start at all (AdmitBulk: a
// backlog or a full queue) and fails with embedder.ErrOverloaded if not, so
// a server can refuse bulk work it cannot take now instead of holding its
// client; once started, the work paces itself.
func embedDocs(ctx context.Context, emb bulkEmbedder, docs []store.Document, admit bool) error {
	var refs []*store.Chunk
	var texts []string
	for i := range docs {
		d := &docs[i]
		for j := range d.Chunks {
			c := &d.Chunks[j]
			refs = append(refs, c)
			texts = append(texts, d.Text[c.Start:c.End])
		}
	}
	if admit {
		if err := emb.AdmitBulk(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		slots = make(chan struct{}, 3)
	)
	// A call never has more texts than the lane's queue holds (it would be
	// refused every time: a small profile's queue of 64 against calls of
	// 128 stalled every import), and two calls fit side by side.
	call := max(1, min(embedCall, emb.BulkQueueCap()/2))
	for lo := 0; lo < len(texts); lo += call {
		hi := min(lo+call, len(texts))
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			var out []embedder.Embedding
			call := func() error {
				var err error
				out, err = emb.EmbedBulk(ctx, texts[lo:hi])
				return err
			}
			err := retry(ctx, call)
			if err == nil {
				for k, e := range out {
					if e.Truncated {
						// Chunk keeps every chunk under the limit; a
						// truncation means text would be lost silently.
						err = fmt.Errorf("chunk of %d tokens was truncated by the embedder", e.Tokens)
						break
					}
					refs[lo+k].Vector = e.Vector
					refs[lo+k].Tokens = e.Tokens
				}
			}
			if err != nil {
				once.Do(func() {
					if errors.Is(err, embedder.ErrOverloaded) {
						first = err // the client's answer: come back later
					} else {
						first = fmt.Errorf("embed chunks %d to %d: %w", lo, hi, err)
					}
					cancel()
				})
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
