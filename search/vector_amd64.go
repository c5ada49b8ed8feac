package search

import "golang.org/x/sys/cpu"

// simd is whether this CPU runs the AVX2 kernels of vector_amd64.s: AVX2
// and FMA (which x/sys/cpu reports only when the OS saves the YMM
// registers) and F16C, which every AVX2 CPU has but a virtual machine could
// hide. A variable so that tests can compare both paths.
var simd = cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C()

// kernelMin is the shortest vector worth a kernel call; below it, and for
// the tail past the last multiple of 32, the Go loops run.
const kernelMin = 32

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func l2sqAVX2(a, b *float32, n int) float32

//go:noescape
func dotHalfAVX2(a *float32, b *uint16, n int) float32

//go:noescape
func dotInt8AVX2(a *float32, b *int8, n int) float32

func hasF16C() bool

// dot is a·b over len(a) elements; b must be at least as long.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotAVX2(&a[0], &b[0], k) + dotGeneric(a[k:], b[k:])
}

// l2sq is the squared Euclidean distance between a and b[:len(a)].
func l2sq(a, b []float32) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return l2sqGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return l2sqAVX2(&a[0], &b[0], k) + l2sqGeneric(a[k:], b[k:])
}

// dotHalf is dot with b in binary16.
func dotHalf(a []float32, b []uint16) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotHalfGeneric(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotHalfAVX2(&a[0], &b[0], k) + dotHalfGeneric(a[k:], b[k:])
}

// dotInt8 is dot with b as int8 codes, unscaled: multiply by b's scale.
func dotInt8(a []float32, b []int8) float32 {
	b = b[:len(a)]
	if !simd || len(a) < kernelMin {
		return dotInt8Generic(a, b)
	}
	k := len(a) &^ (kernelMin - 1)
	return dotInt8AVX2(&a[0], &b[0], k) + dotInt8Generic(a[k:], b[k:])
}
