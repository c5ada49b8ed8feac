package hostkernels

// simd is whether the NEON kernels of tile_arm64.s run. Advanced SIMD is
// part of every arm64 CPU (the kernels use only ARMv8.0), so it is always
// true here; it stays a variable so that tests can compare both paths, as
// on amd64.
var simd = true

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
