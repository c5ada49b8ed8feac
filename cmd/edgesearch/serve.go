package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

func newServeCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API (POST /embed, POST /v1/embeddings, GET /health, ...)",
		Long: `Serve the HTTP API until SIGINT or SIGTERM, then finish the requests in flight.

The server listens at once and answers GET /health with 503 {"status":"starting"}
until the model is loaded; embedding requests get 503 with Retry-After meanwhile.

By default it listens on 127.0.0.1:8080, for this machine only. To serve the
network (a Raspberry Pi for the house), choose it with --addr :8080 and set a
key with --api-key-file. Requests whose Host is not an IP address, localhost,
this machine's name or one of --allowed-hosts get 403 (against DNS rebinding);
pages on other origins than --cors-origins cannot change data.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				stop() // a second signal kills at once instead of waiting for shutdown
			}()
			return serve(ctx, cfg, cmd.ErrOrStderr())
		},
	}
	addServeFlags(cmd.Flags())
	return cmd
}

// serve runs the HTTP server with cfg until ctx ends. The model loads in the
// background after the port is open, so supervisors see "starting" rather
// than a refused connection; a model that fails to load stops the server
// with that error.
func serve(ctx context.Context, cfg config, logOut io.Writer) error {
	log := newLogger(cfg, logOut)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	setMemoryLimit(cfg.MemoryLimit)
	if err := checkModel(cfg.ModelPath); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("couldn't create data directory: %w", err)
	}
	srv, err := web.New(web.Config{
		Addr:         cfg.Addr,
		Version:      version,
		APIKey:       cfg.APIKey,
		CORSOrigins:  cfg.CORSOrigins,
		AllowedHosts: cfg.AllowedHosts,
		MaxBodyBytes: cfg.MaxBody,
		MaxTexts:     cfg.MaxTexts,
		MaxDocuments: cfg.MaxDocuments,
		MaxFiles:     cfg.MaxFiles,
		ParseLimits:  cfg.Parse,
		IOTimeout:    cfg.IOTimeout,
		Logger:       log,
		UI:           web.UI(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("couldn't listen on %s (is another server running? set --addr): %w", cfg.Addr, err)
	}
	for _, w := range exposureWarnings(ln.Addr(), cfg.APIKey != "") {
		log.Warn(w, "addr", ln.Addr().String())
	}
	var qln net.Listener
	if cfg.QdrantAddr != "" {
		if qln, err = net.Listen("tcp", cfg.QdrantAddr); err != nil {
			ln.Close()
			return fmt.Errorf("couldn't listen on %s for the Qdrant-compatible API (is Qdrant running? set --qdrant-addr): %w", cfg.QdrantAddr, err)
		}
		for _, w := range exposureWarnings(qln.Addr(), cfg.APIKey != "") {
			log.Warn(w, "addr", qln.Addr().String())
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	loaded := make(chan *embedder.Pool, 1) // the loader's result; nil if it failed
	libc := make(chan *library, 1)         // the open store and engine, if the loader got that far
	go func() {
		defer setGCPercent(loadingGCPercent)()
		start := time.Now()
		opts := poolOptions(cfg)
		opts.MinWorkers = cfg.IdleThreads
		pool, err := embedder.New(ctx, opts)
		if err != nil {
			cancel(fmt.Errorf("couldn't load the model: %w", err))
			loaded <- nil
			return
		}
		srv.SetEmbedder(pool)
		info := pool.Info()
		log.Info("model loaded", "model", info.Name, "path", cfg.ModelPath, "dims", info.Dims,
			"weights", info.WeightType, "took", time.Since(start).Round(time.Millisecond))
		lib, err := openLibrary(ctx, cfg.DataDir, info, cfg.HNSW, cfg.StoreFloat16, cfg.FacetScan, cfg.Backend, logLines{log})
		if err != nil {
			cancel(reindexAdvice(err, cfg, info))
			pool.Close()
			loaded <- nil
			return
		}
		srv.SetEngine(lib.engine)
		if lib.stopBackend, err = setCollections(ctx, srv, lib.collections, lib.st, cfg.Backend, log); err != nil {
			cancel(err)
			lib.close()
			pool.Close()
			loaded <- nil
			return
		}
		d, c := lib.engine.Len()
		log.Info("documents loaded", "data", cfg.DataDir, "documents", d, "chunks", c)
		go search.HeapGovernor(ctx, 2*time.Second, func(live uint64, percent int) {
			log.Debug("collector tuned to the live heap", "live_mib", live>>20, "gogc", percent)
		})
		if lim, raised := raiseMemoryLimit(cfg.MemoryLimit); raised {
			log.Info("memory limit raised above the loaded index", "memory_limit_mib", lim>>20)
		}
		loaded <- pool
		libc <- lib
	}()
	threads := cfg.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	log.Info("profile", "profile", cfg.Profile, "why", cfg.ProfileWhy, "model", cfg.ModelPath,
		"threads", threads, "arch", runtime.GOARCH, "memory_limit_mib", cfg.MemoryLimit>>20)
	log.Info("starting", "version", version, "addr", ln.Addr().String(), "data", cfg.DataDir,
		"auth", cfg.APIKey != "", "cors", strings.Join(cfg.CORSOrigins, ","),
		"allowed_hosts", strings.Join(cfg.AllowedHosts, ","))

	qdrantErr := make(chan error, 1)
	if qln != nil {
		log.Info("serving the Qdrant-compatible API", "addr", qln.Addr().String())
		go func() { qdrantErr <- srv.ServeQdrant(ctx, qln) }()
	} else {
		qdrantErr <- nil
	}
	serveErr := errors.Join(srv.Serve(ctx, ln), <-qdrantErr)
	if pool := <-loaded; pool != nil {
		// Requests have finished: the graph saved now matches the store.
		if err := (<-libc).close(); err != nil {
			log.Warn("closing the document store", "err", err)
		}
		if err := pool.Close(); err != nil {
			log.Warn("closing the model", "err", err)
		}
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if serveErr == nil {
		log.Info("stopped")
	}
	return serveErr
}

// exposureWarnings says what listening on addr exposes when it is not
// loopback: who can reach the server, and, when there is no API key, that
// they can do anything with it. Serving a home network is the point of the
// product, so these are warnings, not errors; nil for loopback.
func exposureWarnings(addr net.Addr, keyed bool) []string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || ta.IP.IsLoopback() {
		return nil
	}
	who := "every device that can reach " + ta.IP.String()
	if ta.IP.IsUnspecified() {
		who = "every device on every network this machine is on"
	}
	if keyed {
		return []string{"listening beyond this machine: " + who +
			" can reach the API and the web UI; the API key guards documents, search, embeddings and /backup"}
	}
	return []string{
		"listening beyond this machine: " + who + " can reach the API and the web UI",
		"NO API KEY: anyone who can reach this server can read, change and delete every document and download them all (GET /backup); " +
			"set a key with --api-key-file FILE (or EDGESEARCH_API_KEY_FILE), or listen on 127.0.0.1 only",
	}
}

// The garbage collector's pacing while the server runs. Go's default (100)
// lets the heap grow to twice what is live before collecting; the search
// index of 100k chunks is ~125 MB live, so that would be 125 MB of slack on
// a machine whose budget for everything is 300 MB. Loading makes garbage
// fast (the graph file, every chunk's text), hence a tighter setting until
// it is done. A GOGC in the environment wins over both.
const (
	servingGCPercent = 50
	loadingGCPercent = 25
)

// setGCPercent sets the collector's target unless the user chose one with
// GOGC, and returns a function that sets the serving one.
func setGCPercent(p int) (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	debug.SetGCPercent(p)
	return func() { debug.SetGCPercent(servingGCPercent) }
}

// library is the open store and the search engine over it.
type library struct {
	st          *store.Store
	engine      *search.Engine
	collections *search.Collections // the vector store's collections of points
	stopBackend func()              // stops the outbox's senders (setCollections); nil before
}

// openLibrary opens the store in dataDir for the loaded model and the search
// engine over it, rebuilding the vector graph with progress lines to
// progress if it must. A store held by another process fails with advice.
func openLibrary(ctx context.Context, dataDir string, info embedder.ModelInfo, params search.Params, half bool, facetScan int, bc backendConfig, progress io.Writer) (*library, error) {
	path := indexer.StorePath(dataDir)
	st, err := store.Open(path, storeOptions(info, store.Options{Float16: half}))
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("another edgesearch process (a server or an import) is using %s; stop it, or talk to it with --server URL: %w", dataDir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't open the document store: %w", err)
	}
	docs, err := documentsBackend(st, bc)
	if err != nil {
		st.Close()
		return nil, err
	}
	e, err := search.Open(ctx, st, search.EngineOptions{Dir: dataDir, Params: params, Progress: progress, FacetScan: facetScan,
		Backend: docs, BackendTimeout: bc.Timeout})
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("couldn't open the search index: %w", err)
	}
	cols, err := search.OpenCollections(ctx, st, search.CollectionsOptions{Dir: dataDir, Params: params, Progress: progress})
	if err != nil {
		e.Close()
		st.Close()
		return nil, fmt.Errorf("couldn't open the collections of points: %w", err)
	}
	// Opening made garbage the size of the graph file and more; give it
	// back to the system now rather than when the scavenger gets to it.
	debug.FreeOSMemory()
	return &library{st: st, engine: e, collections: cols}, nil
}

// documentsBackend is where the documents of st are indexed by bc: nil
// for the engine's own indexes (no --backend, or ?documents=local), else a
// Weaviate collection, named by ?documents= or after the store's ID.
func documentsBackend(st *store.Store, bc backendConfig) (search.ChunkBackend, error) {
	if bc.Weaviate.URL == "" || bc.Documents == "local" {
		return nil, nil
	}
	// Each request to the cluster, the sender's and the searches', is
	// bounded by ?timeout=.
	opts := bc.Weaviate
	opts.HTTPClient = &http.Client{Timeout: bc.Timeout}
	client, err := weaviate.New(opts)
	if err != nil {
		return nil, fmt.Errorf("--backend: %w", err)
	}
	name := bc.Documents
	if name == "" {
		id, err := st.ID()
		if err != nil {
			return nil, fmt.Errorf("couldn't name the documents' collection in Weaviate: %w", err)
		}
		name = "documents-" + id[:12]
	}
	return weaviate.NewChunks(client, name, st.Dims()), nil
}

// close stops the outbox's senders, saves the search graphs and closes
// the store.
func (l *library) close() error {
	if l.stopBackend != nil {
		l.stopBackend()
	}
	return errors.Join(l.collections.Close(), l.engine.Close(), l.st.Close())
}

// logLines turns progress lines written to it into info log records.
type logLines struct{ log *slog.Logger }

func (l logLines) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			l.log.Info(line)
		}
	}
	return len(p), nil
}

// poolOptions maps the configuration onto the embedder's options.
func poolOptions(cfg config) embedder.Options {
	return embedder.Options{
		ModelPath:     cfg.ModelPath,
		Workers:       cfg.Threads,
		QueueSize:     cfg.Queue,
		BulkQueueSize: cfg.BulkQueue,
		MaxBulkWait:   cfg.BulkWait,
		MaxWait:       cfg.MaxWait,
		MaxBatch:      cfg.MaxBatch,
		MaxTokens:     cfg.MaxTokens,
		Runtime:       cfg.Runtime,
	}
}

// checkModel fails early, with the next step to take, when the model file is
// missing: loading it would fail anyway, less helpfully.
func checkModel(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("model %s not found: run `edgesearch model pull` (or `make model`), or point --model / EDGESEARCH_MODEL at a GGUF file", path)
	case err != nil:
		return fmt.Errorf("model %s: %w", path, err)
	case st.IsDir():
		return fmt.Errorf("model %s is a directory; convert it first with `edgesearch model convert %s OUT.gguf`", path, path)
	}
	return nil
}

// newLogger makes the process's structured logger.
func newLogger(cfg config, out io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts))
	}
	return slog.New(slog.NewTextHandler(out, opts))
}

// noArgs refuses positional arguments as a usage error (exit status 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}
