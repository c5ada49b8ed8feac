// Command loadtest runs a real `edgesearch serve` under a mix of concurrent
// clients and prints a Markdown report (issue 10): per-route throughput,
// latency percentiles and status codes, /health latency while the server
// is busy, search p99 under load against an idle server's, the server's
// RSS at the start, peak and end of each run, documents acknowledged but
// lost, and what a SIGTERM under load does to the requests in flight.
//
// It builds nothing: -bin names the binary. It starts the server on a port
// of 127.0.0.1 the kernel picks, over a temporary data directory, stores
// -seed-docs documents (SciFact abstracts when ../shared/eval/scifact is
// there, else lines of bench/sentences.txt), measures an idle baseline,
// then runs the mix -runs times on the same server (so memory can be
// compared across runs), checking after each that every document answered
// 201 can be read back. Last, it starts the mix once more for a few
// seconds, sends SIGTERM with requests in flight (SIGKILL after 15 s),
// restarts the server on the same data and checks every acknowledged
// document again.
//
// Every request goes to 127.0.0.1 (the client refuses to dial anything
// else), has a timeout, and every loop is bounded in time and in count;
// the program stops the server itself, also on Ctrl-C. Extra arguments
// after -- go to `serve` (not --addr: a non-loopback address is refused).
// Run from the repository root:
//
//	go run ./bench/loadtest -bin bin/edgesearch -out bench/out/loadtest.md
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	seedBatch     = 10              // documents per POST /documents while seeding
	seedFlight    = 2               // seeding requests in flight
	seedTimeout   = 5 * time.Minute // per seeding request: a batch embeds many chunks
	verifyTimeout = 5 * time.Minute // for each read-back of acknowledged documents
	verifyWorkers = 4               // concurrent GET /documents/:id while verifying
	idleTimeout   = 5 * time.Minute // for the idle baseline
	shutdownLoad  = 5 * time.Second // mix before SIGTERM in the shutdown phase
	maxAttempts   = 30              // tries of one request refused with 503
	warmSearches  = 10              // searches before the idle baseline, not counted
)

// config is the resolved command line.
type config struct {
	bin, model, scifact, sentences, out string
	clients, runs, seedDocs             int
	idleSearches, idleClients           int
	indexWriters                        int
	duration, timeout                   time.Duration
	extra                               []string // for serve
}

func main() {
	home, _ := os.UserHomeDir()
	defModel := os.Getenv("EDGESEARCH_MODEL")
	if defModel == "" {
		defModel = filepath.Join(home, ".cache", "edgesearch", "all-MiniLM-L6-v2-f16.gguf")
	}
	defSciFact := os.Getenv("SCIFACT")
	if defSciFact == "" {
		defSciFact = "../shared/eval/scifact"
	}
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "bin/edgesearch", "edgesearch binary to serve")
	flag.StringVar(&cfg.model, "model", defModel, "GGUF model for serve (default $EDGESEARCH_MODEL)")
	flag.IntVar(&cfg.clients, "clients", 64, "concurrent closed-loop clients in the mix")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "length of each run of the mix")
	flag.IntVar(&cfg.runs, "runs", 2, "runs of the mix on the same server, to compare memory")
	flag.IntVar(&cfg.seedDocs, "seed-docs", 300, "documents stored before the runs, so searches find something")
	flag.StringVar(&cfg.scifact, "scifact", defSciFact, "SciFact folder for the seed documents and queries (default $SCIFACT); when absent, -sentences serves")
	flag.StringVar(&cfg.sentences, "sentences", "bench/sentences.txt", "sentences the documents written during the runs are made of")
	flag.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per-request timeout of the clients")
	flag.IntVar(&cfg.idleSearches, "idle-searches", 200, "searches (and /health requests) of the idle baseline")
	flag.IntVar(&cfg.idleClients, "idle-clients", 1, "sequential clients of the idle baseline, each one request at a time")
	flag.IntVar(&cfg.indexWriters, "index-writers", 8, "writers posting documents while the idle baseline's searches run again")
	flag.StringVar(&cfg.out, "out", "", "also write the report to this file")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: loadtest [flags] [-- serve flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	cfg.extra = flag.Args()
	if cfg.clients < 1 || cfg.runs < 1 || cfg.seedDocs < 0 || cfg.idleSearches < 1 || cfg.idleClients < 1 ||
		cfg.duration <= 0 || cfg.timeout <= 0 {
		fmt.Fprintln(os.Stderr, "loadtest: -clients, -runs, -idle-searches, -idle-clients, -duration and -timeout must be positive, -seed-docs not negative")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	md := rep.markdown()
	fmt.Print(md)
	if cfg.out != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err == nil {
			err = os.WriteFile(cfg.out, []byte(md), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
	}
}

// run measures everything the report holds. It fails only when there is
// nothing to report (the server does not start, seeding fails); what goes
// wrong later is reported.
func run(ctx context.Context, cfg config) (*report, error) {
	w, err := loadWorkload(cfg.scifact, cfg.sentences, cfg.seedDocs)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "loadtest")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")

	rep := &report{cfg: cfg, command: commandLine(), started: time.Now(), cpus: runtime.NumCPU(), source: w.source}
	logf("starting %s serve (model %s)", cfg.bin, cfg.model)
	srv, err := startServer(ctx, cfg, data, tmp)
	if err != nil {
		return nil, err
	}
	defer func() {
		if srv.alive() {
			srv.kill()
		}
	}()
	plain := loopbackClient(10*time.Second, 1)
	rep.version = srv.version(plain)
	if h, err := srv.health(plain); err == nil {
		rep.model = h.Model
	}

	logf("seeding %d documents from %s", len(w.seed), w.source)
	start := time.Now()
	if rep.seedChunks, err = seed(ctx, srv, w.seed); err != nil {
		return nil, err
	}
	rep.seedDocs, rep.seedTook = len(w.seed), time.Since(start)

	logf("idle baseline: %d searches, %d /health", cfg.idleSearches, cfg.idleSearches)
	rep.idleSearch, rep.idleHealth = idle(ctx, srv, cfg, w)

	logf("the same searches while %d writers index", cfg.indexWriters)
	rep.indexSearch, rep.indexWrites, rep.indexAcked = searchWhileIndexing(ctx, srv, cfg, w)

	acked := rep.indexAcked // read back after the restart with the rest
	for n := 1; n <= cfg.runs && srv.alive() && ctx.Err() == nil; n++ {
		logf("run %d: %d clients for %s", n, cfg.clients, cfg.duration)
		rr := measureRun(ctx, srv, cfg, w, n)
		acked = append(acked, rr.ackedIDs...)
		logf("run %d: verifying %d acknowledged documents", n, len(rr.ackedIDs))
		rr.verify = verifyDocs(ctx, srv, cfg, rr.ackedIDs)
		if h, err := srv.health(plain); err == nil {
			rr.docsAfter = h.Documents
		}
		rep.runs = append(rep.runs, rr)
	}
	if !srv.alive() {
		rep.died = fmt.Sprintf("the server exited during the runs (%v); log tail:\n%s", srv.waitErr, srv.logTail(1500))
		rep.log = srv.summarizeLog()
		return rep, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}

	logf("shutdown: %s of the mix, then SIGTERM", min(shutdownLoad, cfg.duration))
	rep.shutdown = shutdownUnderLoad(ctx, srv, cfg, w)
	rep.log = srv.summarizeLog()
	acked = append(acked, rep.shutdown.ackedIDs...)

	logf("restart on the same data; verifying %d acknowledged documents", len(acked))
	rep.restart = restart(ctx, cfg, data, tmp, acked)
	rep.selfCPU, rep.wall = ownCPU(), time.Since(rep.started)
	return rep, nil
}

// runResult is one run of the mix.
type runResult struct {
	n        int
	mix      *mixOut
	ackedIDs []string
	verify   verifyResult
	// Memory: at the start and end of the run, and its peak: VmHWM after
	// a reset at the start, or the largest of VmRSS read every 100 ms when
	// the reset is not allowed.
	memStart, memEnd memory
	peak             float64
	peakFrom         string
	docsAfter        int // GET /health's count after the read-back
}

// measureRun runs the mix once for cfg.duration with the /health prober,
// reading the server's memory around it.
func measureRun(ctx context.Context, srv *server, cfg config, w *workload, n int) runResult {
	rr := runResult{n: n}
	rr.memStart, _ = readMemory(srv.pid)
	hwm := resetPeak(srv.pid) == nil
	done := make(chan struct{})
	sampled := sampleRSS(srv.pid, done)
	rr.mix = runMix(ctx, srv, cfg, w, mixPlan{tag: fmt.Sprintf("r%d", n), clients: cfg.clients,
		until: time.Now().Add(cfg.duration), probe: true})
	close(done)
	rr.memEnd, _ = readMemory(srv.pid)
	rr.peak, rr.peakFrom = <-sampled, "sampled VmRSS"
	if hwm && rr.memEnd.Peak > 0 {
		rr.peak, rr.peakFrom = max(rr.peak, rr.memEnd.Peak), "VmHWM"
	}
	rr.ackedIDs = rr.mix.acked
	return rr
}

// seed stores docs through POST /documents in batches of seedBatch,
// seedFlight at a time (so more than one embedding worker is busy), waiting
// out 503s with Retry-After, and returns the chunks the server reported.
func seed(ctx context.Context, srv *server, docs []doc) (int, error) {
	client := loopbackClient(seedTimeout, seedFlight)
	defer client.CloseIdleConnections()
	var (
		mu       sync.Mutex
		chunks   int
		firstErr error
		wg       sync.WaitGroup
	)
	batches := make(chan int)
	for range seedFlight {
		wg.Go(func() {
			for i := range batches {
				n, err := seedBatchAt(ctx, client, srv, docs, i)
				mu.Lock()
				chunks += n
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for i := 0; i < len(docs); i += seedBatch {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		batches <- i
	}
	close(batches)
	wg.Wait()
	return chunks, firstErr
}

// seedBatchAt stores the batch of docs that starts at i.
func seedBatchAt(ctx context.Context, client *http.Client, srv *server, docs []doc, i int) (int, error) {
	batch := docs[i:min(i+seedBatch, len(docs))]
	o, err := sendRetrying(ctx, client, func() (*http.Request, error) {
		return newRequest(ctx, http.MethodPost, srv.base+"/documents", map[string][]doc{"documents": batch})
	})
	if err != nil {
		return 0, fmt.Errorf("seed documents %d–%d: %w", i, i+len(batch)-1, err)
	}
	if o.status != http.StatusCreated {
		return 0, fmt.Errorf("seed documents %d–%d: status %d: %.300s", i, i+len(batch)-1, o.status, o.body)
	}
	var added struct {
		Chunks int `json:"chunks"`
	}
	json.Unmarshal(o.body, &added)
	return added.Chunks, nil
}

// sendRetrying sends the request build makes, again after each 503 with
// Retry-After (waiting that long, at most maxPause), at most maxAttempts
// times; it returns the first other answer, with its body. An error is no
// answer at all.
func sendRetrying(ctx context.Context, client *http.Client, build func() (*http.Request, error)) (outcome, error) {
	for range maxAttempts {
		req, err := build()
		if err != nil {
			return outcome{}, err
		}
		o := send(client, req, true)
		if o.err != nil {
			return o, o.err
		}
		if !o.refused() {
			return o, nil
		}
		select {
		case <-time.After(min(o.retryAfter, maxPause)):
		case <-ctx.Done():
			return o, ctx.Err()
		}
	}
	return outcome{}, fmt.Errorf("refused with 503 %d times", maxAttempts)
}

// idle measures search with cfg.idleClients clients, each one request at a
// time, after a few searches not counted, and then /health alone.
func idle(ctx context.Context, srv *server, cfg config, w *workload) (search, health stats) {
	client := loopbackClient(cfg.timeout, cfg.idleClients)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(idleTimeout)
	get := func(target string) outcome {
		req, err := newRequest(ctx, http.MethodGet, srv.base+target, nil)
		if err != nil {
			panic(err)
		}
		return send(client, req, false)
	}
	searchURL := func(i int) string {
		return "/search?mode=hybrid&k=10&q=" + url.QueryEscape(w.queries[i%len(w.queries)])
	}
	for i := range warmSearches {
		get(searchURL(len(w.queries) - 1 - i))
	}
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range cfg.idleClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.idleSearches || time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				o := get(searchURL(i))
				mu.Lock()
				search.add(o)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for range cfg.idleSearches {
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		health.add(get("/health"))
	}
	return search, health
}

// searchWhileIndexing runs the idle baseline's searches again while
// cfg.indexWriters writers post 1–3 KB documents in a closed loop (waiting
// out 503s with Retry-After): the direct measure of "queries first", since
// the full mix's search latency also holds the other searches' queueing.
func searchWhileIndexing(ctx context.Context, srv *server, cfg config, w *workload) (search, writes stats, acked []string) {
	client := loopbackClient(cfg.timeout, cfg.indexWriters)
	defer client.CloseIdleConnections()
	stop := make(chan struct{})
	p := mixPlan{until: time.Now().Add(idleTimeout + cfg.timeout), halt: stop}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range cfg.indexWriters {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				id := fmt.Sprintf("ix-%d-%d", i, n)
				req, err := newRequest(ctx, http.MethodPost, srv.base+"/documents", w.document(r, id))
				if err != nil {
					panic(err)
				}
				o := send(client, req, false)
				mu.Lock()
				writes.add(o)
				if o.status == http.StatusCreated {
					acked = append(acked, id)
				}
				mu.Unlock()
				if o.refused() {
					pause(ctx, p, min(o.retryAfter, maxPause))
				} else if o.status == 0 {
					pause(ctx, p, errPause)
				}
			}
		})
	}
	// Let the writers fill the bulk lane before the searches start.
	time.Sleep(2 * time.Second)
	search, _ = idle(ctx, srv, cfg, w)
	close(stop)
	wg.Wait()
	return search, writes, acked
}

// verifyResult is a read-back of acknowledged documents.
type verifyResult struct {
	checked, present, lost, unverified int
	firstLost, firstProblem            string
}

// verifyDocs reads every id back with GET /documents/:id (the id
// percent-encoded): 200 is present, 404 lost, anything else (after 503s
// are waited out) unverified. It gives up after verifyTimeout, counting
// the rest unverified.
func verifyDocs(ctx context.Context, srv *server, cfg config, ids []string) verifyResult {
	client := loopbackClient(cfg.timeout, verifyWorkers)
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(verifyTimeout)
	var mu sync.Mutex
	var res verifyResult
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range verifyWorkers {
		wg.Go(func() {
			for id := range jobs {
				var o outcome
				var err error
				if time.Now().After(deadline) || ctx.Err() != nil {
					err = errors.New("read-back timed out")
				} else {
					o, err = sendRetrying(ctx, client, func() (*http.Request, error) {
						return newRequest(ctx, http.MethodGet, srv.base+"/documents/"+url.PathEscape(id), nil)
					})
				}
				mu.Lock()
				res.checked++
				switch {
				case err == nil && o.status == http.StatusOK && bodyID(o.body) == id:
					res.present++
				case err == nil && o.status == http.StatusNotFound:
					res.lost++
					if res.firstLost == "" {
						res.firstLost = id
					}
				default:
					res.unverified++
					if res.firstProblem == "" {
						if err == nil {
							err = fmt.Errorf("status %d: %.200s", o.status, o.body)
						}
						res.firstProblem = fmt.Sprintf("%s: %v", id, err)
					}
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	return res
}

// bodyID is the "id" of a JSON document.
func bodyID(b []byte) string {
	var d struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &d)
	return d.ID
}

// shutdownResult is what a SIGTERM under load did.
type shutdownResult struct {
	loadFor  time.Duration // mix before SIGTERM
	mix      *mixOut
	stop     stopResult
	ackedIDs []string
}

// shutdownUnderLoad runs the mix for shutdownLoad (or the run's duration,
// if shorter), then stops new requests and sends SIGTERM with requests in
// flight, and waits for the server to exit (SIGKILL after killAfter) and
// for every client to see its last request end.
func shutdownUnderLoad(ctx context.Context, srv *server, cfg config, w *workload) shutdownResult {
	res := shutdownResult{loadFor: min(shutdownLoad, cfg.duration)}
	halt := make(chan struct{})
	var signaled atomic.Int64
	done := make(chan *mixOut, 1)
	go func() {
		done <- runMix(ctx, srv, cfg, w, mixPlan{tag: "shutdown", clients: cfg.clients,
			until: time.Now().Add(res.loadFor + cfg.timeout + killAfter), halt: halt, signaled: &signaled})
	}()
	select {
	case <-time.After(res.loadFor):
	case <-ctx.Done():
	}
	signaled.Store(time.Now().UnixNano())
	close(halt)
	res.stop = srv.stop()
	res.mix = <-done
	res.ackedIDs = res.mix.acked
	return res
}

// restartResult is the server started again on the same data.
type restartResult struct {
	err    error
	ready  time.Duration // exec to /health ready
	docs   int           // GET /health's count
	verify verifyResult  // every document acknowledged since the start
	stop   stopResult    // SIGTERM with nothing in flight
}

// restart starts the server again on data, reads back every acknowledged
// document, and stops it.
func restart(ctx context.Context, cfg config, data, logDir string, acked []string) restartResult {
	var res restartResult
	start := time.Now()
	srv, err := startServer(ctx, cfg, data, logDir)
	if err != nil {
		res.err = err
		return res
	}
	res.ready = time.Since(start)
	if h, err := srv.health(loopbackClient(10*time.Second, 1)); err == nil {
		res.docs = h.Documents
	}
	res.verify = verifyDocs(ctx, srv, cfg, acked)
	res.stop = srv.stop()
	return res
}

// commandLine is how to run this program with the arguments it was given,
// quoted for a shell.
func commandLine() string {
	args := []string{"go", "run", "./bench/loadtest"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

// ownCPU is the user and system CPU time this process has used: the load
// generator's share of the cores it shares with the server.
func ownCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadtest: "+format+"\n", args...)
}
