package indexer

import (
	"context"
	"errors"
	"fmt"

	"github.com/edgesearch/edgesearch/store"
)

// writer is Import's last stage: it gathers embedded files and writes them
// in batched transactions. Only Import's own goroutine uses it.
type writer struct {
	opts    ImportOptions
	sum     *Summary
	prog    *progress
	pending []*fileJob
	ids     map[string]bool // ids in pending: a batch must not hold one twice
	docs    int
}

// add takes a file out of the pipeline: failures go to the summary, its
// documents to the next batch. A document whose id is already waiting
// (the same row id in two files) forces a write first, so the later one
// replaces the earlier as it would have one by one.
func (w *writer) add(ctx context.Context, j *fileJob) error {
	w.sum.Failures = append(w.sum.Failures, j.failures...)
	if j.err != nil {
		w.sum.Failures = append(w.sum.Failures, Failure{Path: j.path, Err: j.err})
		w.done(j, 0, 0)
		return nil
	}
	if len(j.docs)+len(j.raw) == 0 {
		w.done(j, 0, 0)
		return nil
	}
	if w.ids == nil {
		w.ids = make(map[string]bool)
	}
	for _, id := range j.ids() {
		if w.ids[id] {
			if err := w.flush(ctx); err != nil {
				return err
			}
			break
		}
	}
	for _, id := range j.ids() {
		w.ids[id] = true
	}
	w.pending = append(w.pending, j)
	w.docs += len(j.docs) + len(j.raw)
	return nil
}

// done counts a piece written (stored documents of it, chunks stored
// with them), failed or with nothing to write, and its file once every
// piece of it is.
func (w *writer) done(j *fileJob, stored, chunks int) {
	f := j.file
	if f == nil { // a job made by hand, in one piece
		f = &fileState{}
		j.pieces = 1
	}
	f.seen++
	f.stored += stored
	f.unchanged += j.unchanged
	w.sum.UnchangedDocuments += j.unchanged
	if j.pieces > 0 {
		// The last piece says how many there are; it may come before
		// others, which then find the count here.
		f.pieces = j.pieces
	}
	complete := f.pieces > 0 && f.seen == f.pieces
	if complete {
		switch {
		case f.stored > 0:
			w.sum.Imported++
		case f.unchanged > 0 && j.err == nil:
			w.sum.Unchanged++
		}
	}
	if !f.rowFile {
		if complete {
			w.prog.filesDone(1, chunks)
		} else {
			w.prog.filesDone(0, chunks)
		}
		return
	}
	w.prog.rowsStored(f, j.rows, chunks)
	if complete {
		w.prog.rowFileDone(f)
	}
}

func (j *fileJob) ids() []string {
	ids := make([]string, 0, len(j.docs)+len(j.raw))
	for _, d := range j.docs {
		ids = append(ids, d.ID)
	}
	for _, d := range j.raw {
		ids = append(ids, d.ID)
	}
	return ids
}

// flush writes the pending files in one transaction (or one Send). When that
// fails it writes them file by file (piece by piece), so one bad file fails
// alone. Only the end of ctx and a full disk (store.ErrNoSpace) stop the
// import; other errors become failures of the files.
func (w *writer) flush(ctx context.Context) error {
	if len(w.pending) == 0 {
		return nil
	}
	files := w.pending
	w.pending, w.docs = nil, 0
	clear(w.ids)
	if err := w.write(ctx, files); err != nil {
		if ctx.Err() != nil || errors.Is(err, store.ErrNoSpace) {
			// A full disk fails every file alike: stop and say so once.
			return err
		}
		for _, j := range files {
			if err := w.write(ctx, []*fileJob{j}); err != nil {
				if ctx.Err() != nil || errors.Is(err, store.ErrNoSpace) {
					return err
				}
				w.sum.Failures = append(w.sum.Failures, Failure{Path: j.path, Err: err})
				w.done(j, 0, 0)
			}
		}
	}
	return nil
}

// write stores (or sends) the documents of files and counts them done.
func (w *writer) write(ctx context.Context, files []*fileJob) error {
	var docs []store.Document
	var raw []Doc
	for _, j := range files {
		docs = append(docs, j.docs...)
		raw = append(raw, j.raw...)
	}
	if w.opts.Send != nil {
		sent, err := w.opts.Send(ctx, raw)
		if err != nil {
			return fmt.Errorf("send %d documents: %w", len(raw), err)
		}
		// The server says how many it already held as they are, not which.
		// When it held them all, every file of the batch is unchanged, as a
		// local import finds them (a rerun's usual case); otherwise the
		// files count as imported and the documents as the server says.
		w.sum.Documents += len(raw) - sent.Unchanged
		w.sum.Chunks += sent.Chunks
		w.prog.filesDone(0, sent.Chunks)
		if len(raw) > 0 && sent.Unchanged == len(raw) {
			for _, j := range files {
				j.unchanged += len(j.raw) // done counts them in the summary
				w.done(j, 0, 0)
			}
			return nil
		}
		w.sum.UnchangedDocuments += sent.Unchanged
		for _, j := range files {
			w.done(j, len(j.raw), 0)
		}
		return nil
	}
	if err := w.opts.Store.Put(ctx, docs); err != nil {
		return err
	}
	w.sum.Documents += len(docs)
	for _, j := range files {
		w.sum.Chunks += j.chunks
		w.done(j, len(j.docs), j.chunks)
	}
	return nil
}
