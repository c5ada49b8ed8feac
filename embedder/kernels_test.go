package embedder

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder/hostkernels"
)

// matmulCallerWasm is a module that imports the host kernel fn (of params
// i32 parameters) as the host-kernel guest does, exports one page of
// memory and a function "call" that passes its arguments straight to the
// import: a guest that sends whatever pointers a test wants.
func matmulCallerWasm(fn string, params byte) []byte {
	section := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	var b []byte
	b = append(b, 0, 'a', 's', 'm', 1, 0, 0, 0)
	typ := []byte{1, 0x60, params}
	for range params {
		typ = append(typ, 0x7f) // i32
	}
	b = append(b, section(1, append(typ, 0)...)...)
	imp := append([]byte{1}, name(hostModule)...)
	imp = append(imp, name(fn)...)
	b = append(b, section(2, append(imp, 0, 0)...)...) // function of type 0
	b = append(b, section(3, 1, 0)...)                 // one function of type 0
	b = append(b, section(5, 1, 0, 1)...)              // one memory, one page
	exp := append([]byte{2}, name("call")...)
	exp = append(exp, 0, 1) // function 1 (0 is the import)
	exp = append(exp, name("memory")...)
	exp = append(exp, 2, 0)
	b = append(b, section(7, exp...)...)
	body := []byte{0} // no locals
	for i := range params {
		body = append(body, 0x20, i) // local.get i
	}
	body = append(body, 0x10, 0, 0x0b) // call 0, end
	b = append(b, section(10, append([]byte{1, byte(len(body))}, body...)...)...)
	return b
}

// TestHostMatmulTrapsOnRangesOutsideGuestMemory calls the import from a
// guest with hostile arguments: each call must trap with an error naming
// the range, and leave the guest's memory as it was.
func TestHostMatmulTrapsOnRangesOutsideGuestMemory(t *testing.T) {
	ctx := context.Background()
	rt, err := newWazeroRuntime(ctx, matmulCallerWasm("matmul", hostMatmulParams), "")
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close(ctx)
	mod, err := rt.instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.close(ctx)
	mem, call := mod.memory(), mod.function("call")
	const page = 65536
	fill := make([]byte, page)
	for i := range fill {
		fill[i] = byte(i * 7)
	}
	type args struct{ x, ldx, w, wtype, bias, y, ldy, m, n, k uint32 }
	u := func(v int32) uint32 { return uint32(v) }
	cases := map[string]struct {
		a    args
		want string
	}{
		"x past the end":        {args{page - 4, 2, 0, 0, 0, 4096, 16, 1, 16, 2}, "x at"},
		"x rows past the end":   {args{0, 1 << 30, 0, 0, 0, 4096, 16, 2, 16, 2}, "x at"},
		"y past the end":        {args{0, 2, 1024, 0, 0, page - 32, 16, 1, 16, 2}, "y at"},
		"y rows wrap":           {args{0, 2, 1024, 0, 0, 4096, math.MaxUint32, 3, 16, 2}, "y at"},
		"rows overlap":          {args{0, 0, 1024, 0, 0, 4096, 0, math.MaxInt32, 16, 2}, "leading dimensions"},
		"w past the end":        {args{0, 2, page - 64, 0, 0, 4096, 16, 1, 16, 2}, "w at"},
		"half w past the end":   {args{0, 2, page - 32, 1, 0, 4096, 16, 1, 16, 2}, "w at"},
		"huge n and k":          {args{0, 2, 1024, 0, 0, 4096, 16, 1, math.MaxInt32, math.MaxInt32}, "outside guest memory"},
		"bias past the end":     {args{0, 2, 1024, 0, page - 8, 4096, 16, 1, 16, 2}, "bias at"},
		"x misaligned":          {args{2, 2, 1024, 0, 0, 4096, 16, 1, 16, 2}, "not aligned"},
		"y misaligned":          {args{0, 2, 1024, 0, 0, 4097, 16, 1, 16, 2}, "not aligned"},
		"half w misaligned":     {args{0, 2, 1025, 1, 0, 4096, 16, 1, 16, 2}, "not aligned"},
		"negative m":            {args{0, 2, 1024, 0, 0, 4096, 16, u(-1), 16, 2}, "negative shape"},
		"negative k":            {args{0, 2, 1024, 0, 0, 4096, 16, 1, 16, u(-5)}, "negative shape"},
		"unknown weight type":   {args{0, 2, 1024, 7, 0, 4096, 16, 1, 16, 2}, "unknown weight type"},
		"everything at the top": {args{math.MaxUint32 - 3, 1, math.MaxUint32 - 3, 0, math.MaxUint32 - 3, math.MaxUint32 - 3, 1, 1, 1, 1}, "outside guest memory"},
	}
	for name, tc := range cases {
		if !mem.Write(0, fill) {
			t.Fatal("couldn't fill memory")
		}
		a := tc.a
		_, err := call.Call(ctx, uint64(a.x), uint64(a.ldx), uint64(a.w), uint64(a.wtype), uint64(a.bias),
			uint64(a.y), uint64(a.ldy), uint64(a.m), uint64(a.n), uint64(a.k))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
		if got, _ := mem.Read(0, page); !bytes.Equal(got, fill) {
			t.Errorf("%s: a refused call changed guest memory", name)
		}
	}

	// And a call that is in range computes: x (2×3) at 0, w (2 columns,
	// one panel) at 1024, bias at 2048, y (2×2) at 4096.
	var buf [page]byte
	put := func(off int, vs ...float32) {
		for i, v := range vs {
			binary.LittleEndian.PutUint32(buf[off+4*i:], math.Float32bits(v))
		}
	}
	put(0, 1, 2, 3, 4, 5, 6)
	panel := make([]float32, hostkernels.Panel*3)
	for tt, col := range [][2]float32{{1, 0}, {0, 1}, {1, 1}} {
		panel[tt*hostkernels.Panel], panel[tt*hostkernels.Panel+1] = col[0], col[1]
	}
	put(1024, panel...)
	put(2048, 10, 20)
	mem.Write(0, buf[:])
	if _, err := call.Call(ctx, 0, 3, 1024, wF32, 2048, 4096, 2, 2, 2, 3); err != nil {
		t.Fatal(err)
	}
	raw, _ := mem.Read(4096, 16)
	var y [4]float32
	for i := range y {
		y[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	if y != [4]float32{14, 25, 20, 31} {
		t.Errorf("y = %v, want [14 25 20 31]", y)
	}
}

// TestHostMatmulRowsTrapsOnRangesOutsideGuestMemory is the test above for
// es_host_matmul_rows, whose w is row-major with a leading dimension.
func TestHostMatmulRowsTrapsOnRangesOutsideGuestMemory(t *testing.T) {
	ctx := context.Background()
	rt, err := newWazeroRuntime(ctx, matmulCallerWasm("matmul_rows", hostMatmulRowsParams), "")
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close(ctx)
	mod, err := rt.instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer mod.close(ctx)
	mem, call := mod.memory(), mod.function("call")
	const page = 65536
	fill := make([]byte, page)
	for i := range fill {
		fill[i] = byte(i * 5)
	}
	type args struct{ x, ldx, w, ldw, layout, bias, y, ldy, m, n, k uint32 }
	cases := map[string]struct {
		a    args
		want string
	}{
		"w rows past the end":    {args{0, 8, page - 64, 8, 0, 0, 8192, 4, 2, 4, 8}, "w at"},
		"w columns past the end": {args{0, 8, page - 64, 4, 1, 0, 8192, 4, 2, 4, 8}, "w at"},
		"w huge leading dim":     {args{0, 8, 1024, math.MaxUint32, 0, 0, 8192, 4, 2, 4, 8}, "w at"},
		"w rows overlap":         {args{0, 8, 1024, 2, 0, 0, 8192, 4, 2, 4, 8}, "leading dimension"},
		"w misaligned":           {args{0, 8, 1026, 8, 0, 0, 8192, 4, 2, 4, 8}, "not aligned"},
		"unknown layout":         {args{0, 8, 1024, 8, 2, 0, 8192, 4, 2, 4, 8}, "unknown weight layout"},
		"y past the end":         {args{0, 8, 1024, 8, 0, 0, page - 16, 4, 2, 4, 8}, "y at"},
		"x past the end":         {args{page - 16, 8, 1024, 8, 0, 0, 8192, 4, 2, 4, 8}, "x at"},
		"bias past the end":      {args{0, 8, 1024, 8, 0, page - 8, 8192, 4, 2, 4, 8}, "bias at"},
	}
	for name, tc := range cases {
		mem.Write(0, fill)
		a := tc.a
		_, err := call.Call(ctx, uint64(a.x), uint64(a.ldx), uint64(a.w), uint64(a.ldw), uint64(a.layout), uint64(a.bias),
			uint64(a.y), uint64(a.ldy), uint64(a.m), uint64(a.n), uint64(a.k))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
		if got, _ := mem.Read(0, page); !bytes.Equal(got, fill) {
			t.Errorf("%s: a refused call changed guest memory", name)
		}
	}
	// In range, both layouts give x·wᵀ: x (1×2) = [1 2], w with rows
	// [3 4] and [5 6] (n = 2 rows of k = 2), so y = [11 17].
	var buf [64]byte
	for i, v := range []float32{1, 2, 3, 4, 5, 6, 3, 5, 4, 6} {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	mem.Write(0, buf[:])
	for layout, w := range map[uint64]uint64{wRowsN: 8, wRowsK: 24} {
		if _, err := call.Call(ctx, 0, 2, w, 2, layout, 0, 4096, 2, 1, 2, 2); err != nil {
			t.Fatal(err)
		}
		raw, _ := mem.Read(4096, 8)
		y0, y1 := math.Float32frombits(binary.LittleEndian.Uint32(raw)), math.Float32frombits(binary.LittleEndian.Uint32(raw[4:]))
		if y0 != 11 || y1 != 17 {
			t.Errorf("layout %d: y = [%v %v], want [11 17]", layout, y0, y1)
		}
	}
}

// FuzzHostMatmul throws any arguments at hostMatmul over a small memory:
// it returns an error or computes, and never touches memory outside y.
func FuzzHostMatmul(f *testing.F) {
	f.Add(uint32(0), uint32(3), uint32(1024), uint32(0), uint32(2048), uint32(4096), uint32(2), uint32(2), uint32(2), uint32(3))
	f.Add(uint32(0), uint32(8), uint32(512), uint32(1), uint32(0), uint32(3000), uint32(20), uint32(5), uint32(17), uint32(8))
	f.Add(uint32(8188), uint32(1), uint32(0), uint32(0), uint32(0), uint32(0), uint32(1), uint32(1), uint32(1), uint32(1))
	f.Fuzz(func(t *testing.T, x, ldx, w, wtype, bias, y, ldy, m, n, k uint32) {
		const size = 8192
		mem := make([]byte, size+64)
		for i := range mem {
			mem[i] = byte(i)
		}
		before := bytes.Clone(mem)
		args := []uint64{uint64(x), uint64(ldx), uint64(w), uint64(wtype), uint64(bias), uint64(y), uint64(ldy), uint64(m), uint64(n), uint64(k)}
		err := hostMatmul(context.Background(), mem[:size], args)
		if err != nil {
			if !bytes.Equal(mem, before) {
				t.Fatal("a refused call changed memory")
			}
			return
		}
		// Only y's m×n block may have changed; a successful call's block
		// lies in memory, so it has at most size/4 elements.
		allowed := map[int]bool{}
		for i := range uint64(m) {
			for j := range uint64(n) {
				at := int(uint64(y) + 4*(i*uint64(ldy)+j))
				for b := range 4 {
					allowed[at+b] = true
				}
			}
		}
		for i := range mem {
			if mem[i] != before[i] && (!allowed[i] || i >= size) {
				t.Fatalf("byte %d changed outside y (args %v)", i, args)
			}
		}
	})
}

// TestHostMatmulGivesTheSameBitsOnAnyNumberOfThreads: one query's products
// are split by columns across idle cores, which must not change a bit.
func TestHostMatmulGivesTheSameBitsOnAnyNumberOfThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const m, n, k = 10, 1152, 384
	mem := make([]byte, 4*(m*k+m*n+n)+2*hostkernels.PanelLen(n, k))
	for i := 0; i < 4*m*k; i += 4 {
		binary.LittleEndian.PutUint32(mem[i:], math.Float32bits(float32(r.NormFloat64())))
	}
	wOff := 4 * (m*k + m*n + n)
	for i := wOff; i < len(mem); i += 2 {
		binary.LittleEndian.PutUint16(mem[i:], uint16(r.IntN(0x7800))|uint16(r.IntN(2))<<15)
	}
	yOff, bOff := 4*m*k, 4*(m*k+m*n)
	var first []byte
	splitPausedUntil.Store(0)
	for _, threads := range []int{1, 2, 3, 7, 100} {
		ctx, _ := withKernelThreads(context.Background(), func() int { return threads })
		args := []uint64{0, k, uint64(wOff), wF16, uint64(bOff), uint64(yOff), n, m, n, k}
		if err := hostMatmul(ctx, mem, args); err != nil {
			t.Fatal(err)
		}
		y := bytes.Clone(mem[yOff : yOff+4*m*n])
		if first == nil {
			first = y
		} else if !bytes.Equal(y, first) {
			t.Errorf("%d threads give other bits than 1", threads)
		}
	}
}

// TestSplitPausesWhenHelpersRunLate: a helper descheduled halfway (another
// process holds its core) stalls the product, so split stops splitting
// for a while.
func TestSplitPausesWhenHelpersRunLate(t *testing.T) {
	// A product of 64 panels in 16 chunks of 2 ms each: the helpers have
	// 32 ms to start and claim a chunk, and the first claim stalls.
	p := product{m: 1, n: 64 * hostkernels.Panel, k: minSplitWork, y: make([]float32, 64*hostkernels.Panel)}
	run := func(j0, j1 int, y, bias []float32) { time.Sleep(2 * time.Millisecond) }
	var claims atomic.Int32
	splitHelperClaimed = func() {
		if claims.Add(1) == 1 {
			time.Sleep(30 * time.Millisecond) // a scheduler's time slice and more
		}
	}
	defer func() { splitHelperClaimed = nil; splitPausedUntil.Store(0) }()
	splitPausedUntil.Store(0)
	paused := splitPaused.Load()
	ctx, _ := withKernelThreads(context.Background(), func() int { return 4 })
	split(ctx, p, run)
	if got := splitPaused.Load() - paused; got != 1 {
		t.Fatalf("split paused %d times after a stalled helper, want 1", got)
	}
	before := claims.Load()
	split(ctx, p, run)
	if got := claims.Load() - before; got != 0 {
		t.Errorf("helpers claimed %d chunks while split was paused, want 0", got)
	}
}

// TestCrewHelpersLeave: a crew's helpers spin between products, so they
// must leave when the worker's batch ends, when another worker wants
// their core, and when no product comes; and a product split while one
// of them is leaving is still done whole.
func TestCrewHelpersLeave(t *testing.T) {
	splitPausedUntil.Store(0)
	p := product{m: 1, n: 64 * hostkernels.Panel, k: minSplitWork, y: make([]float32, 64*hostkernels.Panel)}
	var ran atomic.Int32
	run := func(j0, j1 int, y, bias []float32) {
		for j := j0; j < j1; j++ {
			y[j-j0]++
		}
		ran.Add(1)
	}
	gone := func(c *crew, why string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); c.live.Load() != 0; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d helpers still spin", why, c.live.Load())
			}
			time.Sleep(time.Millisecond)
		}
	}
	var threads atomic.Int32
	threads.Store(2)
	ctx, c := withKernelThreads(context.Background(), func() int { return int(threads.Load()) })
	c.idle.Store(int64(time.Hour)) // only the last case may end by the idle bound
	for i, leave := range []struct {
		why string
		do  func()
	}{
		{"the batch ended", c.rest},
		{"another worker took the core", func() { threads.Store(1) }},
		{"no product came", func() { c.idle.Store(int64(10 * time.Millisecond)) }},
	} {
		threads.Store(2)
		split(ctx, p, run)
		if c.live.Load() != 1 {
			t.Fatalf("%s: %d helpers after a split on two threads, want 1", leave.why, c.live.Load())
		}
		leave.do()
		gone(c, leave.why)
		for j, v := range p.y {
			if v != float32(i+1) {
				t.Fatalf("%s: column %d multiplied %v times, want %d", leave.why, j, v, i+1)
			}
		}
	}
	if ran.Load() < 3 {
		t.Errorf("%d chunks ran", ran.Load())
	}
}

func TestUnknownKernelsIsAnError(t *testing.T) {
	_, err := New(context.Background(), Options{ModelPath: modelPath(t), Kernels: "gpu", CacheDir: "-"})
	if err == nil || !strings.Contains(err.Error(), `"gpu"`) {
		t.Errorf("New with kernels \"gpu\": %v", err)
	}
}

// FuzzHostMatmulRows is FuzzHostMatmul for es_host_matmul_rows.
func FuzzHostMatmulRows(f *testing.F) {
	f.Add(uint32(0), uint32(2), uint32(8), uint32(2), uint32(0), uint32(0), uint32(4096), uint32(2), uint32(1), uint32(2), uint32(2))
	f.Add(uint32(0), uint32(40), uint32(2048), uint32(33), uint32(1), uint32(0), uint32(4096), uint32(33), uint32(7), uint32(33), uint32(40))
	f.Fuzz(func(t *testing.T, x, ldx, w, ldw, layout, bias, y, ldy, m, n, k uint32) {
		const size = 8192
		mem := make([]byte, size+64)
		for i := range mem {
			mem[i] = byte(i)
		}
		before := bytes.Clone(mem)
		args := []uint64{uint64(x), uint64(ldx), uint64(w), uint64(ldw), uint64(layout), uint64(bias), uint64(y), uint64(ldy), uint64(m), uint64(n), uint64(k)}
		if err := hostMatmulRows(context.Background(), mem[:size], args); err != nil {
			if !bytes.Equal(mem, before) {
				t.Fatal("a refused call changed memory")
			}
			return
		}
		allowed := map[int]bool{}
		for i := range uint64(m) {
			for j := range uint64(n) {
				at := int(uint64(y) + 4*(i*uint64(ldy)+j))
				for b := range 4 {
					allowed[at+b] = true
				}
			}
		}
		for i := range mem {
			if mem[i] != before[i] && (!allowed[i] || i >= size) {
				t.Fatalf("byte %d changed outside y (args %v)", i, args)
			}
		}
	})
}
