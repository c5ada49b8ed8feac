package search

import (
	"math"
	"math/rand/v2"
	"slices"
)

// clustered returns n deterministic unit vectors of length dims drawn
// around nCentres random centres. Real embeddings cluster by topic, and
// clustered data is where a weak graph loses recall, so tests use it rather
// than uniform noise.
func clustered(seed uint64, n, dims, nCentres int, spread float64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float64, nCentres)
	for i := range centres {
		c := make([]float64, dims)
		for j := range c {
			c[j] = r.NormFloat64()
		}
		unit64(c)
		centres[i] = c
	}
	out := make([][]float32, n)
	sd := spread / math.Sqrt(float64(dims))
	tmp := make([]float64, dims)
	for i := range out {
		c := centres[r.IntN(nCentres)]
		for j := range tmp {
			tmp[j] = c[j] + sd*r.NormFloat64()
		}
		unit64(tmp)
		v := make([]float32, dims)
		for j := range v {
			v[j] = float32(tmp[j])
		}
		out[i] = v
	}
	return out
}

func unit64(v []float64) {
	var s float64
	for _, x := range v {
		s += x * x
	}
	s = 1 / math.Sqrt(s)
	for j := range v {
		v[j] *= s
	}
}

// exactTopK is brute-force cosine search over the live ids, the ground
// truth recall is measured against.
func exactTopK(vecs [][]float32, live func(id uint64) bool, q []float32, k int) []uint64 {
	type scored struct {
		id uint64
		s  float32
	}
	all := make([]scored, 0, len(vecs))
	for i, v := range vecs {
		if live != nil && !live(uint64(i)) {
			continue
		}
		all = append(all, scored{uint64(i), dot(q, v)})
	}
	slices.SortFunc(all, func(a, b scored) int {
		if a.s > b.s {
			return -1
		}
		if a.s < b.s {
			return 1
		}
		return 0
	})
	ids := make([]uint64, 0, k)
	for _, s := range all[:min(k, len(all))] {
		ids = append(ids, s.id)
	}
	return ids
}

// recallAt returns mean |approx ∩ exact| / k over the queries.
func recallAt(k int, queries [][]float32, exact [][]uint64, search func(q []float32) []uint64) float64 {
	var sum float64
	for i, q := range queries {
		got := search(q)
		hit := 0
		for _, id := range got {
			if slices.Contains(exact[i], id) {
				hit++
			}
		}
		sum += float64(hit) / float64(k)
	}
	return sum / float64(len(queries))
}
