package hostkernels

// checkTile panics unless the kernel's reads and writes lie inside the
// slices: x from each offs[r] for k floats, w width·k elements (Q8:
// Q8PanelBytes(k) a panel), y Rows rows of width floats ldy apart; width
// is Panel or 2·Panel. The kernels in assembly rely on it.
func checkTile[W Weights | byte](x []float32, offs *[Rows]int, w []W, k int, y []float32, ldy, width int) {
	var zero W
	need := width * k
	if _, ok := any(zero).(byte); ok {
		need = width / Panel * Q8PanelBytes(k)
	}
	if k <= 0 || len(w) < need || ldy < 0 || len(y) < (Rows-1)*ldy+width {
		panic("hostkernels: tile out of range")
	}
	for _, o := range offs {
		if o < 0 || o > len(x)-k {
			panic("hostkernels: tile row out of range")
		}
	}
}
