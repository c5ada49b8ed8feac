package search

// simd is whether the NEON kernels of vector_arm64.s run. Advanced SIMD is
// part of every arm64 CPU (the kernels use only ARMv8.0, what the Pi 4's
// Cortex-A72 has), so it is always true here; it stays a variable so that
// tests can compare both paths, as on amd64.
var simd = true

// kernelMin is the shortest vector worth a kernel call; below it, and for
// the tail past the last multiple of 32, the Go loops run.
const kernelMin = 32

//go:noescape
func dotNEON(a, b *float32, n int) float32

//go:noescape
func l2sqNEON(a, b *float32, n int) float32

//go:noescape
func dotHalfNEON(a *float32, b *uint16, n int) float32

//go:noescape
func dotInt8NEON(a *float32, b *int8, n int) float32

// dot is a·b over len(a) elements; b must be at least as long.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotNEON(&a[0], &b[0], k) + dotGeneric(a[k:], b[k:])
}

// l2sq is the squared Euclidean distance between a and b[:len(a)].
func l2sq(a, b []float32) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return l2sqGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return l2sqNEON(&a[0], &b[0], k) + l2sqGeneric(a[k:], b[k:])
}

// dotHalf is dot with b in binary16.
func dotHalf(a []float32, b []uint16) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotHalfGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotHalfNEON(&a[0], &b[0], k) + dotHalfGeneric(a[k:], b[k:])
}

// dotInt8 is dot with b as int8 codes, unscaled: multiply by b's scale.
func dotInt8(a []float32, b []int8) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotInt8Generic(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotInt8NEON(&a[0], &b[0], k) + dotInt8Generic(a[k:], b[k:])
}
