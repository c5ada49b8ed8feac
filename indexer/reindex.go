package indexer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/store"
)

// ReindexOptions configure Reindex.
type ReindexOptions struct {
	Store    *store.Store   // required; opened for Embedder's model (see store.Options.Reembed)
	Embedder *embedder.Pool // required; its model name and dims must be the store's
	// All re-chunks and re-embeds every document, not only those without
	// chunks: after a change of the chunker, say. An interrupted run with
	// All starts over when run again, since a redone document cannot be
	// told from one not yet reached.
	All bool
	// Progress receives a progress bar when it is a terminal, else a log
	// line every few seconds; nil means silence.
	Progress io.Writer
	// OnStored is called after each committed batch, as in ImportOptions.
	OnStored func([]store.Document)
}

// ReindexSummary says what Reindex did.
type ReindexSummary struct {
	Pending   int           // documents that needed re-embedding when Reindex began
	Documents int           // documents re-chunked, re-embedded and stored
	Chunks    int           // chunks embedded and stored
	Failures  []error       // documents that could not be re-embedded, each naming its id
	Elapsed   time.Duration // wall time
}

// Write prints the summary for a person.
func (s ReindexSummary) Write(w io.Writer) {
	if s.Pending == 0 {
		fmt.Fprintln(w, "nothing to reindex: every document has its chunks (--all redoes them anyway)")
		return
	}
	rate := 0.0
	if s.Elapsed > 0 {
		rate = float64(s.Chunks) / s.Elapsed.Seconds()
	}
	fmt.Fprintf(w, "reindexed %d of %d documents (%d chunks) in %s, %.1f chunks/s; %d failed\n",
		s.Documents, s.Pending, s.Chunks, s.Elapsed.Round(time.Millisecond), rate, len(s.Failures))
	for _, err := range s.Failures {
		fmt.Fprintf(w, "  failed %v\n", err)
	}
}

// reindexGroup is what Reindex's reader hands its embedder: documents
// chunked and ready for vectors, and those that could not be chunked.
type reindexGroup struct {
	docs   []store.Document
	failed []error
}

// HoldsModel reports whether st holds vectors of the model info describes:
// the same name, dims and weights, as store.Open compares them (a store
// that never recorded its weights holds any of its model's).
func HoldsModel(st *store.Store, info embedder.ModelInfo) bool {
	return st.Model() == info.Name && st.Dims() == info.Dims && (st.Weights() == "" || st.Weights() == info.WeightType)
}

// Reindex re-chunks and re-embeds the stored documents that have no chunks
// (all of them after the store was opened with Reembed for a new model), or
// every document with opts.All, and writes them back in transactions of up
// to 64 documents. Each document is replaced whole in one transaction, so
// an interrupted Reindex leaves every document with its text, either with
// its new chunks or with none (found by no search until Reindex runs again
// and finishes the rest).
//
// A document that cannot be chunked is listed in the summary and the rest
// carry on. Reindex returns an error when the options are wrong (the store
// holds another model than the embedder's), when ctx ends, or when the
// store or the embedder fails as a whole; the summary counts what was done.
func Reindex(ctx context.Context, opts ReindexOptions) (ReindexSummary, error) {
	start := time.Now()
	var sum ReindexSummary
	if opts.Store == nil || opts.Embedder == nil {
		return sum, errors.New("reindex: give a store and an embedder")
	}
	st, emb := opts.Store, opts.Embedder
	if info := emb.Info(); !HoldsModel(st, info) {
		return sum, fmt.Errorf("reindex %s: it holds %s but the embedder runs %s; open it for that model with re-embedding: %w",
			st.Path(), store.DescribeModel(st.Model(), st.Weights(), st.Dims()), store.DescribeModel(info.Name, info.WeightType, info.Dims), store.ErrModelMismatch)
	}
	var ids []string
	var err error
	if opts.All {
		ids, err = st.IDs(ctx)
	} else {
		ids, err = st.Unchunked(ctx)
	}
	if err != nil {
		return sum, fmt.Errorf("reindex: %w", err)
	}
	sum.Pending = len(ids)
	prog := newCountProgress(opts.Progress, "reindex", "documents", len(ids))
	defer prog.stop()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// The reader chunks the next group while the current one is embedded;
	// a group holds enough chunks to keep embedDocs' three calls busy.
	groups := make(chan reindexGroup, 1)
	go func() {
		defer close(groups)
		var g reindexGroup
		chunks := 0
		send := func() bool {
			select {
			case groups <- g:
				g, chunks = reindexGroup{}, 0
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, id := range ids {
			d, err := st.Get(id)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since the list was made
			}
			if err != nil {
				cancel(fmt.Errorf("reindex: %w", err))
				return
			}
			sd, err := prepare(ctx, emb, Doc{ID: d.ID, Title: d.Title, Text: d.Text, Metadata: d.Metadata, Source: d.Source})
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				g.failed = append(g.failed, fmt.Errorf("document %q: %w", id, err))
				continue
			}
			g.docs = append(g.docs, sd)
			if chunks += len(sd.Chunks); chunks >= 3*embedCall && !send() {
				return
			}
		}
		if len(g.docs)+len(g.failed) > 0 {
			send()
		}
	}()

	var failed error
write:
	for g := range groups {
		sum.Failures = append(sum.Failures, g.failed...)
		prog.filesDone(len(g.failed), 0)
		if failed = embedDocs(ctx, emb, g.docs, false); failed != nil {
			break
		}
		for lo := 0; lo < len(g.docs); lo += putBatch {
			batch := g.docs[lo:min(lo+putBatch, len(g.docs))]
			if err := st.Put(ctx, batch); err != nil {
				failed = fmt.Errorf("reindex: %w", err)
				break write
			}
			if opts.OnStored != nil {
				opts.OnStored(batch)
			}
			chunks := 0
			for _, d := range batch {
				chunks += len(d.Chunks)
			}
			sum.Documents += len(batch)
			sum.Chunks += chunks
			prog.filesDone(len(batch), chunks)
		}
	}
	// The reader may have stopped on an error of its own, or the caller's
	// ctx ended; either is the cause. Then stop the reader and wait for it.
	if failed == nil {
		failed = context.Cause(ctx)
	}
	cancel(nil)
	for range groups {
	}
	sum.Elapsed = time.Since(start)
	return sum, failed
}
