package search

import "errors"

// Sentinel errors; compare with errors.Is.
var (
	// ErrDims means a vector's length differs from the index's dimensions.
	ErrDims = errors.New("vector dimensions differ from the index")
	// ErrBadVector means a vector is empty, all zeros, or holds NaN or Inf.
	ErrBadVector = errors.New("vector is empty, zero or not finite")
	// ErrBadParams means an index parameter is out of range.
	ErrBadParams = errors.New("index parameter out of range")
	// ErrCorrupt means a persisted index failed its checksum or structural
	// checks; rebuild it from the store.
	ErrCorrupt = errors.New("persisted index is damaged")
	// ErrVersion means a persisted index was written by an incompatible
	// format version; rebuild it from the store.
	ErrVersion = errors.New("persisted index has an unsupported format version")
	// ErrTooLarge means an index would hold more than this platform can
	// address (a 32-bit build): more slots than an int can count.
	ErrTooLarge = errors.New("index too large for this platform")
	// ErrUnknownMode means a search mode string is not hybrid, semantic or keyword.
	ErrUnknownMode = errors.New("unknown search mode")
	// ErrNoQuery means a search mode needs a query text or vector that was not given.
	ErrNoQuery = errors.New("missing query for search mode")
)

// Hit is one ranked result: the caller's id and a score. Score is cosine
// similarity or the dot product for vector search (higher is better), the
// L2 distance for a Euclid graph (lower is better, as Qdrant reports it),
// the BM25 score for keyword search and the fused reciprocal-rank score for
// hybrid search.
type Hit struct {
	ID    uint64
	Score float32
}
