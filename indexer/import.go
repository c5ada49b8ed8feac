package indexer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/store"
)

// Batching of store writes during Import: one transaction (one fsync) per
// this many documents, or sooner when documents have waited this long.
const (
	putBatch = 64
	putEvery = time.Second
)

// ImportOptions configure Import. Give Store and Embedder to index locally,
// or Send to hand the parsed documents to someone else (a running server).
type ImportOptions struct {
	Store    *store.Store   // where documents go; required unless Send is set
	Embedder *embedder.Pool // embeds the chunks; required unless Send is set
	// Send, when set, receives the parsed documents in batches instead of
	// the store; nothing is chunked or embedded locally and unchanged files
	// are not detected.
	Send func(ctx context.Context, docs []Doc) (Sent, error)
	// Workers is the number of files parsed and chunked at once; default
	// one per CPU core.
	Workers int
	// Limits bound the parse of each file; zero fields mean the defaults
	// (see Limits). A file over a limit fails alone with ErrLimit.
	Limits Limits
	// Progress receives a progress bar when it is a terminal, else a log
	// line every few seconds; nil means silence.
	Progress io.Writer

	// SourceIDs and Remove let Import remove, with Send, the documents a
	// changed file no longer holds: SourceIDs returns the ids of the
	// documents stored from each of the given sources, Remove deletes ids
	// and returns how many were stored. With a Store they default to its
	// IDsBySource and DeleteBatch; with Send and either nil, stale
	// documents are left alone.
	SourceIDs func(ctx context.Context, sources []string) (map[string][]string, error)
	Remove    func(ctx context.Context, ids []string) (int, error)
}

// Sent is what a Send function learned from the receiver.
type Sent struct {
	Chunks    int // chunks it embedded and stored
	Unchanged int // documents it already held as sent, so did not store again
}

// Failure is a file or row that could not be imported.
type Failure struct {
	Path string // the file, as found by the walk
	Line int    // the row for JSONL and CSV, else 0
	Err  error
}

func (f Failure) String() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", f.Path, f.Line, f.Err)
	}
	return fmt.Sprintf("%s: %v", f.Path, f.Err)
}

// Summary says what Import did.
type Summary struct {
	Files     int       // files of a supported type found
	Imported  int       // files whose documents were stored (or sent)
	Unchanged int       // files skipped because their text is already stored
	Skipped   []string  // files of unknown type, left alone
	Failures  []Failure // files and rows that failed, in path order
	Documents int       // documents stored
	// UnchangedDocuments counts the documents found already stored as they
	// are (those of unchanged files too), so not embedded again: rows an
	// import cut short had stored, rows of a file edited elsewhere.
	UnchangedDocuments int
	Chunks             int           // chunks embedded and stored
	Removed            int           // documents removed: their file changed and no longer holds them
	StaleKept          int           // documents no longer in a file that had failures, kept
	Elapsed            time.Duration // wall time of the whole import
}

// ChunksPerSecond is the import throughput.
func (s Summary) ChunksPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Chunks) / s.Elapsed.Seconds()
}

// Write prints the summary for a person.
func (s Summary) Write(w io.Writer) {
	fmt.Fprintf(w, "imported %d files (%d documents, %d chunks) in %s, %.1f chunks/s; %d unchanged, %d failed, %d skipped (unknown type)\n",
		s.Imported, s.Documents, s.Chunks, s.Elapsed.Round(time.Millisecond), s.ChunksPerSecond(),
		s.Unchanged, len(s.Failures), len(s.Skipped))
	if s.UnchangedDocuments > 0 {
		fmt.Fprintf(w, "left %d documents already stored as they are\n", s.UnchangedDocuments)
	}
	if s.Removed > 0 {
		fmt.Fprintf(w, "removed %d documents that their changed files no longer hold\n", s.Removed)
	}
	if s.StaleKept > 0 {
		fmt.Fprintf(w, "kept %d documents that a changed file with failures no longer holds; fix the file and import it again to remove them\n", s.StaleKept)
	}
	for _, p := range s.Skipped {
		fmt.Fprintf(w, "  skipped %s: not a supported type (.txt .md .html .pdf .jsonl .csv)\n", p)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "  failed %s\n", f)
	}
}

// fileJob is one file, or one piece of a row file, on its way through the
// pipeline. A JSONL or CSV file goes in pieces of up to putBatch documents
// or embedCall chunks, so that its rows are stored, and counted, as they
// are embedded rather than when the whole file is.
type fileJob struct {
	path      string
	file      *fileState       // shared by the pieces of one file
	pieces    int              // on a file's last piece: how many it has, else 0
	rows      int              // rows of the file this piece accounts for
	docs      []store.Document // prepared; vectors filled by the embed stage
	raw       []Doc            // parsed documents, for Send
	unchanged int              // documents skipped as already stored
	chunks    int              // chunks of docs
	failures  []Failure
	err       error

	// The file's source (the absolute path its documents are stored
	// under) and the id of every document of this piece, stored or not.
	source   string
	produced []string
}

// fileState is what the writer learns of a file as its pieces arrive (in
// any order: they are embedded side by side).
type fileState struct {
	rowFile   bool
	pieces    int // how many, once the last piece has come
	seen      int // pieces written or failed
	stored    int // documents stored (or sent)
	unchanged int // documents already stored as they are
}

// Import reads every supported file under paths (directories recursively,
// hidden files and directories skipped), parses and chunks them on Workers
// goroutines, embeds the chunks in large calls so the embedder batches them,
// and writes the documents in transactions of up to 64 documents or one
// second. A file whose every document is already stored is skipped as
// unchanged. A file or row that fails is recorded in the summary and the
// rest carry on.
//
// A changed file's documents get new ids (see the package comment), so
// after everything is written, documents stored from a file of this import
// (with its path as their source) whose ids the file no longer holds are
// removed (Summary.Removed): the old version of an edited file, the rows
// gone from a JSONL or CSV file. They are kept when any part of that file
// failed, or when the id now comes from another file of the same import.
// Because this runs at the end of every import, an import interrupted
// before it is completed by the next one. Files that are no longer there
// are not looked for; their documents stay.
//
// Import returns an error only when it cannot go on: a path that does not
// exist, bad options, ctx ending, or the store or embedder failing as a
// whole. The summary counts what was done until then.
func Import(ctx context.Context, paths []string, opts ImportOptions) (Summary, error) {
	start := time.Now()
	var sum Summary
	if opts.Send == nil && (opts.Store == nil || opts.Embedder == nil) {
		return sum, errors.New("import: give a store and an embedder, or a Send function")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	files, err := walk(paths, &sum)
	if err != nil {
		return sum, err
	}
	sum.Files = len(files)
	prog := newProgress(opts.Progress, len(files))
	defer prog.stop()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Stage 1: parse and chunk, Workers files at a time.
	paths2 := make(chan string)
	parsed := make(chan *fileJob, opts.Workers)
	go func() {
		defer close(paths2)
		for _, f := range files {
			select {
			case paths2 <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	var pw sync.WaitGroup
	for range opts.Workers {
		pw.Go(func() {
			for p := range paths2 {
				ok := parseJob(ctx, p, opts, prog, func(j *fileJob) bool {
					select {
					case parsed <- j:
						return true
					case <-ctx.Done():
						return false
					}
				})
				if !ok {
					return
				}
			}
		})
	}
	go func() { pw.Wait(); close(parsed) }()

	// Stage 2: group files into batches of at least embedCall chunks, handed
	// over only when an embed goroutine is free, so batches grow while the
	// embedder is busy; then embed them.
	batches := make(chan []*fileJob)
	go func() {
		defer close(batches)
		var batch []*fileJob
		chunks := 0
		in := parsed
		for in != nil || len(batch) > 0 {
			var out chan []*fileJob
			if len(batch) > 0 {
				out = batches
			}
			if chunks >= embedCall || (in == nil && len(batch) > 0) {
				select {
				case batches <- batch:
					batch, chunks = nil, 0
				case <-ctx.Done():
					return
				}
				continue
			}
			select {
			case j, ok := <-in:
				if !ok {
					in = nil
					continue
				}
				batch = append(batch, j)
				chunks += j.chunks
			case out <- batch:
				batch, chunks = nil, 0
			case <-ctx.Done():
				return
			}
		}
	}()
	embedded := make(chan *fileJob, 2*putBatch)
	var ew sync.WaitGroup
	for range 3 {
		ew.Go(func() {
			for batch := range batches {
				var docs []store.Document
				for _, j := range batch {
					if j.err == nil {
						docs = append(docs, j.docs...)
					}
				}
				if opts.Send == nil {
					if err := embedDocs(ctx, opts.Embedder, docs, false); err != nil {
						cancel(err)
						return
					}
				}
				// The copies in docs share their chunk slices with the
				// jobs, so the jobs now hold the vectors too.
				for _, j := range batch {
					select {
					case embedded <- j:
					case <-ctx.Done():
						return
					}
				}
			}
		})
	}
	go func() { ew.Wait(); close(embedded) }()

	// Stage 3: write in batched transactions.
	w := writer{opts: opts, sum: &sum, prog: prog}
	files2 := importedFiles{sources: make(map[string]string), ids: make(map[string]bool)}
	timer := time.NewTimer(putEvery)
	timer.Stop()
	for done := false; !done; {
		select {
		case j, ok := <-embedded:
			if !ok {
				done = true
				break
			}
			files2.add(j)
			if err := w.add(ctx, j); err != nil {
				cancel(err)
				done = true
				break
			}
			if len(w.pending) == 1 {
				timer.Reset(putEvery)
			}
			if w.docs >= putBatch {
				err = w.flush(ctx)
			}
		case <-timer.C:
			err = w.flush(ctx)
		case <-ctx.Done():
			done = true
		}
		if err != nil {
			cancel(err)
			done = true
		}
	}
	if err == nil && context.Cause(ctx) == nil {
		err = w.flush(ctx)
	}
	if err == nil && context.Cause(ctx) == nil {
		err = files2.prune(ctx, opts, &sum)
	}
	if err == nil {
		err = context.Cause(ctx)
	}
	slices.SortFunc(sum.Failures, func(a, b Failure) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	sum.Elapsed = time.Since(start)
	return sum, err
}

// walk lists the supported files under paths in lexical order; unknown
// types go to sum.Skipped. A path that does not exist is an error: the user
// mistyped it.
func walk(paths []string, sum *Summary) ([]string, error) {
	var files []string
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
		if !info.IsDir() {
			if Supported(root) {
				files = append(files, root)
			} else {
				sum.Skipped = append(sum.Skipped, root)
			}
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				sum.Failures = append(sum.Failures, Failure{Path: p, Err: err})
				return nil
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if Supported(p) {
				files = append(files, p)
			} else {
				sum.Skipped = append(sum.Skipped, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", root, err)
		}
	}
	return files, nil
}

// parseJob parses one file, checks for unchanged documents and chunks the
// rest, and hands the file to emit: whole, or for a JSONL or CSV file in
// pieces as they are ready. It returns false when emit did (ctx ended).
func parseJob(ctx context.Context, path string, opts ImportOptions, prog *progress, emit func(*fileJob) bool) bool {
	file := &fileState{rowFile: !wholeFile(path)}
	j := &fileJob{path: path, file: file}
	docs, rowErrs, err := ParseFile(ctx, path, opts.Limits)
	for _, r := range rowErrs {
		f := Failure{Path: path, Err: r}
		if re, ok := errors.AsType[*RowError](r); ok {
			f.Line, f.Err = re.Line, re.Err
		}
		j.failures = append(j.failures, f)
	}
	// Parse gives every document the file's absolute path as its source.
	// (A file with nothing left in it fails to parse, so its documents stay.)
	if err == nil {
		j.source, err = filepath.Abs(path)
	}
	if err != nil {
		j.err, j.pieces = err, 1
		return emit(j)
	}
	if file.rowFile {
		prog.rowFile(file, len(docs)+len(rowErrs))
	}
	j.rows = len(rowErrs)
	// Later rows with the same id replace earlier ones, as they would if
	// sent one by one: only the last of each id goes on.
	last := make(map[string]int, len(docs))
	for i := range docs {
		if err := normalize(&docs[i]); err != nil {
			j.failures = append(j.failures, Failure{Path: path, Err: fmt.Errorf("document %q: %w", docs[i].ID, err)})
			docs[i].ID = "" // not an id: never the last of one
			j.rows++
			continue
		}
		last[docs[i].ID] = i
	}
	pieces := 0
	for i, d := range docs {
		if d.ID == "" || last[d.ID] != i {
			if d.ID != "" {
				j.rows++ // replaced by a later row
			}
			continue
		}
		j.rows++
		j.produced = append(j.produced, d.ID)
		switch {
		case opts.Send != nil:
			j.raw = append(j.raw, d)
		default:
			if same, err := unchanged(opts.Store, d, !file.rowFile, opts.Limits); err != nil {
				j.err, j.pieces = err, pieces+1
				return emit(j)
			} else if same {
				j.unchanged++
				continue
			}
			sd, err := prepare(ctx, opts.Embedder, d)
			if err != nil {
				j.failures = append(j.failures, Failure{Path: path, Err: fmt.Errorf("document %q: %w", d.ID, err)})
				continue
			}
			j.docs = append(j.docs, sd)
			j.chunks += len(sd.Chunks)
		}
		if len(j.docs)+len(j.raw) >= putBatch || j.chunks >= embedCall {
			pieces++
			if !emit(j) {
				return false
			}
			j = &fileJob{path: path, file: file, source: j.source}
		}
	}
	j.pieces = pieces + 1
	return emit(j)
}

// unchanged reports whether d is stored with the same id and text, so it
// need not be embedded again: under the same source, or, for the document
// of a whole file (whose id is that of the file's bytes), under the path of
// another file that still holds the same bytes. Copies of a file are one
// document, and without the second rule the copies would take it from one
// another, embedding it again, on every import. A file moved away from its
// stored path is stored again under the new one.
func unchanged(st *store.Store, d Doc, whole bool, lim Limits) (bool, error) {
	hash := store.HashText(d.Text)
	id, ok, err := st.HasHash(d.Source, hash)
	if err != nil {
		return false, err
	}
	if ok && id == d.ID {
		return true, nil
	}
	// Several rows of one file may share a text; HasHash names only one.
	old, err := st.Get(d.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil || old.Hash != hash {
		return false, err
	}
	if old.Source == d.Source {
		return true, nil
	}
	return whole && filepath.IsAbs(old.Source) && holdsBytes(old.Source, d.ID, lim), nil
}

// holdsBytes reports whether the file at path still holds the bytes whose
// fileID is id.
func holdsBytes(path, id string, lim Limits) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, lim.withDefaults().MaxFileBytes+1))
	return err == nil && fileID(data) == id
}

// importedFiles is what Import learns, on its writer goroutine, about the
// files it read, so that it can remove the documents they no longer hold.
type importedFiles struct {
	sources map[string]string // source of the documents -> the file as walked
	ids     map[string]bool   // id of every document of every file read
}

func (r *importedFiles) add(j *fileJob) {
	if j.err != nil || j.source == "" {
		return
	}
	r.sources[j.source] = j.path
	for _, id := range j.produced {
		r.ids[id] = true
	}
}

// pruneBatch is how many stale documents one removal transaction takes.
const pruneBatch = 1024

// prune removes the documents stored from a file of this import whose ids
// no file of the import holds any more. It runs after every document of
// the import is written, so an id that moved to another file is stored
// under that file's source by then and is not a candidate; the check
// against every id seen also keeps it when that file's write failed. A
// file with any failure keeps its stale documents: a row that failed to
// parse may be one of them, and removing it would lose it.
func (r *importedFiles) prune(ctx context.Context, opts ImportOptions, sum *Summary) error {
	sourceIDs, remove := opts.SourceIDs, opts.Remove
	if opts.Send == nil {
		sourceIDs, remove = opts.Store.IDsBySource, opts.Store.DeleteBatch
	}
	if len(r.sources) == 0 || sourceIDs == nil || remove == nil {
		return nil
	}
	failed := make(map[string]bool)
	for _, f := range sum.Failures {
		failed[f.Path] = true
	}
	sources := make([]string, 0, len(r.sources))
	for src := range r.sources {
		sources = append(sources, src)
	}
	slices.Sort(sources)
	stored, err := sourceIDs(ctx, sources)
	if err != nil {
		return fmt.Errorf("import: find documents removed from their files: %w", err)
	}
	var stale []string
	for _, src := range sources {
		for _, id := range stored[src] {
			switch {
			case r.ids[id]:
			case failed[r.sources[src]]:
				sum.StaleKept++
			default:
				stale = append(stale, id)
			}
		}
	}
	for lo := 0; lo < len(stale); lo += pruneBatch {
		batch := stale[lo:min(lo+pruneBatch, len(stale))]
		n, err := remove(ctx, batch)
		if err != nil {
			return fmt.Errorf("import: remove %d documents gone from their files: %w", len(batch), err)
		}
		sum.Removed += n
	}
	return nil
}
