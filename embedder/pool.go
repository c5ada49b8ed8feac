package embedder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Pool embeds texts on a fixed set of guest instances. Its methods are safe
// for concurrent use.
type Pool struct {
	opts  Options
	info  ModelInfo
	rt    guestRuntime
	model *modelFile
	// Two lanes: queue for interactive texts (Embed), bulk for bulk
	// indexing (EmbedBulk). A worker takes interactive texts first, also
	// between the steps of a bulk batch (run).
	queue chan *job
	bulk  chan *job
	// bulkHead is when the oldest bulk text still waiting was queued, or
	// an upper bound of it: the queue time of the last bulk text a worker
	// took, the texts behind it being younger (see BulkBacklog).
	bulkHead atomic.Int64
	// bulkRate measures the bulk texts finished per second, for AdmitBulk.
	bulkRate rateMeter
	// inflight counts the interactive texts admitted and not yet done, and
	// textTime is the time of one text of an interactive batch lately (an
	// exponential average of batch time ÷ texts, in nanoseconds): together
	// they bound how long a query waits (Options.MaxWait, admit).
	inflight atomic.Int64
	textTime atomic.Int64

	// The tokenizing instance (tokenizer.go), used by one caller at a time.
	tokMu sync.Mutex
	tok   *instance
	vocab []byte // its GGUF, to start a new one after a trap

	// mu guards closed; closing the queues under it means no Embed sends
	// on a closed channel.
	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	// Elastic workers (Options.MinWorkers): live counts running and
	// starting instances, idle the workers waiting on the queue.
	workersMu sync.Mutex
	live      int
	idle      atomic.Int32
	// busy counts the workers running a batch: the host kernels of one
	// use the cores the others leave (kernelThreads).
	busy atomic.Int32

	stats Stats
}

// Stats counts what the pool has done since it started.
type Stats struct {
	Texts    atomic.Int64 // texts embedded
	Batches  atomic.Int64 // batches embedded (one guest job each)
	Tokens   atomic.Int64 // tokens embedded
	Rejected atomic.Int64 // texts refused with ErrOverloaded, both lanes
	// Steps counts bounded guest calls (es_job_step) made, both lanes.
	Steps atomic.Int64
	// Preempted counts interactive batches run between two steps of a bulk
	// batch, which waited meanwhile.
	Preempted atomic.Int64
	// Dropped counts batches stopped between steps because every caller
	// with texts in them had gone (context ended).
	Dropped atomic.Int64
	// Instances is the number of guest instances up now.
	Instances atomic.Int64
	// SlowStacks counts instances whose first lookup of the embedding call
	// ran ≥ 1.4× slower than the one kept (see stack.go).
	SlowStacks atomic.Int64
}

// job is one unit in the queue: a text to embed.
type job struct {
	req    *request
	i      int // index of the text within req
	text   string
	queued int64 // bulk lane: when it was queued, in Unix nanoseconds
}

// request collects the results of one Embed call.
type request struct {
	ctx     context.Context
	out     []Embedding
	pending atomic.Int32
	done    chan struct{}
	errOnce sync.Once
	err     error
	failed  atomic.Bool // set once err is; workers skip the request's texts
	release func()      // when set, called once every text is finished
}

func (r *request) fail(err error) {
	r.errOnce.Do(func() { r.err = err; r.failed.Store(true) })
}

func (r *request) finish() {
	if r.pending.Add(-1) == 0 {
		if r.release != nil {
			r.release()
		}
		close(r.done)
	}
}

// New compiles the guest, starts opts.Workers instances and loads the model
// into each. It returns an error naming the file when the model cannot be
// read or loaded.
func New(ctx context.Context, opts Options) (*Pool, error) {
	if opts.ModelPath == "" {
		return nil, errors.New("embedder: no model path given")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 1024
	}
	if opts.BulkShare <= 0 || opts.BulkShare >= 1 {
		opts.BulkShare = 0.2
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = 200 * time.Millisecond
	}
	if opts.MaxBulkWait == 0 {
		opts.MaxBulkWait = 2 * time.Second
	}
	if opts.BulkQueueSize <= 0 {
		opts.BulkQueueSize = 256
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 32
	}
	if opts.MinWorkers <= 0 || opts.MinWorkers > opts.Workers {
		opts.MinWorkers = opts.Workers
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	// Every instance reads the model from this one open file, straight into
	// its own memory: no copy on the Go heap, and instances started later
	// (replacing a trapped one) read the same file even if the path has
	// been replaced since.
	model, err := openModel(opts.ModelPath)
	if err != nil {
		return nil, err
	}

	// The host kernels are served through wazero's host modules; another
	// runtime runs the standalone module with the guest's own kernels.
	otherRuntime := opts.Runtime != "" && opts.Runtime != "wazero"
	switch {
	case opts.Kernels == "" && otherRuntime:
		opts.Kernels = KernelsGuest
	case opts.Kernels == "":
		opts.Kernels = defaultKernels()
	case opts.Kernels == KernelsHost && otherRuntime:
		model.Close()
		return nil, fmt.Errorf("embedder: runtime %q runs the guest's own kernels, not the host's: leave Kernels empty or set %q", opts.Runtime, KernelsGuest)
	}
	wasm, err := guestBinary(opts.Kernels)
	if err != nil {
		model.Close()
		return nil, err
	}
	rt, err := newGuestRuntime(ctx, opts.Runtime, wasm, cacheDir(opts.CacheDir))
	if err != nil {
		model.Close()
		return nil, err
	}

	p := &Pool{opts: opts, rt: rt, model: model,
		queue: make(chan *job, opts.QueueSize), bulk: make(chan *job, opts.BulkQueueSize)}
	instances := make([]*instance, opts.MinWorkers)
	errs := make([]error, opts.MinWorkers)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			instances[i], errs[i] = newInstance(ctx, rt, model, opts.MaxTokens, tuneStacks(opts))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		model.Close()
		rt.close(ctx)
		return nil, fmt.Errorf("model %s: %w", opts.ModelPath, errs[firstErr(errs)])
	}
	if p.info, err = instances[0].info(ctx); err != nil {
		model.Close()
		rt.close(ctx)
		return nil, err
	}
	if p.vocab, err = vocabGGUF(model); err == nil {
		p.tok, err = newTokenizer(ctx, rt, p.vocab)
	}
	if err != nil {
		for _, in := range instances {
			in.close(ctx)
		}
		model.Close()
		rt.close(ctx)
		return nil, fmt.Errorf("model %s: tokenizer: %w", opts.ModelPath, err)
	}
	for _, in := range instances {
		if in.tuned.avoidedSlowStack() {
			p.stats.SlowStacks.Add(1)
		}
		p.live++
		p.stats.Instances.Add(1)
		p.wg.Add(1)
		go p.work(in)
	}
	return p, nil
}

func firstErr(errs []error) int {
	for i, err := range errs {
		if err != nil {
			return i
		}
	}
	return 0
}

// cacheDir resolves Options.CacheDir: "" is the user cache, "-" none.
func cacheDir(dir string) string {
	if dir == "-" {
		return ""
	}
	if dir != "" {
		return dir
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "edgesearch", "wazero")
}

// Info describes the loaded model.
func (p *Pool) Info() ModelInfo { return p.info }

// Kernels is who runs the matrix products: KernelsHost or KernelsGuest
// (Options.Kernels, resolved).
func (p *Pool) Kernels() string { return p.opts.Kernels }

// Stats returns the pool's counters.
func (p *Pool) Stats() *Stats { return &p.stats }

// QueueLen is the number of interactive texts (Embed) waiting for a worker.
func (p *Pool) QueueLen() int { return len(p.queue) }

// BulkQueueLen is the number of bulk texts (EmbedBulk) waiting for a worker.
func (p *Pool) BulkQueueLen() int { return len(p.bulk) }

// BulkQueueCap is Options.BulkQueueSize as resolved: the most texts one
// EmbedBulk call may have.
func (p *Pool) BulkQueueCap() int { return cap(p.bulk) }

// Embed returns one embedding per text, in order. It is the interactive
// lane (queries, embedding requests): its texts go before every bulk text
// queued, and wait behind at most one bounded step of a bulk batch already
// running. It returns ErrInvalidText when a text is not valid UTF-8,
// ErrOverloaded when the queue has no room for all the texts, ErrClosed
// after Close, and ctx's error when ctx ends first. An empty text embeds as
// just [CLS] [SEP].
func (p *Pool) Embed(ctx context.Context, texts []string) ([]Embedding, error) {
	return p.embed(ctx, texts, false)
}

// EmbedBulk is Embed for bulk indexing: its texts wait in a queue of their
// own (Options.BulkQueueSize) and are embedded only while no interactive
// text waits. When that queue has no room for all the texts it returns
// ErrOverloaded at once, so a caller learns to slow down instead of
// queueing more work than the pool will reach soon; a call with more texts
// than BulkQueueSize always does. When ctx ends, EmbedBulk returns its
// error at once and the workers stop the batch at the next step if no
// other caller has texts in it.
func (p *Pool) EmbedBulk(ctx context.Context, texts []string) ([]Embedding, error) {
	return p.embed(ctx, texts, true)
}

// BulkBacklog is how long the oldest bulk text still waiting has waited (a
// little more, at most the gap between two texts queued while the lane is
// busy); zero when none waits.
func (p *Pool) BulkBacklog() time.Duration {
	if len(p.bulk) == 0 {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - p.bulkHead.Load())
}

// AdmitBulk reports whether new bulk work should start now: it returns
// ErrOverloaded while the bulk queue is full, its oldest text has waited
// longer than Options.MaxBulkWait, or the texts waiting would take longer
// than that to drain at the lane's recent rate, so a server can answer 503
// with Retry-After at once
// instead of queueing a request that would wait behind that backlog.
// Work already admitted paces itself with EmbedBulk as before.
func (p *Pool) AdmitBulk() error {
	queued := len(p.bulk)
	wait := p.opts.MaxBulkWait
	rate := p.bulkRate.perSecond(time.Now())
	late := wait > 0 && (p.BulkBacklog() > wait ||
		// What waits now would take longer than that to drain at the
		// rate the lane has lately been going (queries first).
		rate > 0 && float64(queued) > rate*wait.Seconds())
	if queued == cap(p.bulk) || late {
		p.stats.Rejected.Add(1)
		return ErrOverloaded
	}
	return nil
}

// Inflight is the number of interactive texts admitted and not yet done.
func (p *Pool) Inflight() int { return int(p.inflight.Load()) }

// inflightLimit is how many interactive texts may be in the pool at once:
// as many as the workers get through in Options.MaxWait at the recent time
// per text (Little's law: what is admitted then waits about MaxWait), and
// never fewer than two per worker, so a board on which one query alone
// takes longer than MaxWait still takes queries side by side.
func (p *Pool) inflightLimit() int64 {
	floor := int64(2 * p.opts.Workers)
	per := p.textTime.Load()
	if per <= 0 {
		return max(floor, int64(p.opts.QueueSize)) // nothing measured yet
	}
	return max(floor, int64(p.opts.Workers)*int64(p.opts.MaxWait)/per)
}

// admit takes n interactive texts into the pool, or refuses them with
// ErrOverloaded when that would pass inflightLimit: more work is waiting
// than the workers answer within MaxWait, and a caller told 503 with
// Retry-After does better than one that waits behind it. A call that finds
// nothing in flight is always taken, however many texts it has (up to the
// queue's size). The caller gives the texts back with p.inflight.Add(-n).
func (p *Pool) admit(n int) error {
	for {
		now := p.inflight.Load()
		if now > 0 && p.opts.MaxWait >= 0 && now+int64(n) > p.inflightLimit() {
			return ErrOverloaded
		}
		if p.inflight.CompareAndSwap(now, now+int64(n)) {
			return nil
		}
	}
}

func (p *Pool) embed(ctx context.Context, texts []string, bulk bool) ([]Embedding, error) {
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return nil, fmt.Errorf("text %d: %w", i, ErrInvalidText)
		}
	}
	if len(texts) == 0 {
		return nil, nil
	}
	req := &request{ctx: ctx, out: make([]Embedding, len(texts)), done: make(chan struct{})}
	req.pending.Store(int32(len(texts)))

	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return nil, ErrClosed
	}
	queue := p.queue
	var queued int64
	if bulk {
		queue = p.bulk
		queued = time.Now().UnixNano()
		if len(queue) == 0 {
			p.bulkHead.Store(queued) // these texts will be the oldest waiting
		}
	} else {
		if err := p.admit(len(texts)); err != nil {
			p.mu.RUnlock()
			p.stats.Rejected.Add(int64(len(texts)))
			return nil, err
		}
		// Given back when every text is done, failed, or skipped by the
		// workers because the caller has gone (request.finish).
		n := int64(len(texts))
		req.release = func() { p.inflight.Add(-n) }
	}
	if len(texts) > cap(queue)-len(queue) {
		if req.release != nil {
			req.release() // nothing was queued
		}
		p.mu.RUnlock()
		p.stats.Rejected.Add(int64(len(texts)))
		return nil, ErrOverloaded
	}
	for i, t := range texts {
		select {
		case queue <- &job{req: req, i: i, text: t, queued: queued}:
		default:
			// Another caller filled the queue meanwhile: the texts already
			// queued are skipped by the workers once they see req failed.
			req.fail(ErrOverloaded)
			for range len(texts) - i {
				req.finish()
			}
			p.stats.Rejected.Add(int64(len(texts) - i))
			p.mu.RUnlock()
			<-req.done
			return nil, ErrOverloaded
		}
	}
	p.grow()
	p.mu.RUnlock()

	select {
	case <-req.done:
	case <-ctx.Done():
		req.fail(ctx.Err())
		return nil, ctx.Err()
	}
	if req.err != nil {
		return nil, req.err
	}
	return req.out, nil
}

// Tokenize returns the word pieces of text (without [CLS] and [SEP]) with
// their byte offsets in text. It runs on an instance of its own, so it
// never waits behind queued embeddings.
func (p *Pool) Tokenize(ctx context.Context, text string) ([]Token, error) {
	if !utf8.ValidString(text) {
		return nil, ErrInvalidText
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.tokMu.Lock()
	defer p.tokMu.Unlock()
	if p.tok == nil {
		p.mu.RLock()
		closed := p.closed
		p.mu.RUnlock()
		if closed {
			return nil, ErrClosed
		}
		// The last one trapped; start another.
		var err error
		if p.tok, err = newTokenizer(context.Background(), p.rt, p.vocab); err != nil {
			return nil, fmt.Errorf("%w: %w", errLostInstance, err)
		}
	}
	toks, err := p.tok.tokenizeText(ctx, text)
	if isTrap(err) {
		p.tok.close(context.Background())
		p.tok = nil
	}
	return toks, err
}

// grow starts another instance when work waits, no worker is free and the
// pool is below Workers. The caller holds p.mu for reading and the pool is
// open, so Close waits for the new worker.
func (p *Pool) grow() {
	if p.idle.Load() > 0 || len(p.queue)+len(p.bulk) == 0 {
		return
	}
	p.workersMu.Lock()
	defer p.workersMu.Unlock()
	if p.live >= p.opts.Workers {
		return
	}
	p.live++
	p.wg.Add(1)
	go func() {
		in, err := newInstance(context.Background(), p.rt, p.model, p.opts.MaxTokens, tuneStacks(p.opts))
		if err != nil {
			// The instances already up carry on; the next wait tries again.
			p.workersMu.Lock()
			p.live--
			p.workersMu.Unlock()
			p.wg.Done()
			return
		}
		if in.tuned.avoidedSlowStack() {
			p.stats.SlowStacks.Add(1)
		}
		p.stats.Instances.Add(1)
		p.work(in)
	}()
}

// retire reports whether a worker that found nothing to do for IdleTimeout
// should stop: only while the pool is above MinWorkers.
func (p *Pool) retire() bool {
	p.workersMu.Lock()
	defer p.workersMu.Unlock()
	if p.live <= p.opts.MinWorkers {
		return false
	}
	p.live--
	return true
}

// Close stops the workers after the queued texts of both lanes are done and
// frees the guest instances. It is safe to call more than once.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.queue)
	close(p.bulk)
	p.mu.Unlock()
	p.wg.Wait()
	p.tokMu.Lock()
	if p.tok != nil {
		p.tok.close(context.Background())
		p.tok = nil
	}
	p.tokMu.Unlock()
	return errors.Join(p.rt.close(context.Background()), p.model.Close())
}

// work is a worker's loop: it owns in until the queues close.
func (p *Pool) work(in *instance) {
	defer p.wg.Done()
	ctx, helpers := withKernelThreads(context.Background(), p.kernelThreads)
	batch := make([]*job, 0, p.opts.MaxBatch)
	// credit is the bulk work this worker owes: interactive batches go
	// first, but while bulk texts wait each one earns the bulk lane
	// BulkShare of the worker's time, so a steady stream of queries slows
	// indexing down instead of stopping it.
	var credit time.Duration
	for {
		j, bulk, ok := p.next(credit > 0)
		if !ok {
			if in != nil {
				in.close(ctx)
				p.stats.Instances.Add(-1)
			}
			return
		}
		if in == nil {
			// The guest trapped and no new instance could be made: fail
			// fast rather than leave callers waiting.
			j.req.fail(errLostInstance)
			j.req.finish()
			continue
		}
		batch = append(batch[:0], j)
		p.fill(&batch, bulk)
		if len(p.queue)+len(p.bulk) > 0 {
			// More than a batch waits: one long request should use the
			// other cores too.
			p.mu.RLock()
			if !p.closed {
				p.grow()
			}
			p.mu.RUnlock()
		}
		start := time.Now()
		p.busy.Add(1)
		in = p.run(ctx, in, batch, bulk, &credit)
		helpers.rest()
		p.busy.Add(-1)
		switch {
		case len(p.bulk) == 0:
			credit = 0 // nothing waits to spend it on
		case !bulk:
			credit += p.bulkCredit(time.Since(start))
		}
	}
}

// kernelThreads is how many goroutines one host matrix product may use: the
// cores (Options.Workers) less the other workers running a batch, so one
// query alone uses every core and a bulk import on every worker does not
// oversubscribe them.
func (p *Pool) kernelThreads() int {
	return p.opts.Workers - int(p.busy.Load()) + 1
}

// bulkCredit is the bulk work owed for t spent on interactive work.
func (p *Pool) bulkCredit(t time.Duration) time.Duration {
	return time.Duration(float64(t) * p.opts.BulkShare / (1 - p.opts.BulkShare))
}

// next waits for a text, interactive ones first, and reports which lane it
// came from. It reports false when the worker should stop: both queues are
// closed and drained, or the worker was idle for IdleTimeout above
// MinWorkers.
func (p *Pool) next(bulkFirst bool) (j *job, bulk, ok bool) {
	p.idle.Add(1)
	defer p.idle.Add(-1)
	var idle <-chan time.Time
	if p.opts.MinWorkers < p.opts.Workers {
		t := time.NewTimer(p.opts.IdleTimeout)
		defer t.Stop()
		idle = t.C
	}
	// A closed lane becomes nil, which blocks, so the other one drains.
	queue, bulkQ := p.queue, p.bulk
	for queue != nil || bulkQ != nil {
		if bulkFirst && bulkQ != nil {
			// The bulk lane is owed time: it goes first this once.
			select {
			case j, ok := <-bulkQ:
				if ok {
					p.bulkHead.Store(j.queued)
					return j, true, true
				}
				bulkQ = nil
				continue
			default:
			}
		}
		if queue != nil {
			select {
			case j, ok := <-queue:
				if ok {
					return j, false, true
				}
				queue = nil
				continue
			default:
			}
		}
		select {
		case j, ok := <-queue:
			if ok {
				return j, false, true
			}
			queue = nil
		case j, ok := <-bulkQ:
			if ok {
				p.bulkHead.Store(j.queued)
				return j, true, true
			}
			bulkQ = nil
		case <-idle:
			if p.retire() {
				return nil, false, false
			}
			idle = time.After(p.opts.IdleTimeout)
		}
	}
	return nil, false, false
}

// fill adds texts already waiting in batch's lane to batch, without
// blocking (or waiting up to Options.BatchWait for more). Lanes are not
// mixed: a bulk batch is one that may be paused.
func (p *Pool) fill(batch *[]*job, bulk bool) {
	queue := p.queue
	if bulk {
		queue = p.bulk
	}
	var timer <-chan time.Time
	if p.opts.BatchWait > 0 {
		t := time.NewTimer(p.opts.BatchWait)
		defer t.Stop()
		timer = t.C
	}
	bytes := len((*batch)[0].text)
	most := p.opts.MaxBatch
	if bulk {
		// Every text of a batch is done when the whole batch is: small
		// bulk batches keep one write from waiting for twenty others
		// while queries take most of the worker.
		most = min(most, maxBulkBatch)
	}
	for len(*batch) < most && bytes < maxBatchBytes {
		var j *job
		var ok bool
		if timer == nil {
			select {
			case j, ok = <-queue:
			default:
				return
			}
		} else {
			select {
			case j, ok = <-queue:
			case <-timer:
				return
			}
		}
		if !ok {
			return
		}
		if bulk {
			p.bulkHead.Store(j.queued)
		}
		*batch = append(*batch, j)
		bytes += len(j.text)
	}
}

// maxBulkBatch is the most texts in a bulk batch: half a guest pass of
// 1,024 tokens of full chunks. Under a query stream a bulk batch runs at
// BulkShare of a worker, so its size is the latency of every write in it:
// with 8, a few writes per minute of make loadtest waited past 30 s; with 4,
// none, at the same number of documents stored.
const maxBulkBatch = 4

// maxBatchBytes bounds one batch's input, so a batch of long texts does not
// need a huge activation buffer in the guest.
const maxBatchBytes = 64 << 10

// run embeds a batch as one guest job, a bounded step at a time, and
// delivers the results. Between two steps of a bulk batch it runs the
// interactive batches that wait (each to its end), and it drops a batch
// whose callers have all gone. If the guest trapped, the instance is
// replaced by a fresh one; run returns the instance to use next (nil if
// none could be made).
func (p *Pool) run(ctx context.Context, in *instance, batch []*job, bulk bool, credit *time.Duration) *instance {
	live := batch[:0:0]
	texts := make([]string, 0, len(batch))
	for _, j := range batch {
		if j.req.failed.Load() || j.req.ctx.Err() != nil {
			j.req.fail(j.req.ctx.Err())
			j.req.finish()
			continue
		}
		live = append(live, j)
		texts = append(texts, j.text)
	}
	if len(live) == 0 {
		return in
	}
	began := time.Now()
	gj, err := in.startJob(ctx, texts)
	if err != nil {
		return p.fail(ctx, in, live, err)
	}
	for done := false; !done; {
		// A bulk batch yields to waiting interactive texts between steps,
		// unless it is still owed time (*credit, see work).
		if bulk && *credit <= 0 && len(p.queue) > 0 {
			if next := p.interactive(); next != nil {
				p.stats.Preempted.Add(1)
				start := time.Now()
				if now := p.run(ctx, in, next, false, credit); now != in {
					// The instance trapped and was replaced: this job
					// went with it.
					deliverErr(live, fmt.Errorf("%w while the batch waited", errInstanceLost))
					return now
				}
				*credit += p.bulkCredit(time.Since(start))
			}
		}
		if gone(live) {
			in.cancelJob(ctx, gj)
			p.stats.Dropped.Add(1)
			deliverErr(live, nil)
			return in
		}
		if p.opts.beforeStep != nil {
			p.opts.beforeStep(bulk)
		}
		stepStart := time.Now()
		done, err = in.step(ctx, gj)
		if bulk {
			*credit = max(0, *credit-time.Since(stepStart))
		}
		p.stats.Steps.Add(1)
		if err != nil {
			if !isTrap(err) {
				in.cancelJob(ctx, gj)
			}
			return p.fail(ctx, in, live, err)
		}
	}
	embs, err := in.finishJob(ctx, gj)
	if err != nil {
		return p.fail(ctx, in, live, err)
	}
	p.stats.Batches.Add(1)
	p.stats.Texts.Add(int64(len(live)))
	if bulk {
		p.bulkRate.add(time.Now(), len(live))
	} else {
		p.noteText(time.Since(began) / time.Duration(len(live)))
	}
	for i, j := range live {
		j.req.out[j.i] = embs[i]
		p.stats.Tokens.Add(int64(embs[i].Tokens))
		j.req.finish()
	}
	return in
}

// noteText adds the time per text of an interactive batch to the mean
// (1/8 weight).
func (p *Pool) noteText(d time.Duration) {
	for {
		old := p.textTime.Load()
		next := old + (int64(d)-old)/8
		if old == 0 {
			next = int64(d)
		}
		if p.textTime.CompareAndSwap(old, next) {
			return
		}
	}
}

// interactive takes the interactive batch that waits, if any (another
// worker may have taken it since the caller looked).
func (p *Pool) interactive() []*job {
	select {
	case j, ok := <-p.queue:
		if !ok {
			return nil
		}
		batch := []*job{j}
		p.fill(&batch, false)
		return batch
	default:
		return nil
	}
}

// gone reports whether every request with texts in batch has failed or
// been given up by its caller.
func gone(batch []*job) bool {
	for _, j := range batch {
		if !j.req.failed.Load() && j.req.ctx.Err() == nil {
			return false
		}
	}
	return true
}

// deliverErr fails every text of batch with err, or with its request's
// context error when err is nil.
func deliverErr(batch []*job, err error) {
	for _, j := range batch {
		if err != nil {
			j.req.fail(err)
		} else {
			j.req.fail(j.req.ctx.Err())
		}
		j.req.finish()
	}
}

// fail delivers err for a batch and replaces in when the guest trapped.
func (p *Pool) fail(ctx context.Context, in *instance, batch []*job, err error) *instance {
	deliverErr(batch, err)
	if isTrap(err) {
		return p.replace(ctx, in)
	}
	return in
}

var (
	errLostInstance = errors.New("embedder: a guest instance failed and could not be restarted")
	errInstanceLost = errors.New("embedder: the guest instance holding this batch trapped")
)

// trapError marks an error from a guest call that trapped: the instance's
// state is undefined afterwards and it must be replaced.
type trapError struct{ error }

func (t trapError) Unwrap() error { return t.error }

func isTrap(err error) bool {
	var t trapError
	return errors.As(err, &t)
}

// replace closes a trapped instance and starts a new one in its place.
func (p *Pool) replace(ctx context.Context, old *instance) *instance {
	old.close(ctx)
	in, err := newInstance(ctx, p.rt, p.model, p.opts.MaxTokens, tuneStacks(p.opts))
	if err != nil {
		return nil
	}
	if in.tuned.avoidedSlowStack() {
		p.stats.SlowStacks.Add(1)
	}
	return in
}

// rateMeter counts events per second over windows of rateWindow: the last
// whole window's rate, or the current one's once it is longer.
type rateMeter struct {
	mu    sync.Mutex
	start time.Time
	count int
	last  float64
}

const rateWindow = 5 * time.Second

func (m *rateMeter) add(now time.Time, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(now)
	m.count += n
}

func (m *rateMeter) perSecond(now time.Time) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(now)
	if el := now.Sub(m.start); el > 0 && m.count > 0 && float64(m.count)/el.Seconds() > m.last {
		return float64(m.count) / el.Seconds()
	}
	return m.last
}

func (m *rateMeter) roll(now time.Time) {
	if m.start.IsZero() {
		m.start = now
		return
	}
	if el := now.Sub(m.start); el >= rateWindow {
		m.last = float64(m.count) / el.Seconds()
		m.start, m.count = now, 0
	}
}
