package hostkernels

// checkTile panics unless the kernel's reads and writes lie inside the
// slices: x from each offs[r] for k floats, w 16k elements, y Rows rows of
// Panel floats ldy apart. The kernels in assembly rely on it.
func checkTile[W Weights | byte](x []float32, offs *[Rows]int, w []W, k int, y []float32, ldy int) {
	var zero W
	need := Panel * k
	if _, ok := any(zero).(byte); ok {
		need = Q8PanelBytes(k)
	}
	if k <= 0 || len(w) < need || ldy < 0 || len(y) < (Rows-1)*ldy+Panel {
		panic("hostkernels: tile out of range")
	}
	for _, o := range offs {
		if o < 0 || o > len(x)-k {
			panic("hostkernels: tile row out of range")
		}
	}
}
