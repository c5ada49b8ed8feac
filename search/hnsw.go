package search

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"

	"github.com/edgesearch/edgesearch/store"
)

// Defaults used when a Params field is zero. They give recall@10 above 0.95
// on clustered 384-dimensional data (see TestHNSWRecall).
const (
	DefaultM              = 16
	DefaultEfConstruction = 128
	DefaultEfSearch       = 96
)

const (
	maxM     = 256
	maxEf    = 1 << 16
	maxDims  = 1 << 16
	maxLevel = 31 // a level this high needs ~M^31 nodes; it bounds damaged files
	// compactFraction: once this share of slots are tombstones the graph is
	// compacted, so searches do not wade through dead nodes indefinitely.
	compactFraction = 4 // 1/4
	compactMin      = 64
)

// Params tunes an HNSW graph. Zero fields take the defaults above.
type Params struct {
	// M is the most links a node keeps on the upper layers; layer 0 keeps
	// 2*M. Higher M raises recall, memory and build time. Range 2..256.
	M int
	// EfConstruction is the candidate list length while inserting; higher
	// builds a better graph, more slowly. Range 1..65536.
	EfConstruction int
	// EfSearch is the candidate list length while searching (at least k is
	// used); higher raises recall and latency. Range 1..65536.
	EfSearch int
	// Seed makes the random layer assignment reproducible.
	Seed uint64
	// Distance is how vectors compare: store.Cosine (the zero value
	// means Cosine), store.Dot or store.Euclid. See HNSW.
	Distance store.Distance
	// Int8 keeps cosine vectors as 8-bit codes, one scale per vector,
	// instead of binary16: half the memory, for cosines about 3e-4 off
	// (1e-3 at worst on 384-d unit vectors; see quantize). It is for a caller that rescores the best of a
	// search's candidates from full vectors kept elsewhere, as
	// Collections does. Cosine only: with Dot or Euclid it is
	// ErrBadParams.
	Int8 bool
}

func (p Params) resolve() (Params, error) {
	if p.M == 0 {
		p.M = DefaultM
	}
	if p.EfConstruction == 0 {
		p.EfConstruction = DefaultEfConstruction
	}
	if p.EfSearch == 0 {
		p.EfSearch = DefaultEfSearch
	}
	if p.Distance == 0 {
		p.Distance = store.Cosine
	}
	if p.M < 2 || p.M > maxM {
		return p, fmt.Errorf("hnsw M %d, want 2..%d: %w", p.M, maxM, ErrBadParams)
	}
	if p.EfConstruction < 1 || p.EfConstruction > maxEf {
		return p, fmt.Errorf("hnsw EfConstruction %d, want 1..%d: %w", p.EfConstruction, maxEf, ErrBadParams)
	}
	if p.EfSearch < 1 || p.EfSearch > maxEf {
		return p, fmt.Errorf("hnsw EfSearch %d, want 1..%d: %w", p.EfSearch, maxEf, ErrBadParams)
	}
	if p.Distance != store.Cosine && p.Distance != store.Dot && p.Distance != store.Euclid {
		return p, fmt.Errorf("hnsw distance %v, want Cosine, Dot or Euclid: %w", p.Distance, ErrBadParams)
	}
	if p.Int8 && p.Distance != store.Cosine {
		return p, fmt.Errorf("hnsw int8 codes with distance %v, want Cosine: %w", p.Distance, ErrBadParams)
	}
	return p, nil
}

// HNSW is a hierarchical navigable small world graph (Malkov & Yashunin)
// for cosine similarity, dot product or Euclidean distance (Params.Distance).
// For cosine, vectors are normalised on the way in and kept in one
// contiguous slab in half precision (see vector.go); links are slot numbers
// (uint32), so 100k 384-d vectors take about 95 MB. Dot and Euclid keep the
// vectors as given, in a float32 slab: half precision would overflow past
// 65504 and round large values coarsely, which a unit vector never meets
// but a raw one may. That costs 2 more bytes a dimension (about 77 MB more
// for 100k 384-d vectors).
//
// Delete leaves a tombstone that still routes searches but is never
// returned; the live neighbours that linked to it are repaired at once, and
// when a quarter of the slots are tombstones the graph is compacted.
//
// An HNSW is safe for concurrent use: searches share a read lock, Add and
// Delete take the write lock.
type HNSW struct {
	mu     sync.RWMutex
	p      Params
	m0     int     // layer-0 link capacity, 2*M
	ml     float64 // level multiplier 1/ln(M)
	rng    *rand.Rand
	gen    uint64
	dims   int
	vecs   []uint16   // cosine: slot*dims .. +dims, unit length, binary16
	codes  []int8     // cosine with Int8: slot*dims .. +dims, unit length × 1/scale
	scales []float32  // cosine with Int8: slot → scale
	raw    []float32  // dot and Euclid: slot*dims .. +dims, as given
	ids    []uint64   // slot → caller's id
	levels []uint8    // slot → top layer
	dead   []bool     // slot → tombstone
	links0 []uint32   // slot*(m0+1): count, then up to m0 slots
	upper  [][]uint32 // slot → layers 1..level, each count + up to M slots
	slots  idSlots
	nDead  int
	entry  uint32
	top    int // entry's level; -1 when the graph has no nodes
	// writer scratch, guarded by the write lock
	wvis  visitSet
	wvec  []float32 // the vector being added
	wq    []float32 // a stored vector decoded: link, repair, compact
	wsel  []float32 // another, for selectNeighbors
	wcand []candidate
	// reader scratch
	pool sync.Pool
}

// New returns an empty graph. It fails with ErrBadParams when a field is
// out of range.
func New(p Params) (*HNSW, error) {
	p, err := p.resolve()
	if err != nil {
		return nil, err
	}
	h := &HNSW{}
	h.init(p)
	return h, nil
}

func (h *HNSW) init(p Params) {
	h.p = p
	h.m0 = 2 * p.M
	h.ml = 1 / math.Log(float64(p.M))
	h.rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	h.slots = idSlots{}
	h.top = -1
	h.pool.New = func() any { return new(searchScratch) }
}

type searchScratch struct {
	vis   visitSet
	q     []float32
	cands candHeap
	res   candHeap
}

// Params returns the graph's resolved parameters.
func (h *HNSW) Params() Params {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.p
}

// SetEfSearch changes the search candidate list length; see Params.EfSearch.
func (h *HNSW) SetEfSearch(ef int) error {
	if ef < 1 || ef > maxEf {
		return fmt.Errorf("hnsw EfSearch %d, want 1..%d: %w", ef, maxEf, ErrBadParams)
	}
	h.mu.Lock()
	h.p.EfSearch = ef
	h.mu.Unlock()
	return nil
}

// Len returns the number of live (not deleted) vectors.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.slots.len()
}

// Dims returns the vector length, fixed by the first Add (0 before it).
func (h *HNSW) Dims() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.dims
}

// Generation returns the number set by SetGeneration or read by ReadFrom.
func (h *HNSW) Generation() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.gen
}

// SetGeneration records the caller's generation number (for example the
// store's commit counter), written by WriteTo so a stale file can be told
// from a current one.
func (h *HNSW) SetGeneration(g uint64) {
	h.mu.Lock()
	h.gen = g
	h.mu.Unlock()
}

// Contains reports whether id is indexed.
func (h *HNSW) Contains(id uint64) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	_, ok := h.slots.get(id)
	return ok
}

// Reserve grows the slabs to hold n vectors without reallocating, which
// avoids the transient doubling of append when a caller knows the count.
func (h *HNSW) Reserve(n, dims int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n <= len(h.ids) || dims <= 0 || (h.dims != 0 && dims != h.dims) {
		return
	}
	// It is only a hint: one whose slabs would together pass an int of
	// bytes (a damaged count, or more than a 32-bit build can address) is
	// ignored, and Add reports the limit instead. Counted in bytes, not
	// values: 2 or 4 per vector value, 4 per link, 8 per id, the levels
	// and tombstones, and a slice header for the upper layers.
	slot := uint64(h.valueBytes()*dims + 4 + 4*(h.m0+1) + 8 + 1 + 1 + 3*strconv.IntSize/8)
	if uint64(n) > math.MaxInt/slot {
		return
	}
	extra := n - len(h.ids)
	if h.q8() {
		h.codes = slices.Grow(h.codes, extra*dims)
		h.scales = slices.Grow(h.scales, extra)
	} else if h.half() {
		h.vecs = slices.Grow(h.vecs, extra*dims)
	} else {
		h.raw = slices.Grow(h.raw, extra*dims)
	}
	h.ids = slices.Grow(h.ids, extra)
	h.levels = slices.Grow(h.levels, extra)
	h.dead = slices.Grow(h.dead, extra)
	h.links0 = slices.Grow(h.links0, extra*(h.m0+1))
	h.upper = slices.Grow(h.upper, extra)
}

// half reports whether vectors are kept in half precision (cosine) rather
// than as given or as int8 codes.
func (h *HNSW) half() bool { return h.p.Distance == store.Cosine && !h.p.Int8 }

// q8 reports whether vectors are kept as int8 codes (cosine with Int8).
func (h *HNSW) q8() bool { return h.p.Int8 }

// valueBytes is the bytes one vector value takes in its slab (an int8
// code's vector also has a 4-byte scale).
func (h *HNSW) valueBytes() int {
	if h.q8() {
		return 1
	}
	if h.half() {
		return 2
	}
	return 4
}

func (h *HNSW) vec8(s uint32) []int8 {
	o := int(s) * h.dims
	return h.codes[o : o+h.dims : o+h.dims]
}

func (h *HNSW) vec(s uint32) []uint16 {
	o := int(s) * h.dims
	return h.vecs[o : o+h.dims : o+h.dims]
}

func (h *HNSW) vec32(s uint32) []float32 {
	o := int(s) * h.dims
	return h.raw[o : o+h.dims : o+h.dims]
}

// decoded returns slot s's vector as float32 in *buf, which it grows.
func (h *HNSW) decoded(s uint32, buf *[]float32) []float32 {
	if cap(*buf) < h.dims {
		*buf = make([]float32, h.dims)
	}
	v := (*buf)[:h.dims]
	if h.q8() {
		decodeInt8(v, h.vec8(s), h.scales[s])
	} else if h.half() {
		decodeHalf(v, h.vec(s))
	} else {
		copy(v, h.vec32(s))
	}
	return v
}

// dist is the distance the walk orders by, from q (prepared as by
// prepare) to slot s's vector, smaller nearer: 1 - cosine, minus the dot
// product, or the squared Euclidean distance (the root changes no order,
// so it is taken only for the scores returned).
//
// It is small enough to inline, so cosine, the common case, costs what it
// did before graphs had a distance: the call to dotHalf.
func (h *HNSW) dist(q []float32, s uint32) float32 {
	if h.p.Distance == store.Cosine && !h.p.Int8 {
		return 1 - dotHalf(q, h.vec(s))
	}
	return h.rawDist(q, s)
}

// rawDist is dist for the vectors not in binary16.
func (h *HNSW) rawDist(q []float32, s uint32) float32 {
	if h.p.Int8 {
		return 1 - dotInt8(q, h.vec8(s))*h.scales[s]
	}
	if h.p.Distance == store.Dot {
		return -dot(q, h.vec32(s))
	}
	return l2sq(q, h.vec32(s))
}

// score turns a distance from dist into the score Search returns.
func (h *HNSW) score(d float32) float32 {
	switch h.p.Distance {
	case store.Dot:
		return -d
	case store.Euclid:
		return float32(math.Sqrt(float64(max(d, 0))))
	}
	return 1 - d
}

// prepare writes v into dst as the graph compares it: normalised for
// cosine, as given otherwise. It fails with ErrBadVector for an empty or
// non-finite vector, and for cosine a zero one.
func (h *HNSW) prepare(dst, v []float32) error {
	if h.p.Distance == store.Cosine {
		return normalize(dst, v)
	}
	if len(v) == 0 {
		return ErrBadVector
	}
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return ErrBadVector
		}
		dst[i] = x
	}
	return nil
}

// block returns slot s's link block on layer lc: element 0 is the count.
func (h *HNSW) block(s uint32, lc int) []uint32 {
	if lc == 0 {
		o := int(s) * (h.m0 + 1)
		return h.links0[o : o+h.m0+1 : o+h.m0+1]
	}
	o := (lc - 1) * (h.p.M + 1)
	return h.upper[s][o : o+h.p.M+1 : o+h.p.M+1]
}

func (h *HNSW) capacity(lc int) int {
	if lc == 0 {
		return h.m0
	}
	return h.p.M
}

func (h *HNSW) randomLevel() int {
	l := int(-math.Log(1-h.rng.Float64()) * h.ml)
	return min(l, maxLevel)
}

// Add indexes vec under id, replacing any vector already stored for id.
// The vector is copied (and for cosine normalised). It fails with ErrDims
// when its length differs from earlier vectors and ErrBadVector when it is
// not finite or, for cosine, zero; the graph is unchanged on error.
func (h *HNSW) Add(id uint64, vec []float32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dims != 0 && len(vec) != h.dims {
		return fmt.Errorf("add id %d: %d dimensions, index has %d: %w", id, len(vec), h.dims, ErrDims)
	}
	if len(vec) > maxDims {
		return fmt.Errorf("add id %d: %d dimensions, most is %d: %w", id, len(vec), maxDims, ErrDims)
	}
	if cap(h.wvec) < len(vec) {
		h.wvec = make([]float32, len(vec))
	}
	q := h.wvec[:len(vec)]
	if err := h.prepare(q, vec); err != nil {
		return fmt.Errorf("add id %d: %w", id, err)
	}
	if h.full(len(vec)) {
		return fmt.Errorf("add id %d: graph holds %d slots, the most for %d dimensions: %w", id, len(h.ids), len(vec), ErrTooLarge)
	}
	if h.dims == 0 {
		h.dims = len(vec)
	}
	if old, ok := h.slots.get(id); ok {
		h.deleteSlot(old)
	}
	s := uint32(len(h.ids))
	level := h.randomLevel()
	h.ids = append(h.ids, id)
	if h.q8() {
		h.codes = slices.Grow(h.codes, len(q))
		h.codes = h.codes[:len(h.codes)+len(q)]
		h.scales = append(h.scales, quantize(h.codes[len(h.codes)-len(q):], q))
	} else if h.half() {
		h.vecs = slices.Grow(h.vecs, len(q))
		h.vecs = h.vecs[:len(h.vecs)+len(q)]
		encodeHalf(h.vecs[len(h.vecs)-len(q):], q)
	} else {
		h.raw = append(h.raw, q...)
	}
	h.levels = append(h.levels, uint8(level))
	h.dead = append(h.dead, false)
	h.links0 = append(h.links0, make([]uint32, h.m0+1)...)
	var up []uint32
	if level > 0 {
		up = make([]uint32, level*(h.p.M+1))
	}
	h.upper = append(h.upper, up)
	h.slots.set(id, s)
	h.insert(s, level, q)
	h.maybeCompact()
	return nil
}

// full reports whether one more slot of dims values would not fit: slot
// numbers are uint32 with MaxUint32 meaning none, and on a 32-bit build
// the vector slab and the layer-0 links must stay indexable by an int. The
// counts are compared as uint64 so the test itself cannot wrap.
func (h *HNSW) full(dims int) bool {
	next := uint64(len(h.ids)) + 1
	return next >= math.MaxUint32 ||
		next*uint64(dims) > math.MaxInt || next*uint64(h.m0+1) > math.MaxInt
}

// insert links the new slot s, whose vector is q, into every layer up to
// level.
func (h *HNSW) insert(s uint32, level int, q []float32) {
	if h.top < 0 {
		h.entry, h.top = s, level
		return
	}
	ep := candidate{h.dist(q, h.entry), h.entry}
	for lc := h.top; lc > level; lc-- {
		ep = h.greedy(q, ep, lc)
	}
	eps := []candidate{ep}
	var cands, res candHeap
	res.max = true
	for lc := min(level, h.top); lc >= 0; lc-- {
		h.wvis.reset(len(h.ids))
		h.wvis.visit(s)
		// Construction keeps tombstones as candidates: when a region is all
		// tombstones they are the only way to stay connected, and the
		// compaction pass rewires them later.
		w := h.searchLayer(q, eps, h.p.EfConstruction, lc, &h.wvis, &cands, &res, nil, true)
		eps = append(eps[:0], w...)
		h.wcand = append(h.wcand[:0], w...)
		chosen := h.selectNeighbors(h.wcand, h.p.M, true)
		b := h.block(s, lc)
		b[0] = uint32(len(chosen))
		for i, c := range chosen {
			b[1+i] = c.slot
		}
		for _, c := range chosen {
			h.link(c.slot, s, c.dist, lc)
		}
	}
	if level > h.top {
		h.entry, h.top = s, level
	}
}

// greedy walks layer lc towards q, one best neighbour at a time.
func (h *HNSW) greedy(q []float32, ep candidate, lc int) candidate {
	half, q8 := h.half(), h.q8()
	for changed := true; changed; {
		changed = false
		b := h.block(ep.slot, lc)
		for _, nb := range b[1 : 1+b[0]] {
			var d float32
			if half { // dist by hand: the call made cosine searches 8-15% slower
				d = 1 - dotHalf(q, h.vec(nb))
			} else if q8 {
				d = 1 - dotInt8(q, h.vec8(nb))*h.scales[nb]
			} else {
				d = h.rawDist(q, nb)
			}
			if d < ep.dist {
				ep, changed = candidate{d, nb}, true
			}
		}
	}
	return ep
}

// searchLayer is the paper's SEARCH-LAYER: a best-first walk that keeps the
// ef nearest accepted slots. Tombstones and slots the filter rejects are
// walked through but never returned (unless keepDead). The result is sorted
// nearest first and aliases res's storage.
func (h *HNSW) searchLayer(q []float32, eps []candidate, ef, lc int, vis *visitSet,
	cands, res *candHeap, filter func(uint64) bool, keepDead bool) []candidate {
	cands.items = cands.items[:0]
	res.items = res.items[:0]
	half, q8 := h.half(), h.q8()
	accept := func(s uint32) bool {
		if h.dead[s] && !keepDead {
			return false
		}
		return filter == nil || filter(h.ids[s])
	}
	for _, e := range eps {
		if vis.visit(e.slot) {
			continue
		}
		cands.push(e)
		if accept(e.slot) {
			res.push(e)
			if res.len() > ef {
				res.pop()
			}
		}
	}
	for cands.len() > 0 {
		c := cands.pop()
		if res.len() >= ef && c.dist > res.top().dist {
			break
		}
		b := h.block(c.slot, lc)
		for _, nb := range b[1 : 1+b[0]] {
			if vis.visit(nb) {
				continue
			}
			var d float32
			if half { // as in greedy
				d = 1 - dotHalf(q, h.vec(nb))
			} else if q8 {
				d = 1 - dotInt8(q, h.vec8(nb))*h.scales[nb]
			} else {
				d = h.rawDist(q, nb)
			}
			if res.len() < ef || d < res.top().dist {
				cands.push(candidate{d, nb})
				if accept(nb) {
					res.push(candidate{d, nb})
					if res.len() > ef {
						res.pop()
					}
				}
			}
		}
	}
	out := res.items
	slices.SortFunc(out, func(a, b candidate) int {
		switch {
		case a.dist < b.dist:
			return -1
		case a.dist > b.dist:
			return 1
		}
		return int(a.slot) - int(b.slot)
	})
	return out
}

// selectNeighbors is the paper's heuristic (algorithm 4): walking
// candidates nearest first, keep one only if it is nearer to the base than
// to every neighbour already kept. This spreads links across directions,
// which is what keeps clustered data navigable. cands must be sorted
// nearest first; live candidates are preferred over tombstones. The result
// reuses cands' storage.
func (h *HNSW) selectNeighbors(cands []candidate, m int, preferLive bool) []candidate {
	if preferLive {
		live := 0
		for _, c := range cands {
			if !h.dead[c.slot] {
				cands[live] = c
				live++
			}
		}
		if live > 0 {
			cands = cands[:live]
		}
	}
	out := cands[:0]
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		cv := h.decoded(c.slot, &h.wsel)
		good := true
		for _, r := range out {
			if h.dist(cv, r.slot) < c.dist {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// link adds a back-link from slot n to slot s on layer lc; d is their
// distance. A full list is re-pruned with the heuristic.
func (h *HNSW) link(n, s uint32, d float32, lc int) {
	b := h.block(n, lc)
	cnt := int(b[0])
	if cnt < h.capacity(lc) {
		b[1+cnt] = s
		b[0]++
		return
	}
	nv := h.decoded(n, &h.wq)
	cs := make([]candidate, 0, cnt+1)
	cs = append(cs, candidate{d, s})
	for _, x := range b[1 : 1+cnt] {
		cs = append(cs, candidate{h.dist(nv, x), x})
	}
	slices.SortFunc(cs, func(a, b candidate) int {
		switch {
		case a.dist < b.dist:
			return -1
		case a.dist > b.dist:
			return 1
		}
		return 0
	})
	chosen := h.selectNeighbors(cs, h.capacity(lc), false)
	b[0] = uint32(len(chosen))
	for i, c := range chosen {
		b[1+i] = c.slot
	}
}

// Delete removes id and reports whether it was present. Searches never
// return it afterwards.
func (h *HNSW) Delete(id uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.slots.get(id)
	if !ok {
		return false
	}
	h.deleteSlot(s)
	h.maybeCompact()
	return true
}

// deleteSlot tombstones s. Each live neighbour that linked back to s loses
// that link and gains, in its place, the nearest of s's other neighbours:
// that keeps the neighbourhood connected without waiting for compaction.
func (h *HNSW) deleteSlot(s uint32) {
	h.slots.del(h.ids[s])
	h.dead[s] = true
	h.nDead++
	for lc := 0; lc <= int(h.levels[s]); lc++ {
		sb := h.block(s, lc)
		around := sb[1 : 1+sb[0]]
		for _, n := range around {
			if h.dead[n] {
				continue
			}
			nb := h.block(n, lc)
			list := nb[1 : 1+nb[0]]
			i := slices.Index(list, s)
			if i < 0 {
				continue
			}
			list[i] = list[len(list)-1]
			list = list[:len(list)-1]
			nv := h.decoded(n, &h.wq)
			best, bestD := uint32(0), float32(math.Inf(1))
			for _, c := range around {
				if c == n || h.dead[c] || slices.Contains(list, c) {
					continue
				}
				if d := h.dist(nv, c); d < bestD {
					best, bestD = c, d
				}
			}
			if !math.IsInf(float64(bestD), 1) {
				list = append(list, best)
			}
			nb[0] = uint32(len(list))
		}
	}
}

func (h *HNSW) maybeCompact() {
	if h.nDead >= compactMin && h.nDead*compactFraction >= len(h.ids) {
		h.compact()
	}
}

// Compact drops tombstones now rather than when a quarter of the slots are
// dead; call it before WriteTo to keep files small.
func (h *HNSW) Compact() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nDead > 0 {
		h.compact()
	}
}

// compact rewires every link that points at a tombstone to the nearest live
// node among that tombstone's own neighbours, then renumbers the live slots
// downwards in place so no second copy of the vector slab is needed.
func (h *HNSW) compact() {
	n := len(h.ids)
	var kept []uint32
	var cands []candidate
	for s := range uint32(n) {
		if h.dead[s] {
			continue
		}
		sv := h.decoded(s, &h.wq)
		for lc := 0; lc <= int(h.levels[s]); lc++ {
			b := h.block(s, lc)
			kept = kept[:0]
			cands = cands[:0]
			lost := 0
			for _, x := range b[1 : 1+b[0]] {
				if !h.dead[x] {
					kept = append(kept, x)
				}
			}
			for _, x := range b[1 : 1+b[0]] {
				if !h.dead[x] {
					continue
				}
				lost++
				xb := h.block(x, lc)
				for _, c := range xb[1 : 1+xb[0]] {
					if c == s || h.dead[c] || slices.Contains(kept, c) ||
						slices.ContainsFunc(cands, func(k candidate) bool { return k.slot == c }) {
						continue
					}
					cands = append(cands, candidate{h.dist(sv, c), c})
				}
			}
			if lost == 0 {
				continue
			}
			slices.SortFunc(cands, func(a, b candidate) int {
				switch {
				case a.dist < b.dist:
					return -1
				case a.dist > b.dist:
					return 1
				}
				return 0
			})
			for _, c := range cands {
				if lost == 0 || len(kept) >= h.capacity(lc) {
					break
				}
				kept = append(kept, c.slot)
				lost--
			}
			b[0] = uint32(len(kept))
			copy(b[1:], kept)
		}
	}
	remap := make([]uint32, n)
	live := uint32(0)
	for s := range n {
		if h.dead[s] {
			remap[s] = math.MaxUint32
			continue
		}
		remap[s] = live
		live++
	}
	h.top = -1
	for s := range uint32(n) {
		ns := remap[s]
		if ns == math.MaxUint32 {
			continue
		}
		if h.q8() {
			copy(h.codes[int(ns)*h.dims:int(ns+1)*h.dims], h.vec8(s))
			h.scales[ns] = h.scales[s]
		} else if h.half() {
			copy(h.vecs[int(ns)*h.dims:int(ns+1)*h.dims], h.vec(s))
		} else {
			copy(h.raw[int(ns)*h.dims:int(ns+1)*h.dims], h.vec32(s))
		}
		h.ids[ns] = h.ids[s]
		h.levels[ns] = h.levels[s]
		h.dead[ns] = false
		copy(h.links0[int(ns)*(h.m0+1):int(ns+1)*(h.m0+1)], h.block(s, 0))
		h.upper[ns] = h.upper[s]
		for lc := 0; lc <= int(h.levels[ns]); lc++ {
			b := h.block(ns, lc)
			for i := 1; i <= int(b[0]); i++ {
				b[i] = remap[b[i]]
			}
		}
		h.slots.set(h.ids[ns], ns)
		if int(h.levels[ns]) > h.top {
			h.entry, h.top = ns, int(h.levels[ns])
		}
	}
	ln := int(live)
	clear(h.upper[ln:])
	if h.q8() {
		h.codes = h.codes[:ln*h.dims]
		h.scales = h.scales[:ln]
	} else if h.half() {
		h.vecs = h.vecs[:ln*h.dims]
	} else {
		h.raw = h.raw[:ln*h.dims]
	}
	h.ids = h.ids[:ln]
	h.levels = h.levels[:ln]
	h.dead = h.dead[:ln]
	h.links0 = h.links0[:ln*(h.m0+1)]
	h.upper = h.upper[:ln]
	h.nDead = 0
}

// Search returns up to k ids nearest to vec, best first, with Qdrant's
// scores: the cosine similarity or the dot product (highest first), or the
// Euclidean distance (lowest first). It fails with ErrDims for a vector of
// the wrong length, ErrBadVector for a non-finite one (or a zero one, for
// cosine) and ErrBadParams for k < 1.
func (h *HNSW) Search(vec []float32, k int) ([]Hit, error) {
	return h.search(vec, k, 0, nil)
}

// SearchFunc is Search restricted to ids for which keep returns true (nil
// keeps all). The graph is still walked through rejected ids, so a strict
// filter costs time, not recall. keep must not call back into h.
func (h *HNSW) SearchFunc(vec []float32, k int, keep func(id uint64) bool) ([]Hit, error) {
	return h.search(vec, k, 0, keep)
}

// search is SearchFunc with a candidate list of ef (Params.EfSearch when
// 0, and never fewer than k).
func (h *HNSW) search(vec []float32, k, ef int, keep func(id uint64) bool) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search k %d, want at least 1: %w", k, ErrBadParams)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.top < 0 || h.slots.len() == 0 {
		return nil, nil
	}
	sc := h.pool.Get().(*searchScratch)
	defer h.pool.Put(sc)
	q, err := h.query(sc, vec)
	if err != nil {
		return nil, err
	}
	if ef == 0 {
		ef = h.p.EfSearch
	}
	ep := candidate{h.dist(q, h.entry), h.entry}
	for lc := h.top; lc > 0; lc-- {
		ep = h.greedy(q, ep, lc)
	}
	sc.vis.reset(len(h.ids))
	sc.res.max = true
	w := h.searchLayer(q, []candidate{ep}, min(max(ef, k), maxEf), 0, &sc.vis, &sc.cands, &sc.res, keep, false)
	return h.hits(w, k), nil
}

// query checks vec and prepares it in sc's buffer. Called with the read
// lock held.
func (h *HNSW) query(sc *searchScratch, vec []float32) ([]float32, error) {
	if len(vec) != h.dims {
		return nil, fmt.Errorf("search: %d dimensions, index has %d: %w", len(vec), h.dims, ErrDims)
	}
	if cap(sc.q) < h.dims {
		sc.q = make([]float32, h.dims)
	}
	q := sc.q[:h.dims]
	if err := h.prepare(q, vec); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return q, nil
}

// hits turns the first k of w, sorted nearest first, into scored ids.
func (h *HNSW) hits(w []candidate, k int) []Hit {
	hits := make([]Hit, 0, min(k, len(w)))
	for _, c := range w[:min(k, len(w))] {
		hits = append(hits, Hit{ID: h.ids[c.slot], Score: h.score(c.dist)})
	}
	return hits
}

// SearchExact is Search by brute force: it compares vec with every live
// vector whose id is in ids (every live vector when ids is nil; ids not
// indexed are skipped) and for which keep returns true (nil keeps all),
// and returns the k best as Search scores them. Its cost is linear in the
// vectors compared; it is the answer when a filter admits few ids, where a
// graph walk would wade through many rejected nodes. keep must not call
// back into h.
func (h *HNSW) SearchExact(vec []float32, k int, ids []uint64, keep func(id uint64) bool) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search k %d, want at least 1: %w", k, ErrBadParams)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.slots.len() == 0 {
		return nil, nil
	}
	sc := h.pool.Get().(*searchScratch)
	defer h.pool.Put(sc)
	q, err := h.query(sc, vec)
	if err != nil {
		return nil, err
	}
	res := &sc.res
	res.max = true
	res.items = res.items[:0]
	consider := func(s uint32) {
		d := h.dist(q, s)
		if res.len() < k {
			res.push(candidate{d, s})
		} else if d < res.top().dist {
			res.pop()
			res.push(candidate{d, s})
		}
	}
	if ids == nil {
		for s := range uint32(len(h.ids)) {
			if !h.dead[s] && (keep == nil || keep(h.ids[s])) {
				consider(s)
			}
		}
	} else {
		sc.vis.reset(len(h.ids))
		for _, id := range ids {
			if s, ok := h.slots.get(id); ok && !sc.vis.visit(s) && (keep == nil || keep(id)) {
				consider(s)
			}
		}
	}
	w := res.items
	slices.SortFunc(w, func(a, b candidate) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return cmp.Compare(a.slot, b.slot)
	})
	return h.hits(w, k), nil
}
