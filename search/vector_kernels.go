//go:build amd64 || arm64

package search

// The kernels of vector_amd64.s and vector_arm64.s: n is a positive
// multiple of kernelMin, and a and b hold at least n elements (the
// wrappers in vector.go check).

//go:noescape
func dotKernel(a, b *float32, n int) float32

//go:noescape
func l2sqKernel(a, b *float32, n int) float32

//go:noescape
func dotHalfKernel(a *float32, b *uint16, n int) float32

//go:noescape
func dotInt8Kernel(a *float32, b *int8, n int) float32
