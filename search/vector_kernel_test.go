package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// kernelCase is a pair of vectors and the sum of |a_i·b_i|, which bounds
// how far two summation orders may differ.
type kernelCase struct {
	a, b []float32
	h    []uint16
	c    []int8
}

func newKernelCase(r *rand.Rand, n, extra int) kernelCase {
	k := kernelCase{a: make([]float32, n), b: make([]float32, n+extra), h: make([]uint16, n+extra), c: make([]int8, n+extra)}
	for i := range k.a {
		k.a[i] = float32(r.NormFloat64())
	}
	for i := range k.b {
		k.b[i] = float32(r.NormFloat64())
		k.h[i] = store.Float16Bits(k.b[i])
		k.c[i] = int8(r.IntN(255) - 127)
	}
	return k
}

// TestKernelsMatchGo holds the SIMD kernels to the Go loops at every length
// around the kernels' 32-element rounds (tails, b longer than a), within
// float32 rounding of a different summation order. Where the CPU has no
// kernels it checks the dispatch is the Go loop exactly.
func TestKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lengths := []int{0, 1, 7, 31, 32, 33, 63, 64, 65, 100, 383, 384, 385, 768, 1536}
	for _, n := range lengths {
		for _, extra := range []int{0, 5} {
			k := newKernelCase(r, n, extra)
			var absDot, absL2, absHalf, absInt8 float64
			for i := range k.a {
				absDot += math.Abs(float64(k.a[i] * k.b[i]))
				d := float64(k.a[i] - k.b[i])
				absL2 += d * d
				absHalf += math.Abs(float64(k.a[i]) * float64(halfTable[k.h[i]]))
				absInt8 += math.Abs(float64(k.a[i]) * float64(k.c[i]))
			}
			check := func(name string, got, want float32, bound float64) {
				t.Helper()
				tol := 1e-6*bound + 1e-30
				if !simd {
					tol = 0
				}
				if diff := math.Abs(float64(got - want)); diff > tol {
					t.Errorf("%s n=%d extra=%d: kernel %v, Go %v (diff %g > %g)", name, n, extra, got, want, diff, tol)
				}
			}
			check("dot", dot(k.a, k.b), dotGeneric(k.a, k.b[:n]), absDot)
			check("l2sq", l2sq(k.a, k.b), l2sqGeneric(k.a, k.b[:n]), absL2)
			check("dotHalf", dotHalf(k.a, k.h), dotHalfGeneric(k.a, k.h[:n]), absHalf)
			check("dotInt8", dotInt8(k.a, k.c), dotInt8Generic(k.a, k.c[:n]), absInt8)
		}
	}
}

// TestKernelsWidenEveryValueExactly puts each of the 65,536 binary16 values
// and each of the 256 int8 codes alone in a 32-element b (at every lane
// position in turn) against a of ones: the kernels' widening must give
// halfTable's float32 and the code's value exactly, subnormals, infinities
// and -128 included (a NaN must stay a NaN).
func TestKernelsWidenEveryValueExactly(t *testing.T) {
	const n = kernelMin // one kernel round
	a := make([]float32, n)
	for i := range a {
		a[i] = 1
	}
	h := make([]uint16, n)
	for v := range 1 << 16 {
		lane := v % n
		h[lane] = uint16(v)
		got, want := dotHalf(a, h), halfTable[v]
		h[lane] = 0
		if got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
			t.Errorf("dotHalf of binary16 %#04x alone in lane %d: %v, want %v", v, lane, got, want)
		}
	}
	c := make([]int8, n)
	for v := math.MinInt8; v <= math.MaxInt8; v++ {
		lane := (v + 128) % n
		c[lane] = int8(v)
		got := dotInt8(a, c)
		c[lane] = 0
		if got != float32(v) {
			t.Errorf("dotInt8 of code %d alone in lane %d: %v, want %d", v, lane, got, v)
		}
	}
}

// TestKernelsRefuseAShortB: b shorter than a panics on every path rather
// than reading past it.
func TestKernelsRefuseAShortB(t *testing.T) {
	k := newKernelCase(rand.New(rand.NewPCG(3, 4)), 384, 0)
	short := 383
	for name, f := range map[string]func(){
		"dot":     func() { dot(k.a, k.b[:short:short]) },
		"l2sq":    func() { l2sq(k.a, k.b[:short:short]) },
		"dotHalf": func() { dotHalf(k.a, k.h[:short:short]) },
		"dotInt8": func() { dotInt8(k.a, k.c[:short:short]) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a short b did not panic", name)
				}
			}()
			f()
		}()
	}
}

// BenchmarkKernels compares each kernel with its Go loop at 384 elements
// (the model's width): go test ./search -run '^$' -bench Kernels.
func BenchmarkKernels(b *testing.B) {
	k := newKernelCase(rand.New(rand.NewPCG(5, 6)), 384, 0)
	var sink float32
	for _, c := range []struct {
		name string
		f    func() float32
	}{
		{"dot", func() float32 { return dot(k.a, k.b) }},
		{"dot/go", func() float32 { return dotGeneric(k.a, k.b) }},
		{"l2sq", func() float32 { return l2sq(k.a, k.b) }},
		{"l2sq/go", func() float32 { return l2sqGeneric(k.a, k.b) }},
		{"dotHalf", func() float32 { return dotHalf(k.a, k.h) }},
		{"dotHalf/go", func() float32 { return dotHalfGeneric(k.a, k.h) }},
		{"dotInt8", func() float32 { return dotInt8(k.a, k.c) }},
		{"dotInt8/go", func() float32 { return dotInt8Generic(k.a, k.c) }},
	} {
		b.Run(fmt.Sprintf("%s/384", c.name), func(b *testing.B) {
			for b.Loop() {
				sink += c.f()
			}
		})
	}
	_ = sink
}
