package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/store"
)

// The outbox of Backends (see there and docs/weaviate.md): writes to a
// remote collection are appended to the device's store, and a sender per
// collection delivers them in order; what a request needs to know of it
// (wait, the pending count) rides in its context.

// sender delivers one collection's outbox; it runs while the outbox holds
// entries (see run). Its fields are guarded by Backends.mu.
type sender struct {
	name    string
	cancel  context.CancelFunc
	done    chan struct{}
	waiters map[uint64][]chan delivery
}

// delivery is what became of a queued write: delivered (err nil, n the
// points it changed) or refused for good.
type delivery struct {
	n   int
	err error
}

// buryAfter is how many times in a row the cluster must refuse an entry
// for good (weaviate.Permanent) before it goes to the dead letters, with
// the backoff between tries.
const buryAfter = 4

// Backoff of a sender whose deliveries fail because the cluster is
// unreachable: it retries after minBackoff, doubling up to maxBackoff, and
// at once when another call finds the cluster answering again.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// enqueue appends op to name's outbox, makes sure a sender delivers it,
// and, when the request asked to wait, waits for the delivery (see
// waitFor); it returns the points the delivery changed, or 0 when it did
// not wait.
func (b *Backends) enqueue(ctx context.Context, name string, vectors map[string]store.VectorParams, op store.OutboxOp) (int, error) {
	rr := remoteRequestOf(ctx)
	b.dropMu.RLock()
	seq, err := b.st.AppendOutbox(ctx, name, vectors, op, b.lim)
	if err == nil {
		b.mu.Lock()
		b.startSender(name)
		b.mu.Unlock()
	}
	b.dropMu.RUnlock()
	if errors.Is(err, store.ErrOutboxFull) {
		return 0, b.outboxFull(name, err)
	}
	if err != nil {
		return 0, err
	}
	b.setPending(ctx, name)
	if rr == nil || !rr.wait {
		if rr != nil {
			rr.queued = true
		}
		return 0, nil
	}
	return b.waitFor(ctx, name, seq, rr.timeout)
}

// outboxFull is the refusal of a write the outbox has no room for: 503
// with Retry-After, saying why the outbox filled up.
func (b *Backends) outboxFull(name string, err error) error {
	b.mu.Lock()
	r := b.reach
	b.mu.Unlock()
	why := "the cluster accepts writes more slowly than they arrive"
	if r.known && !r.ok {
		why = fmt.Sprintf("the cluster has been unreachable since %s (%s)", r.since.UTC().Format(time.RFC3339), r.err)
	}
	return &requestError{ErrUnavailable, fmt.Sprintf(
		"the write to collection %q was not accepted: the outbox of writes waiting for the Weaviate cluster at %s is full (%v): %s; "+
			"nothing acknowledged before is lost, and room comes back as the cluster takes the queued writes: retry later",
		name, b.where, strings.TrimPrefix(err.Error(), store.ErrOutboxFull.Error()+": "), why)}
}

// waitFor waits until entry seq of name's outbox is delivered, for at most
// limit (0: the backend timeout; never longer). Past it, the write stays
// queued and the answer is ErrUnavailable saying so.
func (b *Backends) waitFor(ctx context.Context, name string, seq uint64, limit time.Duration) (int, error) {
	if limit <= 0 || limit > b.timeout {
		limit = b.timeout
	}
	ch := make(chan delivery, 1)
	b.mu.Lock()
	s := b.senders[name]
	done := seq <= b.finished[name]
	if !done && s != nil {
		s.waiters[seq] = append(s.waiters[seq], ch)
	}
	b.mu.Unlock()
	switch {
	case done:
		// Finished before the wait began: delivered, unless buried.
		return 0, b.buriedError(name, seq)
	case s == nil:
		return 0, &requestError{ErrUnavailable, fmt.Sprintf(
			"the write to collection %q is in this device's outbox, but nothing is delivering it now (the server is stopping, or the collection was dropped)", name)}
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case d := <-ch:
		return d.n, d.err
	case <-t.C:
	case <-ctx.Done():
	}
	b.mu.Lock()
	if s.waiters != nil {
		s.waiters[seq] = slices.DeleteFunc(s.waiters[seq], func(c chan delivery) bool { return c == ch })
	}
	r := b.reach
	b.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	why := "it has not accepted it yet"
	if r.known && !r.ok {
		why = fmt.Sprintf("unreachable since %s: %s", r.since.UTC().Format(time.RFC3339), r.err)
	}
	return 0, &requestError{ErrUnavailable, fmt.Sprintf(
		"the write to collection %q is queued in this device's outbox (on disk) and will be delivered to the Weaviate cluster at %s, "+
			"but was not delivered within %v (%s); it stays queued, no need to send it again", name, b.where, limit, why)}
}

// buriedError is the refusal of entry seq when it is among name's dead
// letters, else nil.
func (b *Backends) buriedError(name string, seq uint64) error {
	dead, err := b.st.DeadLetters(name)
	if err != nil {
		return err
	}
	for _, d := range dead {
		if d.Seq == seq {
			return refused(name, d.Reason)
		}
	}
	return nil
}

// refused is the answer to a waited write the cluster refused for good.
func refused(name, reason string) error {
	return fmt.Errorf("the Weaviate cluster refused the write to collection %q (%s); it was moved to the collection's dead letters: %w",
		name, reason, store.ErrInvalid)
}

// startSender starts name's sender unless it runs, or Start has not run,
// or Close has. Callers hold b.mu.
func (b *Backends) startSender(name string) {
	if b.ctx == nil || b.ctx.Err() != nil || b.senders[name] != nil {
		return
	}
	ctx, cancel := context.WithCancel(b.ctx)
	s := &sender{name: name, cancel: cancel, done: make(chan struct{}), waiters: map[uint64][]chan delivery{}}
	b.senders[name] = s
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer close(s.done)
		b.run(ctx, s)
	}()
}

// stopSender stops name's sender, if one runs, and waits for it.
func (b *Backends) stopSender(name string) {
	b.mu.Lock()
	s := b.senders[name]
	b.mu.Unlock()
	if s == nil {
		return
	}
	s.cancel()
	<-s.done
}

// run delivers name's outbox in order until it is empty or ctx ends
// (runs of small upserts together, see upsertRun): an entry leaves the
// outbox once Weaviate accepted it; one Weaviate refuses
// for good (weaviate.Permanent, buryAfter times in a row) goes to the
// dead letters, so the ones after it are delivered; any other failure is retried, after a backoff
// that doubles up to maxBackoff, or at once when the cluster is seen
// answering again.
func (b *Backends) run(ctx context.Context, s *sender) {
	defer func() {
		b.mu.Lock()
		if b.senders[s.name] == s {
			delete(b.senders, s.name)
		}
		for seq, chs := range s.waiters {
			for _, ch := range chs {
				ch <- delivery{err: b.unavailable(s.name, fmt.Sprintf("the server stopped delivering; the write (entry %d) stays queued", seq))}
			}
		}
		s.waiters = nil
		b.mu.Unlock()
	}()
	backoff, refusals := minBackoff, 0
	pause := func() bool {
		b.mu.Lock()
		back := b.back
		b.mu.Unlock()
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-back:
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
		return true
	}
	for ctx.Err() == nil {
		head, err := b.st.PeekOutbox(s.name, coalesceEntries, coalesceBytes)
		if err != nil {
			b.log.Error("reading the outbox", "collection", s.name, "err", err)
			if !pause() {
				return
			}
			continue
		}
		if len(head) == 0 {
			// Empty: exit, unless an append came in meanwhile (appends
			// start a sender under b.mu, so none is missed).
			b.mu.Lock()
			head, err = b.st.PeekOutbox(s.name, 1, 0)
			if err == nil && len(head) == 0 {
				delete(b.senders, s.name)
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			continue
		}
		// After a refusal, entries go one at a time, so that the one
		// refused is the one buried.
		group := head[:1]
		if refusals == 0 {
			group = upsertRun(head)
		}
		e := group[0]
		var ns []int
		if len(group) == 1 {
			var n int
			n, err = b.deliver(ctx, s.name, e)
			ns = []int{n}
		} else {
			ns, err = b.deliverUpserts(ctx, s.name, group)
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			b.observe(nil)
			last := group[len(group)-1].Seq
			if err := b.st.RemoveOutbox(ctx, s.name, last); err != nil {
				b.log.Error("removing delivered entries from the outbox", "collection", s.name, "through", last, "err", err)
				if !pause() {
					return
				}
				continue
			}
			for i, g := range group {
				b.finish(s, g.Seq, delivery{n: ns[i]})
			}
			backoff, refusals = minBackoff, 0
		case weaviate.Permanent(err) && len(group) > 1:
			refusals = 1 // find which one, one at a time
		case weaviate.Permanent(err) && refusals+1 < buryAfter:
			// Not yet: a node that has just restarted answers some
			// writes with a 4xx until it has loaded its schema.
			refusals++
			backoff = max(backoff, time.Second) // 1 s, 2 s, 4 s: past a restart
			b.log.Debug("delivery refused; trying again before moving it to the dead letters", "collection", s.name, "seq", e.Seq, "err", err)
			if !pause() {
				return
			}
		case weaviate.Permanent(err):
			refusals = 0
			b.log.Warn("the Weaviate cluster refused a queued write for good; it goes to the dead letters",
				"collection", s.name, "seq", e.Seq, "added", e.Added, "err", err)
			if err := b.st.BuryOutbox(ctx, s.name, e.Seq, err.Error()); err != nil {
				b.log.Error("moving a refused entry to the dead letters", "collection", s.name, "seq", e.Seq, "err", err)
				if !pause() {
					return
				}
				continue
			}
			b.finish(s, e.Seq, delivery{err: refused(s.name, err.Error())})
		default:
			b.observe(err)
			b.log.Debug("delivery failed; retrying", "collection", s.name, "seq", e.Seq, "backoff", backoff, "err", err)
			if !pause() {
				return
			}
		}
	}
}

// Coalescing: a sender reads up to coalesceEntries entries (at most
// coalesceBytes of them) at a time, and delivers a run of upserts among
// them as one upsert of at most weaviate.DefaultBatchSize points (one
// batch request, one removal from the outbox) rather than one each.
const (
	coalesceEntries = 64
	coalesceBytes   = 1 << 20
)

// upsertRun returns the upserts at the head of entries that together hold
// at most weaviate.DefaultBatchSize points, or the head alone.
func upsertRun(entries []store.OutboxEntry) []store.OutboxEntry {
	n := len(entries[0].Op.Points)
	i := 1
	if entries[0].Op.Kind == store.OutboxUpsert {
		for ; i < len(entries); i++ {
			e := entries[i]
			if e.Op.Kind != store.OutboxUpsert || n+len(e.Op.Points) > weaviate.DefaultBatchSize {
				break
			}
			n += len(e.Op.Points)
		}
	}
	return entries[:i]
}

// deliverUpserts delivers a run of upserts as one: a point in several of
// them is sent once, as the latest wrote it, since Weaviate applies the
// objects of one batch in no set order. It returns each entry's points.
func (b *Backends) deliverUpserts(ctx context.Context, name string, run []store.OutboxEntry) ([]int, error) {
	var pts []store.Point
	at := map[store.PointID]int{}
	ns := make([]int, len(run))
	for i, e := range run {
		ns[i] = len(e.Op.Points)
		for _, p := range e.Op.Points {
			if j, ok := at[p.ID]; ok {
				pts[j] = p
				continue
			}
			at[p.ID] = len(pts)
			pts = append(pts, p)
		}
	}
	op := store.OutboxOp{Kind: store.OutboxUpsert, Points: pts}
	ctx, cancel := context.WithTimeout(ctx, b.deliveryBudget(op))
	defer cancel()
	return ns, b.remote.Upsert(ctx, name, pts)
}

// finish records that entry seq of s's collection is done and tells who
// waits for it.
func (b *Backends) finish(s *sender, seq uint64, d delivery) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished[s.name] = max(b.finished[s.name], seq)
	for _, ch := range s.waiters[seq] {
		ch <- d
	}
	delete(s.waiters, seq)
}

// deliveryBudget bounds the delivery of one entry: the backend timeout
// for each request it takes, counted roughly (a batch upsert sends
// weaviate.DefaultBatchSize points a request; a change by filter pages).
func (b *Backends) deliveryBudget(op store.OutboxOp) time.Duration {
	requests := 2 + len(op.Points)/weaviate.DefaultBatchSize + len(op.IDs)/updatePage
	if op.Filter != nil {
		requests += 8
	}
	return time.Duration(requests) * b.timeout
}

// deliver sends one outbox entry to the cluster and returns the points it
// changed (deleted, or whose payload changed).
func (b *Backends) deliver(ctx context.Context, name string, e store.OutboxEntry) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, b.deliveryBudget(e.Op))
	defer cancel()
	var f *search.Filter
	if e.Op.Filter != nil {
		var err error
		if f, err = search.ParseFilter(e.Op.Filter); err != nil {
			return 0, fmt.Errorf("queued filter: %w: %w", err, store.ErrInvalid)
		}
	}
	switch e.Op.Kind {
	case store.OutboxUpsert:
		return len(e.Op.Points), b.remote.Upsert(ctx, name, e.Op.Points)
	case store.OutboxDelete:
		return b.remote.Delete(ctx, name, e.Op.IDs)
	case store.OutboxDeleteWhere:
		return b.remote.DeleteWhere(ctx, name, f)
	case store.OutboxUpdatePayload:
		return b.applyPayload(ctx, name, e.Op.IDs, f, e.Op.Payload)
	}
	return 0, fmt.Errorf("queued write of kind %d: %w", e.Op.Kind, store.ErrInvalid)
}

// applyPayload applies a payload update on the remote (see UpdatePayload)
// and returns how many points changed.
func (b *Backends) applyPayload(ctx context.Context, name string, ids []store.PointID, f *search.Filter, op store.PayloadOp) (int, error) {
	n := 0
	apply := func(pts []store.Point) error {
		changed := pts[:0]
		for _, p := range pts {
			np, err := op.Apply(p.Payload)
			if err != nil {
				return fmt.Errorf("update payload in collection %q: point %v: %w", name, p.ID, err)
			}
			if bytes.Equal(np, p.Payload) {
				continue
			}
			p.Payload = np
			changed = append(changed, p)
		}
		if len(changed) == 0 {
			return nil
		}
		if err := b.remote.Upsert(ctx, name, changed); err != nil {
			return err
		}
		n += len(changed)
		return nil
	}
	if f == nil {
		ids = uniqueIDs(ids)
		for start := 0; start < len(ids); start += updatePage {
			pts, err := b.remote.Get(ctx, name, ids[start:min(start+updatePage, len(ids))], true, true)
			if err != nil {
				return n, err
			}
			if err := apply(pts); err != nil {
				return n, err
			}
		}
		return n, nil
	}
	// Scroll pages in id order from the last id seen, so a point whose
	// new payload no longer (or now) passes f is not met twice.
	var from *store.PointID
	for {
		pts, next, err := b.remote.Scroll(ctx, name, f, from, updatePage, true, true)
		if err != nil {
			return n, err
		}
		if err := apply(pts); err != nil {
			return n, err
		}
		if next == nil {
			return n, nil
		}
		from = next
	}
}

// uniqueIDs is ids without repeats, in first-seen order.
func uniqueIDs(ids []store.PointID) []store.PointID {
	seen := make(map[store.PointID]bool, len(ids))
	return slices.DeleteFunc(slices.Clone(ids), func(id store.PointID) bool {
		dup := seen[id]
		seen[id] = true
		return dup
	})
}

// setPending puts PendingHeader on the answer to the request of ctx, if it
// came through withRemoteRequest.
func (b *Backends) setPending(ctx context.Context, name string) {
	rr := remoteRequestOf(ctx)
	if rr == nil || rr.header == nil {
		return
	}
	stats, err := b.st.OutboxStats()
	if err != nil {
		return
	}
	rr.header.Set(PendingHeader, strconv.Itoa(stats[name].Entries))
}

// remoteRequest is what a write or read of a remote collection needs to
// know of its HTTP request, and tells it back: whether to wait for the
// delivery (Qdrant's wait=true) and for how long at most (Qdrant's
// timeout, in seconds; never longer than the backend timeout), where to
// put PendingHeader, and whether the write was queued rather than
// delivered (Qdrant's status "acknowledged" instead of "completed").
type remoteRequest struct {
	wait    bool
	timeout time.Duration
	header  http.Header
	queued  bool
}

type remoteRequestKey struct{}

func remoteRequestOf(ctx context.Context) *remoteRequest {
	rr, _ := ctx.Value(remoteRequestKey{}).(*remoteRequest)
	return rr
}

// withRemoteRequest is the Qdrant engine's middleware that reads wait and
// timeout and gives the backends the answer's header (see remoteRequest).
// Qdrant's default is wait=false; a value other than true is false.
func withRemoteRequest() gin.HandlerFunc {
	return func(c *gin.Context) {
		rr := &remoteRequest{header: c.Writer.Header()}
		rr.wait, _ = strconv.ParseBool(c.Query("wait"))
		if sec, err := strconv.Atoi(c.Query("timeout")); err == nil && sec > 0 {
			rr.timeout = time.Duration(min(sec, 3600)) * time.Second
		}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), remoteRequestKey{}, rr))
		c.Next()
	}
}

// queuedWrite reports whether the write of the request of ctx was queued
// for a remote collection and not waited for.
func queuedWrite(ctx context.Context) bool {
	rr := remoteRequestOf(ctx)
	return rr != nil && rr.queued
}

// BackendHealth is the "backend" of GET /health when collections live on
// a remote cluster: its address, whether it answered the last call made
// to it (null until a call was made; /health makes none), and the outbox
// of writes waiting for it.
type BackendHealth struct {
	Kind    string `json:"kind"`
	Address string `json:"address"`
	// Reachable is what the last call to the cluster (a request's, or a
	// sender's delivery) found, at Checked; null before any.
	Reachable        *bool      `json:"reachable"`
	Checked          *time.Time `json:"checked,omitempty"`
	UnreachableSince *time.Time `json:"unreachable_since,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	// Pending are the writes queued for the cluster, in every
	// collection, OldestPendingSeconds the age of the oldest, and
	// OutboxBytes the bytes the outbox takes (dead letters included).
	Pending              int     `json:"pending"`
	OutboxBytes          int64   `json:"outbox_bytes"`
	OldestPendingSeconds float64 `json:"oldest_pending_seconds"`
	// DeadLetters are writes the cluster refused for good, kept aside
	// (they count toward the bounds until their collection is dropped).
	DeadLetters      int   `json:"dead_letters"`
	OutboxMaxEntries int   `json:"outbox_max_entries"`
	OutboxMaxBytes   int64 `json:"outbox_max_bytes"`
}

// Health describes the backend from what is recorded: one read of the
// store's outbox counters, no call to the cluster.
func (b *Backends) Health() (BackendHealth, error) {
	h := BackendHealth{Kind: "weaviate", Address: b.where, OutboxMaxEntries: b.lim.MaxEntries, OutboxMaxBytes: b.lim.MaxBytes}
	b.mu.Lock()
	r := b.reach
	b.mu.Unlock()
	if r.known {
		h.Reachable, h.Checked = &r.ok, &r.checked
		if !r.ok {
			h.UnreachableSince, h.LastError = &r.since, r.err
		}
	}
	stats, err := b.st.OutboxStats()
	if err != nil {
		return h, err
	}
	var oldest time.Time
	for _, st := range stats {
		h.Pending += st.Entries
		h.OutboxBytes += st.Bytes
		h.DeadLetters += st.DeadLetters
		if !st.Oldest.IsZero() && (oldest.IsZero() || st.Oldest.Before(oldest)) {
			oldest = st.Oldest
		}
	}
	if !oldest.IsZero() {
		h.OldestPendingSeconds = time.Since(oldest).Seconds()
	}
	return h, nil
}
