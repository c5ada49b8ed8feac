package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/store"
)

// Backends is the vector store of a server whose new collections live on a
// Weaviate cluster (serve --backend weaviate://host:port): it routes each
// collection to one of two backends, by a rule with no state of its own:
//
//   - a collection that exists in the local engine is served by it, as
//     before (collections made before the backend was configured stay);
//   - every other name is the remote's: Create makes the class there, and
//     a class another appliance made there (Es_…) is served from there;
//   - List shows both, the local one winning a name held by both.
//
// It lives in web rather than a package of its own because what it adds
// besides routing is turning the remote's failures into this server's
// answers: an unreachable cluster is ErrUnavailable (503 with
// Retry-After), its not-found and exists are store's sentinels.
//
// Writes to a remote collection (Upsert, Delete, DeleteWhere,
// UpdatePayload) go through a durable outbox in the device's store
// (store.AppendOutbox; docs/weaviate.md): each is checked first, so what
// Weaviate would refuse is refused now with the same 4xx, then committed
// to the outbox and acknowledged, and a sender per collection delivers the
// outbox in order, removing an entry only once Weaviate accepted it. So
// writes are accepted while the cluster is unreachable, up to the
// outbox's bounds (then 503 naming why), and nothing acknowledged is lost
// when the process dies. A write whose request asked to wait (Qdrant's
// wait=true, see withRemoteRequest) is answered once delivered, or 503
// when that takes longer than the time limit (it stays queued). Reads go
// to the cluster and do not see queued writes; they report how many are
// queued (PendingHeader).
type Backends struct {
	local   *search.Collections
	remote  *weaviate.Client
	where   string // the remote's address, for messages
	timeout time.Duration
	st      *store.Store
	lim     store.OutboxLimits
	log     *slog.Logger

	// dropMu orders appends (read-locked) against Drop (locked), so a
	// drop's clearing of the outbox cannot lose a write appended during
	// it.
	dropMu sync.RWMutex

	mu       sync.Mutex
	ctx      context.Context // the senders' parent, from Start
	stop     context.CancelFunc
	wg       sync.WaitGroup
	senders  map[string]*sender
	finished map[string]uint64 // per collection, the last seq delivered or buried in this process
	reach    reachability
	back     chan struct{} // closed when the cluster answers again after failing
}

// reachability is what the last calls to the cluster said, for /health
// and messages; guarded by Backends.mu.
type reachability struct {
	known   bool
	ok      bool
	checked time.Time
	since   time.Time // when it last became unreachable
	err     string
}

// BackendOptions configure NewBackends.
type BackendOptions struct {
	// Where is the remote's address, for messages and /health.
	Where string
	// Timeout bounds each synchronous call to the remote, the delivery of
	// one outbox entry (scaled by its size, see deliveryBudget) and the
	// wait of a write that asked to wait; 0 takes DefaultBackendTimeout.
	Timeout time.Duration
	// Store holds the outbox. Required.
	Store *store.Store
	// OutboxEntries and OutboxBytes bound the outbox, every remote
	// collection's entries together; 0 takes the defaults.
	OutboxEntries int
	OutboxBytes   int64
	// Logger receives the senders' records; nil discards them.
	Logger *slog.Logger
}

// DefaultBackendTimeout bounds one call to the remote backend (which may
// be several HTTP requests: a batch upsert in pages, a payload update).
const DefaultBackendTimeout = 30 * time.Second

// Defaults of the outbox's bounds. 100,000 entries is a day of a write a
// second; 256 MiB is about 100,000 points of 384 float32 dimensions and a
// small payload, little beside the model and the index on the devices
// edgesearch runs on, and far below bbolt's 2 GiB on 32-bit builds.
const (
	DefaultOutboxEntries = 100_000
	DefaultOutboxBytes   = 256 << 20
)

// PendingHeader carries, on every answer about a remote collection, how
// many of its writes are queued in the outbox, and on /search answers when
// the documents are indexed in a backend, how many of their chunks it
// lacks: reads do not see those yet, so a client that needs its own writes
// waits for 0.
const PendingHeader = "X-Edgesearch-Pending"

// updatePage is how many points a payload update on the remote reads and
// rewrites at a time.
const updatePage = 256

// NewBackends routes between the local engine and the Weaviate client
// remote, with the outbox in opts.Store. Call Start to deliver what the
// outbox holds, and Close to stop. It fails without a store.
func NewBackends(local *search.Collections, remote *weaviate.Client, opts BackendOptions) (*Backends, error) {
	if opts.Store == nil {
		return nil, errors.New("backends: no store for the outbox")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultBackendTimeout
	}
	if opts.OutboxEntries <= 0 {
		opts.OutboxEntries = DefaultOutboxEntries
	}
	if opts.OutboxBytes <= 0 {
		opts.OutboxBytes = DefaultOutboxBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Backends{
		local: local, remote: remote, where: opts.Where, timeout: opts.Timeout, st: opts.Store,
		lim: store.OutboxLimits{MaxEntries: opts.OutboxEntries, MaxBytes: opts.OutboxBytes}, log: log,
		senders: map[string]*sender{}, finished: map[string]uint64{}, back: make(chan struct{}),
	}, nil
}

// Start starts a sender for every collection whose outbox holds entries
// (a restart after a crash delivers what was acknowledged before it);
// senders stop when ctx ends or at Close. Writes before Start are queued
// and delivered once it runs.
func (b *Backends) Start(ctx context.Context) error {
	stats, err := b.st.OutboxStats()
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx != nil {
		return errors.New("backends: started twice")
	}
	b.ctx, b.stop = context.WithCancel(ctx)
	for name, st := range stats {
		if st.Entries > 0 {
			b.log.Info("delivering the outbox left from before", "collection", name, "entries", st.Entries, "since", st.Oldest)
			b.startSender(name)
		}
	}
	return nil
}

// Close stops the senders and waits for them. An entry being delivered
// stays queued, and is delivered again (idempotently) after the next
// Start.
func (b *Backends) Close() {
	b.mu.Lock()
	if b.stop != nil {
		b.stop()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// isRemote reports whether name is the remote's: not a local collection.
func (b *Backends) isRemote(name string) (bool, error) {
	_, err := b.local.Info(name)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, store.ErrNotFound):
		return true, nil
	}
	return false, err
}

// call runs f against the remote within the timeout and maps its error.
func (b *Backends) call(ctx context.Context, name string, f func(ctx context.Context) error) error {
	rctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	err := f(rctx)
	if ctx.Err() == nil {
		b.observe(err)
	}
	return b.remoteError(ctx, name, err)
}

// observe records what a call to the cluster said of its reachability:
// an answer (nil, or an error other than weaviate.Unreachable) means it
// answers.
func (b *Backends) observe(err error) {
	down := weaviate.Unreachable(err)
	b.mu.Lock()
	defer b.mu.Unlock()
	r := &b.reach
	was := r.known && !r.ok
	r.known, r.checked = true, time.Now()
	if down {
		if !was {
			r.since = r.checked
		}
		r.ok, r.err = false, err.Error()
		return
	}
	r.ok, r.err = true, ""
	if was {
		close(b.back) // senders waiting out a backoff try now
		b.back = make(chan struct{})
	}
}

// remoteError maps the Weaviate client's errors to the ones the routes
// know. The cluster not answering (no connection, our timeout, a gateway
// or unavailable status, a consistency level it cannot meet) is
// ErrUnavailable with a message naming the cluster; the caller's own
// cancellation stays what it is.
func (b *Backends) remoteError(ctx context.Context, name string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	switch {
	case errors.Is(err, weaviate.ErrNotFound):
		return fmt.Errorf("%w: %w", err, store.ErrNotFound)
	case errors.Is(err, weaviate.ErrExists):
		return fmt.Errorf("%w: %w", err, store.ErrExists)
	case errors.Is(err, weaviate.ErrUnsupportedFilter):
		return fmt.Errorf("collection %q is stored in Weaviate: %w: %w", name, err, search.ErrBadFilter)
	case errors.Is(err, weaviate.ErrUnmappableID):
		return fmt.Errorf("%w: %w", err, store.ErrBadPointID)
	case errors.Is(err, context.DeadlineExceeded):
		return b.unavailable(name, fmt.Sprintf("no answer within %v", b.timeout))
	case weaviate.Unreachable(err):
		return b.unavailable(name, err.Error())
	}
	return err
}

func (b *Backends) unavailable(name, why string) error {
	what := fmt.Sprintf("collection %q is stored in", name)
	if name == "" {
		what = "some collections are stored in"
	}
	return &requestError{ErrUnavailable, fmt.Sprintf(
		"%s the Weaviate cluster at %s, which is unreachable (%s); retry shortly", what, b.where, why)}
}

// Create makes a new collection on the remote, unless the name is a local
// collection's (store.ErrExists).
func (b *Backends) Create(ctx context.Context, name string, vectors map[string]store.VectorParams) (store.CollectionInfo, error) {
	remote, err := b.isRemote(name)
	if err != nil {
		return store.CollectionInfo{}, err
	}
	if !remote {
		return store.CollectionInfo{}, fmt.Errorf("create collection %q: it exists on this device: %w", name, store.ErrExists)
	}
	var info store.CollectionInfo
	err = b.call(ctx, name, func(ctx context.Context) (err error) {
		info, err = b.remote.Create(ctx, name, vectors)
		return err
	})
	return info, err
}

// CreateLocal makes a new collection on this device, although new
// collections go to the cluster (PUT /collections/{name}?backend=local):
// the routing rule then keeps it here. A name the cluster holds is refused
// (store.ErrExists), and so is one while the cluster cannot be asked
// (ErrUnavailable), so that a local collection never hides a remote one.
func (b *Backends) CreateLocal(ctx context.Context, name string, vectors map[string]store.VectorParams) (store.CollectionInfo, error) {
	err := b.call(ctx, name, func(ctx context.Context) error {
		_, err := b.remote.Info(ctx, name)
		return err
	})
	switch {
	case err == nil:
		return store.CollectionInfo{}, fmt.Errorf("create collection %q on this device: the Weaviate cluster at %s holds one of that name: %w", name, b.where, store.ErrExists)
	case !errors.Is(err, store.ErrNotFound):
		return store.CollectionInfo{}, err
	}
	return b.local.Create(ctx, name, vectors)
}

// DeadLetters returns collection name's dead letters, oldest first: the
// writes the cluster refused for good, as the device's outbox keeps them.
func (b *Backends) DeadLetters(name string) ([]store.DeadLetter, error) {
	return b.st.DeadLetters(name)
}

// DiscardDeadLetters removes collection name's dead letters, freeing their
// room in the outbox's bounds, and returns how many there were.
func (b *Backends) DiscardDeadLetters(ctx context.Context, name string) (int, error) {
	b.dropMu.RLock()
	defer b.dropMu.RUnlock()
	return b.st.DiscardDeadLetters(ctx, name)
}

// Drop drops a collection. For a remote one, its sender stops first, and
// its outbox (queued writes and dead letters) is cleared once the class
// was dropped on the remote; a failed drop leaves the outbox to deliver.
func (b *Backends) Drop(ctx context.Context, name string) (bool, error) {
	remote, err := b.isRemote(name)
	if err != nil || !remote {
		if err != nil {
			return false, err
		}
		return b.local.Drop(ctx, name)
	}
	b.dropMu.Lock()
	defer b.dropMu.Unlock()
	b.stopSender(name)
	var ok bool
	err = b.call(ctx, name, func(ctx context.Context) (err error) {
		ok, err = b.remote.Drop(ctx, name)
		return err
	})
	if err != nil {
		b.mu.Lock()
		b.startSender(name)
		b.mu.Unlock()
		return false, err
	}
	if err := b.st.ClearOutbox(context.WithoutCancel(ctx), name); err != nil {
		return ok, err
	}
	b.mu.Lock()
	delete(b.finished, name)
	b.mu.Unlock()
	return ok, nil
}

// Upsert queues points for a remote collection (see Backends), once they
// pass the checks Weaviate's would: every id has a UUID, every point
// exactly the collection's vectors, a payload Weaviate can hold.
func (b *Backends) Upsert(ctx context.Context, name string, pts []store.Point) error {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return err
		}
		return b.local.Upsert(ctx, name, pts)
	}
	vectors, err := b.vectors(ctx, name)
	if err != nil {
		return err
	}
	if err := weaviate.CheckPoints(name, vectors, pts); err != nil {
		return b.remoteError(ctx, name, err)
	}
	_, err = b.enqueue(ctx, name, vectors, store.OutboxOp{Kind: store.OutboxUpsert, Points: pts})
	return err
}

// Delete queues the deletion of points of a remote collection; ids
// without a Weaviate UUID are skipped, as no such point can be there. The
// count is of the points deleted when the request waited for the
// delivery, else 0: how many a queued delete removes is known only when
// it is delivered.
func (b *Backends) Delete(ctx context.Context, name string, ids []store.PointID) (int, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return 0, err
		}
		return b.local.Delete(ctx, name, ids)
	}
	vectors, err := b.vectors(ctx, name)
	if err != nil {
		return 0, err
	}
	if ids == nil {
		ids = []store.PointID{}
	}
	return b.enqueue(ctx, name, vectors, store.OutboxOp{Kind: store.OutboxDelete, IDs: ids})
}

// DeleteWhere queues the deletion of the points of a remote collection
// that pass f, once f translates to a Weaviate filter (else
// search.ErrBadFilter). The count is as Delete's.
func (b *Backends) DeleteWhere(ctx context.Context, name string, f *search.Filter) (int, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return 0, err
		}
		return b.local.DeleteWhere(ctx, name, f)
	}
	vectors, err := b.vectors(ctx, name)
	if err != nil {
		return 0, err
	}
	raw, err := b.checkFilter(ctx, name, f)
	if err != nil {
		return 0, err
	}
	return b.enqueue(ctx, name, vectors, store.OutboxOp{Kind: store.OutboxDeleteWhere, Filter: raw})
}

// UpdatePayload queues a payload update of a remote collection's points,
// selected by ids or by a filter, once the op and the filter pass the
// checks. The count is as Delete's. Delivered, it reads the selected
// points, applies op to each payload (store.PayloadOp.Apply, as the local
// store does) and writes back those that changed, a page at a time. That
// is not atomic: a concurrent writer of the same point (another
// appliance) may be overwritten by the stale rest of the point read here,
// or have its payload change lost; Weaviate offers no compare-and-set,
// and a partial update (PATCH) would not recompute the filterable
// properties derived from the whole payload.
func (b *Backends) UpdatePayload(ctx context.Context, name string, ids []store.PointID, f *search.Filter, op store.PayloadOp) (int, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return 0, err
		}
		return b.local.UpdatePayload(ctx, name, ids, f, op)
	}
	if (ids == nil) == (f == nil) {
		return 0, fmt.Errorf("update payload in collection %q: give point ids or a filter, not both or neither: %w", name, search.ErrBadParams)
	}
	if _, err := op.Apply(nil); err != nil {
		return 0, fmt.Errorf("update payload in collection %q: %w", name, err)
	}
	vectors, err := b.vectors(ctx, name)
	if err != nil {
		return 0, err
	}
	q := store.OutboxOp{Kind: store.OutboxUpdatePayload, IDs: ids, Payload: op}
	if f != nil {
		if q.Filter, err = b.checkFilter(ctx, name, f); err != nil {
			return 0, err
		}
	}
	return b.enqueue(ctx, name, vectors, q)
}

// vectors returns a remote collection's vectors: from the client's cache
// or the cluster, or, while the cluster is unreachable, as the outbox
// last recorded them. It fails with store.ErrNotFound when the cluster
// has no such class, and with ErrUnavailable when the cluster is
// unreachable and the outbox never saw the collection.
func (b *Backends) vectors(ctx context.Context, name string) (map[string]store.VectorParams, error) {
	rctx, cancel := context.WithTimeout(ctx, b.timeout)
	vectors, err := b.remote.Vectors(rctx, name)
	cancel()
	if err != nil && ctx.Err() == nil {
		// Only a failure says something of the cluster: the vectors
		// usually come from the client's cache, without a request.
		b.observe(err)
	}
	err = b.remoteError(ctx, name, err)
	if err == nil || !errors.Is(err, ErrUnavailable) {
		return vectors, err
	}
	known, serr := b.st.OutboxVectors(name)
	if serr != nil || known == nil {
		return nil, errors.Join(err, serr)
	}
	return known, nil
}

// checkFilter checks f translates for a remote collection and returns it
// as JSON, the form the outbox keeps.
func (b *Backends) checkFilter(ctx context.Context, name string, f *search.Filter) ([]byte, error) {
	if f == nil {
		return []byte("{}"), nil // every point, as the local engine reads no filter
	}
	if err := b.remote.CheckFilter(name, f); err != nil {
		return nil, b.remoteError(ctx, name, err)
	}
	raw, err := f.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("collection %q: filter: %w: %w", name, err, search.ErrBadFilter)
	}
	return raw, nil
}

func (b *Backends) Query(ctx context.Context, name string, q search.PointQuery) ([]search.ScoredPoint, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return nil, err
		}
		return b.local.Query(ctx, name, q)
	}
	b.setPending(ctx, name)
	var out []search.ScoredPoint
	err := b.call(ctx, name, func(ctx context.Context) (err error) {
		out, err = b.remote.Query(ctx, name, q)
		return err
	})
	return out, err
}

func (b *Backends) Scroll(ctx context.Context, name string, f *search.Filter, from *store.PointID, limit int, withPayload, withVectors bool) ([]store.Point, *store.PointID, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return nil, nil, err
		}
		return b.local.Scroll(ctx, name, f, from, limit, withPayload, withVectors)
	}
	b.setPending(ctx, name)
	var pts []store.Point
	var next *store.PointID
	err := b.call(ctx, name, func(ctx context.Context) error {
		// Weaviate answers at most weaviate.MaxPage-1 points a page; a
		// larger limit (the Qdrant routes allow 10,000) takes several.
		for {
			page, nxt, err := b.remote.Scroll(ctx, name, f, from, min(limit-len(pts), weaviate.MaxPage-1), withPayload, withVectors)
			if err != nil {
				return err
			}
			pts, next, from = append(pts, page...), nxt, nxt
			if next == nil || len(pts) >= limit || limit <= 0 {
				return nil
			}
		}
	})
	return pts, next, err
}

func (b *Backends) Count(ctx context.Context, name string, f *search.Filter) (int, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return 0, err
		}
		return b.local.Count(ctx, name, f)
	}
	b.setPending(ctx, name)
	var n int
	err := b.call(ctx, name, func(ctx context.Context) (err error) {
		n, err = b.remote.Count(ctx, name, f)
		return err
	})
	return n, err
}

// CreatePayloadIndex on a remote collection checks the schema and the
// collection and changes nothing: every payload key of a Weaviate-backed
// collection is filterable already (see search/weaviate).
func (b *Backends) CreatePayloadIndex(ctx context.Context, name, field, schema string) error {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return err
		}
		return b.local.CreatePayloadIndex(ctx, name, field, schema)
	}
	if !slices.Contains(store.PayloadSchemas, schema) {
		return fmt.Errorf("payload index of %q in collection %q: schema %q: want one of %s: %w",
			field, name, schema, strings.Join(store.PayloadSchemas, ", "), store.ErrInvalid)
	}
	_, err := b.Info(name)
	return err
}

// DeletePayloadIndex on a remote collection changes nothing (see
// CreatePayloadIndex).
func (b *Backends) DeletePayloadIndex(ctx context.Context, name, field string) error {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return err
		}
		return b.local.DeletePayloadIndex(ctx, name, field)
	}
	_, err := b.Info(name)
	return err
}

// PayloadIndexCounts of a remote collection is none: it declares no
// indexes (see CreatePayloadIndex).
func (b *Backends) PayloadIndexCounts(name string) (map[string]search.IndexedField, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return nil, err
		}
		return b.local.PayloadIndexCounts(name)
	}
	return nil, nil
}

// List describes the local collections and the remote's, in name order
// (the remote's without point counts). While the remote is unreachable it
// fails with ErrUnavailable rather than answer a list that silently lacks
// collections.
func (b *Backends) List() ([]store.CollectionInfo, error) {
	infos, err := b.local.List()
	if err != nil {
		return nil, err
	}
	var remote []store.CollectionInfo
	err = b.call(context.Background(), "", func(ctx context.Context) (err error) {
		remote, err = b.remote.List(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, ri := range remote {
		if !slices.ContainsFunc(infos, func(li store.CollectionInfo) bool { return li.Name == ri.Name }) {
			infos = append(infos, ri)
		}
	}
	slices.SortFunc(infos, func(a, b store.CollectionInfo) int { return strings.Compare(a.Name, b.Name) })
	return infos, nil
}

// Info describes a collection, local first, or fails with
// store.ErrNotFound.
func (b *Backends) Info(name string) (store.CollectionInfo, error) {
	info, err := b.local.Info(name)
	if !errors.Is(err, store.ErrNotFound) {
		return info, err
	}
	err = b.call(context.Background(), name, func(ctx context.Context) (err error) {
		info, err = b.remote.Info(ctx, name)
		return err
	})
	return info, err
}

// Ready asks the cluster whether it answers, within the backend timeout,
// and records what it found (see Health).
func (b *Backends) Ready(ctx context.Context) error {
	return b.call(ctx, "", b.remote.Ready)
}
