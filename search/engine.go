package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgesearch/edgesearch/store"
)

// GraphFile is the name of the persisted vector graph in EngineOptions.Dir.
const GraphFile = "hnsw.graph"

// DefaultSaveAfter is how many indexed or removed chunks make the engine
// persist its graph in the background when EngineOptions.SaveAfter is zero.
const DefaultSaveAfter = 2000

// ErrBehind means Save found the store holding writes the engine has not
// indexed (made to the store outside Write, or a Write whose indexing
// failed), so the graph was not saved under a generation it does not
// match; the next Open rebuilds it.
var ErrBehind = errors.New("search index is behind the store")

// EngineOptions configure Open.
type EngineOptions struct {
	// Dir holds the persisted graph (Dir/hnsw.graph), normally the directory
	// of the store file. Required.
	Dir string
	// Params tune the vector graph. A persisted graph built with another
	// M or EfConstruction than a non-zero value here is rebuilt; EfSearch
	// is applied to a loaded graph as is.
	Params Params
	// Progress receives a line now and then while the graph is rebuilt.
	// Nil discards them.
	Progress io.Writer
	// SaveAfter is how many chunk changes trigger a background save of
	// the graph; default DefaultSaveAfter, negative never (Close still saves).
	SaveAfter int
	// FacetScan is how many documents (semantic and hybrid search) or
	// keyword postings (keyword search) one Facets call visits at most;
	// 0 takes MaxFacetScan. Past it the counts are partial.
	FacetScan int
	// Backend, when set, indexes and searches the chunks instead of the
	// engine's own graph and keyword index, which are then not built (see
	// ChunkBackend); the store stays the record. Progress receives its
	// sender's failures.
	Backend ChunkBackend
	// BackendTimeout bounds each call of the sender to Backend that sends
	// a batch of chunks or removes some; 0 means DefaultBackendTimeout,
	// which also bounds the comparison of ids at open at least. serve
	// passes --backend's ?timeout=.
	BackendTimeout time.Duration
}

// Engine answers document queries over a store: the vector graph and the
// keyword index over every chunk, and a small in-memory table from chunk
// to document for filters and results.
//
// Every write goes through Write: to the store first (the source of
// truth), then to the indexes, one change at a time.
//
// An Engine is safe for concurrent use. Searches share a read lock on the
// table; writers are serialised among themselves and add to the indexes
// before taking the table's write lock briefly, so a search never waits for
// a batch to be indexed.
type Engine struct {
	st    *store.Store
	opts  EngineOptions
	index Index

	writeMu  sync.Mutex // serialises writers, saves and the table swap below
	changed  int        // chunk changes since the last save; guarded by writeMu
	saved    bool       // the graph file holds savedGen; guarded by writeMu
	savedGen uint64
	saving   sync.WaitGroup
	saveCh   chan struct{} // 1-slot: a background save is running
	closed   bool          // guarded by writeMu

	mu     sync.RWMutex // guards docs and chunks
	docs   map[string]*docEntry
	chunks map[uint64]chunkRef
	// newest is docs sorted for Newest, made on first use after a change;
	// writers clear it while holding mu for writing.
	newest atomic.Pointer[[]*docEntry]
	facets facetCache // cleared with newest

	stats openStats

	sync *chunkSync // the sender to opts.Backend; nil without one
}

// docEntry is what results and filters need of a document. An entry is
// never modified once published; a replacement publishes a new one.
type docEntry struct {
	id       string
	title    string
	source   string
	metadata map[string]string
	chunks   []uint64 // ids in ordinal order
	created  time.Time
	updated  time.Time

	where atomic.Pointer[map[string]any] // filter payload, made on first use
}

type chunkRef struct {
	doc     *docEntry
	ordinal int
}

type openStats struct {
	loaded     bool
	generation uint64
	took       time.Duration
}

// Open builds an Engine over st. It loads Dir/hnsw.graph when the file was
// saved at the store's current generation, and otherwise (missing, stale or
// damaged) rebuilds the graph from the stored vectors, writing progress
// lines to opts.Progress. The keyword index is always rebuilt from the
// chunk texts. It fails with ErrBadParams for bad options and with the
// store's errors; a bad graph file is never an error, only a rebuild.
func Open(ctx context.Context, st *store.Store, opts EngineOptions) (*Engine, error) {
	if st == nil {
		return nil, fmt.Errorf("open search engine: no store: %w", ErrBadParams)
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("open search engine over %s: no directory for the graph: %w", st.Path(), ErrBadParams)
	}
	if _, err := opts.Params.resolve(); err != nil {
		return nil, fmt.Errorf("open search engine: %w", err)
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.SaveAfter == 0 {
		opts.SaveAfter = DefaultSaveAfter
	}
	e := &Engine{
		st:     st,
		opts:   opts,
		index:  Index{Keywords: NewBM25()},
		saveCh: make(chan struct{}, 1),
		docs:   map[string]*docEntry{},
		chunks: map[uint64]chunkRef{},
	}
	start := time.Now()
	load := e.load
	if opts.Backend != nil {
		load = e.loadTable
	}
	if err := load(ctx); err != nil {
		return nil, err
	}
	if opts.Backend != nil {
		e.sync = newChunkSync(e, opts.Backend)
		go e.sync.run()
	}
	// The load read every chunk; searches will read few of them again.
	if err := st.ReleasePages(); err != nil {
		fmt.Fprintf(opts.Progress, "%v\n", err)
	}
	e.stats.took = time.Since(start)
	return e, nil
}

// graphPath is where the graph is persisted.
func (e *Engine) graphPath() string { return filepath.Join(e.opts.Dir, GraphFile) }

// load fills the indexes and the table from the store, loading the graph
// file when it matches.
func (e *Engine) load(ctx context.Context) error {
	gen, err := e.st.Generation()
	if err != nil {
		return fmt.Errorf("open search engine: %w", err)
	}
	_, nChunks, err := e.st.Count()
	if err != nil {
		return fmt.Errorf("open search engine: %w", err)
	}
	g, why := e.readGraph(gen)
	if g != nil {
		if err := e.walk(ctx, g, false, nChunks); err == nil {
			e.index.Vectors, e.stats.loaded = g, true
			e.saved, e.savedGen = true, gen
			return e.loadDocs()
		} else if !errors.Is(err, errGraphMismatch) {
			return err
		}
		why = "it does not match the stored chunks"
		e.index.Keywords = NewBM25()
		e.chunks = map[uint64]chunkRef{}
	}
	fmt.Fprintf(e.opts.Progress, "rebuilding the vector index of %d chunks (%s)\n", nChunks, why)
	g, err = New(e.opts.Params)
	if err != nil {
		return fmt.Errorf("open search engine: %w", err)
	}
	g.Reserve(nChunks, e.st.Dims())
	if err := e.walk(ctx, g, true, nChunks); err != nil {
		return err
	}
	e.index.Vectors = g
	if err := e.loadDocs(); err != nil {
		return err
	}
	// A rebuilt graph is saved at once, so the next start loads it. A
	// failure to save costs only time at the next start.
	if err := e.Save(); err != nil {
		fmt.Fprintf(e.opts.Progress, "couldn't save the rebuilt vector index: %v\n", err)
	}
	return nil
}

// loadTable fills the table alone from the store, for an engine whose
// chunks a backend indexes.
func (e *Engine) loadTable(ctx context.Context) error {
	var cur *docEntry // a placeholder per document, replaced by loadDocs
	gen, err := e.st.ForEachChunk(ctx, func(c store.Chunk) error {
		if cur == nil || cur.id != c.DocID {
			cur = &docEntry{id: c.DocID}
		}
		e.chunks[c.ID] = chunkRef{doc: cur, ordinal: c.Ordinal}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open search engine: %w", err)
	}
	e.stats.generation = gen
	return e.loadDocs()
}

// readGraph loads the graph file if it is usable at generation gen; else it
// returns nil and the reason, for the progress line.
func (e *Engine) readGraph(gen uint64) (*HNSW, string) {
	f, err := os.Open(e.graphPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, "no saved index"
	}
	if err != nil {
		return nil, fmt.Sprintf("saved index unreadable: %v", err)
	}
	defer f.Close()
	g := &HNSW{}
	if _, err := g.ReadFrom(f); errors.Is(err, ErrVersion) {
		return nil, "saved index has an older format"
	} else if err != nil {
		return nil, fmt.Sprintf("saved index damaged: %v", err)
	}
	if g.Generation() != gen {
		return nil, fmt.Sprintf("saved index is stale: generation %d, store %d", g.Generation(), gen)
	}
	if d := g.Dims(); d != 0 && d != e.st.Dims() {
		return nil, fmt.Sprintf("saved index has %d dims, store %d", d, e.st.Dims())
	}
	p, want := g.Params(), e.opts.Params
	if (want.M != 0 && want.M != p.M) || (want.EfConstruction != 0 && want.EfConstruction != p.EfConstruction) {
		return nil, "saved index was built with other parameters"
	}
	if want.EfSearch != 0 {
		if err := g.SetEfSearch(want.EfSearch); err != nil {
			return nil, err.Error()
		}
	}
	return g, ""
}

var errGraphMismatch = errors.New("graph does not match the store")

// walk reads every stored chunk into the keyword index and the chunk table,
// and into g when add is set; otherwise it checks that g holds exactly the
// stored chunk ids and fails with errGraphMismatch when not.
func (e *Engine) walk(ctx context.Context, g *HNSW, add bool, total int) error {
	n := 0
	last := time.Now()
	var cur *docEntry // a placeholder per document, replaced by loadDocs
	gen, err := e.st.ForEachChunk(ctx, func(c store.Chunk) error {
		if add {
			if err := g.Add(c.ID, c.Vector); err != nil {
				return fmt.Errorf("index chunk %d of document %q: %w", c.ID, c.DocID, err)
			}
		} else if !g.Contains(c.ID) {
			return errGraphMismatch
		}
		if err := e.index.Keywords.Add(c.ID, c.Text); err != nil {
			return fmt.Errorf("index chunk %d of document %q: %w", c.ID, c.DocID, err)
		}
		if cur == nil || cur.id != c.DocID {
			cur = &docEntry{id: c.DocID}
		}
		e.chunks[c.ID] = chunkRef{doc: cur, ordinal: c.Ordinal}
		n++
		if add && time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(e.opts.Progress, "  %d/%d chunks indexed\n", n, total)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errGraphMismatch) {
			return err
		}
		return fmt.Errorf("open search engine: %w", err)
	}
	if !add && n != g.Len() {
		return errGraphMismatch
	}
	if add {
		g.SetGeneration(gen)
		fmt.Fprintf(e.opts.Progress, "  %d chunks indexed\n", n)
	}
	e.stats.generation = gen
	return nil
}

// loadDocs reads every document's title, source and metadata into the
// table and points the chunk entries walk made at them.
func (e *Engine) loadDocs() error {
	const page = 256
	for off := 0; ; off += page {
		docs, total, err := e.st.List(off, page)
		if err != nil {
			return fmt.Errorf("open search engine: %w", err)
		}
		for i := range docs {
			d := &docs[i]
			e.docs[d.ID] = &docEntry{id: d.ID, title: d.Title, source: d.Source, metadata: d.Metadata,
				created: d.Created, updated: d.Updated}
		}
		if len(docs) < page || off+page >= total {
			break
		}
	}
	// Chunk ids ascend with ordinals within a document, but the walk went
	// by key order; ordinals say where each id goes. No ordinal can reach
	// the number of chunks stored: one that does is damage, and would make
	// the loop below allocate up to 2^31 slots.
	for id, ref := range e.chunks {
		if ref.ordinal >= len(e.chunks) {
			return fmt.Errorf("open search engine: chunk %d of document %q has ordinal %d, beyond the %d chunks stored: %w",
				id, ref.doc.id, ref.ordinal, len(e.chunks), store.ErrCorrupt)
		}
		d, ok := e.docs[ref.doc.id]
		if !ok {
			// A document deleted between the walk and the listing.
			delete(e.chunks, id)
			continue
		}
		for len(d.chunks) <= ref.ordinal {
			d.chunks = append(d.chunks, 0)
		}
		d.chunks[ref.ordinal] = id
		e.chunks[id] = chunkRef{doc: d, ordinal: ref.ordinal}
	}
	return nil
}

// Loaded reports whether Open loaded the persisted graph (true) or rebuilt
// it from the store (false).
func (e *Engine) Loaded() bool { return e.stats.loaded }

// Store returns the store the engine indexes.
func (e *Engine) Store() *store.Store { return e.st }

// Len returns the number of documents and chunks the engine has indexed.
func (e *Engine) Len() (documents, chunks int) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, d := range e.docs {
		if len(d.chunks) > 0 {
			documents++
		}
	}
	return documents, len(e.chunks)
}

// Get reads the stored document id with its chunks (see store.Store.Get).
func (e *Engine) Get(id string) (store.Document, error) { return e.st.Get(id) }

// Newest returns up to limit documents after the first offset, newest
// first: by the time each id was first stored (store.Document.Created),
// latest first, then by id; and how many documents there are. The
// documents carry no text or chunks. It reads the engine's table, not the
// store; the order is sorted once per change to the documents. It fails
// with ErrBadParams for a negative offset or a limit below 1.
func (e *Engine) Newest(offset, limit int) ([]store.Document, int, error) {
	if offset < 0 || limit < 1 {
		return nil, 0, fmt.Errorf("list documents: offset %d, limit %d: %w", offset, limit, ErrBadParams)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	order := e.newest.Load()
	if order == nil {
		all := make([]*docEntry, 0, len(e.docs))
		for _, d := range e.docs {
			all = append(all, d)
		}
		slices.SortFunc(all, func(a, b *docEntry) int {
			return cmp.Or(b.created.Compare(a.created), strings.Compare(a.id, b.id))
		})
		// Writers clear the cache only under the write lock, so nothing
		// changed since this read lock was taken.
		e.newest.CompareAndSwap(nil, &all)
		order = &all
	}
	all := *order
	var out []store.Document
	for _, d := range all[min(offset, len(all)):min(offset+limit, len(all))] {
		out = append(out, store.Document{ID: d.id, Title: d.title, Source: d.source,
			Metadata: maps.Clone(d.metadata), Created: d.created, Updated: d.updated})
	}
	return out, len(all), nil
}

// ChunkCount returns how many chunks of document id are indexed (0 for an
// unknown id).
func (e *Engine) ChunkCount(id string) int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if d := e.docs[id]; d != nil {
		return len(d.chunks)
	}
	return 0
}

// Write applies c to the store (one transaction, on disk when it returns;
// see store.Store.Write) and then to the indexes, and returns how many of
// c.Delete were stored. It is the engine's only write: while an engine is
// open it is the store's only writer, so the indexes follow the store
// change by change. On a store error nothing was stored or indexed; an
// index error after the store committed leaves the engine behind the store
// (Save answers ErrBehind) until it is opened again.
func (e *Engine) Write(ctx context.Context, c store.Change) (int, error) {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	n, err := e.st.Write(ctx, c)
	if err != nil {
		return 0, err
	}
	for _, id := range c.Delete {
		e.removeLocked(id)
	}
	err = e.indexLocked(c.Put)
	e.maybeSave()
	return n, err
}

// indexLocked adds docs, as the store returned them (chunk ids set), to
// the indexes and the table, replacing what was indexed under their ids.
func (e *Engine) indexLocked(docs []store.Document) error {
	for i := range docs {
		d := &docs[i]
		entry := &docEntry{id: d.ID, title: d.Title, source: d.Source,
			metadata: maps.Clone(d.Metadata), chunks: make([]uint64, len(d.Chunks)),
			created: d.Created, updated: d.Updated}
		// New chunks go into the indexes first: searches ignore ids the
		// table does not know, so they stay invisible until the swap.
		for j := range d.Chunks {
			c := &d.Chunks[j]
			if c.ID == 0 {
				return fmt.Errorf("index document %q chunk %d: no chunk id: %w", d.ID, j, ErrBadParams)
			}
			entry.chunks[j] = c.ID
			if e.sync != nil {
				continue // queued for the backend below, once in the table
			}
			if err := e.index.Vectors.Add(c.ID, c.Vector); err != nil {
				return fmt.Errorf("index document %q chunk %d: %w", d.ID, j, err)
			}
			text := c.Text
			if text == "" && c.Start >= 0 && c.End <= len(d.Text) && c.Start < c.End {
				text = d.Text[c.Start:c.End]
			}
			if err := e.index.Keywords.Add(c.ID, text); err != nil {
				return fmt.Errorf("index document %q chunk %d: %w", d.ID, j, err)
			}
		}
		e.mu.Lock()
		old := e.docs[d.ID]
		e.docs[d.ID] = entry
		e.newest.Store(nil)
		e.facets.clear()
		if old != nil {
			for _, id := range old.chunks {
				delete(e.chunks, id)
			}
		}
		for j, id := range entry.chunks {
			e.chunks[id] = chunkRef{doc: entry, ordinal: j}
		}
		e.mu.Unlock()
		if old != nil {
			e.dropChunks(old.chunks)
		}
		if e.sync != nil {
			e.sync.queue(entry.chunks, nil)
		}
		e.changed += len(entry.chunks)
	}
	return nil
}

// removeLocked drops the document id from the table and the indexes.
func (e *Engine) removeLocked(id string) {
	e.mu.Lock()
	old := e.docs[id]
	delete(e.docs, id)
	e.newest.Store(nil)
	e.facets.clear()
	if old != nil {
		for _, c := range old.chunks {
			delete(e.chunks, c)
		}
	}
	e.mu.Unlock()
	if old != nil {
		e.dropChunks(old.chunks)
		e.changed += len(old.chunks)
	}
}

// dropChunks removes ids the table no longer maps from both indexes.
func (e *Engine) dropChunks(ids []uint64) {
	if e.sync != nil {
		e.sync.queue(nil, ids)
		return
	}
	for _, id := range ids {
		e.index.Vectors.Delete(id)
		e.index.Keywords.Delete(id)
	}
}

// maybeSave starts a background save once enough has changed, unless one
// is running. Called with writeMu held.
func (e *Engine) maybeSave() {
	if e.sync != nil || e.opts.SaveAfter < 0 || e.changed < e.opts.SaveAfter || e.closed {
		return
	}
	select {
	case e.saveCh <- struct{}{}:
	default:
		return
	}
	e.saving.Add(1)
	go func() {
		defer e.saving.Done()
		defer func() { <-e.saveCh }()
		if err := e.Save(); err != nil {
			fmt.Fprintf(e.opts.Progress, "couldn't save the vector index: %v\n", err)
		}
	}()
}

// Save persists the vector graph to Dir/hnsw.graph (written to a temporary
// file, synced and renamed, so a crash leaves the old file or the new one)
// with the store generation it matches. It first checks that the indexes
// hold exactly the stored chunks and fails with ErrBehind if a write is
// not indexed yet. Saving an unchanged engine is a no-op.
func (e *Engine) Save() error {
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.saveLocked()
}

func (e *Engine) saveLocked() error {
	if e.sync != nil {
		return nil // the backend holds the chunks; there is no graph
	}
	g := e.index.Vectors
	gen, err := e.st.Generation()
	if err != nil {
		return fmt.Errorf("save vector index: %w", err)
	}
	if e.saved && e.savedGen == gen && e.changed == 0 {
		return nil
	}
	if gen != g.Generation() || e.changed > 0 {
		// Walk the store to prove the graph matches the generation it will
		// be stamped with: a store written outside Write must not get a
		// graph that claims to match it.
		n := 0
		walked, err := e.st.ForEachChunk(context.Background(), func(c store.Chunk) error {
			if !g.Contains(c.ID) {
				return ErrBehind
			}
			n++
			return nil
		})
		if err != nil {
			return fmt.Errorf("save vector index: %w", err)
		}
		if n != g.Len() {
			return fmt.Errorf("save vector index: store has %d chunks, index %d: %w", n, g.Len(), ErrBehind)
		}
		g.SetGeneration(walked)
	}
	if err := writeFileAtomic(e.graphPath(), g); err != nil {
		return fmt.Errorf("save vector index: %w", err)
	}
	e.changed = 0
	e.saved, e.savedGen = true, g.Generation()
	return nil
}

// writeFileAtomic writes w to path through a synced temporary file in the
// same directory and a rename, then syncs the directory.
func writeFileAtomic(path string, w io.WriterTo) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing to remove
	if _, err := w.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Close waits for a background save, saves the graph and stops background
// work, the backend's sender too (what it had not sent is found and sent
// by the next Open). It does not close the store, which the caller owns.
// ErrBehind is returned if the store holds writes the engine never indexed.
func (e *Engine) Close() error {
	e.writeMu.Lock()
	closed := e.closed
	e.closed = true
	e.writeMu.Unlock()
	e.saving.Wait()
	if e.sync != nil && !closed {
		e.sync.close()
	}
	return e.Save()
}
