package search

import (
	"math"

	"github.com/edgesearch/edgesearch/store"
)

// kernelMin is the shortest vector worth a kernel call, and the kernels'
// round: below it, and for the tail past the last multiple of it, the Go
// loops run.
const kernelMin = 32

// dot is a·b over len(a) elements; b must be at least as long.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotKernel(&a[0], &b[0], k) + dotGeneric(a[k:], b[k:])
}

// l2sq is the squared Euclidean distance between a and b[:len(a)].
func l2sq(a, b []float32) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return l2sqGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return l2sqKernel(&a[0], &b[0], k) + l2sqGeneric(a[k:], b[k:])
}

// dotHalf is dot with b in binary16.
func dotHalf(a []float32, b []uint16) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotHalfGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotHalfKernel(&a[0], &b[0], k) + dotHalfGeneric(a[k:], b[k:])
}

// dotInt8 is dot with b as int8 codes, unscaled: multiply by b's scale.
func dotInt8(a []float32, b []int8) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotInt8Generic(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotInt8Kernel(&a[0], &b[0], k) + dotInt8Generic(a[k:], b[k:])
}

// dot, l2sq, dotHalf and dotInt8 are the inner loops of every vector
// search. Where the CPU has them they run as SIMD kernels in assembly
// (vector_amd64.s: AVX2 with FMA and F16C; vector_arm64.s: NEON, ARMv8.0); the Go versions here are the
// rest of the machines' and the kernels' reference (TestKernelsMatchGo).
//
// dotGeneric keeps eight independent accumulators: the Go compiler does not
// vectorise, but the CPU can overlap the eight dependency chains.
func dotGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
		s4 += x[4] * y[4]
		s5 += x[5] * y[5]
		s6 += x[6] * y[6]
		s7 += x[7] * y[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// l2sqGeneric is the squared Euclidean distance between a and b, with dot's eight
// accumulators.
func l2sqGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		d0, d1, d2, d3 := x[0]-y[0], x[1]-y[1], x[2]-y[2], x[3]-y[3]
		d4, d5, d6, d7 := x[4]-y[4], x[5]-y[5], x[6]-y[6], x[7]-y[7]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		s4 += d4 * d4
		s5 += d5 * d5
		s6 += d6 * d6
		s7 += d7 * d7
	}
	for ; i < n; i++ {
		d := a[i] - b[i]
		s0 += d * d
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// normalize writes v scaled to unit length into dst. Cosine similarity over
// unit vectors is a dot product, which is what the graph stores and compares.
func normalize(dst, v []float32) error {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if len(v) == 0 || sum == 0 || math.IsNaN(sum) || math.IsInf(sum, 0) {
		return ErrBadVector
	}
	inv := 1 / math.Sqrt(sum)
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
	return nil
}

// The graph keeps its vectors in IEEE half precision, the store's own
// 16-bit encoding: half the memory of float32 for a relative error of about
// 5e-4 per component, which moves a cosine between unit vectors by less
// than 1e-3 and recall not measurably (TestHNSWRecall).

// halfTable maps every binary16 value to its float32, built once: one
// load per component decodes faster than the bit arithmetic, and its 256 KB
// stay in cache while a search runs.
var halfTable = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for h := range t {
		t[h] = store.Float16Value(uint16(h))
	}
	return &t
}()

// encodeHalf writes v as binary16 into dst.
func encodeHalf(dst []uint16, v []float32) {
	dst = dst[:len(v)]
	for i, x := range v {
		dst[i] = store.Float16Bits(x)
	}
}

// decodeHalf writes h as float32 into dst.
func decodeHalf(dst []float32, h []uint16) {
	t := halfTable
	dst = dst[:len(h)]
	for i, x := range h {
		dst[i] = t[x]
	}
}

// dotHalfGeneric is dot with b in binary16, decoded on the fly.
func dotHalfGeneric(a []float32, b []uint16) float32 {
	t := halfTable
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0] * t[y[0]]
		s1 += x[1] * t[y[1]]
		s2 += x[2] * t[y[2]]
		s3 += x[3] * t[y[3]]
		s4 += x[4] * t[y[4]]
		s5 += x[5] * t[y[5]]
		s6 += x[6] * t[y[6]]
		s7 += x[7] * t[y[7]]
	}
	for ; i < n; i++ {
		s0 += a[i] * t[b[i]]
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}

// The graph of a Collections cosine vector keeps int8 codes: each unit
// vector v is stored as round(v/scale), scale = max|v_i| / 127, so the
// largest component keeps 7 bits and the rest keep their share. A query
// stays float32 and is compared with the codes directly (asymmetric
// distance), which halves the error of quantizing both sides. For 384-d
// unit vectors that moves a cosine by about 3e-4 typically and 1e-3 at
// worst (TestQuantizeError), enough to reorder near ties: the caller
// rescores the best candidates from full vectors (fullVectors.rescore).

// quantize writes v's int8 codes into dst and returns their scale (0 for
// a zero vector, whose codes are all zero).
func quantize(dst []int8, v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	dst = dst[:len(v)]
	if m == 0 {
		clear(dst)
		return 0
	}
	scale := m / 127
	inv := 1 / scale
	for i, x := range v {
		dst[i] = int8(max(-127, min(127, math.Round(float64(x*inv)))))
	}
	return scale
}

// decodeInt8 writes codes × scale into dst.
func decodeInt8(dst []float32, codes []int8, scale float32) {
	dst = dst[:len(codes)]
	for i, c := range codes {
		dst[i] = float32(c) * scale
	}
}

// dotInt8Generic is dot with b as int8 codes, unscaled: multiply by b's
// scale.
func dotInt8Generic(a []float32, b []int8) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3, s4, s5, s6, s7 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		x := a[i : i+8 : i+8]
		y := b[i : i+8 : i+8]
		s0 += x[0] * float32(y[0])
		s1 += x[1] * float32(y[1])
		s2 += x[2] * float32(y[2])
		s3 += x[3] * float32(y[3])
		s4 += x[4] * float32(y[4])
		s5 += x[5] * float32(y[5])
		s6 += x[6] * float32(y[6])
		s7 += x[7] * float32(y[7])
	}
	for ; i < n; i++ {
		s0 += a[i] * float32(b[i])
	}
	return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
}
