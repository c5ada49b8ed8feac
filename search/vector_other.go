//go:build !amd64 && !arm64

package search

// simd is false where there are no kernels (vector_amd64.s and
// vector_arm64.s): the wrappers in vector.go run the Go loops.
var simd = false

func dotKernel(a, b *float32, n int) float32             { panic("search: no SIMD kernels here") }
func l2sqKernel(a, b *float32, n int) float32            { panic("search: no SIMD kernels here") }
func dotHalfKernel(a *float32, b *uint16, n int) float32 { panic("search: no SIMD kernels here") }
func dotInt8Kernel(a *float32, b *int8, n int) float32   { panic("search: no SIMD kernels here") }
