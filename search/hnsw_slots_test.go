package search

import (
	"math/rand/v2"
	"testing"
)

// TestIDSlotsAgreeWithAMap drives idSlots and a plain map with the same
// random sets and deletes over dense, reused and huge ids, and checks
// every lookup, the count and the iteration agree, and that the slice stays
// within about two entries per id.
func TestIDSlotsAgreeWithAMap(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	var got idSlots
	want := map[uint64]uint32{}
	id := func() uint64 {
		switch r.IntN(10) {
		case 0:
			return r.Uint64() // far beyond any slice
		case 1:
			return uint64(r.IntN(1 << 20))
		}
		return uint64(r.IntN(5000))
	}
	for i := range 200000 {
		k := id()
		if r.IntN(3) == 0 {
			got.del(k)
			delete(want, k)
		} else {
			s := uint32(i)
			got.set(k, s)
			want[k] = s
		}
		if i%1000 == 0 {
			probe := id()
			s, ok := got.get(probe)
			ws, wok := want[probe]
			if ok != wok || (ok && s != ws) {
				t.Fatalf("step %d: get(%d) = %d %v, want %d %v", i, probe, s, ok, ws, wok)
			}
		}
	}
	if got.len() != len(want) {
		t.Fatalf("len %d, want %d", got.len(), len(want))
	}
	seen := 0
	got.each(func(k uint64, s uint32) {
		seen++
		if ws, ok := want[k]; !ok || ws != s {
			t.Fatalf("each gave %d → %d, want %d %v", k, s, ws, ok)
		}
	})
	if seen != len(want) {
		t.Fatalf("each gave %d ids, want %d", seen, len(want))
	}
	for k, ws := range want {
		if s, ok := got.get(k); !ok || s != ws {
			t.Fatalf("get(%d) = %d %v, want %d", k, s, ok, ws)
		}
	}
	if len(got.dense) > 2*(got.len()+1)+denseSlack {
		t.Fatalf("dense slice of %d for %d ids", len(got.dense), got.len())
	}
}
