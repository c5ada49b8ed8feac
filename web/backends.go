package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
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
// It lives in web rather than a package of its own because the one thing
// it adds besides routing is turning the remote's failures into this
// server's answers: an unreachable cluster is ErrUnavailable (503 with
// Retry-After), its not-found and exists are store's sentinels.
//
// Writes to a remote collection are synchronous for now: acknowledged once
// Weaviate accepted them at the client's consistency level, refused (503)
// while it is unreachable. The durable outbox of docs/weaviate.md, which
// acknowledges a write once it is on the device's disk, comes later.
type Backends struct {
	local   *search.Collections
	remote  *weaviate.Client
	where   string // the remote's address, for messages
	timeout time.Duration
}

// DefaultBackendTimeout bounds one call to the remote backend (which may
// be several HTTP requests: a batch upsert in pages, a payload update).
const DefaultBackendTimeout = 30 * time.Second

// updatePage is how many points a payload update on the remote reads and
// rewrites at a time.
const updatePage = 256

// NewBackends routes between the local engine and the Weaviate client
// remote, whose address where names in messages; timeout bounds each
// call to the remote (0 takes DefaultBackendTimeout), so a cluster that
// stops answering costs a request that long and no longer.
func NewBackends(local *search.Collections, remote *weaviate.Client, where string, timeout time.Duration) *Backends {
	if timeout <= 0 {
		timeout = DefaultBackendTimeout
	}
	return &Backends{local: local, remote: remote, where: where, timeout: timeout}
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
	return b.remoteError(ctx, name, f(rctx))
}

// remoteError maps the Weaviate client's errors to the ones the routes
// know. The cluster not answering (no connection, our timeout, a gateway
// or unavailable status) is ErrUnavailable with a message naming the
// cluster; the caller's own cancellation stays what it is.
func (b *Backends) remoteError(ctx context.Context, name string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	var we *weaviate.Error
	var ue *url.Error
	var ne net.Error
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
	case errors.As(err, &we) && (we.Status == 502 || we.Status == 503 || we.Status == 504):
		return b.unavailable(name, we.Error())
	case errors.As(err, &ue), errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF):
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

func (b *Backends) Drop(ctx context.Context, name string) (bool, error) {
	remote, err := b.isRemote(name)
	if err != nil || !remote {
		if err != nil {
			return false, err
		}
		return b.local.Drop(ctx, name)
	}
	var ok bool
	err = b.call(ctx, name, func(ctx context.Context) (err error) {
		ok, err = b.remote.Drop(ctx, name)
		return err
	})
	return ok, err
}

// Upsert writes synchronously to a remote collection (see Backends).
func (b *Backends) Upsert(ctx context.Context, name string, pts []store.Point) error {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return err
		}
		return b.local.Upsert(ctx, name, pts)
	}
	return b.call(ctx, name, func(ctx context.Context) error { return b.remote.Upsert(ctx, name, pts) })
}

func (b *Backends) Delete(ctx context.Context, name string, ids []store.PointID) (int, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return 0, err
		}
		return b.local.Delete(ctx, name, ids)
	}
	var n int
	err := b.call(ctx, name, func(ctx context.Context) (err error) {
		n, err = b.remote.Delete(ctx, name, ids)
		return err
	})
	return n, err
}

func (b *Backends) DeleteWhere(ctx context.Context, name string, f *search.Filter) (int, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return 0, err
		}
		return b.local.DeleteWhere(ctx, name, f)
	}
	var n int
	err := b.call(ctx, name, func(ctx context.Context) (err error) {
		n, err = b.remote.DeleteWhere(ctx, name, f)
		return err
	})
	return n, err
}

// UpdatePayload on a remote collection reads the selected points, applies
// op to each payload (store.PayloadOp.Apply, as the local store does) and
// writes back those that changed, a page at a time. It is not atomic: a
// concurrent writer of the same point (another request, another
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
	n := 0
	err := b.call(ctx, name, func(ctx context.Context) error {
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
					return err
				}
				if err := apply(pts); err != nil {
					return err
				}
			}
			return nil
		}
		// Scroll pages in id order from the last id seen, so a point whose
		// new payload no longer (or now) passes f is not met twice.
		var from *store.PointID
		for {
			pts, next, err := b.remote.Scroll(ctx, name, f, from, updatePage, true, true)
			if err != nil {
				return err
			}
			if err := apply(pts); err != nil {
				return err
			}
			if next == nil {
				return nil
			}
			from = next
		}
	})
	return n, err
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

func (b *Backends) Query(ctx context.Context, name string, q search.PointQuery) ([]search.ScoredPoint, error) {
	if remote, err := b.isRemote(name); err != nil || !remote {
		if err != nil {
			return nil, err
		}
		return b.local.Query(ctx, name, q)
	}
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
