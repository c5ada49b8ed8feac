package embedder

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stepLog records, in order, the lane of every guest step a pool makes.
type stepLog struct {
	mu    sync.Mutex
	steps []bool // true: a bulk step
	hook  func(bulkSteps int, bulk bool)
}

func (l *stepLog) before(bulk bool) {
	l.mu.Lock()
	l.steps = append(l.steps, bulk)
	n := 0
	for _, b := range l.steps {
		if b {
			n++
		}
	}
	hook := l.hook
	l.mu.Unlock()
	if hook != nil {
		hook(n, bulk)
	}
}

// holdBulkStep makes the worker stop before the bulk step numbered n (from
// 1): entered is closed once it waits there, and it goes on when release is
// closed.
func (l *stepLog) holdBulkStep(n int) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	l.mu.Lock()
	l.hook = func(bulkSteps int, bulk bool) {
		if bulk && bulkSteps == n {
			close(entered)
			<-release
		}
	}
	l.mu.Unlock()
	return entered, release
}

func (l *stepLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, s := range l.steps {
		if s {
			b.WriteByte('B')
		} else {
			b.WriteByte('I')
		}
	}
	return b.String()
}

// longTexts are n texts of the model's full 256 tokens.
func longTexts(n int) []string {
	texts := make([]string, n)
	for i := range texts {
		texts[i] = strings.Repeat("bulk indexing keeps the worker busy for a while. ", 30)
	}
	return texts
}

func newLanePool(t *testing.T, opts Options) *Pool {
	t.Helper()
	opts.ModelPath = modelPath(t)
	if opts.Workers == 0 {
		opts.Workers = 1
	}
	p, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// waitFor polls cond; the test's own timeout bounds it.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(time.Millisecond)
	}
}

func TestInteractiveEmbedRunsBetweenStepsOfABulkBatch(t *testing.T) {
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, beforeStep: log.before})
	// During the bulk batch's third step the query is queued: the worker
	// must run it next, before the bulk batch's fourth step.
	entered, release := log.holdBulkStep(3)
	bulkDone := make(chan error, 1)
	go func() {
		_, err := p.EmbedBulk(context.Background(), longTexts(4))
		bulkDone <- err
	}()
	<-entered
	queryDone := make(chan error, 1)
	var embs []Embedding
	go func() {
		var err error
		embs, err = p.Embed(context.Background(), []string{"how do vaccines train the immune system"})
		queryDone <- err
	}()
	waitFor(func() bool { return p.QueueLen() == 1 })
	close(release)
	if err := <-queryDone; err != nil {
		t.Fatal(err)
	}
	if len(embs) != 1 || len(embs[0].Vector) != 384 {
		t.Fatalf("query: %+v", embs)
	}
	if err := <-bulkDone; err != nil {
		t.Fatal(err)
	}
	steps := log.String()
	// BBB, then the query's steps, then the rest of the bulk batch.
	_ = embs
	first := strings.IndexByte(steps, 'I')
	last := strings.LastIndexByte(steps, 'I')
	if first != 3 || strings.Contains(steps[first:last], "B") || !strings.HasSuffix(steps, "B") {
		t.Errorf("steps %s: want the query's steps (I) right after the third bulk step, together, and bulk steps after them", steps)
	}
	if n := p.Stats().Preempted.Load(); n != 1 {
		t.Errorf("Preempted = %d, want 1", n)
	}
}

func TestInteractiveEmbedGoesBeforeQueuedBulkTexts(t *testing.T) {
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, MaxBatch: 1, beforeStep: log.before})
	entered, release := log.holdBulkStep(1)
	bulkDone := make(chan error, 1)
	go func() {
		// Three one-text batches: the worker holds the first at its first
		// step while the other two and the query queue up.
		_, err := p.EmbedBulk(context.Background(), []string{"one", "two", "three"})
		bulkDone <- err
	}()
	<-entered
	queryDone := make(chan error, 1)
	go func() {
		_, err := p.Embed(context.Background(), []string{"query"})
		queryDone <- err
	}()
	waitFor(func() bool { return p.QueueLen() == 1 })
	close(release)
	if err := <-queryDone; err != nil {
		t.Fatal(err)
	}
	if err := <-bulkDone; err != nil {
		t.Fatal(err)
	}
	steps := log.String()
	if i := strings.IndexByte(steps, 'I'); i != 1 {
		t.Errorf("steps %s: the query should run after one bulk step, not behind the queued bulk texts", steps)
	}
}

func TestCancelledBulkStopsBetweenSteps(t *testing.T) {
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, beforeStep: log.before})
	texts := longTexts(4)
	if _, err := p.EmbedBulk(context.Background(), texts); err != nil {
		t.Fatal(err)
	}
	needed := p.Stats().Steps.Load()

	ctx, cancel := context.WithCancel(context.Background())
	log.hook = func(bulkSteps int, bulk bool) {
		if bulkSteps == int(needed)+2 {
			cancel() // during the second step of the second batch
		}
	}
	if _, err := p.EmbedBulk(ctx, texts); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	waitFor(func() bool { return p.Stats().Dropped.Load() == 1 })
	ran := p.Stats().Steps.Load() - needed
	if ran >= needed {
		t.Errorf("the cancelled batch ran %d steps of %d", ran, needed)
	}
	if ran != 2 {
		t.Errorf("the cancelled batch ran %d steps, want 2 (it stops at the next step)", ran)
	}
	// The worker is free for the next caller.
	if _, err := p.EmbedBulk(context.Background(), []string{"after"}); err != nil {
		t.Fatal(err)
	}
}

func TestFullBulkQueueSaysOverloadedAtOnce(t *testing.T) {
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, BulkQueueSize: 4, MaxBatch: 1, beforeStep: log.before})
	if _, err := p.EmbedBulk(context.Background(), []string{"1", "2", "3", "4", "5"}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("5 texts into a bulk queue of 4: err = %v, want ErrOverloaded", err)
	}
	entered, release := log.holdBulkStep(1)
	done := make(chan error, 2)
	go func() {
		// One text held by the worker, three queued.
		_, err := p.EmbedBulk(context.Background(), []string{"a", "b", "c", "d"})
		done <- err
	}()
	<-entered
	go func() {
		_, err := p.EmbedBulk(context.Background(), []string{"e"}) // the fourth
		done <- err
	}()
	waitFor(func() bool { return p.BulkQueueLen() == 4 })
	if _, err := p.EmbedBulk(context.Background(), []string{"one more"}); !errors.Is(err, ErrOverloaded) {
		t.Errorf("bulk queue full: err = %v, want ErrOverloaded", err)
	}
	if err := p.AdmitBulk(); !errors.Is(err, ErrOverloaded) {
		t.Errorf("bulk queue full: AdmitBulk = %v, want ErrOverloaded", err)
	}
	// The interactive lane has its own queue.
	queryDone := make(chan error, 1)
	go func() {
		_, err := p.Embed(context.Background(), []string{"query"})
		queryDone <- err
	}()
	waitFor(func() bool { return p.QueueLen() == 1 })
	close(release)
	if err := <-queryDone; err != nil {
		t.Errorf("query while the bulk queue was full: %v", err)
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Stats().Rejected.Load(); n != 7 {
		t.Errorf("Rejected = %d, want 7", n)
	}
}

func TestCloseWithBothLanesBusyReturns(t *testing.T) {
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, MaxBatch: 2, beforeStep: log.before})
	entered, release := log.holdBulkStep(1)
	var wg sync.WaitGroup
	results := make(chan error, 3)
	call := func(embed func(context.Context, []string) ([]Embedding, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := embed(context.Background(), longTexts(3))
			results <- err
		}()
	}
	call(p.EmbedBulk)
	<-entered // two texts at the worker, one queued
	call(p.EmbedBulk)
	call(p.Embed)
	waitFor(func() bool { return p.BulkQueueLen() == 4 && p.QueueLen() == 3 })
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	// Close waits for the queued texts; new ones are refused meanwhile.
	waitFor(func() bool {
		p.mu.RLock()
		defer p.mu.RUnlock()
		return p.closed
	})
	if _, err := p.Embed(context.Background(), []string{"late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Embed while closing: %v, want ErrClosed", err)
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("a caller queued before Close got %v", err)
		}
	}
	if _, err := p.EmbedBulk(context.Background(), []string{"x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("EmbedBulk after Close: %v, want ErrClosed", err)
	}
}

// TestAdmitBulkRefusesWhileTheBacklogIsOld pins the admission rule a server
// uses for writes: new bulk work is refused while the oldest waiting bulk
// text has waited longer than MaxBulkWait, and admitted again once the lane
// drains, whatever room the queue still has.
func TestAdmitBulkRefusesWhileTheBacklogIsOld(t *testing.T) {
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, MaxBatch: 1, MaxBulkWait: 20 * time.Millisecond, beforeStep: log.before})
	if err := p.AdmitBulk(); err != nil || p.BulkBacklog() != 0 {
		t.Fatalf("idle pool: AdmitBulk %v, backlog %v", err, p.BulkBacklog())
	}
	entered, release := log.holdBulkStep(1)
	done := make(chan error, 1)
	go func() {
		_, err := p.EmbedBulk(context.Background(), []string{"held", "waiting"})
		done <- err
	}()
	<-entered // "held" is in the worker, "waiting" in the queue
	waitFor(func() bool { return p.BulkBacklog() > 40*time.Millisecond })
	if err := p.AdmitBulk(); !errors.Is(err, ErrOverloaded) {
		t.Errorf("backlog of %v: AdmitBulk = %v, want ErrOverloaded", p.BulkBacklog(), err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.AdmitBulk(); err != nil || p.BulkBacklog() != 0 {
		t.Errorf("drained lane: AdmitBulk %v, backlog %v", err, p.BulkBacklog())
	}
}

// TestBulkKeepsItsShareUnderASteadyStreamOfQueries pins BulkShare: with so
// many queries outstanding that the interactive queue never empties, bulk
// texts that arrive meanwhile still get a worker — between interactive
// batches and between their own steps — and are embedded while the stream
// goes on. With strict priority they waited for the whole stream to end.
func TestBulkKeepsItsShareUnderASteadyStreamOfQueries(t *testing.T) {
	const streamCap = 4000 // queries; the stream stops here at the latest
	log := &stepLog{}
	p := newLanePool(t, Options{Workers: 1, MaxBatch: 8, MaxWait: -1, beforeStep: log.before})
	var queries atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 { // 32 outstanding queries: batches of 8 always wait
		wg.Go(func() {
			for queries.Load() < streamCap {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := p.Embed(context.Background(), []string{"where are the bees"}); err != nil {
					t.Error(err)
					return
				}
				queries.Add(1)
			}
		})
	}
	waitFor(func() bool { return queries.Load() > 16 })
	_, err := p.EmbedBulk(context.Background(), []string{strings.Repeat("Indexing goes on while people search. ", 12)})
	doneAt := queries.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if doneAt >= streamCap {
		t.Fatalf("the bulk text was embedded only after the query stream ended (%d queries); steps %s", doneAt, log)
	}
	t.Logf("bulk text done after %d of the stream's queries; %d preemptions", doneAt, p.Stats().Preempted.Load())
}

// TestRateMeterReportsTheLastWindowOrAFasterCurrentOne pins the arithmetic
// AdmitBulk relies on to judge how fast the bulk lane drains.
func TestRateMeterReportsTheLastWindowOrAFasterCurrentOne(t *testing.T) {
	var m rateMeter
	t0 := time.Unix(1000, 0)
	if r := m.perSecond(t0); r != 0 {
		t.Fatalf("empty meter: %v/s", r)
	}
	m.add(t0, 0)
	m.add(t0.Add(time.Second), 10)
	if r := m.perSecond(t0.Add(2 * time.Second)); r != 5 {
		t.Fatalf("10 in the first 2 s of a window: %v/s, want 5", r)
	}
	m.add(t0.Add(5*time.Second), 5) // rolls: the last window had 10 in 5 s
	if r := m.perSecond(t0.Add(6 * time.Second)); r != 5 {
		t.Fatalf("after a roll, 5 in 1 s of the new window: %v/s, want 5", r)
	}
	if r := m.perSecond(t0.Add(9 * time.Second)); r != 2 {
		t.Fatalf("5 in 4 s of the new window, last window 2/s: %v/s, want 2", r)
	}
}

// TestEmbedRefusesPastTheInflightLimit pins Options.MaxWait: once more
// query texts are in the pool than it answers within MaxWait (never fewer
// than two per worker), the next call is refused at once, and calls are
// taken again once they are done. Before, every call waited in line however
// long the line was (search p99 ≈ 1 s under make loadtest's mix).
func TestEmbedRefusesPastTheInflightLimit(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool
	var once sync.Once
	before := func(bulk bool) {
		if !bulk && hold.Load() {
			once.Do(func() { close(entered); <-release })
		}
	}
	// A MaxWait shorter than any text: the limit is its floor, 2 texts.
	p := newLanePool(t, Options{Workers: 1, MaxBatch: 1, BatchWait: -1, MaxWait: time.Microsecond, beforeStep: before})
	if _, err := p.Embed(context.Background(), []string{"a first query measures the time per text"}); err != nil {
		t.Fatal(err)
	}
	hold.Store(true)
	done := make(chan error, 2)
	go func() { _, err := p.Embed(context.Background(), []string{"held"}); done <- err }()
	<-entered // "held" is in the worker
	go func() { _, err := p.Embed(context.Background(), []string{"waiting"}); done <- err }()
	waitFor(func() bool { return p.Inflight() == 2 })
	// Without the limit it would wait for release: the deadline ends that.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Embed(ctx, []string{"refused"}); !errors.Is(err, ErrOverloaded) {
		t.Errorf("%d texts in flight: Embed = %v, want ErrOverloaded", p.Inflight(), err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Inflight(); n != 0 {
		t.Errorf("all done: %d texts still counted in flight", n)
	}
	if _, err := p.Embed(context.Background(), []string{"taken", "and another"}); err != nil {
		t.Errorf("nothing in flight: Embed = %v", err)
	}
}
