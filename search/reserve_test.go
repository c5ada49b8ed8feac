package search

import (
	"math"
	"testing"
)

func TestReserveIgnoresAHintPastAnIntOfBytes(t *testing.T) {
	// The hint comes from a count in the store, which damage can set to
	// anything an int holds. Checked in elements, n×dims fitted an int
	// while the bytes (2 per half-precision value) did not: on a 64-bit
	// build make panicked ("len out of range"), on a 32-bit one it asked
	// for 2 GiB of slab. A hint no int of bytes can hold is ignored; Add
	// reports the real limit when the graph gets there.
	const dims = 384
	h, err := New(Params{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{math.MaxInt/(2*dims) + 1, math.MaxInt / dims, math.MaxInt/(4*(h.m0+1)) + 1} {
		h.Reserve(n, dims)
		if cap(h.vecs) != 0 || cap(h.links0) != 0 || cap(h.ids) != 0 {
			t.Fatalf("Reserve(%d, %d) grew the slabs to %d values, %d links, %d ids", n, dims, cap(h.vecs), cap(h.links0), cap(h.ids))
		}
	}
	h.Reserve(1000, dims)
	if cap(h.vecs) < 1000*dims || cap(h.ids) < 1000 {
		t.Fatalf("Reserve(1000, %d) grew the slabs to %d values, %d ids", dims, cap(h.vecs), cap(h.ids))
	}
}
