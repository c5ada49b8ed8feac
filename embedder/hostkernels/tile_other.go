//go:build !amd64 && !arm64

package hostkernels

// simd is false: no kernels in assembly for this architecture.
var simd = false

func tileF32(x []float32, offs *[Rows]int, w []float32, k int, y []float32, ldy int, bias *[Panel]float32) {
	tileF32Go(x, offs, w, k, y, ldy, bias)
}

func tileF16(x []float32, offs *[Rows]int, w []uint16, k int, y []float32, ldy int, bias *[Panel]float32) {
	tileF16Go(x, offs, w, k, y, ldy, bias)
}

func tileQ8(x []float32, offs *[Rows]int, w []byte, k int, y []float32, ldy int, bias *[Panel]float32) {
	tileQ8Go(x, offs, w, k, y, ldy, bias)
}
