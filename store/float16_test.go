package store

import (
	"math"
	"testing"
)

// TestFloat16RoundTripsEveryValue decodes all 65536 bit patterns and checks
// that encoding gives the same bits back (NaNs stay NaN).
func TestFloat16RoundTripsEveryValue(t *testing.T) {
	for h := range 1 << 16 {
		f := Float16Value(uint16(h))
		got := Float16Bits(f)
		if math.IsNaN(float64(f)) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Errorf("NaN %#04x encoded as %#04x", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Errorf("%#04x -> %v -> %#04x", h, f, got)
		}
	}
}

// TestFloat16RoundsToNearestEven checks the midpoint between every pair of
// neighbouring finite halves (exactly representable in float32) and points
// just either side of it.
func TestFloat16RoundsToNearestEven(t *testing.T) {
	for _, sign := range []uint16{0, 0x8000} {
		for h := uint16(0); h < 0x7bff; h++ {
			lo, hi := Float16Value(sign|h), Float16Value(sign|(h+1))
			mid := float32((float64(lo) + float64(hi)) / 2)
			even := sign | h
			if h&1 == 1 {
				even = sign | (h + 1)
			}
			if got := Float16Bits(mid); got != even {
				t.Fatalf("midpoint %v of %#04x and %#04x -> %#04x, want %#04x", mid, sign|h, sign|(h+1), got, even)
			}
			below, above := math.Nextafter32(mid, lo), math.Nextafter32(mid, hi)
			if got := Float16Bits(below); got != sign|h {
				t.Fatalf("%v just below the midpoint -> %#04x, want %#04x", below, got, sign|h)
			}
			if got := Float16Bits(above); got != sign|(h+1) {
				t.Fatalf("%v just above the midpoint -> %#04x, want %#04x", above, got, sign|(h+1))
			}
		}
	}
	for _, tt := range []struct {
		in   float32
		want uint16
	}{
		{65504, 0x7bff},
		{65520, 0x7c00}, // halfway to the next power: rounds to Inf
		{1e10, 0x7c00},
		{-1e10, 0xfc00},
		{1e-10, 0},
		{float32(math.Inf(1)), 0x7c00},
	} {
		if got := Float16Bits(tt.in); got != tt.want {
			t.Errorf("Float16Bits(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
}
