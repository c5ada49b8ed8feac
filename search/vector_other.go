//go:build !amd64 && !arm64

package search

// simd is false where there are no kernels (see vector_amd64.go and vector_arm64.go).
var simd = false

func dot(a, b []float32) float32              { return dotGeneric(a, b) }
func l2sq(a, b []float32) float32             { return l2sqGeneric(a, b) }
func dotHalf(a []float32, b []uint16) float32 { return dotHalfGeneric(a, b) }
func dotInt8(a []float32, b []int8) float32   { return dotInt8Generic(a, b) }
