//go:build !amd64

package hostkernels

// wide is false: the two-panel kernels are AVX-512, amd64 only (NEON's 32
// registers of four lanes hold one panel's accumulators for six rows).
var wide = false

func tileF32x2(x []float32, offs *[Rows]int, w []float32, k int, y []float32, ldy int, bias *[2 * Panel]float32) {
	panic("hostkernels: no two-panel kernel on this architecture")
}

func tileF16x2(x []float32, offs *[Rows]int, w []uint16, k int, y []float32, ldy int, bias *[2 * Panel]float32) {
	panic("hostkernels: no two-panel kernel on this architecture")
}

func tileQ8x2(x []float32, offs *[Rows]int, w []byte, k int, y []float32, ldy int, bias *[2 * Panel]float32) {
	panic("hostkernels: no two-panel kernel on this architecture")
}
