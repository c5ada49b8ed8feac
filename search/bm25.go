package search

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// BM25 parameters: the usual values, as in Lucene and Elasticsearch.
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// posting is one document containing a term and how often.
type posting struct {
	slot uint32
	tf   uint32
}

// BM25 is an in-memory keyword index scored with Okapi BM25. Terms come
// from scanTokens (lower-case, stop words removed, English stemming).
//
// Deleted documents stay in the posting lists as tombstones, skipped when
// scoring (document frequencies count live postings only), until a quarter
// of the slots are dead and the lists are compacted. It is not persisted:
// rebuilding it from the stored chunk texts is fast (see BenchmarkBM25Add).
//
// A BM25 is safe for concurrent use: searches share a read lock, Add and
// Delete take the write lock.
type BM25 struct {
	mu       sync.RWMutex
	termIDs  map[string]uint32
	postings [][]posting // term id → postings, slot ascending
	ids      []uint64    // slot → caller's id
	lens     []uint32    // slot → number of terms
	dead     []bool
	slots    map[uint64]uint32
	nDead    int
	totalLen uint64 // over live documents
	pool     sync.Pool
}

// NewBM25 returns an empty keyword index.
func NewBM25() *BM25 {
	b := &BM25{termIDs: map[string]uint32{}, slots: map[uint64]uint32{}}
	b.pool.New = func() any { return new(bm25Scratch) }
	return b
}

type bm25Scratch struct {
	scores  []float32
	touched []uint32
}

// Len returns the number of live documents.
func (b *BM25) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.slots)
}

// Add indexes text under id, replacing any text already stored for id. A
// text with no indexable words is stored but matches nothing.
func (b *BM25) Add(id uint64, text string) error {
	counts := map[string]uint32{}
	var n uint32
	scanTokens(text, func(t token) {
		counts[t.term]++
		n++
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	// Slots are uint32 with MaxUint32 meaning none; compared as uint64 so
	// the test compiles and holds on a 32-bit build too.
	if uint64(len(b.ids)) >= math.MaxUint32-1 {
		return fmt.Errorf("add id %d: keyword index holds %d slots: %w", id, len(b.ids), ErrTooLarge)
	}
	if old, ok := b.slots[id]; ok {
		b.deleteSlot(old)
	}
	s := uint32(len(b.ids))
	b.ids = append(b.ids, id)
	b.lens = append(b.lens, n)
	b.dead = append(b.dead, false)
	b.slots[id] = s
	b.totalLen += uint64(n)
	for term, tf := range counts {
		tid, ok := b.termIDs[term]
		if !ok {
			tid = uint32(len(b.postings))
			b.termIDs[term] = tid
			b.postings = append(b.postings, nil)
		}
		b.postings[tid] = append(b.postings[tid], posting{s, tf})
	}
	b.maybeCompact()
	return nil
}

// Delete removes id and reports whether it was present.
func (b *BM25) Delete(id uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.slots[id]
	if !ok {
		return false
	}
	b.deleteSlot(s)
	b.maybeCompact()
	return true
}

func (b *BM25) deleteSlot(s uint32) {
	delete(b.slots, b.ids[s])
	b.dead[s] = true
	b.nDead++
	b.totalLen -= uint64(b.lens[s])
}

func (b *BM25) maybeCompact() {
	if b.nDead < compactMin || b.nDead*compactFraction < len(b.ids) {
		return
	}
	remap := make([]uint32, len(b.ids))
	live := uint32(0)
	for s := range b.ids {
		if b.dead[s] {
			remap[s] = math.MaxUint32
			continue
		}
		remap[s] = live
		live++
	}
	for tid, ps := range b.postings {
		out := ps[:0]
		for _, p := range ps {
			if ns := remap[p.slot]; ns != math.MaxUint32 {
				out = append(out, posting{ns, p.tf})
			}
		}
		// Terms left with no postings keep their id (cheap) but release
		// their storage.
		if len(out) == 0 {
			out = nil
		}
		b.postings[tid] = out
	}
	for s, ns := range remap {
		if ns == math.MaxUint32 {
			continue
		}
		b.ids[ns], b.lens[ns], b.dead[ns] = b.ids[s], b.lens[s], false
		b.slots[b.ids[ns]] = ns
	}
	b.ids, b.lens, b.dead = b.ids[:live], b.lens[:live], b.dead[:live]
	b.nDead = 0
}

// Search returns up to k ids whose texts best match query by BM25, best
// first. A query with no indexable words matches nothing. It fails with
// ErrBadParams for k < 1.
func (b *BM25) Search(query string, k int) ([]Hit, error) {
	return b.SearchFunc(query, k, nil)
}

// SearchFunc is Search restricted to ids for which keep returns true (nil
// keeps all). keep must not call back into b.
func (b *BM25) SearchFunc(query string, k int, keep func(id uint64) bool) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("keyword search k %d, want at least 1: %w", k, ErrBadParams)
	}
	terms := Terms(query)
	b.mu.RLock()
	defer b.mu.RUnlock()
	nLive := len(b.slots)
	if nLive == 0 || len(terms) == 0 {
		return nil, nil
	}
	sc := b.pool.Get().(*bm25Scratch)
	defer b.pool.Put(sc)
	if len(sc.scores) < len(b.ids) {
		sc.scores = make([]float32, len(b.ids)+len(b.ids)/4)
	}
	scores := sc.scores
	touched := sc.touched[:0]
	avg := float64(b.totalLen) / float64(nLive)
	if avg == 0 {
		avg = 1
	}
	for _, term := range terms {
		tid, ok := b.termIDs[term]
		if !ok {
			continue
		}
		ps := b.postings[tid]
		df := 0
		for _, p := range ps {
			if !b.dead[p.slot] {
				df++
			}
		}
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (float64(nLive)-float64(df)+0.5)/(float64(df)+0.5))
		for _, p := range ps {
			if b.dead[p.slot] {
				continue
			}
			tf := float64(p.tf)
			norm := BM25K1 * (1 - BM25B + BM25B*float64(b.lens[p.slot])/avg)
			if scores[p.slot] == 0 {
				touched = append(touched, p.slot)
			}
			scores[p.slot] += float32(idf * tf * (BM25K1 + 1) / (tf + norm))
		}
	}
	hits := make([]Hit, 0, len(touched))
	for _, s := range touched {
		if keep == nil || keep(b.ids[s]) {
			hits = append(hits, Hit{ID: b.ids[s], Score: scores[s]})
		}
		scores[s] = 0
	}
	sc.touched = touched
	sortHits(hits)
	return hits[:min(k, len(hits))], nil
}

// sortHits orders best first; equal scores go by ascending id so results
// are reproducible.
func sortHits(hits []Hit) {
	slices.SortFunc(hits, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// Matching calls fn with the id of each live document that holds one of
// terms (from Terms), once per term it holds, until fn returns false or
// limit postings were visited. It reports whether every posting was
// visited: false when limit or fn stopped it.
func (b *BM25) Matching(terms []string, limit int, fn func(id uint64) bool) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, t := range terms {
		tid, ok := b.termIDs[t]
		if !ok {
			continue
		}
		for _, p := range b.postings[tid] {
			if b.dead[p.slot] {
				continue
			}
			if n >= limit {
				return false
			}
			n++
			if !fn(b.ids[p.slot]) {
				return false
			}
		}
	}
	return true
}
