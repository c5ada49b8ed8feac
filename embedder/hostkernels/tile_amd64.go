package hostkernels

import "golang.org/x/sys/cpu"

// simd is whether this CPU runs the AVX2 kernels of tile_amd64.s: AVX2 and
// FMA (which x/sys/cpu reports only when the OS saves the YMM registers) and
// F16C, which a virtual machine could hide. A variable so that tests can
// compare both paths.
var simd = cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C()

func hasF16C() bool

// wide is whether MatMul's and MatMulQ8's tiles take two panels at a time
// with the AVX-512 kernels of tile_amd64.s (x/sys/cpu reports AVX-512F
// only when the OS saves the ZMM registers). On the Zen 5 it was measured
// on, twice the GFLOP/s of the AVX2 kernels; a CPU that splits 512-bit
// operations in two (Zen 4) or lowers its clock for them (older Intel
// server cores) gains less, which was not measured here. A variable so
// that tests can compare both paths.
var wide = simd && cpu.X86.HasAVX512F

//go:noescape
func tileF32x2Kernel(x *float32, offs *[Rows]int, w *float32, k int, y *float32, ldy int, bias *[2 * Panel]float32)

//go:noescape
func tileQ8x2Kernel(x *float32, offs *[Rows]int, w *byte, k int, y *float32, ldy int, bias *[2 * Panel]float32)

//go:noescape
func tileF16x2Kernel(x *float32, offs *[Rows]int, w *uint16, k int, y *float32, ldy int, bias *[2 * Panel]float32)

// tileF32x2, tileF16x2 and tileQ8x2 run Rows rows against two adjacent
// panels (w holds 2·Panel·k weights, or two Q8 panels); MatMul and
// MatMulQ8 call them only when wide.
func tileF32x2(x []float32, offs *[Rows]int, w []float32, k int, y []float32, ldy int, bias *[2 * Panel]float32) {
	checkTile(x, offs, w, k, y, ldy, 2*Panel)
	tileF32x2Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}

func tileF16x2(x []float32, offs *[Rows]int, w []uint16, k int, y []float32, ldy int, bias *[2 * Panel]float32) {
	checkTile(x, offs, w, k, y, ldy, 2*Panel)
	tileF16x2Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}

func tileQ8x2(x []float32, offs *[Rows]int, w []byte, k int, y []float32, ldy int, bias *[2 * Panel]float32) {
	checkTile(x, offs, w, k, y, ldy, 2*Panel)
	tileQ8x2Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}
