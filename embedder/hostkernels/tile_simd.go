//go:build amd64 || arm64

package hostkernels

// The assembly kernels of tile_amd64.s and tile_arm64.s, and their
// wrappers: the Go loops when simd is off, else the slices checked
// (checkTile) before the kernel reads them unchecked.

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
	checkTile(x, offs, w, k, y, ldy, Panel)
	tileQ8Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}

func tileF32(x []float32, offs *[Rows]int, w []float32, k int, y []float32, ldy int, bias *[Panel]float32) {
	if !simd {
		tileF32Go(x, offs, w, k, y, ldy, bias)
		return
	}
	checkTile(x, offs, w, k, y, ldy, Panel)
	tileF32Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}

func tileF16(x []float32, offs *[Rows]int, w []uint16, k int, y []float32, ldy int, bias *[Panel]float32) {
	if !simd {
		tileF16Go(x, offs, w, k, y, ldy, bias)
		return
	}
	checkTile(x, offs, w, k, y, ldy, Panel)
	tileF16Kernel(&x[0], offs, &w[0], k, &y[0], ldy, bias)
}
