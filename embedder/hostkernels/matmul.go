// Package hostkernels multiplies matrices for the guest's linear layers in
// native code: AVX2 with FMA and F16C on amd64 (when the CPU has them),
// NEON (ARMv8.0) on arm64, Go loops elsewhere. The host-kernel build of the
// guest (guest/edgesearch-host.wasm) imports es_host_matmul, and embedder
// serves it with MatMul after checking every range against the guest's
// memory; this package sees only Go slices and checks their lengths.
//
// Weights come in panels of Panel output columns: panel p holds, for each
// input t in turn, the Panel values w(p·Panel + c, t), with the columns past
// n zero. A tile of Rows rows of x against one panel is then a broadcast of
// x[i][t] times one contiguous run of w per step, which is how every BLAS
// lays out its inner kernel.
package hostkernels

import (
	"encoding/binary"
	"fmt"
	"math"
)

const (
	// Panel is the output columns of one panel of weights.
	Panel = 16
	// Rows is the rows of x one kernel call takes.
	Rows = 6
)

// Weights is a panel-packed weight matrix: float32, or uint16 holding IEEE
// half precision.
type Weights interface{ float32 | uint16 }

// PanelLen is the elements n columns of k inputs take in panels.
func PanelLen(n, k int) int { return (n + Panel - 1) / Panel * Panel * k }

// MatMul sets y[i·ldy + j] = bias[j] + Σ_t x[i·ldx + t]·w(j, t) for i < m,
// j < n, t < k, with w packed in panels (PanelLen(n, k) elements) and bias
// n floats or nil. It panics when a slice is shorter than those shapes
// need, or a size is negative: the caller checks what it was given.
func MatMul[W Weights](y []float32, ldy int, x []float32, ldx int, w []W, bias []float32, m, n, k int) {
	if m < 0 || n < 0 || k < 0 || ldx < 0 || ldy < 0 {
		panic(fmt.Sprintf("hostkernels: negative size (m %d, n %d, k %d, ldx %d, ldy %d)", m, n, k, ldx, ldy))
	}
	if m == 0 || n == 0 {
		return
	}
	if len(x) < (m-1)*ldx+k || len(y) < (m-1)*ldy+n || len(w) < PanelLen(n, k) || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("hostkernels: slices too short for %d×%d×%d (x %d ld %d, y %d ld %d, w %d, bias %d)",
			m, n, k, len(x), ldx, len(y), ldy, len(w), len(bias)))
	}
	if k == 0 {
		for i := range m {
			row := y[i*ldy : i*ldy+n]
			for j := range row {
				row[j] = 0
				if bias != nil {
					row[j] = bias[j]
				}
			}
		}
		return
	}
	tile, tile2 := tileFunc[W]()
	tiles(y, ldy, x, ldx, bias, m, n, simd && wide, func(j, width int, x []float32, offs *[Rows]int, y []float32, ldy int, b *[2 * Panel]float32) {
		if width == Panel {
			tile(x, offs, w[j*k:(j+Panel)*k], k, y, ldy, (*[Panel]float32)(b[:Panel]))
			return
		}
		tile2(x, offs, w[j*k:(j+2*Panel)*k], k, y, ldy, b)
	})
}

// Q8Block is the inputs of one Q8_0 block: a scale per column and block.
const Q8Block = 32

// Q8PanelBytes is the bytes one panel of k inputs (a multiple of Q8Block)
// takes in MatMulQ8's layout: per block, the Panel columns' scales as
// float32, then Q8Block steps of Panel int8.
func Q8PanelBytes(k int) int { return k / Q8Block * (4*Panel + Q8Block*Panel) }

// MatMulQ8 is MatMul with Q8_0 weights: w holds (n+Panel-1)/Panel panels
// of Q8PanelBytes(k) bytes, and w(j, t) = scale(j, t/32) · q(j, t), which
// float32 holds exactly. k must be a multiple of Q8Block. It panics when a
// slice is shorter than those shapes need, or a size is negative or k not
// a multiple of Q8Block.
func MatMulQ8(y []float32, ldy int, x []float32, ldx int, w []byte, bias []float32, m, n, k int) {
	if m < 0 || n < 0 || k < 0 || ldx < 0 || ldy < 0 || k%Q8Block != 0 {
		panic(fmt.Sprintf("hostkernels: bad q8 shape (m %d, n %d, k %d, ldx %d, ldy %d)", m, n, k, ldx, ldy))
	}
	if m == 0 || n == 0 {
		return
	}
	pb := Q8PanelBytes(k)
	if len(x) < (m-1)*ldx+k || len(y) < (m-1)*ldy+n || len(w) < (n+Panel-1)/Panel*pb || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("hostkernels: slices too short for %d×%d×%d (x %d ld %d, y %d ld %d, w %d, bias %d)",
			m, n, k, len(x), ldx, len(y), ldy, len(w), len(bias)))
	}
	if k == 0 {
		MatMul(y, ldy, x, ldx, []float32(nil), bias, m, n, 0)
		return
	}
	tiles(y, ldy, x, ldx, bias, m, n, simd && wide, func(j, width int, x []float32, offs *[Rows]int, y []float32, ldy int, b *[2 * Panel]float32) {
		p := j / Panel
		if width == Panel {
			tileQ8(x, offs, w[p*pb:(p+1)*pb], k, y, ldy, (*[Panel]float32)(b[:Panel]))
			return
		}
		tileQ8x2(x, offs, w[p*pb:(p+2)*pb], k, y, ldy, b)
	})
}

// tiles runs tile over every Rows×width tile of the m×n product, width
// Panel or, with wide, two panels (2·Panel) wherever more than one panel
// of columns is left: tile gets the column j of the tile's first panel,
// the width, the six row offsets into x, where to write (y itself, or a
// scratch tile at the edges) and the tile's bias.
func tiles(y []float32, ldy int, x []float32, ldx int, bias []float32, m, n int, wide bool,
	tile func(j, width int, x []float32, offs *[Rows]int, y []float32, ldy int, b *[2 * Panel]float32)) {
	var b [2 * Panel]float32
	var tmp [Rows * 2 * Panel]float32
	var offs [Rows]int
	for j := 0; j < n; {
		width := Panel
		if wide && n-j > Panel {
			width = 2 * Panel
		}
		cols := min(width, n-j)
		b = [2 * Panel]float32{}
		if bias != nil {
			copy(b[:], bias[j:j+cols])
		}
		for i := 0; i < m; i += Rows {
			rows := min(Rows, m-i)
			// Missing rows of the last tile repeat its last row: the
			// kernel computes them and they are not stored.
			for r := range offs {
				offs[r] = (i + min(r, rows-1)) * ldx
			}
			if rows == Rows && cols == width {
				tile(j, width, x, &offs, y[i*ldy+j:(i+Rows-1)*ldy+j+width], ldy, &b)
				continue
			}
			tile(j, width, x, &offs, tmp[:], width, &b)
			for r := range rows {
				copy(y[(i+r)*ldy+j:(i+r)*ldy+j+cols], tmp[r*width:r*width+cols])
			}
		}
		j += width
	}
}

// tileKernel is a kernel of Rows rows against one panel of w; tileKernel2
// against two adjacent panels (2·Panel columns, bias 2·Panel floats).
type (
	tileKernel[W Weights]  func(x []float32, offs *[Rows]int, w []W, k int, y []float32, ldy int, bias *[Panel]float32)
	tileKernel2[W Weights] func(x []float32, offs *[Rows]int, w []W, k int, y []float32, ldy int, bias *[2 * Panel]float32)
)

// tileFunc returns the kernels for W, one panel and two: this CPU's, or
// the Go loop (one panel; two only where wide).
func tileFunc[W Weights]() (tileKernel[W], tileKernel2[W]) {
	var zero W
	switch any(zero).(type) {
	case float32:
		return any(tileKernel[float32](tileF32)).(tileKernel[W]), any(tileKernel2[float32](tileF32x2)).(tileKernel2[W])
	default:
		return any(tileKernel[uint16](tileF16)).(tileKernel[W]), any(tileKernel2[uint16](tileF16x2)).(tileKernel2[W])
	}
}

// tileF32Go is the Go kernel: y[r][c] = bias[c] + Σ_t x[offs[r]+t]·w[t·Panel+c]
// for r < Rows, c < Panel, y rows ldy apart.
func tileF32Go(x []float32, offs *[Rows]int, w []float32, k int, y []float32, ldy int, bias *[Panel]float32) {
	for r := range Rows {
		var acc [Panel]float32
		xr := x[offs[r] : offs[r]+k]
		for t, xv := range xr {
			wt := w[t*Panel : t*Panel+Panel]
			for c := range acc {
				acc[c] += xv * wt[c]
			}
		}
		row := y[r*ldy : r*ldy+Panel]
		for c := range row {
			row[c] = acc[c] + bias[c]
		}
	}
}

// tileQ8Go is tileF32Go with Q8_0 weights in MatMulQ8's layout.
func tileQ8Go(x []float32, offs *[Rows]int, w []byte, k int, y []float32, ldy int, bias *[Panel]float32) {
	const blockBytes = 4*Panel + Q8Block*Panel
	for r := range Rows {
		var acc [Panel]float32
		xr := x[offs[r] : offs[r]+k]
		for t, xv := range xr {
			blk := w[t/Q8Block*blockBytes:]
			q := blk[4*Panel+t%Q8Block*Panel:]
			for c := range acc {
				scale := math.Float32frombits(binary.LittleEndian.Uint32(blk[4*c:]))
				acc[c] += xv * (scale * float32(int8(q[c])))
			}
		}
		row := y[r*ldy : r*ldy+Panel]
		for c := range row {
			row[c] = acc[c] + bias[c]
		}
	}
}

// tileF16Go is tileF32Go with half-precision weights.
func tileF16Go(x []float32, offs *[Rows]int, w []uint16, k int, y []float32, ldy int, bias *[Panel]float32) {
	for r := range Rows {
		var acc [Panel]float32
		xr := x[offs[r] : offs[r]+k]
		for t, xv := range xr {
			wt := w[t*Panel : t*Panel+Panel]
			for c := range acc {
				acc[c] += xv * HalfToFloat(wt[c])
			}
		}
		row := y[r*ldy : r*ldy+Panel]
		for c := range row {
			row[c] = acc[c] + bias[c]
		}
	}
}

// TileColumns is the output columns one kernel call of MatMul covers on
// this CPU: Panel, or two panels with the AVX-512 kernels. A caller that
// splits a product by columns should cut at multiples of it.
func TileColumns() int {
	if simd && wide {
		return 2 * Panel
	}
	return Panel
}

// Accelerated reports whether MatMul runs native vector kernels on this
// CPU rather than Go loops.
func Accelerated() bool { return simd }

// Pack lays out n columns of k weights in panels (PanelLen(n, k) elements
// of dst) from a row-major matrix w: with byColumn, column j is row j of w
// (w(j, t) = w[j·ldw + t], n rows of k, as a linear layer's weights or the
// keys of attention); without, w holds k rows of n (w(j, t) = w[t·ldw +
// j], as attention's values). It panics when a slice is too short.
func Pack(dst, w []float32, ldw, n, k int, byColumn bool) {
	if n <= 0 || k <= 0 {
		return
	}
	rows, width := n, k
	if !byColumn {
		rows, width = k, n
	}
	if (rows > 1 && ldw < width) || len(w) < (rows-1)*ldw+width || len(dst) < PanelLen(n, k) {
		panic(fmt.Sprintf("hostkernels: Pack of %d×%d (ld %d) from %d into %d", n, k, ldw, len(w), len(dst)))
	}
	dst = dst[:PanelLen(n, k)]
	for p := 0; p*Panel < n; p++ {
		panel := dst[p*Panel*k : (p+1)*Panel*k]
		cols := min(Panel, n-p*Panel)
		if byColumn {
			for c := range Panel {
				if c >= cols {
					for t := range k {
						panel[t*Panel+c] = 0
					}
					continue
				}
				row := w[(p*Panel+c)*ldw : (p*Panel+c)*ldw+k]
				for t, v := range row {
					panel[t*Panel+c] = v
				}
			}
			continue
		}
		for t := range k {
			seg := panel[t*Panel : t*Panel+Panel]
			copy(seg, w[t*ldw+p*Panel:t*ldw+p*Panel+cols])
			clear(seg[cols:])
		}
	}
}
