package hostkernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// floatToHalf rounds to the nearest half (ties to even), enough for tests:
// inputs are normal and well inside the range.
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	if exp <= 0 {
		return sign
	}
	h := uint32(exp)<<10 | mant>>13
	rest := mant & 0x1fff
	if rest > 0x1000 || rest == 0x1000 && h&1 == 1 {
		h++
	}
	return sign | uint16(h)
}

// pack lays rows×k weights (row-major, row = output column) out in panels.
func pack[W Weights](w []float32, n, k int, conv func(float32) W) []W {
	out := make([]W, PanelLen(n, k))
	for j := range n {
		p, c := j/Panel, j%Panel
		for t := range k {
			out[p*Panel*k+t*Panel+c] = conv(w[j*k+t])
		}
	}
	return out
}

type shape struct{ m, n, k, ldx, ldy int }

// edgeShapes are every row count around the 6-row tiles, column counts
// around the 16-column panels and input widths from 1 up, with leading
// dimensions equal to the width and wider.
func edgeShapes() []shape {
	var s []shape
	for _, m := range []int{1, 2, 5, 6, 7, 11, 12, 13, 32} {
		for _, n := range []int{1, 3, 15, 16, 17, 31, 32, 33, 48} {
			for _, k := range []int{1, 2, 7, 8, 16, 33, 64} {
				s = append(s, shape{m, n, k, k, n})
				if m > 1 {
					s = append(s, shape{m, n, k, k + 5, n + 3})
				}
			}
		}
	}
	return append(s, shape{10, 384, 384, 384, 1152}, shape{32, 384, 1536, 1536, 384}, shape{32, 1536, 384, 384, 1536})
}

// TestMatMulMatchesReference holds MatMul (this CPU's kernels) and the Go
// kernels to a float64 product at every shape edge, within float32
// rounding of a different summation order, and checks nothing outside y's
// m×n block is written.
func TestMatMulMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range edgeShapes() {
		x := make([]float32, (s.m-1)*s.ldx+s.k)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		w := make([]float32, s.n*s.k)
		for i := range w {
			// Half-representable, so f32 and f16 panels hold the same
			// weights and share the reference.
			w[i] = HalfToFloat(floatToHalf(float32(r.NormFloat64())))
		}
		bias := make([]float32, s.n)
		for i := range bias {
			bias[i] = float32(r.NormFloat64())
		}
		for _, withBias := range []bool{true, false} {
			b := bias
			if !withBias {
				b = nil
			}
			want := make([]float64, s.m*s.n)
			bound := make([]float64, s.m*s.n)
			for i := range s.m {
				for j := range s.n {
					sum, abs := 0.0, 0.0
					if b != nil {
						sum, abs = float64(b[j]), math.Abs(float64(b[j]))
					}
					for tt := range s.k {
						p := float64(x[i*s.ldx+tt]) * float64(w[j*s.k+tt])
						sum += p
						abs += math.Abs(p)
					}
					want[i*s.n+j], bound[i*s.n+j] = sum, abs
				}
			}
			wf := pack(w, s.n, s.k, func(f float32) float32 { return f })
			wh := pack(w, s.n, s.k, floatToHalf)
			for _, mode := range kernelModes() {
				restore := mode.use()
				name := fmt.Sprintf("m%d n%d k%d ldx%d ldy%d bias %v %+v", s.m, s.n, s.k, s.ldx, s.ldy, withBias, mode)
				const sentinel = -12345
				for _, half := range []bool{false, true} {
					y := make([]float32, (s.m-1)*s.ldy+s.n+7)
					for i := range y {
						y[i] = sentinel
					}
					if half {
						MatMul(y, s.ldy, x, s.ldx, wh, b, s.m, s.n, s.k)
					} else {
						MatMul(y, s.ldy, x, s.ldx, wf, b, s.m, s.n, s.k)
					}
					for i := range y {
						row, col := i/s.ldy, i%s.ldy
						if row >= s.m || col >= s.n {
							if y[i] != sentinel {
								t.Fatalf("%s half %v: wrote y[%d] outside the block", name, half, i)
							}
							continue
						}
						diff := math.Abs(float64(y[i]) - want[row*s.n+col])
						if diff > 1e-6*bound[row*s.n+col]+1e-30 {
							t.Fatalf("%s half %v: y[%d][%d] = %v, want %v", name, half, row, col, y[i], want[row*s.n+col])
						}
					}
				}
				restore()
			}
		}
	}
}

// kernelMode is one path of MatMul's kernels: the Go loops, the one-panel
// SIMD kernels, or (wide) the two-panel ones.
type kernelMode struct{ SIMD, Wide bool }

// kernelModes are the paths this CPU can run, each once.
func kernelModes() []kernelMode {
	modes := []kernelMode{{false, false}}
	if simd {
		modes = append(modes, kernelMode{true, false})
	}
	if simd && wide {
		modes = append(modes, kernelMode{true, true})
	}
	return modes
}

// use sets the mode and returns what puts the previous one back.
func (m kernelMode) use() (restore func()) {
	s, w := simd, wide
	simd, wide = m.SIMD, m.Wide
	return func() { simd, wide = s, w }
}

func TestMatMulRefusesShortSlices(t *testing.T) {
	x, y, w := make([]float32, 10*8), make([]float32, 10*16), make([]float32, PanelLen(16, 8))
	cases := map[string]func(){
		"x":    func() { MatMul(y, 16, x[:9*8+7], 8, w, nil, 10, 16, 8) },
		"y":    func() { MatMul(y[:9*16+15], 16, x, 8, w, nil, 10, 16, 8) },
		"w":    func() { MatMul(y, 16, x, 8, w[:len(w)-1], nil, 10, 16, 8) },
		"bias": func() { MatMul(y, 16, x, 8, w, make([]float32, 15), 10, 16, 8) },
		"m":    func() { MatMul(y, 16, x, 8, w, nil, -1, 16, 8) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s too short: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestHalfToFloat(t *testing.T) {
	for h, want := range map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x0001: 0x1p-24, 0x7bff: 65504, 0x8000: float32(math.Copysign(0, -1))} {
		if got := HalfToFloat(h); got != want || math.Signbit(float64(got)) != math.Signbit(float64(want)) {
			t.Errorf("HalfToFloat(%#04x) = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(HalfToFloat(0x7c00)), 1) || !math.IsNaN(float64(HalfToFloat(0x7e00))) {
		t.Error("HalfToFloat: infinity or NaN lost")
	}
}

func BenchmarkMatMul(b *testing.B) {
	for _, s := range []shape{{10, 1152, 384, 384, 1152}, {32, 1536, 384, 384, 1536}, {32, 384, 1536, 1536, 384}} {
		x := make([]float32, s.m*s.ldx)
		y := make([]float32, s.m*s.ldy)
		wf := make([]float32, PanelLen(s.n, s.k))
		wh := make([]uint16, PanelLen(s.n, s.k))
		for i := range wh {
			wh[i] = 0x3c00
		}
		b.Run(fmt.Sprintf("f32/%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			for b.Loop() {
				MatMul(y, s.ldy, x, s.ldx, wf, nil, s.m, s.n, s.k)
			}
			b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		wq := make([]byte, (s.n+Panel-1)/Panel*Q8PanelBytes(s.k))
		b.Run(fmt.Sprintf("q8/%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			for b.Loop() {
				MatMulQ8(y, s.ldy, x, s.ldx, wq, nil, s.m, s.n, s.k)
			}
			b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("f16/%dx%dx%d", s.m, s.n, s.k), func(b *testing.B) {
			for b.Loop() {
				MatMul(y, s.ldy, x, s.ldx, wh, nil, s.m, s.n, s.k)
			}
			b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkMatMulModel runs the products of all-MiniLM-L6-v2's six layers
// on weights of their own (21 MB in f16, more than this machine's L2),
// as one query (11 rows) and one batch (32 rows) of the model meets them:
// weights stream from memory, which the cache-resident BenchmarkMatMul
// does not show (the kernels' prefetch is for this). Each SIMD path this
// CPU has runs: one panel a tile (AVX2, NEON) and, with AVX-512, two.
func BenchmarkMatMulModel(b *testing.B) {
	type layer struct{ n, k int }
	var shapes []layer
	for range 6 {
		shapes = append(shapes, layer{1152, 384}, layer{384, 384}, layer{1536, 384}, layer{384, 1536})
	}
	half := make([][]uint16, len(shapes))
	q8 := make([][]byte, len(shapes))
	for i, s := range shapes {
		half[i] = make([]uint16, PanelLen(s.n, s.k))
		for j := range half[i] {
			half[i][j] = 0x3c00
		}
		q8[i] = make([]byte, (s.n+Panel-1)/Panel*Q8PanelBytes(s.k))
	}
	for _, m := range []int{11, 32} {
		x := make([]float32, m*1536)
		y := make([]float32, m*1536)
		for _, wt := range []string{"f16", "q8"} {
			for _, mode := range kernelModes()[1:] {
				b.Run(fmt.Sprintf("%s/m=%d/wide=%v", wt, m, mode.Wide), func(b *testing.B) {
					defer mode.use()()
					flops := 0
					for b.Loop() {
						for i, s := range shapes {
							if wt == "f16" {
								MatMul(y, s.n, x, s.k, half[i], nil, m, s.n, s.k)
							} else {
								MatMulQ8(y, s.n, x, s.k, q8[i], nil, m, s.n, s.k)
							}
							flops += 2 * m * s.n * s.k
						}
					}
					b.ReportMetric(float64(flops)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestPackLaysOutBothOrders packs a matrix given either way round and
// checks the panels against pack, the tests' own layout.
func TestPackLaysOutBothOrders(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 5, 16, 17, 33} {
		for _, k := range []int{1, 3, 32, 55} {
			w := make([]float32, n*k) // n rows of k
			for i := range w {
				w[i] = float32(r.NormFloat64())
			}
			want := pack(w, n, k, func(f float32) float32 { return f })
			ld := k + 3
			rows := make([]float32, (n-1)*ld+k)
			for j := range n {
				copy(rows[j*ld:], w[j*k:j*k+k])
			}
			ldT := n + 2
			cols := make([]float32, (k-1)*ldT+n) // k rows of n
			for j := range n {
				for tt := range k {
					cols[tt*ldT+j] = w[j*k+tt]
				}
			}
			for _, byColumn := range []bool{true, false} {
				got := make([]float32, PanelLen(n, k))
				for i := range got {
					got[i] = 99 // Pack must write every element, padding too
				}
				if byColumn {
					Pack(got, rows, ld, n, k, true)
				} else {
					Pack(got, cols, ldT, n, k, false)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("n %d k %d byColumn %v: element %d is %v, want %v", n, k, byColumn, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// packQ8 lays q8 weights (n rows of k int8, one scale per row and block of
// 32) out as MatMulQ8 reads them.
func packQ8(q []int8, scales []float32, n, k int) []byte {
	nb := k / Q8Block
	pb := Q8PanelBytes(k)
	out := make([]byte, (n+Panel-1)/Panel*pb)
	for j := range n {
		p, c := j/Panel, j%Panel
		for b := range nb {
			blk := out[p*pb+b*(4*Panel+Q8Block*Panel):]
			binary.LittleEndian.PutUint32(blk[4*c:], math.Float32bits(scales[j*nb+b]))
			for s := range Q8Block {
				blk[4*Panel+s*Panel+c] = byte(q[j*k+b*Q8Block+s])
			}
		}
	}
	return out
}

// TestMatMulQ8MatchesReference is TestMatMulMatchesReference for Q8_0
// weights: every row count around the tiles, column count around the
// panels, and widths of one to three blocks.
func TestMatMulQ8MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, m := range []int{1, 5, 6, 7, 13} {
		for _, n := range []int{1, 15, 16, 17, 40} {
			for _, k := range []int{32, 64, 96} {
				ldx, ldy := k+3, n+1
				x := make([]float32, (m-1)*ldx+k)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				q := make([]int8, n*k)
				for i := range q {
					q[i] = int8(r.IntN(255) - 127)
				}
				scales := make([]float32, n*k/Q8Block)
				for i := range scales {
					scales[i] = HalfToFloat(floatToHalf(float32(r.Float64() / 64)))
				}
				bias := make([]float32, n)
				for i := range bias {
					bias[i] = float32(r.NormFloat64())
				}
				w := packQ8(q, scales, n, k)
				for _, mode := range kernelModes() {
					restore := mode.use()
					y := make([]float32, (m-1)*ldy+n+5)
					const sentinel = -777
					for i := range y {
						y[i] = sentinel
					}
					MatMulQ8(y, ldy, x, ldx, w, bias, m, n, k)
					restore()
					for i := range y {
						row, col := i/ldy, i%ldy
						if row >= m || col >= n {
							if y[i] != sentinel {
								t.Fatalf("m%d n%d k%d %+v: wrote y[%d] outside the block", m, n, k, mode, i)
							}
							continue
						}
						sum, abs := float64(bias[col]), math.Abs(float64(bias[col]))
						for tt := range k {
							wv := float64(scales[col*k/Q8Block+tt/Q8Block]) * float64(q[col*k+tt])
							p := float64(x[row*ldx+tt]) * wv
							sum += p
							abs += math.Abs(p)
						}
						if diff := math.Abs(float64(y[i]) - sum); diff > 1e-6*abs+1e-30 {
							t.Fatalf("m%d n%d k%d %+v: y[%d][%d] = %v, want %v", m, n, k, mode, row, col, y[i], sum)
						}
					}
				}
			}
		}
	}
}
