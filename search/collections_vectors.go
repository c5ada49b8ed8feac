package search

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/edgesearch/edgesearch/store"
)

// A collection's cosine graphs hold int8 codes (Params.Int8): a quarter of
// float32, half of the binary16 vectors they held before, which is what
// lets a million 384-d points be served in well under 1 GB. Codes move a
// cosine by up to about 1e-3, enough to reorder near neighbours, so every
// search takes the graph's best max(ef, k) candidates by their codes and
// rescores them from the full vectors, in binary16 as the graphs used to
// hold them: the scores returned are those of the binary16 graphs, and
// recall is at least theirs (the rescored pool is ef deep, k of it kept).
//
// The full vectors live in a file beside the graphs, one row per internal
// id, read with pread for the few rows a search rescores: the kernel's page
// cache holds the rows read often, outside the process's memory, and may
// drop them under pressure. The file is scratch: made at open (and unlinked
// at once where the system allows, so no other process, or a second
// Collections over the same directory, ever shares it), filled by the walk
// over the stored points that every open makes anyway and by upserts, and
// never read back at the next start; nothing in it needs to be durable.

// fullVectors is one collection's file of full vectors.
type fullVectors struct {
	f        *os.File
	path     string // where it was made, "" once unlinked
	rowBytes int64
	off      map[string]int64 // vector name → byte offset in a row (cosine vectors)
	dims     map[string]int

	// Writer scratch, guarded by Collections.writeMu.
	row  []byte
	norm []float32
	half []uint16
	// Reader scratch.
	pool sync.Pool
}

type rescoreScratch struct {
	buf []byte
	vec []uint16
	q   []float32
}

// quantized reports whether a vector of these params is indexed as int8
// codes and rescored from the full vectors.
func quantized(vp store.VectorParams) bool { return vp.Distance == store.Cosine }

// newFullVectors makes the file for a collection's cosine vectors in dir,
// or returns nil when the collection has none.
func newFullVectors(dir, name string, vectors map[string]store.VectorParams) (*fullVectors, error) {
	fv := &fullVectors{off: map[string]int64{}, dims: map[string]int{}}
	for _, v := range sortedVectorNames(vectors) {
		if vp := vectors[v]; quantized(vp) {
			fv.off[v] = fv.rowBytes
			fv.dims[v] = vp.Size
			fv.rowBytes += 2 * int64(vp.Size)
		}
	}
	if fv.rowBytes == 0 {
		return nil, nil
	}
	f, err := os.CreateTemp(dir, name+".vectors-*")
	if err != nil {
		return nil, fmt.Errorf("collection %q: file for full vectors: %w", name, err)
	}
	fv.f = f
	if err := os.Remove(f.Name()); err != nil {
		fv.path = f.Name() // removed at close, or as an orphan at the next open
	}
	fv.pool.New = func() any { return new(rescoreScratch) }
	return fv, nil
}

// close closes (and, where it could not be unlinked at once, removes) the
// file. Safe on nil.
func (fv *fullVectors) close() {
	if fv == nil {
		return
	}
	fv.f.Close()
	if fv.path != "" {
		os.Remove(fv.path)
	}
}

// put writes the cosine vectors of internal id nid, normalised, in
// binary16. A vector that cannot be normalised (zero: a point a careless
// writer stored, which the graph leaves out too) is written as zeros.
// Called with Collections.writeMu held.
func (fv *fullVectors) put(nid uint64, vecs map[string][]float32) error {
	if fv == nil {
		return nil
	}
	if int64(cap(fv.row)) < fv.rowBytes {
		fv.row = make([]byte, fv.rowBytes)
	}
	row := fv.row[:fv.rowBytes]
	clear(row)
	for v, o := range fv.off {
		d := fv.dims[v]
		vec := vecs[v]
		if len(vec) != d {
			continue
		}
		if cap(fv.norm) < d {
			fv.norm, fv.half = make([]float32, d), make([]uint16, d)
		}
		if normalize(fv.norm[:d], vec) != nil {
			continue
		}
		encodeHalf(fv.half[:d], fv.norm[:d])
		for i, h := range fv.half[:d] {
			binary.LittleEndian.PutUint16(row[o+2*int64(i):], h)
		}
	}
	if _, err := fv.f.WriteAt(row, int64(nid)*fv.rowBytes); err != nil {
		return fmt.Errorf("write full vectors of internal id %d: %w", nid, err)
	}
	return nil
}

// rescore scores each hit (internal ids from the int8 graph of vector
// name) against vec with its full vector, as the binary16 graph scored
// them, and returns the k best, best first (ties by internal id).
func (fv *fullVectors) rescore(name string, vec []float32, hits []Hit, k int) ([]Hit, error) {
	d := fv.dims[name]
	sc := fv.pool.Get().(*rescoreScratch)
	defer fv.pool.Put(sc)
	if cap(sc.q) < d {
		sc.q, sc.vec, sc.buf = make([]float32, d), make([]uint16, d), make([]byte, 2*d)
	}
	q, hv, buf := sc.q[:d], sc.vec[:d], sc.buf[:2*d]
	if err := normalize(q, vec); err != nil {
		return nil, err // the graph's search checked it already
	}
	for i := range hits {
		if _, err := fv.f.ReadAt(buf, int64(hits[i].ID)*fv.rowBytes+fv.off[name]); err != nil {
			return nil, fmt.Errorf("read full vector of internal id %d: %w", hits[i].ID, err)
		}
		for j := range hv {
			hv[j] = binary.LittleEndian.Uint16(buf[2*j:])
		}
		hits[i].Score = dotHalf(q, hv)
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return hits[:min(k, len(hits))], nil
}

// attachFull gives col its file of full vectors when its graphs hold int8
// codes. Called before col is shared.
func (c *Collections) attachFull(col *pointIndex) error {
	fv, err := newFullVectors(filepath.Join(c.opts.Dir, CollectionsDir), col.name, col.vectors)
	if err != nil {
		return err
	}
	col.full = fv
	return nil
}
