package hostkernels

import "golang.org/x/sys/cpu"

// simd is whether this CPU runs the AVX2 kernels of tile_amd64.s: AVX2 and
// FMA (which x/sys/cpu reports only when the OS saves the YMM registers) and
// F16C, which a virtual machine could hide. A variable so that tests can
// compare both paths.
var simd = cpu.X86.HasAVX2 && cpu.X86.HasFMA && hasF16C()

func hasF16C() bool

//go:noescape
func tileF32Kernel(x *float32, offs *[Rows]int, w *float32, k int, y *float32, ldy int, bias *[Panel]float32)

//go:noescape
func tileF16Kernel(x *float32, offs *[Rows]int, w *uint16, k int, y *float32, ldy int, bias *[Panel]float32)

//go:noescape
func tileQ8Kernel(x *float32, offs *[Rows]int, w *byte, k int, y *float32, ldy int, bias *[Panel]float32)

func tileQ8(x []float32, offs *[Rows]int, w []byte, k int, y []float32, ldy int, bias *[Panel]float32) {
	if !simd {
		tileQ8Go(x, offs, w, k, y, ldy, bias)
		return
	}
	checkTile(x, offs, w, k, y, ldy)
	tileQ8Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}

func tileF32(x []float32, offs *[Rows]int, w []float32, k int, y []float32, ldy int, bias *[Panel]float32) {
	if !simd {
		tileF32Go(x, offs, w, k, y, ldy, bias)
		return
	}
	checkTile(x, offs, w, k, y, ldy)
	tileF32Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}

func tileF16(x []float32, offs *[Rows]int, w []uint16, k int, y []float32, ldy int, bias *[Panel]float32) {
	if !simd {
		tileF16Go(x, offs, w, k, y, ldy, bias)
		return
	}
	checkTile(x, offs, w, k, y, ldy)
	tileF16Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}
