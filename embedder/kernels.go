package embedder

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/edgesearch/edgesearch/embedder/hostkernels"
	"github.com/edgesearch/edgesearch/guest"
)

// Host kernels. The guest's six linear layers are 95% of its time, and
// under wazero its SIMD128 kernels reach about 17 GFLOP/s a core where the
// same core's AVX2 does five times that. The host-kernel build of the guest
// (guest.HostBinary) imports es_host_matmul (the linear layers) and
// es_host_matmul_rows (attention's two products), which hostMatmul and
// hostMatmulRows serve with package hostkernels; everything else
// (tokenizer, softmax, norms, GELU) stays in the guest. The guest keeps its
// own kernels in guest.Binary, which runs standalone under any WASI
// runtime (Options.Kernels "guest").

// Kernels names, for Options.Kernels.
const (
	KernelsHost  = "host"
	KernelsGuest = "guest"
)

// defaultKernels is the kernels of Options.Kernels "": the host's where
// they are native vector code, or where wazero interprets the guest (32-bit
// Arm, 386: there a compiled Go loop runs the products instead of an
// interpreter stepping through SIMD128); else the guest's compiled
// SIMD128, which beats a Go loop.
func defaultKernels() string {
	if hostkernels.Accelerated() || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		return KernelsHost
	}
	return KernelsGuest
}

// guestBinary returns the module for Options.Kernels.
func guestBinary(kernels string) ([]byte, error) {
	switch kernels {
	case "":
		return guestBinary(defaultKernels())
	case KernelsHost:
		return guest.HostBinary, nil
	case KernelsGuest:
		return guest.Binary, nil
	}
	return nil, fmt.Errorf("embedder: unknown kernels %q (want %q or %q)", kernels, KernelsHost, KernelsGuest)
}

// The host module the host-kernel guest imports: its name and functions.
const hostModule = "edgesearch"

// Parameter counts of the imports, all i32: es_host_matmul's x, ldx, w,
// wtype, bias, y, ldy, m, n, k; es_host_matmul_rows's x, ldx, w, ldw,
// wlayout, bias, y, ldy, m, n, k.
const (
	hostMatmulParams     = 10
	hostMatmulRowsParams = 11
)

// Weight types of es_host_matmul (ES_W_F32, ES_W_F16 in edgesearch.h) and
// layouts of es_host_matmul_rows (ES_W_ROWS_N, ES_W_ROWS_K).
const (
	wF32 = 0
	wF16 = 1
	wQ8  = 2

	wRowsN = 0
	wRowsK = 1
)

// hostMatmul serves es_host_matmul (guest/src/edgesearch.h) on mem, the
// guest's whole linear memory, with the guest's arguments in args. Every
// range it reads or writes is checked against len(mem) first, every
// pointer must be aligned to its element, and rows may not overlap (ldx ≥
// k, ldy ≥ n): a call that fails a check returns an error naming it (the
// runtime then traps the guest) and touches nothing. With ctx from
// withKernelThreads it may split the output columns across more
// goroutines.
func hostMatmul(ctx context.Context, mem []byte, args []uint64) error {
	if len(args) != hostMatmulParams {
		return fmt.Errorf("es_host_matmul: %d arguments, want %d", len(args), hostMatmulParams)
	}
	a := func(i int) uint64 { return uint64(uint32(args[i])) }
	w, wtype := a(2), a(3)
	if wtype != wF32 && wtype != wF16 && wtype != wQ8 {
		return fmt.Errorf("es_host_matmul: unknown weight type %d", wtype)
	}
	p, err := checkProduct("es_host_matmul", mem, a(0), a(1), a(4), a(5), a(6), args[7], args[8], args[9])
	if err != nil || p.m == 0 || p.n == 0 {
		return err
	}
	N, K := uint64(p.n), uint64(p.k)
	panels := (N + hostkernels.Panel - 1) / hostkernels.Panel
	switch wtype {
	case wF32, wF16:
		wsize := uint64(4)
		if wtype == wF16 {
			wsize = 2
		}
		nw := panels * hostkernels.Panel * K
		if err := span("es_host_matmul", mem, "w", w, nw, wsize); err != nil {
			return err
		}
		if wtype == wF16 {
			ws := unsafe.Slice((*uint16)(unsafe.Pointer(&mem[w])), nw)
			split(ctx, p, func(j0, j1 int, y, bias []float32) {
				hostkernels.MatMul(y, p.ldy, p.x, p.ldx, ws[j0*p.k:], bias, p.m, j1-j0, p.k)
			})
		} else {
			ws := floats(mem, w, nw)
			split(ctx, p, func(j0, j1 int, y, bias []float32) {
				hostkernels.MatMul(y, p.ldy, p.x, p.ldx, ws[j0*p.k:], bias, p.m, j1-j0, p.k)
			})
		}
	case wQ8:
		if p.k%hostkernels.Q8Block != 0 {
			return fmt.Errorf("es_host_matmul: q8 weights need k a multiple of %d, not %d", hostkernels.Q8Block, p.k)
		}
		pb := uint64(hostkernels.Q8PanelBytes(p.k))
		if err := span("es_host_matmul", mem, "w", w, panels*pb/4, 4); err != nil {
			return err
		}
		ws := mem[w : w+panels*pb]
		split(ctx, p, func(j0, j1 int, y, bias []float32) {
			hostkernels.MatMulQ8(y, p.ldy, p.x, p.ldx, ws[uint64(j0/hostkernels.Panel)*pb:], bias, p.m, j1-j0, p.k)
		})
	}
	return nil
}

// hostMatmulRows serves es_host_matmul_rows: hostMatmul with w row-major
// in guest memory, which it packs into panels in a buffer of its own.
func hostMatmulRows(ctx context.Context, mem []byte, args []uint64) error {
	const fn = "es_host_matmul_rows"
	if len(args) != hostMatmulRowsParams {
		return fmt.Errorf("%s: %d arguments, want %d", fn, len(args), hostMatmulRowsParams)
	}
	a := func(i int) uint64 { return uint64(uint32(args[i])) }
	w, ldw, layout := a(2), a(3), a(4)
	if layout != wRowsN && layout != wRowsK {
		return fmt.Errorf("%s: unknown weight layout %d", fn, layout)
	}
	p, err := checkProduct(fn, mem, a(0), a(1), a(5), a(6), a(7), args[8], args[9], args[10])
	if err != nil || p.m == 0 || p.n == 0 {
		return err
	}
	rows, width := uint64(p.n), uint64(p.k)
	if layout == wRowsK {
		rows, width = width, rows
	}
	if rows > 1 && ldw < width {
		return fmt.Errorf("%s: leading dimension %d of w is narrower than its rows of %d", fn, ldw, width)
	}
	if rows == 0 || width == 0 {
		// k = 0: no weights to read; MatMul writes the bias (or zeros).
		hostkernels.MatMul(p.y, p.ldy, p.x, p.ldx, []float32(nil), p.bias, p.m, p.n, p.k)
		return nil
	}
	nw := (rows-1)*ldw + width
	if err := span(fn, mem, "w", w, nw, 4); err != nil {
		return err
	}
	buf := packBuffers.Get().(*[]float32)
	defer packBuffers.Put(buf)
	if need := hostkernels.PanelLen(p.n, p.k); cap(*buf) < need {
		*buf = make([]float32, need)
	}
	panels := (*buf)[:hostkernels.PanelLen(p.n, p.k)]
	hostkernels.Pack(panels, floats(mem, w, nw), int(ldw), p.n, p.k, layout == wRowsN)
	split(ctx, p, func(j0, j1 int, y, bias []float32) {
		hostkernels.MatMul(y, p.ldy, p.x, p.ldx, panels[j0*p.k:], bias, p.m, j1-j0, p.k)
	})
	return nil
}

// packBuffers holds es_host_matmul_rows's panels between calls.
var packBuffers = sync.Pool{New: func() any { return new([]float32) }}

// product is a checked product's operands, viewed in guest memory.
type product struct {
	x, y, bias []float32
	ldx, ldy   int
	m, n, k    int
}

// checkProduct checks the x, bias and y of a product of shape m×n×k
// (raw i32 arguments) against mem and views them; m or n zero is an
// empty product, not checked further.
func checkProduct(fn string, mem []byte, x, ldx, bias, y, ldy uint64, rawM, rawN, rawK uint64) (product, error) {
	m, n, k := int32(uint32(rawM)), int32(uint32(rawN)), int32(uint32(rawK))
	if m < 0 || n < 0 || k < 0 {
		return product{}, fmt.Errorf("%s: negative shape %d×%d×%d", fn, m, n, k)
	}
	if m == 0 || n == 0 {
		return product{}, nil
	}
	if m > 1 && (ldx < uint64(k) || ldy < uint64(n)) {
		// Rows that overlap are no matrix the guest means, and with a
		// leading dimension of 0 a small range would stand for any
		// number of rows of work.
		return product{}, fmt.Errorf("%s: leading dimensions %d and %d are narrower than rows of %d and %d", fn, ldx, ldy, k, n)
	}
	M, N, K := uint64(m), uint64(n), uint64(k)
	nx, ny := (M-1)*ldx+K, (M-1)*ldy+N
	if err := span(fn, mem, "x", x, nx, 4); err != nil {
		return product{}, err
	}
	if err := span(fn, mem, "y", y, ny, 4); err != nil {
		return product{}, err
	}
	p := product{x: floats(mem, x, nx), y: floats(mem, y, ny), ldx: int(ldx), ldy: int(ldy), m: int(m), n: int(n), k: int(k)}
	if bias != 0 {
		if err := span(fn, mem, "bias", bias, N, 4); err != nil {
			return product{}, err
		}
		p.bias = floats(mem, bias, N)
	}
	return p, nil
}

// span checks that count elements of esize bytes at off lie in mem,
// aligned. Counts are below 2^63 (each factor is below 2^32, a panel
// count below 2^28), and count*esize is formed only once it is known to
// be at most len(mem).
func span(fn string, mem []byte, what string, off, count, esize uint64) error {
	size := uint64(len(mem))
	if off%esize != 0 {
		return fmt.Errorf("%s: %s at %d is not aligned to %d bytes", fn, what, off, esize)
	}
	if count > size/esize || off > size-count*esize {
		return fmt.Errorf("%s: %s at %d, %d elements of %d bytes, is outside guest memory of %d bytes",
			fn, what, off, count, esize, size)
	}
	return nil
}

// floats views count float32 at off in mem (checked and aligned).
func floats(mem []byte, off, count uint64) []float32 {
	if count == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), count)
}

// minSplitWork is the fewest multiply-adds a product must have to be split
// across goroutines: handing chunks to a spinning helper costs well under
// a microsecond, about what 100k multiply-adds take on one core.
const minSplitWork = 256 << 10

// split runs the product p by run(j0, j1, y, bias), which multiplies
// columns [j0, j1) into y and bias (p's, from column j0), dividing the
// columns among up to the crew's threads() goroutines: this one and the
// helpers of ctx's crew (withKernelThreads; without one, this one alone).
// Columns are independent, so the result does not depend on the division.
//
// The columns go in chunks of a few kernel tiles that each goroutine
// claims in turn, so a helper that starts late leaves its chunks to the
// others. The caller spins while helpers finish theirs. One
// descheduled halfway by another process on the same cores (the kernel
// gives it back a time slice later, milliseconds) still holds up the
// caller, who must not return while a helper writes guest memory: when
// the caller has waited longer than splitPatience for helpers, split stops
// splitting for splitBackoff, so a machine whose other cores are busy runs
// one query at one thread's speed instead of at the scheduler's pace.
func split(ctx context.Context, p product, run func(j0, j1 int, y, bias []float32)) {
	cols := func(j0, j1 int) {
		var b []float32
		if p.bias != nil {
			b = p.bias[j0:j1]
		}
		run(j0, j1, p.y[j0:], b)
	}
	// Chunks are cut at whole tiles of the kernel (one or two panels).
	tile := hostkernels.TileColumns()
	tiles := (p.n + tile - 1) / tile
	c, _ := ctx.Value(crewKey{}).(*crew)
	threads := 1
	if c != nil {
		threads = min(max(1, c.threads()), tiles)
	}
	if threads <= 1 || p.m*p.n*p.k < minSplitWork || time.Now().UnixNano() < splitPausedUntil.Load() {
		cols(0, p.n)
		return
	}
	chunks := min(tiles, splitChunks*threads)
	j := &splitJob{chunks: int32(chunks), do: func(i int) {
		p0, p1 := tiles*i/chunks, tiles*(i+1)/chunks
		cols(p0*tile, min(p1*tile, p.n))
	}}
	c.call(j, threads-1)
	waited := time.Now()
	for spins := 1; j.done.Load() < j.chunks; spins++ {
		if spins%crewCheck == 0 {
			runtime.Gosched() // a helper Go descheduled runs here
		}
	}
	c.job.Store(nil)
	if now := time.Now(); now.Sub(waited) > splitPatience {
		splitPaused.Add(1)
		splitPausedUntil.Store(now.Add(splitBackoff).UnixNano())
	}
}

// splitChunks is the chunks per goroutine split cuts a product into.
// splitPatience is the longest the caller may wait for helpers before
// split pauses for splitBackoff: a chunk of a query takes tens of
// microseconds, a scheduler's time slice milliseconds.
const (
	splitChunks   = 4
	splitPatience = time.Millisecond
	splitBackoff  = time.Second
)

// splitPausedUntil is when split may split again (Unix nanoseconds), and
// splitPaused counts the pauses. splitHelperClaimed, when set (by tests),
// runs as a helper claims a chunk.
var (
	splitPausedUntil   atomic.Int64
	splitPaused        atomic.Int64
	splitHelperClaimed func()
)

// A crew is the helpers that split hands chunks of one worker's products
// to. Waking a parked goroutine costs tens of microseconds on a virtual
// machine (the other core must be woken first), about what a whole chunk
// of a query's product takes, so helpers handed work per product arrived
// when the product was done: two cores made one query no faster. A
// crew's helpers instead spin between products, checking for a job, from
// the first product split hands them until the worker's batch ends
// (rest), their core is wanted (threads() drops to 1: another worker took
// a batch) or crewIdle passes without a job; each yields its core to
// other goroutines every crewCheck spins (runtime.Gosched). A crew
// serves one caller at a time, as a worker does.
type crew struct {
	threads func() int
	job     atomic.Pointer[splitJob]
	live    atomic.Int32 // helpers running
	resting atomic.Bool  // rest was called: helpers leave
	idle    atomic.Int64 // crewIdle, in nanoseconds
}

// splitJob is one product's chunks: next the first unclaimed, done how
// many are finished; do runs chunk i.
type splitJob struct {
	chunks int32
	next   atomic.Int32
	done   atomic.Int32
	do     func(i int)
}

// crewIdle is how long a helper spins without a job before it leaves
// (crew.idle, which tests change): longer than the guest's own work
// between two products of a batch. crewCheck is the spins between checks
// of the time and the threads.
const (
	crewIdle  = 2 * time.Millisecond
	crewCheck = 256
)

// crewKey is the context key of withKernelThreads.
type crewKey struct{}

// withKernelThreads returns ctx carrying a crew whose threads says how
// many goroutines one product called under ctx may use, and the crew,
// whose rest a worker calls when its batch ends.
func withKernelThreads(ctx context.Context, threads func() int) (context.Context, *crew) {
	c := &crew{threads: threads}
	c.idle.Store(int64(crewIdle))
	return context.WithValue(ctx, crewKey{}, c), c
}

// call publishes j, starting helpers until helpers run, and claims
// chunks of j on this goroutine until none is left.
func (c *crew) call(j *splitJob, helpers int) {
	c.resting.Store(false)
	c.job.Store(j)
	for c.live.Load() < int32(helpers) {
		c.live.Add(1)
		go c.help()
	}
	j.work(false)
}

// work claims and runs chunks of j until none is left.
func (j *splitJob) work(helper bool) {
	for {
		i := j.next.Add(1) - 1
		if i >= j.chunks {
			return
		}
		if helper && splitHelperClaimed != nil {
			splitHelperClaimed()
		}
		j.do(int(i))
		j.done.Add(1)
	}
}

// help is a helper's loop: see crew.
func (c *crew) help() {
	defer c.live.Add(-1)
	var last *splitJob
	idle := time.Now()
	for spins := 1; ; spins++ {
		if j := c.job.Load(); j != nil && j != last {
			j.work(true)
			last, idle, spins = j, time.Now(), 1
			continue
		}
		if spins%crewCheck == 0 {
			if c.resting.Load() || c.threads() <= 1 || time.Since(idle) > time.Duration(c.idle.Load()) {
				return
			}
			runtime.Gosched()
		}
	}
}

// rest sends the crew's helpers away: the worker's batch is done.
func (c *crew) rest() { c.resting.Store(true) }
