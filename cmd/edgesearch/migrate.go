package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/store"
)

// Bounds and defaults of a migration.
const (
	defaultMigratePage    = 256
	maxMigratePage        = weaviate.MaxPage - 1 // the most one Weaviate scroll returns
	defaultMigrateRetries = 5
	defaultMigrateSample  = 100
	maxMigrateSample      = 10000
	maxMigrateBackoff     = 10 * time.Second
)

func init() {
	// --model and --profile: a migration --from into a data directory with
	// no store yet loads the model to create one that serve will accept.
	sharedFlagsOf["edgesearch migrate"] = []string{"data", "model", "profile"}
}

// migrateOptions are one migrate command's settings, resolved.
type migrateOptions struct {
	toCluster   bool   // --to: local → cluster; else --from: cluster → local
	rawURL      string // as given, for messages and the resume hint
	backend     backendConfig
	collections []string // empty: every point collection (--to only)
	pageSize    int
	timeout     time.Duration // one call to the cluster
	retries     int
	sample      int
	restart     bool
	into        bool // --into-existing
	move        bool

	// afterPage, when set, runs after each page is copied and recorded,
	// with the pages this run has copied of the collection: tests stop a
	// migration part-way with it.
	afterPage func(collection string, pages int64)
}

// migrateResult is what one collection's migration did.
type migrateResult struct {
	Collection string
	Class      string // the Weaviate class
	Source     int    // points at the source, counted after the copy
	Target     int    // points at the target, counted after the copy
	Earlier    int64  // points copied by interrupted runs before this one
	Copied     int64  // points copied by this run
	Pages      int64  // pages copied by this run
	Sampled    int    // points compared after the copy
	Elapsed    time.Duration
	Moved      bool // the local collection was deleted (--move)
}

func newMigrateCmd(getenv func(string) string) *cobra.Command {
	var (
		to, from    string
		collections []string
		o           migrateOptions
	)
	cmd := &cobra.Command{
		Use:   "migrate --to weaviate://HOST:PORT | --from weaviate://HOST:PORT",
		Short: "Copy collections of points to a Weaviate cluster, or back",
		Long: `Copy collections of points between the store in the data directory and a
Weaviate cluster, the one serve --backend weaviate://HOST:PORT uses.

--to copies the named collections (--collection, repeatable; default: every
collection of points) to the cluster: it creates each class with the same
vectors (names, sizes, distances) and copies the points in id order, a page
at a time, vectors and payloads exactly. --from copies one or more of the
cluster's collections into the store, creating each with the cluster's
vectors (and the store itself, for the model --model names, when the data
directory has none). The documents collection holds the documents' chunks
and is not copied this way.

After each page the last id copied is recorded in the store, so running the
same command again after Ctrl-C, a kill or a network failure goes on from
there; --restart starts over (dropping what an earlier run of it created).
Calls to the cluster that fail with 502, 503, 504 or a broken connection are
retried with backoff (--retries), then the command stops with that hint.

The copy is refused when the target collection exists and was not made by an
interrupted run of this migration, so that nothing is merged into someone
else's data; --into-existing copies into it anyway (points with the same ids
are replaced, the others stay).

At the end the points are counted on both sides (the cluster's count is
Weaviate's Aggregate) and a sample of them (--sample) is read back from both,
the cluster's at consistency ALL, and compared; any difference is an error
saying what differs. serve answers for a local collection first, so after
--to the device keeps answering from its own copy until that is deleted:
--move deletes it once the check passed.

The store must not be in use: stop the server first (it holds the store's
lock; migrate fails at once rather than wait). With --from, points written to
the cluster's collection while it is copied may be missed (behind the copy's
position) or copied (ahead of it); the count check reports additions and
deletions, not updates.`,
		Example: `  edgesearch migrate --to weaviate://10.0.0.5:8080 --collection products
  edgesearch migrate --to 'weaviate://10.0.0.5:8080?consistency=ALL&replication=3' --move
  edgesearch migrate --from weaviate://10.0.0.5:8080 --collection products --data ~/edgesearch`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (to == "") == (from == "") {
				return usageError{errors.New("migrate needs exactly one of --to weaviate://HOST:PORT and --from weaviate://HOST:PORT")}
			}
			o.toCluster, o.rawURL = to != "", to+from
			bc, err := parseBackend(o.rawURL)
			if err == nil && bc.Weaviate.URL == "" {
				err = errors.New("want weaviate://HOST:PORT")
			}
			if err != nil {
				return usageError{fmt.Errorf("--%s: %w", map[bool]string{true: "to", false: "from"}[o.toCluster], err)}
			}
			o.backend = bc
			if !cmd.Flags().Changed("timeout") {
				o.timeout = bc.Timeout
			}
			o.collections = collections
			for _, name := range collections {
				if err := store.CheckCollectionName(name); err != nil {
					return usageError{fmt.Errorf("--collection: %w", err)}
				}
			}
			switch {
			case !o.toCluster && len(o.collections) == 0:
				return usageError{errors.New("--from needs --collection NAME: which of the cluster's collections to copy")}
			case !o.toCluster && o.move:
				return usageError{errors.New("--move is for --to: it deletes the local collection after it was copied to the cluster")}
			case o.pageSize < 1 || o.pageSize > maxMigratePage:
				return usageError{fmt.Errorf("--page-size %d: want 1 to %d", o.pageSize, maxMigratePage)}
			case o.timeout <= 0 || o.timeout > 10*time.Minute:
				return usageError{fmt.Errorf("--timeout %v: want a duration above 0 and at most 10m", o.timeout)}
			case o.retries < 0 || o.retries > 100:
				return usageError{fmt.Errorf("--retries %d: want 0 to 100", o.retries)}
			case o.sample < 0 || o.sample > maxMigrateSample:
				return usageError{fmt.Errorf("--sample %d: want 0 to %d", o.sample, maxMigrateSample)}
			}
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			// Ctrl-C and SIGTERM stop the copy between calls; the resume
			// point of the last page copied is already on disk.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, err = runMigrate(ctx, cfg, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&to, "to", "", "copy collections from the store to the Weaviate at `weaviate://HOST:PORT`; ?consistency=, ?replication= and ?timeout= as for serve --backend")
	fs.StringVar(&from, "from", "", "copy collections from the Weaviate at `weaviate://HOST:PORT` into the store")
	fs.StringSliceVar(&collections, "collection", nil, "a collection to copy (repeat, or separate with commas; default with --to: every collection of points)")
	fs.IntVar(&o.pageSize, "page-size", defaultMigratePage, fmt.Sprintf("points read and written per call, 1 to %d; a resume point is recorded after each page", maxMigratePage))
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on one call to the cluster (default: the URL's ?timeout=, else 10s)")
	fs.IntVar(&o.retries, "retries", defaultMigrateRetries, "retries of a call that failed with 502, 503, 504 or a broken connection, with backoff from 0.5 s doubling up to 10 s")
	fs.IntVar(&o.sample, "sample", defaultMigrateSample, "points read back from both sides and compared at the end (0: counts only)")
	fs.BoolVar(&o.restart, "restart", false, "ignore the resume point of an earlier interrupted run and start over, dropping the target collection if that run created it")
	fs.BoolVar(&o.into, "into-existing", false, "copy into a target collection that exists already (same vectors), replacing points with the same ids and keeping the others")
	fs.BoolVar(&o.move, "move", false, "with --to: delete the local collection once its copy passed the count and sample check")
	return cmd
}

// runMigrate opens the store in cfg.DataDir and the cluster, and copies
// each collection o names, with progress lines to stderr and a summary per
// collection to stdout. It returns what it did for each collection
// finished, and the first error (after which nothing more is copied).
func runMigrate(ctx context.Context, cfg config, o migrateOptions, stdout, stderr io.Writer) ([]migrateResult, error) {
	client, err := weaviate.New(withMigrateDefaults(o))
	if err != nil {
		return nil, err
	}
	remote := &remoteEnd{c: client, all: client.WithConsistency(weaviate.All), where: o.rawURL, timeout: o.timeout, retries: o.retries, log: stderr}
	// The store first, so that one in use fails at once; a missing one
	// (--from) is made only once the cluster answered and has the
	// collections.
	st, err := openForMigrate(cfg, o)
	if err != nil {
		return nil, err
	}
	if st != nil {
		defer func() { st.Close() }()
	}
	if err := remote.call(ctx, "readiness check", func(ctx context.Context) error { return client.Ready(ctx) }); err != nil {
		return nil, fmt.Errorf("couldn't reach the Weaviate at %s (%s): %w; check the address and that it is running",
			o.rawURL, o.backend.Weaviate.URL, err)
	}
	if st == nil {
		for _, name := range o.collections {
			if _, err := remote.info(ctx, name); err != nil {
				return nil, fmt.Errorf("no collection %q to copy on %s: %w", name, o.rawURL, err)
			}
		}
		if st, err = createForMigrate(ctx, cfg); err != nil {
			return nil, err
		}
	}
	local := &localEnd{st: st, dir: cfg.DataDir}
	names, err := migrateNames(local, o)
	if err != nil {
		return nil, err
	}
	var results []migrateResult
	for _, name := range names {
		m := &migration{o: o, name: name, local: local, stderr: stderr, cfg: cfg}
		if o.toCluster {
			m.src, m.dst = local, remote
		} else {
			m.src, m.dst = remote, local
		}
		res, err := m.run(ctx)
		if err != nil {
			return results, err
		}
		results = append(results, res)
		m.summary(stdout, res)
	}
	return results, nil
}

// withMigrateDefaults is the client's options for a migration: one batch
// request per page, no timeout of its own (each call has o.timeout).
func withMigrateDefaults(o migrateOptions) weaviate.Options {
	opts := o.backend.Weaviate
	opts.BatchSize = o.pageSize
	opts.HTTPClient = &http.Client{}
	return opts
}

// errStoreInUse is the advice when another process holds the store.
func errStoreInUse(dataDir string) error {
	return fmt.Errorf("a server (or another edgesearch command) is using %s, so its store is locked; stop it, then run migrate again (it needs the store to itself)", dataDir)
}

// openForMigrate opens the store in the data directory as it is. --to
// needs one; for --from it returns nil when there is none yet. A store in
// use by another process fails within a second, with advice.
func openForMigrate(cfg config, o migrateOptions) (*store.Store, error) {
	path := indexer.StorePath(cfg.DataDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if o.toCluster {
			return nil, fmt.Errorf("no store in %s (no %s), so no collections to copy; check --data or EDGESEARCH_DATA", cfg.DataDir, filepath.Base(path))
		}
		return nil, nil
	}
	st, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if errors.Is(err, store.ErrLocked) {
		return nil, errStoreInUse(cfg.DataDir)
	}
	return st, err
}

// createForMigrate creates the store of a data directory that has none,
// for the model cfg names, loaded to learn its identity (name, weights,
// dims), which serve checks when it opens the store.
func createForMigrate(ctx context.Context, cfg config) (*store.Store, error) {
	if err := checkModel(cfg.ModelPath); err != nil {
		return nil, fmt.Errorf("%s has no store yet, and making one needs the model serve will use: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("couldn't create data directory: %w", err)
	}
	po := poolOptions(cfg)
	po.Workers = 1
	pool, err := embedder.New(ctx, po)
	if err != nil {
		return nil, fmt.Errorf("couldn't load the model: %w", err)
	}
	info := pool.Info()
	pool.Close()
	st, err := store.Open(indexer.StorePath(cfg.DataDir), storeOptions(info, store.Options{LockTimeout: time.Second}))
	if errors.Is(err, store.ErrLocked) {
		return nil, errStoreInUse(cfg.DataDir)
	}
	return st, err
}

// migrateNames checks the collections o names (all of --to's by default)
// and returns them. Every name is checked before anything is copied.
func migrateNames(local *localEnd, o migrateOptions) ([]string, error) {
	infos, err := local.st.Collections()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, info := range infos {
		if info.Name != store.DocumentsCollection {
			have = append(have, info.Name)
		}
	}
	names := slices.Compact(slices.Clone(o.collections))
	for _, name := range names {
		if name == store.DocumentsCollection {
			return nil, fmt.Errorf("collection %q holds the documents' chunks, which change only with their documents; migrate copies collections of points, and keeping the documents on Weaviate is not supported yet", name)
		}
		if o.toCluster && !slices.Contains(have, name) {
			return nil, fmt.Errorf("no collection %q in %s; its collections of points: %s", name, local.dir, listOrNone(have))
		}
	}
	if len(names) == 0 {
		if len(have) == 0 {
			return nil, fmt.Errorf("no collections of points in %s to copy (the documents collection is not copied this way)", local.dir)
		}
		names = have
	}
	return names, nil
}

func listOrNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// pointEnd is one side of a migration: the store or the cluster.
type pointEnd interface {
	// info describes a collection; an error wrapping store.ErrNotFound
	// when there is none.
	info(ctx context.Context, name string) (store.CollectionInfo, error)
	create(ctx context.Context, name string, vectors map[string]store.VectorParams) error
	drop(ctx context.Context, name string) error
	scroll(ctx context.Context, name string, from *store.PointID, limit int) ([]store.Point, *store.PointID, error)
	upsert(ctx context.Context, name string, pts []store.Point) error
	count(ctx context.Context, name string) (int, error)
	// get reads points back for the check: from the cluster at
	// consistency ALL.
	get(ctx context.Context, name string, ids []store.PointID) ([]store.Point, error)
	// describe names the side in messages.
	describe(name string) string
}

// localEnd is the store in the data directory.
type localEnd struct {
	st  *store.Store
	dir string
}

func (l *localEnd) info(_ context.Context, name string) (store.CollectionInfo, error) {
	return l.st.Collection(name)
}

func (l *localEnd) create(ctx context.Context, name string, vectors map[string]store.VectorParams) error {
	_, err := l.st.CreateCollection(ctx, name, vectors)
	return err
}

// drop deletes the collection and its persisted vector index (serve would
// remove the orphan at its next start; doing it now frees the disk).
func (l *localEnd) drop(ctx context.Context, name string) error {
	if _, err := l.st.DeleteCollection(ctx, name); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(l.dir, search.CollectionsDir, name+".graph")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("collection %q deleted, but not its vector index: %w", name, err)
	}
	return nil
}

func (l *localEnd) scroll(_ context.Context, name string, from *store.PointID, limit int) ([]store.Point, *store.PointID, error) {
	return l.st.ScrollPoints(name, from, limit)
}

func (l *localEnd) upsert(ctx context.Context, name string, pts []store.Point) error {
	return l.st.UpsertPoints(ctx, name, pts)
}

func (l *localEnd) count(_ context.Context, name string) (int, error) { return l.st.CountPoints(name) }

func (l *localEnd) get(_ context.Context, name string, ids []store.PointID) ([]store.Point, error) {
	return l.st.GetPoints(name, ids)
}

func (l *localEnd) describe(name string) string {
	return fmt.Sprintf("collection %q in %s", name, l.dir)
}

// remoteEnd is the cluster. Every call is bounded by timeout and retried
// on the failures that pass (see transient).
type remoteEnd struct {
	c, all  *weaviate.Client // all reads at consistency ALL
	where   string           // weaviate://…, for messages
	timeout time.Duration
	retries int
	log     io.Writer
}

func (r *remoteEnd) info(ctx context.Context, name string) (store.CollectionInfo, error) {
	var info store.CollectionInfo
	err := r.call(ctx, "describe "+weaviate.ClassName(name), func(ctx context.Context) error {
		var err error
		info, err = r.c.Info(ctx, name)
		return err
	})
	if errors.Is(err, weaviate.ErrNotFound) {
		return info, fmt.Errorf("%w: %w", err, store.ErrNotFound)
	}
	return info, err
}

// create makes the class. A retry that finds it made (the first attempt
// reached the cluster, its answer did not come back) is success.
func (r *remoteEnd) create(ctx context.Context, name string, vectors map[string]store.VectorParams) error {
	attempt := 0
	return r.call(ctx, "create "+weaviate.ClassName(name), func(ctx context.Context) error {
		attempt++
		_, err := r.c.Create(ctx, name, vectors)
		if attempt > 1 && errors.Is(err, weaviate.ErrExists) {
			return nil
		}
		return err
	})
}

func (r *remoteEnd) drop(ctx context.Context, name string) error {
	return r.call(ctx, "drop "+weaviate.ClassName(name), func(ctx context.Context) error {
		_, err := r.c.Drop(ctx, name)
		return err
	})
}

func (r *remoteEnd) scroll(ctx context.Context, name string, from *store.PointID, limit int) (pts []store.Point, next *store.PointID, err error) {
	err = r.call(ctx, "read a page of "+weaviate.ClassName(name), func(ctx context.Context) error {
		pts, next, err = r.c.Scroll(ctx, name, nil, from, limit, true, true)
		return err
	})
	return pts, next, err
}

func (r *remoteEnd) upsert(ctx context.Context, name string, pts []store.Point) error {
	return r.call(ctx, "write a page to "+weaviate.ClassName(name), func(ctx context.Context) error {
		return r.c.Upsert(ctx, name, pts)
	})
}

func (r *remoteEnd) count(ctx context.Context, name string) (n int, err error) {
	err = r.call(ctx, "count "+weaviate.ClassName(name), func(ctx context.Context) error {
		n, err = r.all.Count(ctx, name, nil)
		return err
	})
	return n, err
}

func (r *remoteEnd) get(ctx context.Context, name string, ids []store.PointID) (pts []store.Point, err error) {
	err = r.call(ctx, "read points of "+weaviate.ClassName(name), func(ctx context.Context) error {
		pts, err = r.all.Get(ctx, name, ids, true, true)
		return err
	})
	return pts, err
}

func (r *remoteEnd) describe(name string) string {
	return fmt.Sprintf("class %s on %s", weaviate.ClassName(name), r.where)
}

// call runs f with the per-call timeout, retrying transient failures up to
// r.retries times with backoff (0.5 s doubling, at most
// maxMigrateBackoff); each retry is announced on r.log. The caller's
// cancellation ends it at once.
func (r *remoteEnd) call(ctx context.Context, what string, f func(context.Context) error) error {
	wait := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, r.timeout)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("weaviate %s: no answer within %v (--timeout): %w", what, r.timeout, err)
		}
		if !transient(err) {
			return err
		}
		if attempt >= r.retries {
			return fmt.Errorf("%w (gave up after %d retries)", err, r.retries)
		}
		fmt.Fprintf(r.log, "migrate: %s: %v; retry %d of %d in %v\n", what, err, attempt+1, r.retries, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, maxMigrateBackoff)
	}
}

// transient reports whether a failed call to the cluster may pass when
// tried again: no answer in time, a gateway or unavailable status, a
// connection refused, reset or cut short, or a replica that was not there
// for the write's consistency level.
func transient(err error) bool {
	var we *weaviate.Error
	var ue *url.Error
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &we):
		switch we.Status {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return strings.Contains(we.Message, "cannot achieve consistency level") || strings.Contains(we.Message, "connection refused")
	case errors.As(err, &ue), errors.As(err, &ne):
		return true
	}
	return false
}

// migration copies one collection from src to dst.
type migration struct {
	o        migrateOptions
	cfg      config
	name     string
	src, dst pointEnd
	local    *localEnd
	stderr   io.Writer
	key      string // the resume record's key in the store
	rec      store.Transfer
	total    int // points at the source when the copy began
	sample   []store.PointID
	seen     int64 // points offered to the sample
}

// transferKey is the store key of a migration's resume point: direction,
// cluster (host:port, lower-case) and collection.
func transferKey(toCluster bool, bc backendConfig, name string) string {
	dir := "from"
	if toCluster {
		dir = "to"
	}
	host := strings.ToLower(strings.TrimPrefix(bc.Weaviate.URL, "http://"))
	return fmt.Sprintf("migrate %s weaviate://%s %s", dir, host, name)
}

func (m *migration) run(ctx context.Context) (migrateResult, error) {
	res := migrateResult{Collection: m.name, Class: weaviate.ClassName(m.name)}
	m.key = transferKey(m.o.toCluster, m.o.backend, m.name)
	err := m.prepare(ctx)
	if err == nil {
		res.Earlier = m.rec.Copied
		start := time.Now()
		err = m.copy(ctx, &res)
		res.Elapsed = time.Since(start)
	}
	if err == nil {
		err = m.check(ctx, &res)
	}
	if err != nil && ctx.Err() != nil {
		return res, m.stopped(ctx.Err())
	}
	if err != nil {
		return res, err
	}
	if m.o.move {
		if err := m.local.drop(context.WithoutCancel(ctx), m.name); err != nil {
			return res, fmt.Errorf("collection %q was copied and checked, but deleting the local copy failed: %w", m.name, err)
		}
		res.Moved = true
	}
	// Done: a later run of the same command finds the target made and no
	// record, and refuses rather than merge.
	if _, err := m.local.st.DeleteTransfer(context.WithoutCancel(ctx), m.key); err != nil {
		return res, err
	}
	return res, nil
}

// prepare reads the resume record and the target: it resumes, starts
// over (--restart), creates the target, or refuses one that exists.
func (m *migration) prepare(ctx context.Context) error {
	rec, found, err := m.local.st.Transfer(m.key)
	if err != nil {
		return err
	}
	srcInfo, err := m.src.info(ctx, m.name)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no %s to copy: %w", m.src.describe(m.name), err)
	}
	if err != nil {
		return err
	}
	if m.o.restart && found {
		if rec.Created {
			if err := m.dst.drop(ctx, m.name); err != nil {
				return fmt.Errorf("--restart: drop %s, which the earlier run made: %w", m.dst.describe(m.name), err)
			}
		}
		if _, err := m.local.st.DeleteTransfer(ctx, m.key); err != nil {
			return err
		}
		rec, found = store.Transfer{}, false
	}
	dstInfo, err := m.dst.info(ctx, m.name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if exists && !maps.Equal(dstInfo.Vectors, srcInfo.Vectors) {
		return fmt.Errorf("%s exists with vectors %s, but the source has %s; points cannot be copied between them",
			m.dst.describe(m.name), describeVectors(dstInfo.Vectors), describeVectors(srcInfo.Vectors))
	}
	if found {
		localInfo, err := m.local.info(ctx, m.name)
		switch {
		case !exists && rec.Copied > 0:
			fmt.Fprintf(m.stderr, "migrate: %s, which an interrupted run had made, is gone; starting over\n", m.dst.describe(m.name))
			rec = store.Transfer{}
		case err == nil && rec.Pages > 0 && localInfo.Generation != rec.Generation:
			return fmt.Errorf("%s was written to since the interrupted migration stopped, so the points it copied may be out of date; run the same command with --restart to copy it from the start",
				m.local.describe(m.name))
		}
	} else if exists && !m.o.into {
		return fmt.Errorf("%s exists already (%d points), and this store has no record of an interrupted migration into it; "+
			"refusing to merge into it: drop it first, or pass --into-existing to copy into it anyway (points with the same ids are replaced, the others stay)",
			m.dst.describe(m.name), dstInfo.Points)
	}
	if !found || rec.Started.IsZero() {
		rec.Started = time.Now().UTC()
	}
	if !exists {
		// Recorded before the target is made, so that a run killed just
		// after making it resumes instead of refusing its own target.
		rec.Created = true
		if err := m.record(ctx, rec); err != nil {
			return err
		}
		if err := m.dst.create(ctx, m.name, srcInfo.Vectors); err != nil {
			if errors.Is(err, weaviate.ErrExists) || errors.Is(err, store.ErrExists) {
				// Not ours after all: forget the intent recorded above,
				// or a later run would resume into their collection.
				_, derr := m.local.st.DeleteTransfer(context.WithoutCancel(ctx), m.key)
				return errors.Join(fmt.Errorf("%s was made by someone else a moment ago; not copying into it: %w", m.dst.describe(m.name), err), derr)
			}
			return fmt.Errorf("create %s: %w", m.dst.describe(m.name), err)
		}
	}
	if err := m.record(ctx, rec); err != nil {
		return err
	}
	m.rec = rec
	m.total = srcInfo.Points
	return nil
}

// describeVectors writes vectors as people read them: `"a" 384 Cosine, "b" 8 Dot`.
func describeVectors(v map[string]store.VectorParams) string {
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%q %d %v", n, v[n].Size, v[n].Distance))
	}
	return strings.Join(parts, ", ")
}

// record writes the resume point with the local collection's current
// generation. It is written even when ctx was cancelled just now: the page
// it describes is copied.
func (m *migration) record(ctx context.Context, rec store.Transfer) error {
	ctx = context.WithoutCancel(ctx)
	if info, err := m.local.info(ctx, m.name); err == nil {
		rec.Generation = info.Generation
	}
	rec.Updated = time.Now().UTC()
	if err := m.local.st.PutTransfer(ctx, m.key, rec); err != nil {
		return fmt.Errorf("record how far the migration of %q got: %w", m.name, err)
	}
	m.rec = rec
	return nil
}

// copy copies the pages after the resume point, recording each.
func (m *migration) copy(ctx context.Context, res *migrateResult) error {
	p := newMigrateProgress(m.stderr, m.name, m.rec.Copied, m.total)
	defer p.finish()
	from := m.rec.Last
	for first := true; ; first = false {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The resume point is the last id copied, and a scroll starts at
		// the id it is given: the first page after it reads one more.
		limit := m.o.pageSize
		resuming := first && from != nil
		if resuming {
			limit = min(limit+1, maxMigratePage)
		}
		pts, next, err := m.src.scroll(ctx, m.name, from, limit)
		if errors.Is(err, weaviate.ErrResponseTooLarge) {
			err = fmt.Errorf("%w; give a smaller --page-size", err)
		}
		if err != nil {
			return m.stopped(fmt.Errorf("read %s: %w", m.src.describe(m.name), err))
		}
		if resuming && len(pts) > 0 && pts[0].ID == *m.rec.Last {
			pts = pts[1:]
		}
		if len(pts) > 0 {
			if err := m.dst.upsert(ctx, m.name, pts); err != nil {
				return m.stopped(fmt.Errorf("write %s: %w", m.dst.describe(m.name), err))
			}
			rec := m.rec
			last := pts[len(pts)-1].ID
			rec.Last = &last
			rec.Copied += int64(len(pts))
			rec.Pages++
			if err := m.record(ctx, rec); err != nil {
				return err
			}
			res.Copied += int64(len(pts))
			res.Pages++
			p.update(m.rec.Copied)
			if m.o.afterPage != nil {
				m.o.afterPage(m.name, res.Pages)
			}
		}
		if next == nil {
			return nil
		}
		from = next
	}
}

// sampleIDs draws o.sample ids at random from the local side's collection
// (the source of --to, the copy of --from), whichever run copied them: a
// reservoir sample over one walk of the store, which is cheap beside the
// network.
func (m *migration) sampleIDs(ctx context.Context) ([]store.PointID, error) {
	if m.o.sample == 0 {
		return nil, nil
	}
	var ids []store.PointID
	seen := int64(0)
	_, err := m.local.st.ForEachPoint(ctx, m.name, func(p store.Point) error {
		seen++
		if len(ids) < m.o.sample {
			ids = append(ids, p.ID)
		} else if j := rand.Int64N(seen); j < int64(m.o.sample) {
			ids[j] = p.ID
		}
		return nil
	})
	slices.SortFunc(ids, func(a, b store.PointID) int { return a.Compare(b) })
	return ids, err
}

// stopped wraps the error that stopped a copy with how far it got and how
// to go on: the resume point of the last page copied is recorded.
func (m *migration) stopped(err error) error {
	what := "stopped"
	if errors.Is(err, context.Canceled) {
		what, err = "interrupted", nil
	}
	msg := fmt.Sprintf("migration of collection %q %s after %d of %d points; the resume point is saved: run %s again to go on from there",
		m.name, what, m.rec.Copied, m.total, m.command())
	if err == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// command is the command line that resumes this migration.
func (m *migration) command() string {
	dir := "--from"
	if m.o.toCluster {
		dir = "--to"
	}
	s := fmt.Sprintf("`edgesearch migrate %s %s --collection %s --data %s", dir, shellQuote(m.o.rawURL), shellQuote(m.name), shellQuote(m.cfg.DataDir))
	if m.o.move {
		s += " --move"
	}
	return s + "`"
}

// check counts both sides and compares a sample of points (sampleIDs)
// read back from both. Any difference is an error that says what differs; the
// resume record is kept, so running the command again checks again.
func (m *migration) check(ctx context.Context, res *migrateResult) error {
	var err error
	if res.Source, err = m.src.count(ctx, m.name); err != nil {
		return fmt.Errorf("count %s: %w", m.src.describe(m.name), err)
	}
	if res.Target, err = m.dst.count(ctx, m.name); err != nil {
		return fmt.Errorf("count %s: %w", m.dst.describe(m.name), err)
	}
	ids, err := m.sampleIDs(ctx)
	if err != nil {
		return err
	}
	var diffs []string
	if res.Source != res.Target {
		diffs = append(diffs, fmt.Sprintf("%s holds %d points, %s %d", m.src.describe(m.name), res.Source, m.dst.describe(m.name), res.Target))
	}
	for start := 0; start < len(ids) && len(diffs) < 5; start += m.o.pageSize {
		page := ids[start:min(start+m.o.pageSize, len(ids))]
		a, err := m.src.get(ctx, m.name, page)
		if err != nil {
			return fmt.Errorf("read back %s: %w", m.src.describe(m.name), err)
		}
		b, err := m.dst.get(ctx, m.name, page)
		if err != nil {
			return fmt.Errorf("read back %s: %w", m.dst.describe(m.name), err)
		}
		diffs = append(diffs, comparePoints(page, a, b)...)
	}
	res.Sampled = len(ids)
	if len(diffs) == 0 {
		return nil
	}
	if len(diffs) > 5 {
		diffs = diffs[:5]
	}
	return fmt.Errorf("migration of collection %q: the copy differs from the source: %s; "+
		"if the source changed during the copy, run %s with --restart to copy it again",
		m.name, strings.Join(diffs, "; "), m.command())
}

// comparePoints compares the points read from the source (a) and the
// target (b) for ids, and says what differs.
func comparePoints(ids []store.PointID, a, b []store.Point) []string {
	byID := func(pts []store.Point) map[store.PointID]store.Point {
		m := make(map[store.PointID]store.Point, len(pts))
		for _, p := range pts {
			m[p.ID] = p
		}
		return m
	}
	am, bm := byID(a), byID(b)
	var diffs []string
	for _, id := range ids {
		p, inA := am[id]
		q, inB := bm[id]
		switch {
		case !inA && !inB:
			diffs = append(diffs, fmt.Sprintf("point %v is on neither side", id))
		case !inA:
			diffs = append(diffs, fmt.Sprintf("point %v is no longer at the source", id))
		case !inB:
			diffs = append(diffs, fmt.Sprintf("point %v is missing from the copy", id))
		default:
			if d := pointDiff(p, q); d != "" {
				diffs = append(diffs, fmt.Sprintf("point %v: %s", id, d))
			}
		}
	}
	return diffs
}

// pointDiff says how two points differ, "" when they do not: vectors
// compared component by component, bit for bit; payloads as bytes, less
// the white space around them (Weaviate keeps a payload trimmed).
func pointDiff(p, q store.Point) string {
	names := make([]string, 0, len(p.Vectors))
	for n := range p.Vectors {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(p.Vectors) != len(q.Vectors) {
		return fmt.Sprintf("%d vectors at the source, %d in the copy", len(p.Vectors), len(q.Vectors))
	}
	for _, n := range names {
		v, w := p.Vectors[n], q.Vectors[n]
		if len(v) != len(w) {
			return fmt.Sprintf("vector %q has %d dimensions at the source, %d in the copy", n, len(v), len(w))
		}
		for i := range v {
			if math.Float32bits(v[i]) != math.Float32bits(w[i]) {
				return fmt.Sprintf("vector %q differs at component %d: %v at the source, %v in the copy", n, i, v[i], w[i])
			}
		}
	}
	if a, b := bytes.TrimSpace(p.Payload), bytes.TrimSpace(q.Payload); !bytes.Equal(a, b) {
		return fmt.Sprintf("payload %s at the source, %s in the copy", clip(a), clip(b))
	}
	return ""
}

func clip(b []byte) string {
	if len(b) == 0 {
		return "(none)"
	}
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// summary prints what one collection's migration did, and what to do next.
func (m *migration) summary(w io.Writer, res migrateResult) {
	arrow := fmt.Sprintf("to %s (class %s)", m.o.rawURL, res.Class)
	if !m.o.toCluster {
		arrow = fmt.Sprintf("from %s (class %s) into %s", m.o.rawURL, res.Class, m.cfg.DataDir)
	}
	rate := ""
	if s := res.Elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %.0f points/s", float64(res.Copied)/s)
	}
	resumed := ""
	if res.Earlier > 0 {
		resumed = fmt.Sprintf(" (resumed: %d copied before)", res.Earlier)
	}
	fmt.Fprintf(w, "migrated collection %q %s: %d points in %d pages, %.1f s%s%s; counts %d = %d, %d sampled points equal\n",
		m.name, arrow, res.Copied, res.Pages, res.Elapsed.Seconds(), rate, resumed, res.Source, res.Target, res.Sampled)
	switch {
	case res.Moved:
		fmt.Fprintf(w, "deleted the local collection %q: serve --backend %s answers for it from the cluster\n", m.name, m.o.rawURL)
	case m.o.toCluster:
		fmt.Fprintf(m.stderr, "migrate: collection %q is still in %s too, and serve answers for a local collection first: "+
			"delete the local copy (DELETE /collections/%s on the Qdrant API, or run this again with --into-existing --move) before serving it with --backend %s\n",
			m.name, m.cfg.DataDir, m.name, m.o.rawURL)
	}
}

// migrateProgress writes at most one progress line a second: rewritten in
// place with \r on a terminal, a line each time otherwise.
type migrateProgress struct {
	w           io.Writer
	tty         bool
	name        string
	base, total int64
	start, last time.Time
	dirty       bool
}

func newMigrateProgress(w io.Writer, name string, base int64, total int) *migrateProgress {
	now := time.Now()
	return &migrateProgress{w: w, tty: isTerminal(w), name: name, base: base, total: int64(total), start: now, last: now}
}

func (p *migrateProgress) update(copied int64) {
	now := time.Now()
	if now.Sub(p.last) < time.Second {
		return
	}
	p.last = now
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(copied) / float64(p.total)
	}
	rate := float64(copied-p.base) / now.Sub(p.start).Seconds()
	line := fmt.Sprintf("migrate %s: %d of %d points (%.0f%%), %.0f points/s", p.name, copied, p.total, pct, rate)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.dirty = true
	} else {
		fmt.Fprintln(p.w, line)
	}
}

// finish ends a line left open on a terminal.
func (p *migrateProgress) finish() {
	if p.dirty {
		fmt.Fprintln(p.w)
	}
}
