package hostkernels

// checkTile panics unless the kernel's reads and writes lie inside the
// slices: x from each offs[r] for k floats, w 16k elements, y Rows rows of
// Panel floats ldy apart. The kernels in assembly rely on it.
func checkTile[W Weights](x []float32, offs *[Rows]int, w []W, k int, y []float32, ldy int) {
	if k <= 0 || len(w) < Panel*k || ldy < 0 || len(y) < (Rows-1)*ldy+Panel {
		panic("hostkernels: tile out of range")
	}
	for _, o := range offs {
		if o < 0 || o > len(x)-k {
			panic("hostkernels: tile row out of range")
		}
	}
}
