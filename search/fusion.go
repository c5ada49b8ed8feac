package search

import (
	"fmt"
	"strings"
)

// RRFConstant is k in reciprocal rank fusion, score = Σ 1/(k + rank): the
// value from Cormack et al. that damps the weight of the very top ranks.
const RRFConstant = 60

// Fuse merges ranked lists by reciprocal rank fusion: an id at rank r
// (1-based) in a list earns 1/(RRFConstant+r), summed over the lists.
// Scores of the inputs are ignored, which is why cosine and BM25 can be
// fused without calibration. Only an id's first occurrence in a list
// counts. The result is best first, ties by ascending id.
func Fuse(lists ...[]Hit) []Hit {
	score := map[uint64]float64{}
	var order []uint64
	for _, list := range lists {
		seen := make(map[uint64]bool, len(list))
		for rank, h := range list {
			if seen[h.ID] {
				continue
			}
			seen[h.ID] = true
			if _, ok := score[h.ID]; !ok {
				order = append(order, h.ID)
			}
			score[h.ID] += 1 / float64(RRFConstant+rank+1)
		}
	}
	out := make([]Hit, len(order))
	for i, id := range order {
		out[i] = Hit{ID: id, Score: float32(score[id])}
	}
	sortHits(out)
	return out
}

// Mode selects which indexes answer a query.
type Mode int

const (
	// Hybrid fuses semantic and keyword results; the default.
	Hybrid Mode = iota
	// Semantic uses the vector graph alone.
	Semantic
	// Keyword uses BM25 alone.
	Keyword
)

var modeNames = [...]string{Hybrid: "hybrid", Semantic: "semantic", Keyword: "keyword"}

// String returns the mode's name as ParseMode accepts it.
func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// ParseMode reads a mode name, case-insensitively; "" means Hybrid. An
// unknown name fails with ErrUnknownMode.
func ParseMode(s string) (Mode, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return Hybrid, nil
	}
	for m, name := range modeNames {
		if t == name {
			return Mode(m), nil
		}
	}
	return Hybrid, fmt.Errorf("mode %q, want hybrid, semantic or keyword: %w", s, ErrUnknownMode)
}

// MarshalText implements encoding.TextMarshaler.
func (m Mode) MarshalText() ([]byte, error) {
	if m < 0 || int(m) >= len(modeNames) {
		return nil, fmt.Errorf("mode %d: %w", int(m), ErrUnknownMode)
	}
	return []byte(modeNames[m]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseMode.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Index pairs the two indexes over the same chunk ids.
type Index struct {
	Vectors  *HNSW
	Keywords *BM25
}

// hybridDepth is how many candidates each side contributes before fusion:
// enough that a chunk ranked modestly by both sides can still win.
func hybridDepth(k int) int { return max(2*k, 50) }

// Search answers a query in the given mode: Semantic needs vec, Keyword
// needs text, Hybrid uses both (or whichever is given). keep filters ids
// (nil keeps all). It fails with ErrNoQuery when the mode's input is
// missing, and with the indexes' own errors.
func (ix Index) Search(mode Mode, vec []float32, text string, k int, keep func(id uint64) bool) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("search k %d, want at least 1: %w", k, ErrBadParams)
	}
	switch mode {
	case Semantic:
		if len(vec) == 0 {
			return nil, fmt.Errorf("semantic search without a query vector: %w", ErrNoQuery)
		}
		return ix.Vectors.SearchFunc(vec, k, keep)
	case Keyword:
		if len(Terms(text)) == 0 {
			return nil, fmt.Errorf("keyword search for %q: no searchable words: %w", text, ErrNoQuery)
		}
		return ix.Keywords.SearchFunc(text, k, keep)
	case Hybrid:
		if len(vec) == 0 && len(Terms(text)) == 0 {
			return nil, fmt.Errorf("hybrid search for %q without a vector or searchable words: %w", text, ErrNoQuery)
		}
		depth := hybridDepth(k)
		var sem, kw []Hit
		var err error
		if len(vec) > 0 {
			if sem, err = ix.Vectors.SearchFunc(vec, depth, keep); err != nil {
				return nil, err
			}
		}
		if kw, err = ix.Keywords.SearchFunc(text, depth, keep); err != nil {
			return nil, err
		}
		out := Fuse(sem, kw)
		return out[:min(k, len(out))], nil
	}
	return nil, fmt.Errorf("mode %d: %w", int(mode), ErrUnknownMode)
}
