package search

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/store"
)

// Limits on a query or scroll of a collection.
const (
	// DefaultQueryLimit is the limit a PointQuery or Scroll takes when it
	// gives none (zero), as Qdrant's query does.
	DefaultQueryLimit = 10
	// MaxQueryLimit is the most points one query or scroll page returns.
	MaxQueryLimit = 10000
	// MaxQueryOffset is the most results a query may skip.
	MaxQueryOffset = 10000
)

// The planner's rule (see plan) compares estimated costs, in units of one
// comparison of the query with a matching point in exact search. A walk
// with a filter keeps expanding until ef accepted points are found, so
// with m of the n points matching it expands about ef·n/m nodes, each
// comparing the node's neighbours: walkCost·ef·n/m. Exact search tests
// the filter on all n points and compares the m matches: scanCost·n + m,
// where a filter test costs scanCost units, or memoScanCost when a sample
// shows few distinct payloads and the filter's answer is remembered per
// payload (matchMemo). The walk's cost grows as the matches shrink, the
// scan's does not. walkCost is fitted to two measurements (notes/
// collections.md, notes/vectorbench.md): 100k 384-d points with a payload
// each, where exact search won at 1% (15 ms against 87 ms), the two were
// even at 2% and the walk won from 10% (8 ms against 25 ms), and 10k 32-d
// points with 100 distinct payloads, where the walk won at 30% (0.2 ms
// against 0.4 ms): it must lie between about 8 and 11. Estimates come
// from sampleSize points drawn at random; a collection of at most
// 2×sampleSize points is counted exactly.
const (
	walkCost     = 10
	scanCost     = 0.75
	memoScanCost = 0.05
	sampleSize   = 512
	memoSample   = sampleSize / 4 // most distinct payloads in the sample for the memo to pay
)

// exactCheaper reports whether exact search over m matches of n points
// is expected to cost less than a filtered walk with this ef.
func exactCheaper(n, m float64, ef int, scan float64) bool {
	return m == 0 || scan*n+m < walkCost*float64(ef)*n/m
}

// When CollectionsOptions.Params gives no EfSearch, a collection's search
// candidate list grows with its size (DefaultCollectionsEf): recall@10 falls as a
// graph grows at a fixed ef. On clustered 384-d points (M 16,
// efConstruction 128; notes/vectorbench.md) ef 96 found 0.999 of the true
// top 10 at 100k points, where 256 found no more at 3.5 times the time;
// at 1M points ef 96 found 0.954, 128 0.965, 200 0.980 and 256 0.982, at a
// median 0.84, 1.1, 1.2 and 1.4 ms a query.
const (
	smallEf      = DefaultEfSearch // up to smallEfMax points
	smallEfMax   = 200000
	millionEf    = 256 // at 1M points, and growing in log n beyond
	millionCount = 1000000
)

// DefaultCollectionsEf is the search ef of a collection of n points when
// CollectionsOptions.Params gives none: 96 up to 200k points, then linear
// in log n through 256 at 1M (325 at 2M).
func DefaultCollectionsEf(n int) int {
	if n <= smallEfMax {
		return smallEf
	}
	grow := math.Log(float64(n)/smallEfMax) / math.Log(millionCount/smallEfMax)
	return min(maxEf, smallEf+int(math.Round(grow*(millionEf-smallEf))))
}

// CollectionsDir is the directory under CollectionsOptions.Dir that holds
// one persisted index per collection, <name>.graph.
const CollectionsDir = "collections"

// CollectionsOptions configure OpenCollections.
type CollectionsOptions struct {
	// Dir holds the persisted indexes, Dir/collections/<name>.graph,
	// normally the directory of the store file. Required.
	Dir string
	// Params tune every vector graph: M, EfConstruction, EfSearch and Seed
	// (zero fields take the defaults; a zero EfSearch grows with the
	// collection: DefaultCollectionsEf).
	// Distance and Int8 are ignored: each vector of a collection has its
	// own distance, and cosine graphs hold int8 codes. A persisted graph
	// built with another M or EfConstruction than a non-zero value here is
	// rebuilt; one saved with another EfSearch takes this one.
	Params Params
	// Progress receives a line now and then while an index is rebuilt.
	// Nil discards them.
	Progress io.Writer
}

// PointQuery asks a collection for the points nearest a vector.
type PointQuery struct {
	Vector []float32
	// Using names the vector to search, "" for the unnamed one.
	Using string
	// Filter keeps the points it matches (nil keeps all). It runs inside
	// the graph walk, or, when it matches few points, picks the points an
	// exact search compares.
	Filter *Filter
	// Limit is how many points to return, 1 to MaxQueryLimit; 0 takes
	// DefaultQueryLimit. Offset skips that many of the best first, 0 to
	// MaxQueryOffset.
	Limit, Offset int
	// ScoreThreshold drops worse results: scores below it for Cosine and
	// Dot, distances above it for Euclid.
	ScoreThreshold *float32
	// WithPayload and WithVectors fill ScoredPoint.Payload and Vectors.
	WithPayload, WithVectors bool
	// Exact compares the query with every point (that passes the filter)
	// instead of walking the graph, as Qdrant's params.exact.
	Exact bool
	// Text, when the collection's points have text (see TextFields), is
	// also searched by BM25 and the two rankings fused by reciprocal rank
	// (scores are then fused ones, which ScoreThreshold does not apply
	// to); without Vector, keyword search alone. A collection without text
	// ignores it and needs Vector.
	Text string
}

// ScoredPoint is one result of Query.
type ScoredPoint struct {
	ID store.PointID
	// Score is Qdrant's: the cosine similarity or the dot product (higher
	// is better), or the Euclidean distance (lower is better).
	Score float32
	// Payload is the point's JSON object as stored (nil when it has none
	// or PointQuery.WithPayload was not set).
	Payload []byte
	// Vectors holds the point's vectors as stored, by name, when
	// PointQuery.WithVectors was set.
	Vectors map[string][]float32
}

// Collections is the search engine over every collection of points in a
// store: one HNSW graph per vector of a collection, and each point's
// payload decoded in memory for filters. Cosine graphs hold int8 codes
// and every search rescores its best candidates from the full vectors,
// kept in a scratch file beside the graphs (see fullVectors).
//
// Writes go through Collections, store first: when Upsert, Delete,
// DeleteWhere or UpdatePayload returns nil the change is on disk, and the
// indexes hold it. A write the store refuses changes nothing.
//
// Collections is safe for concurrent use: queries run in parallel; writes
// are serialised among themselves and add to the graphs before taking a
// collection's table lock briefly, so a query never waits for a batch to
// be indexed, and never sees half of one.
type Collections struct {
	st   *store.Store
	opts CollectionsOptions

	writeMu sync.Mutex // serialises writers, Create, Drop and Close

	mu   sync.RWMutex // guards cols
	cols map[string]*pointIndex
}

// pointIndex is one collection's indexes. Points have internal ids, the
// ids of the graphs, which index slots; a replaced point gets a new one,
// so a query sees either the old point or the new, vectors and payload
// together.
type pointIndex struct {
	name    string
	vectors map[string]store.VectorParams
	graphs  map[string]*HNSW // by vector name
	full    *fullVectors     // cosine vectors for rescoring; nil without any
	text    *BM25            // the points' texts (see TextFields), by internal id
	autoEf  bool             // search ef from the size (no EfSearch was given)

	mu    sync.RWMutex // guards slots and byID
	slots []pointSlot  // internal id → point
	byID  map[store.PointID]uint64

	declared map[string]string // payload indexes asked for: field → schema (guarded by mu)
	fields   fieldIndexes      // the indexes built of them (guarded by mu)

	// Guarded by Collections.writeMu:
	payloads payloadTable // the slots' payloads, shared when equal
	free     []uint64     // internal ids free for reuse
	gen      uint64       // the store generation the indexes hold
	inSync   bool         // false once the store changed other than through us
	dirty    bool         // changed since the file was written (or never written)
	loaded   bool         // opened from its file rather than rebuilt
}

// pointSlot is one internal id: the point it holds, if live, and its
// payload as encoding/json decodes it with UseNumber (nil for none),
// shared with the points whose payload is the same (see sharedPayload).
type pointSlot struct {
	id      store.PointID
	payload *sharedPayload
	live    bool
}

// OpenCollections builds the indexes of every collection in st. For each it
// loads Dir/collections/<name>.graph when the file was written at the
// collection's current generation, and otherwise (missing, stale or
// damaged) rebuilds the graphs from the stored points, writing progress
// lines to opts.Progress and saving the rebuilt file. Payloads are always
// read from the store. It fails with ErrBadParams for bad options and with
// the store's errors; a bad graph file is never an error, only a rebuild.
func OpenCollections(ctx context.Context, st *store.Store, opts CollectionsOptions) (*Collections, error) {
	if st == nil {
		return nil, fmt.Errorf("open collections: no store: %w", ErrBadParams)
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("open collections of %s: no directory for the graphs: %w", st.Path(), ErrBadParams)
	}
	if _, err := opts.Params.resolve(); err != nil {
		return nil, fmt.Errorf("open collections: %w", err)
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, CollectionsDir), 0o755); err != nil {
		return nil, fmt.Errorf("open collections: %w", err)
	}
	c := &Collections{st: st, opts: opts, cols: map[string]*pointIndex{}}
	infos, err := st.Collections()
	if err != nil {
		return nil, fmt.Errorf("open collections: %w", err)
	}
	for _, info := range infos {
		if info.Name == store.DocumentsCollection {
			continue // the documents' chunks: the Engine indexes them
		}
		col, err := c.open(ctx, info)
		if err != nil {
			return nil, err
		}
		c.cols[info.Name] = col
	}
	c.removeOrphans()
	if len(infos) > 0 {
		// The walks read every point; queries will read few of them again.
		if err := st.ReleasePages(); err != nil {
			fmt.Fprintf(opts.Progress, "%v\n", err)
		}
		// And decoded each one: garbage several times the size of the
		// indexes (1.5 KB of float32 a 384-d point), which the runtime
		// would keep mapped up to its heap goal, twice the indexes,
		// until the scavenger got round to it. Hand it back once now.
		debug.FreeOSMemory()
	}
	return c, nil
}

// graphPath is where the collection's indexes are persisted.
func (c *Collections) graphPath(name string) string {
	return filepath.Join(c.opts.Dir, CollectionsDir, name+".graph")
}

// newIndex returns an empty index for a collection with these vectors.
func (c *Collections) newIndex(name string, vectors map[string]store.VectorParams) (*pointIndex, error) {
	col := &pointIndex{
		name:     name,
		vectors:  vectors,
		graphs:   make(map[string]*HNSW, len(vectors)),
		byID:     map[store.PointID]uint64{},
		text:     NewBM25(),
		payloads: newPayloadTable(),
		autoEf:   c.opts.Params.EfSearch == 0,
		inSync:   true,
		dirty:    true,
	}
	for v, vp := range vectors {
		p := c.opts.Params
		p.Distance = vp.Distance
		p.Int8 = quantized(vp)
		g, err := New(p)
		if err != nil {
			return nil, fmt.Errorf("collection %q vector %q: %w", name, v, err)
		}
		col.graphs[v] = g
	}
	return col, nil
}

// open loads or rebuilds one collection's indexes.
func (c *Collections) open(ctx context.Context, info store.CollectionInfo) (*pointIndex, error) {
	col, why := c.readIndex(info)
	if col != nil {
		if err := c.attachFull(col); err != nil {
			return nil, err
		}
		err := c.walk(ctx, col, info, false)
		if err == nil {
			col.loaded, col.dirty = true, false
			return col, nil
		}
		col.full.close()
		if !errors.Is(err, errGraphMismatch) {
			return nil, err
		}
		why = "it does not match the stored points"
	}
	fmt.Fprintf(c.opts.Progress, "rebuilding the vector index of collection %q: %d points (%s)\n", info.Name, info.Points, why)
	col, err := c.newIndex(info.Name, info.Vectors)
	if err != nil {
		return nil, fmt.Errorf("open collection %q: %w", info.Name, err)
	}
	for v, g := range col.graphs {
		g.Reserve(info.Points, info.Vectors[v].Size)
	}
	if err := c.attachFull(col); err != nil {
		return nil, err
	}
	if err := c.walk(ctx, col, info, true); err != nil {
		col.full.close()
		return nil, err
	}
	// Saved at once so the next start loads it; a failure costs only time
	// at the next start.
	if err := c.save(col); err != nil {
		fmt.Fprintf(c.opts.Progress, "couldn't save the rebuilt vector index of collection %q: %v\n", info.Name, err)
	}
	return col, nil
}

// walk reads every stored point of the collection into col's table (and
// into its graphs when add is set; otherwise it checks that col, loaded
// from its file, maps exactly the stored points and fails with
// errGraphMismatch when not). It records the generation walked.
func (c *Collections) walk(ctx context.Context, col *pointIndex, info store.CollectionInfo, add bool) error {
	n := 0
	last := time.Now()
	gen, err := c.st.ForEachPoint(ctx, info.Name, func(p store.Point) error {
		payload, err := decodePointPayload(p.Payload)
		if err != nil {
			return fmt.Errorf("point %v: payload: %w: %v", p.ID, store.ErrCorrupt, err)
		}
		var nid uint64
		if add {
			nid = uint64(len(col.slots))
			for v, g := range col.graphs {
				if err := g.Add(nid, p.Vectors[v]); errors.Is(err, ErrBadVector) {
					// A zero vector under cosine, stored by a writer that
					// did not check: it has no direction to find it by, but
					// stays a point (scroll, count, filters).
					fmt.Fprintf(c.opts.Progress, "collection %q: point %v: vector %q not indexed: %v\n", info.Name, p.ID, v, err)
				} else if err != nil {
					return fmt.Errorf("index point %v vector %q: %w", p.ID, v, err)
				}
			}
			col.slots = append(col.slots, pointSlot{id: p.ID, payload: col.payloads.intern(p.Payload, payload), live: true})
			col.byID[p.ID] = nid
			if err := col.indexText(nid, payload); err != nil {
				return err
			}
			if err := col.full.put(nid, p.Vectors); err != nil {
				return err
			}
		} else {
			var ok bool
			if nid, ok = col.byID[p.ID]; !ok || nid >= uint64(len(col.slots)) || !col.slots[nid].live {
				return errGraphMismatch
			}
			for v, g := range col.graphs {
				if !g.Contains(nid) && !isZero(p.Vectors[v]) {
					return errGraphMismatch
				}
			}
			col.slots[nid].payload = col.payloads.intern(p.Payload, payload)
			if err := col.full.put(nid, p.Vectors); err != nil {
				return err
			}
			if err := col.indexText(nid, payload); err != nil {
				return err
			}
		}
		n++
		if add && time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(c.opts.Progress, "  %d/%d points indexed\n", n, info.Points)
		}
		return nil
	})
	if errors.Is(err, errGraphMismatch) {
		return err
	}
	if err != nil {
		return fmt.Errorf("open collection %q: %w", info.Name, err)
	}
	if !add && (n != len(col.byID) || gen != col.gen) {
		return errGraphMismatch
	}
	if add {
		fmt.Fprintf(c.opts.Progress, "  %d points indexed\n", n)
	}
	col.gen = gen
	col.declared = info.PayloadIndexes
	col.fields.build(col.declared, col.slots)
	return nil
}

// removeOrphans deletes graph files (and temporary files of interrupted
// saves) of collections the store no longer holds. Other files are left.
func (c *Collections) removeOrphans() {
	dir := filepath.Join(c.opts.Dir, CollectionsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		stem, isGraph := strings.CutSuffix(name, ".graph")
		if strings.Contains(name, ".vectors-") {
			// Scratch full vectors that could not be unlinked while open
			// (fullVectors); one still open elsewhere refuses removal.
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if !e.Type().IsRegular() || (!isGraph && !strings.Contains(name, ".graph.tmp")) {
			continue
		}
		if _, live := c.cols[stem]; live && isGraph {
			continue
		}
		os.Remove(filepath.Join(dir, name))
	}
}

func isZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// decodePointPayload decodes a stored payload for Filter.Match: nil for none
// or {}, numbers as json.Number.
func decodePointPayload(p []byte) (map[string]any, error) {
	t := bytes.TrimSpace(p)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// get returns the named collection's index or an error wrapping
// store.ErrNotFound.
func (c *Collections) get(name string) (*pointIndex, error) {
	c.mu.RLock()
	col := c.cols[name]
	c.mu.RUnlock()
	if col == nil {
		return nil, fmt.Errorf("collection %q: %w", name, store.ErrNotFound)
	}
	return col, nil
}

// List describes every collection, in name order, as the store does, but
// for the documents' chunks (DocumentsCollection), which the Engine serves.
func (c *Collections) List() ([]store.CollectionInfo, error) {
	infos, err := c.st.Collections()
	return slices.DeleteFunc(infos, func(i store.CollectionInfo) bool { return i.Name == store.DocumentsCollection }), err
}

// Info describes the named collection, or fails with store.ErrNotFound.
func (c *Collections) Info(name string) (store.CollectionInfo, error) { return c.st.Collection(name) }

// Create creates an empty collection whose points have the given vectors
// (see store.Store.CreateCollection for what it refuses, wrapping
// store.ErrInvalid, and store.ErrExists for a name taken).
func (c *Collections) Create(ctx context.Context, name string, vectors map[string]store.VectorParams) (store.CollectionInfo, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	info, err := c.st.CreateCollection(ctx, name, vectors)
	if err != nil {
		return store.CollectionInfo{}, err
	}
	col, err := c.newIndex(name, info.Vectors)
	if err != nil {
		return store.CollectionInfo{}, err
	}
	// The collection is stored already; if its scratch file cannot be
	// made (a full or read-only disk) it is left to the next start.
	if err := c.attachFull(col); err != nil {
		return store.CollectionInfo{}, err
	}
	col.gen = info.Generation
	c.mu.Lock()
	c.cols[name] = col
	c.mu.Unlock()
	return info, nil
}

// Drop deletes the collection, its points and its persisted index, and
// reports whether it existed.
func (c *Collections) Drop(ctx context.Context, name string) (bool, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	found, err := c.st.DeleteCollection(ctx, name)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	col, had := c.cols[name]
	delete(c.cols, name)
	c.mu.Unlock()
	if had {
		col.full.close()
		if err := os.Remove(c.graphPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(c.opts.Progress, "couldn't remove the vector index of dropped collection %q: %v\n", name, err)
		}
	}
	return found, nil
}

// Upsert stores pts in the collection, replacing points of the same ids,
// payload included (see store.Store.UpsertPoints: one transaction, on disk
// when it returns), and indexes them. It fails with store.ErrNotFound for
// an unknown collection, with store.ErrInvalid for what the store refuses
// (a missing, extra or wrong-sized vector, NaN, a payload that is not a
// JSON object), and with ErrBadVector for an all-zero vector under cosine,
// which has no direction to compare by.
// On error nothing was stored. An empty batch is a no-op.
func (c *Collections) Upsert(ctx context.Context, name string, pts []store.Point) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	col, err := c.get(name)
	if err != nil {
		return fmt.Errorf("upsert %d points: %w", len(pts), err)
	}
	if len(pts) == 0 {
		return nil
	}
	payloads := make([]map[string]any, len(pts))
	for i := range pts {
		p := &pts[i]
		for v, vec := range p.Vectors {
			if vp, ok := col.vectors[v]; ok && vp.Distance == store.Cosine && len(vec) > 0 && isZero(vec) {
				return fmt.Errorf("upsert %d points into collection %q: point %d (id %v): vector %q is all zeros, which cosine cannot compare: %w",
					len(pts), name, i, p.ID, v, ErrBadVector)
			}
		}
		if len(p.Payload) > store.MaxPayloadBytes {
			continue // the store refuses it, naming the point
		}
		if payloads[i], err = decodePointPayload(p.Payload); err != nil {
			return fmt.Errorf("upsert %d points into collection %q: point %d (id %v): payload: %v: %w", len(pts), name, i, p.ID, err, store.ErrInvalid)
		}
	}
	if err := c.st.UpsertPoints(ctx, name, pts); err != nil {
		return err
	}
	// New internal ids go into the graphs first; queries ignore ids the
	// table does not map, so the batch appears at the swap below.
	nids := make([]uint64, len(pts))
	next := uint64(len(col.slots))
	for i := range pts {
		if n := len(col.free); n > 0 {
			nids[i], col.free = col.free[n-1], col.free[:n-1]
		} else {
			nids[i] = next
			next++
		}
		for v, g := range col.graphs {
			if err := g.Add(nids[i], pts[i].Vectors[v]); err != nil {
				// Stored but not indexed (a graph past this platform's
				// size): the file must not claim this generation.
				col.inSync = false
				return fmt.Errorf("index point %v of collection %q: %w", pts[i].ID, name, err)
			}
		}
		if err := col.full.put(nids[i], pts[i].Vectors); err != nil {
			col.inSync = false
			return fmt.Errorf("index point %v of collection %q: %w", pts[i].ID, name, err)
		}
		if err := col.indexText(nids[i], payloads[i]); err != nil {
			col.inSync = false
			return fmt.Errorf("index point %v of collection %q: %w", pts[i].ID, name, err)
		}
	}
	var old []uint64
	col.mu.Lock()
	for uint64(len(col.slots)) < next {
		col.slots = append(col.slots, pointSlot{})
	}
	for i := range pts {
		if o, ok := col.byID[pts[i].ID]; ok {
			old = append(old, o)
			col.payloads.release(col.slots[o].payload)
			col.slots[o] = pointSlot{}
			col.fields.dropped(col.declared, col.slots, len(col.byID))
		}
		col.slots[nids[i]] = pointSlot{id: pts[i].ID, payload: col.payloads.intern(pts[i].Payload, payloads[i]), live: true}
		col.byID[pts[i].ID] = nids[i]
		col.fields.add(nids[i], payloads[i])
	}
	col.mu.Unlock()
	c.release(col, old)
	c.stored(col, true)
	return nil
}

// release drops internal ids the table no longer maps from the graphs and
// frees them. Called with writeMu held.
func (c *Collections) release(col *pointIndex, nids []uint64) {
	for _, nid := range nids {
		for _, g := range col.graphs {
			g.Delete(nid)
		}
		col.text.Delete(nid)
	}
	col.free = append(col.free, nids...)
}

// stored records a write to the store that changed the collection (or
// not): the store's generation went up by one, unless another writer got
// in, in which case the indexes may miss its change and are not saved
// under any generation (the next start rebuilds them).
func (c *Collections) stored(col *pointIndex, changed bool) {
	if !changed {
		return
	}
	col.dirty = true
	info, err := c.st.Collection(col.name)
	if err != nil || info.Generation != col.gen+1 {
		col.inSync = false
		return
	}
	col.gen = info.Generation
}

// Delete removes the points with these ids from the store (on disk when it
// returns) and the indexes, and returns how many there were; ids not
// stored are ignored. It fails with store.ErrNotFound for an unknown
// collection.
func (c *Collections) Delete(ctx context.Context, name string, ids []store.PointID) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	col, err := c.get(name)
	if err != nil {
		return 0, fmt.Errorf("delete points: %w", err)
	}
	return c.deleteLocked(ctx, col, ids)
}

// DeleteWhere removes the points the filter matches (every point for a nil
// filter), as Delete.
func (c *Collections) DeleteWhere(ctx context.Context, name string, f *Filter) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	col, err := c.get(name)
	if err != nil {
		return 0, fmt.Errorf("delete points: %w", err)
	}
	return c.deleteLocked(ctx, col, col.matching(f))
}

func (c *Collections) deleteLocked(ctx context.Context, col *pointIndex, ids []store.PointID) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := c.st.DeletePoints(ctx, col.name, ids)
	if err != nil {
		return 0, err
	}
	var gone []uint64
	col.mu.Lock()
	for _, id := range ids {
		if nid, ok := col.byID[id]; ok {
			delete(col.byID, id)
			col.payloads.release(col.slots[nid].payload)
			col.slots[nid] = pointSlot{}
			col.fields.dropped(col.declared, col.slots, len(col.byID))
			gone = append(gone, nid)
		}
	}
	col.mu.Unlock()
	c.release(col, gone)
	if len(gone) != n {
		col.inSync = false
	}
	c.stored(col, n > 0)
	return n, nil
}

// matching returns the ids of the points f matches (all for nil), in no
// particular order.
func (col *pointIndex) matching(f *Filter) []store.PointID {
	col.mu.RLock()
	defer col.mu.RUnlock()
	var out []store.PointID
	if ids, _ := f.IDs(); ids != nil {
		for _, id := range ids {
			if nid, ok := col.byID[id]; ok && f.Match(id, col.slots[nid].payload.obj()) {
				out = append(out, id)
			}
		}
		return out
	}
	if cands, _, ok := col.fields.candidates(f, -1); ok {
		for _, nid := range cands {
			if int(nid) >= len(col.slots) {
				continue
			}
			if s := &col.slots[nid]; s.live && f.Match(s.id, s.payload.obj()) {
				out = append(out, s.id)
			}
		}
		return out
	}
	for i := range col.slots {
		s := &col.slots[i]
		if s.live && f.Match(s.id, s.payload.obj()) {
			out = append(out, s.id)
		}
	}
	return out
}

// UpdatePayload applies op (see store.PayloadOp) to the payloads of the
// points selected by ids or, when ids is nil, by the filter, in the store
// (on disk when it returns) and the index, and returns how many payloads
// changed. It fails with ErrBadParams when both or neither of ids and f
// are given, store.ErrNotFound for an unknown collection and
// store.ErrInvalid for an op the store refuses.
func (c *Collections) UpdatePayload(ctx context.Context, name string, ids []store.PointID, f *Filter, op store.PayloadOp) (int, error) {
	if (ids == nil) == (f == nil) {
		return 0, fmt.Errorf("update payload in collection %q: give point ids or a filter, not both or neither: %w", name, ErrBadParams)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	col, err := c.get(name)
	if err != nil {
		return 0, fmt.Errorf("update payload: %w", err)
	}
	if f != nil {
		ids = col.matching(f)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := c.st.UpdatePayload(ctx, name, ids, op)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	// The store merged the payloads; read back what it wrote rather than
	// merging a second time here.
	pts, err := c.st.GetPoints(name, ids)
	if err != nil {
		col.inSync = false
		col.dirty = true
		return n, fmt.Errorf("update payload in collection %q: read back: %w", name, err)
	}
	payloads := make([]map[string]any, len(pts))
	for i := range pts {
		if payloads[i], err = decodePointPayload(pts[i].Payload); err != nil {
			col.inSync = false
			col.dirty = true
			return n, fmt.Errorf("update payload in collection %q: point %v: %w: %v", name, pts[i].ID, store.ErrCorrupt, err)
		}
	}
	col.mu.Lock()
	for i := range pts {
		if nid, ok := col.byID[pts[i].ID]; ok {
			col.payloads.release(col.slots[nid].payload)
			col.slots[nid].payload = col.payloads.intern(pts[i].Payload, payloads[i])
			col.fields.dropped(col.declared, col.slots, len(col.byID))
			col.fields.add(nid, payloads[i])
			if err = col.indexText(nid, payloads[i]); err != nil {
				break
			}
		}
	}
	col.mu.Unlock()
	if err != nil {
		col.inSync = false
		return n, fmt.Errorf("update payload in collection %q: %w", name, err)
	}
	c.stored(col, true)
	return n, nil
}

// Query returns the points of the collection nearest q.Vector that pass
// q.Filter, best first (see PointQuery and ScoredPoint). It fails with
// store.ErrNotFound for an unknown collection, ErrBadParams for an unknown
// vector name or a limit or offset out of range, ErrDims for a vector of
// the wrong size and ErrBadVector for a non-finite one (or a zero one
// under cosine).
func (c *Collections) Query(ctx context.Context, name string, q PointQuery) ([]ScoredPoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	col, err := c.get(name)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	vp, ok := col.vectors[q.Using]
	if !ok {
		return nil, fmt.Errorf("query collection %q: %w", name, col.unknownVector(q.Using))
	}
	byText := col.text.Len() > 0 && len(Terms(q.Text)) > 0
	if len(q.Vector) == 0 && q.Text != "" && !byText {
		return nil, fmt.Errorf("query collection %q by text %q: no vector, and no words its points' text could match: %w", name, q.Text, ErrNoQuery)
	}
	if len(q.Vector) != vp.Size && (!byText || len(q.Vector) != 0) {
		return nil, fmt.Errorf("query collection %q: vector %q has %d dims, the collection's has %d: %w", name, q.Using, len(q.Vector), vp.Size, ErrDims)
	}
	limit, err := checkLimit(q.Limit)
	if err != nil {
		return nil, fmt.Errorf("query collection %q: %w", name, err)
	}
	if q.Offset < 0 || q.Offset > MaxQueryOffset {
		return nil, fmt.Errorf("query collection %q: offset %d, want 0 to %d: %w", name, q.Offset, MaxQueryOffset, ErrBadParams)
	}
	var hits []scoredID
	if byText {
		hits, err = col.textQuery(q, limit+q.Offset)
	} else {
		hits, err = col.search(q.Using, q.Vector, limit+q.Offset, q.Filter, q.Exact)
	}
	if err != nil {
		return nil, fmt.Errorf("query collection %q: %w", name, err)
	}
	if t := q.ScoreThreshold; t != nil && !byText {
		hits = slices.DeleteFunc(hits, func(h scoredID) bool {
			if vp.Distance == store.Euclid {
				return h.score > *t
			}
			return h.score < *t
		})
	}
	hits = hits[min(q.Offset, len(hits)):]
	out := make([]ScoredPoint, len(hits))
	for i, h := range hits {
		out[i] = ScoredPoint{ID: h.id, Score: h.score}
	}
	if !q.WithPayload && !q.WithVectors {
		return out, nil
	}
	ids := make([]store.PointID, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	pts, err := c.st.GetPoints(name, ids)
	if err != nil {
		return nil, fmt.Errorf("query collection %q: %w", name, err)
	}
	byID := make(map[store.PointID]*store.Point, len(pts))
	for i := range pts {
		byID[pts[i].ID] = &pts[i]
	}
	// A point deleted since the search is gone from the answer too.
	kept := out[:0]
	for _, sp := range out {
		p := byID[sp.ID]
		if p == nil {
			continue
		}
		if q.WithPayload {
			sp.Payload = p.Payload
		}
		if q.WithVectors {
			sp.Vectors = p.Vectors
		}
		kept = append(kept, sp)
	}
	return kept, nil
}

func checkLimit(limit int) (int, error) {
	if limit == 0 {
		return DefaultQueryLimit, nil
	}
	if limit < 1 || limit > MaxQueryLimit {
		return 0, fmt.Errorf("limit %d, want 1 to %d: %w", limit, MaxQueryLimit, ErrBadParams)
	}
	return limit, nil
}

func (col *pointIndex) unknownVector(using string) error {
	names := sortedVectorNames(col.vectors)
	if using == "" {
		return fmt.Errorf("the collection has named vectors %q; say which with using: %w", names, ErrBadParams)
	}
	if len(names) == 1 && names[0] == "" {
		return fmt.Errorf("no vector %q: the collection has one unnamed vector: %w", using, ErrBadParams)
	}
	return fmt.Errorf("no vector %q: the collection has %q: %w", using, names, ErrBadParams)
}

type scoredID struct {
	id    store.PointID
	score float32
}

// plan says how a filtered search is answered.
type plan uint8

const (
	planGraph plan = iota // walk the graph, the filter inside the walk
	planExact             // compare every point the filter matches
)

// search finds the k best points for vec in the graph of vector name that
// pass f. An int8 graph gives its best max(ef, k) candidates, rescored
// from the full vectors (see fullVectors).
func (col *pointIndex) search(name string, vec []float32, k int, f *Filter, exact bool) ([]scoredID, error) {
	g := col.graphs[name]
	col.mu.RLock()
	defer col.mu.RUnlock()
	slots := col.slots
	live := func(nid uint64) bool { return nid < uint64(len(slots)) && slots[nid].live }
	keep := live
	if f != nil {
		keep = func(nid uint64) bool {
			if nid >= uint64(len(slots)) {
				return false
			}
			s := &slots[nid]
			return s.live && f.Match(s.id, s.payload.obj())
		}
	}
	gp := g.Params()
	ef := max(gp.EfSearch, k)
	if col.autoEf {
		ef = max(DefaultCollectionsEf(len(col.byID)), k)
	}
	want := k
	if gp.Int8 {
		if col.full == nil {
			return nil, fmt.Errorf("vector %q: no full vectors to rescore with (collections closed?): %w", name, os.ErrClosed)
		}
		want = ef
	}
	var hits []Hit
	var err error
	if ids, only := f.IDs(); ids != nil {
		// has_id names the candidates: look them up rather than scan.
		nids := make([]uint64, 0, len(ids))
		for _, id := range ids {
			if nid, ok := col.byID[id]; ok {
				nids = append(nids, nid)
			}
		}
		if only {
			keep = live
		}
		hits, err = g.SearchExact(vec, want, nids, keep)
	} else if exact {
		hits, err = g.SearchExact(vec, want, nil, keep)
	} else if f == nil {
		hits, err = g.search(vec, want, ef, keep)
	} else if p, nids := col.plan(f, ef); p == planExact {
		hits, err = g.SearchExact(vec, want, nids, live)
	} else {
		hits, err = g.search(vec, want, ef, keep)
	}
	if err == nil && gp.Int8 {
		hits, err = col.full.rescore(name, vec, hits, k)
	}
	if err != nil {
		return nil, err
	}
	out := make([]scoredID, len(hits))
	for i, h := range hits {
		out[i] = scoredID{slots[h.ID].id, h.Score}
	}
	return out, nil
}

// plan decides between walking the graph with f inside the walk and an
// exact search over the points f matches, as Qdrant's planner does: a
// filter that matches few points leaves a walk wading through rejected
// nodes (and, with too few accepted ones to steer by, losing recall),
// while comparing those few points is cheap and exact. The exact plan's
// internal ids are returned with it. Called with col.mu held.
func (col *pointIndex) plan(f *Filter, ef int) (plan, []uint64) {
	n := len(col.byID)
	// A payload index names every point that can match. When comparing
	// them all beats a walk even if all of them match (the walk only gets
	// dearer as fewer do), test the filter on those alone; with more
	// candidates than that the sample below decides. With m candidates
	// exactCheaper holds while scanCost·m + m < walkCost·ef·n/m.
	most := int(math.Sqrt(walkCost * float64(ef) * float64(n) / (scanCost + 1)))
	if cands, exact, ok := col.fields.candidates(f, most); ok {
		nids := make([]uint64, 0, len(cands))
		for _, s := range cands {
			if int(s) < len(col.slots) && col.slots[s].live && (exact || f.Match(col.slots[s].id, col.slots[s].payload.obj())) {
				nids = append(nids, uint64(s))
			}
		}
		return planExact, nids
	}
	memo := idFree(f)
	scan := scanCost
	if n > 2*sampleSize {
		// Estimate from a sample of live slots drawn at random, so that
		// payloads laid out in id order cannot bias it; from a fixed
		// seed, so that one query over one collection always gets one
		// plan (and one answer). A walk chosen on few hits (a share
		// known to ±1/√hits) is checked on a sample eight times larger
		// first: a walk at a share that was overestimated is the slow
		// mistake (tens of ms at 1% of 1M points), exact search the mild
		// one.
		r := rand.New(rand.NewPCG(uint64(len(col.slots)), 0x5a3c))
		seen, hit := 0, 0
		var distinct map[*sharedPayload]bool
		if memo {
			distinct = make(map[*sharedPayload]bool, memoSample)
		}
		draw := func(size int) {
			for tries := 0; seen < size && tries < 4*size; tries++ {
				s := &col.slots[r.IntN(len(col.slots))]
				if !s.live {
					continue
				}
				seen++
				if memo && len(distinct) <= memoSample {
					distinct[s.payload] = true
				}
				if f.Match(s.id, s.payload.obj()) {
					hit++
				}
			}
		}
		draw(sampleSize)
		if memo && len(distinct) <= memoSample {
			// Few distinct payloads among the sample's points: few
			// overall, and the memo spares most filter tests.
			scan = memoScanCost
		}
		walk := func() bool {
			return seen > 0 && !exactCheaper(float64(n), float64(hit)/float64(seen)*float64(n), ef, scan)
		}
		if walk() && hit < sampleSize/8 && n > 16*sampleSize {
			draw(8 * sampleSize)
		}
		if walk() {
			return planGraph, nil
		}
	}
	nids := []uint64{} // not nil: SearchExact reads nil as every point
	var mm *matchMemo
	if memo {
		mm = new(matchMemo)
	}
	for i := range col.slots {
		s := &col.slots[i]
		if !s.live {
			continue
		}
		var ok bool
		if mm != nil {
			ok = mm.match(f, s.id, s.payload)
		} else {
			ok = f.Match(s.id, s.payload.obj())
		}
		if ok {
			nids = append(nids, uint64(i))
		}
	}
	// Counted exactly, a small collection can still prefer the walk. A
	// sample that said "few" when there are many leaves the exact plan:
	// the matches are found already, and it is exact, only slower.
	if n <= 2*sampleSize && !exactCheaper(float64(n), float64(len(nids)), ef, scan) {
		return planGraph, nil
	}
	return planExact, nids
}

// Scroll returns up to limit points of the collection that pass f (all for
// nil), in id order (see store.PointID.Compare) from the id from, inclusive
// (the first when nil), and the id to continue from, nil at the end. The
// points carry their payload and vectors only when asked. It fails with
// store.ErrNotFound for an unknown collection and ErrBadParams for a limit
// outside 0 (DefaultQueryLimit) to MaxQueryLimit.
func (c *Collections) Scroll(ctx context.Context, name string, f *Filter, from *store.PointID, limit int, withPayload, withVectors bool) ([]store.Point, *store.PointID, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	col, err := c.get(name)
	if err != nil {
		return nil, nil, fmt.Errorf("scroll: %w", err)
	}
	if limit, err = checkLimit(limit); err != nil {
		return nil, nil, fmt.Errorf("scroll collection %q: %w", name, err)
	}
	var pts []store.Point
	var next *store.PointID
	if f == nil {
		if pts, next, err = c.st.ScrollPoints(name, from, limit); err != nil {
			return nil, nil, err
		}
	} else {
		ids := col.matching(f)
		if from != nil {
			ids = slices.DeleteFunc(ids, func(id store.PointID) bool { return id.Compare(*from) < 0 })
		}
		slices.SortFunc(ids, store.PointID.Compare)
		if len(ids) > limit {
			next = &ids[limit]
			ids = ids[:limit]
		}
		if pts, err = c.st.GetPoints(name, ids); err != nil {
			return nil, nil, err
		}
	}
	for i := range pts {
		if !withPayload {
			pts[i].Payload = nil
		}
		if !withVectors {
			pts[i].Vectors = nil
		}
	}
	return pts, next, nil
}

// Count returns how many points of the collection pass f (all for nil). It
// fails with store.ErrNotFound for an unknown collection.
func (c *Collections) Count(ctx context.Context, name string, f *Filter) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	col, err := c.get(name)
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	if f == nil {
		return c.st.CountPoints(name)
	}
	col.mu.RLock()
	defer col.mu.RUnlock()
	n := 0
	if ids, _ := f.IDs(); ids != nil {
		for _, id := range ids {
			if nid, ok := col.byID[id]; ok && f.Match(id, col.slots[nid].payload.obj()) {
				n++
			}
		}
		return n, nil
	}
	for i := range col.slots {
		s := &col.slots[i]
		if s.live && f.Match(s.id, s.payload.obj()) {
			n++
		}
	}
	return n, nil
}

// Close persists the index of every collection that changed since it was
// loaded or saved, and closes the scratch files of full vectors, so
// queries of cosine vectors fail afterwards (with an error wrapping
// os.ErrClosed). It does not close the store, which the caller owns. An
// index that missed a write made to the store around Collections is not
// saved, so the next start rebuilds it.
func (c *Collections) Close() error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.RLock()
	cols := make([]*pointIndex, 0, len(c.cols))
	for _, col := range c.cols {
		cols = append(cols, col)
	}
	c.mu.RUnlock()
	var errs []error
	for _, col := range cols {
		if col.dirty && col.inSync {
			if err := c.save(col); err != nil {
				errs = append(errs, err)
			}
		}
		col.mu.Lock() // queries reading the file are done
		col.full.close()
		col.full = nil
		col.mu.Unlock()
	}
	return errors.Join(errs...)
}

// save writes col's file. Called with writeMu held (or before c is
// shared).
func (c *Collections) save(col *pointIndex) error {
	if err := writeFileAtomic(c.graphPath(col.name), indexFile{col}); err != nil {
		return fmt.Errorf("save the vector index of collection %q: %w", col.name, err)
	}
	col.dirty = false
	return nil
}
