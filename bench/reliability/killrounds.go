package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Kill rounds: writers per round, their bound, and the window the kill
// lands in after the writes start.
const (
	killWriters    = 4
	writesPerRound = 2000 // per writer; the kill comes long before
	killEarliest   = 100 * time.Millisecond
	killLatest     = 1500 * time.Millisecond
	deleteOneIn    = 6 // a writer's request is a delete of one of its documents with chance 1 in 6
)

// ledger is what the server acknowledged, across rounds. mu guards all.
type ledger struct {
	mu                                      sync.Mutex
	live                                    map[string]string // acknowledged and not deleted: id → text
	deleted                                 map[string]bool   // acknowledged deletes
	mine                                    [killWriters][]string
	acked, ackedDeletes, uncertain, refused int
	refusedSample                           string
	lost                                    []string
}

type killReport struct {
	rounds      int
	acked       int
	deletes     int
	uncertain   int
	refused     int
	refusedEg   string
	lost        []string
	damaged     []string
	undeleted   []string
	storeFailed string
	delays      []time.Duration
	ready       []time.Duration // start to /health ready, after each kill
	checked     int             // document reads in the checks
	took        time.Duration
	skipped     int
}

// runKillRounds writes documents with concurrent clients, kills the server
// with SIGKILL at a random moment, restarts it on the same data directory
// and checks every acknowledged write and delete, cfg.rounds times.
func runKillRounds(ctx context.Context, cfg config) (*killReport, error) {
	start := time.Now()
	data, logs := cfg.dir("kill-rounds")
	led := &ledger{live: map[string]string{}, deleted: map[string]bool{}}
	rep := &killReport{}
	for r := 0; r <= cfg.rounds; r++ {
		final := r == cfg.rounds
		if !final && time.Until(cfg.deadline) < 20*time.Second {
			rep.skipped = cfg.rounds - r
			final = true
		}
		t0 := time.Now()
		srv, err := startServer(ctx, cfg, data, logs)
		if err != nil {
			rep.storeFailed = fmt.Sprintf("after round %d: %v", r, err)
			break
		}
		if r > 0 {
			rep.ready = append(rep.ready, time.Since(t0))
		}
		check(srv, led, rep)
		if final {
			srv.stop()
			break
		}
		rng := rand.New(rand.NewPCG(cfg.seed, uint64(r)))
		delay := killEarliest + time.Duration(rng.Int64N(int64(killLatest-killEarliest)))
		rep.delays = append(rep.delays, delay)
		writeUntilKilled(srv, led, r, delay, rng.Uint64())
		rep.rounds++
		logf("kill rounds: round %d killed after %s, %d acknowledged writes so far", r, delay.Round(time.Millisecond), led.acked)
	}
	rep.acked, rep.deletes, rep.uncertain = led.acked, led.ackedDeletes, led.uncertain
	rep.refused, rep.refusedEg = led.refused, led.refusedSample
	rep.lost = append(rep.lost, led.lost...)
	rep.took = time.Since(start)
	return rep, nil
}

// writeUntilKilled runs the writers against srv and kills it after delay.
func writeUntilKilled(srv *server, led *ledger, round int, delay time.Duration, seed uint64) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: killWriters}}
	defer client.CloseIdleConnections()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range killWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for n := 0; n < writesPerRound; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if rng.IntN(deleteOneIn) == 0 && led.hasMine(w) {
					err = deleteOne(client, srv.base, led, w, rng)
				} else {
					err = writeOne(client, srv.base, led, w, fmt.Sprintf("kr%02d-w%d-%04d", round, w, n), rng)
				}
				if err != nil {
					return // the server is gone
				}
			}
		}()
	}
	time.Sleep(delay)
	srv.kill()
	close(stop)
	wg.Wait()
}

// writeOne posts document id and records it when acknowledged. It
// returns the error of a request that got no answer.
func writeOne(client *http.Client, base string, led *ledger, w int, id string, rng *rand.Rand) error {
	text := fmt.Sprintf("Kill round document %s: the tide gauge at pier %d read %d centimetres.", id, rng.IntN(90)+1, rng.IntN(400)+10)
	status, err := call(client, http.MethodPost, base+"/documents", id, text)
	switch {
	case err != nil: // in flight at the kill: may or may not be stored
	case status == http.StatusCreated:
		led.add(w, id, text)
	default:
		led.refuse(fmt.Sprintf("POST %s: %d", id, status))
	}
	return err
}

// deleteOne deletes a random acknowledged document of writer w. It
// returns the error of a request that got no answer.
func deleteOne(client *http.Client, base string, led *ledger, w int, rng *rand.Rand) error {
	id := led.takeMine(w, rng)
	status, err := call(client, http.MethodDelete, base+"/documents/"+pathEscape(id), "", "")
	led.mu.Lock()
	defer led.mu.Unlock()
	switch {
	case err != nil:
		led.uncertain++ // in flight at the kill: either state is right
	case status == http.StatusNoContent:
		led.deleted[id] = true
		led.ackedDeletes++
	case status == http.StatusNotFound:
		led.lost = append(led.lost, fmt.Sprintf("%s: DELETE of an acknowledged document answered 404", id))
	default:
		led.uncertain++
		led.refused++
		led.refusedSample = fmt.Sprintf("DELETE %s: %d", id, status)
	}
	return err
}

// call sends one write: a POST of {id, text} or a DELETE.
func call(client *http.Client, method, u, id, text string) (int, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = jsonBody(map[string]string{"id": id, "text": text})
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (l *ledger) add(w int, id, text string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.live[id] = text
	l.mine[w] = append(l.mine[w], id)
	l.acked++
}

func (l *ledger) refuse(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused++
	l.refusedSample = what
}

func (l *ledger) hasMine(w int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mine[w]) > 0
}

// takeMine removes a random document of writer w from the live set: once
// its delete is sent, only its answer says what state is right.
func (l *ledger) takeMine(w int, rng *rand.Rand) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := rng.IntN(len(l.mine[w]))
	id := l.mine[w][i]
	l.mine[w] = slices.Delete(l.mine[w], i, i+1)
	delete(l.live, id)
	return id
}

// check reads every acknowledged document and delete back from srv.
// A document found missing or different is reported once and no longer
// checked.
func check(srv *server, led *ledger, rep *killReport) {
	led.mu.Lock()
	defer led.mu.Unlock()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	type job struct{ id, want string }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				got, status, err := getDoc(client, srv.base, j.id)
				mu.Lock()
				rep.checked++
				switch {
				case j.want == "" && status == http.StatusOK:
					rep.undeleted = append(rep.undeleted, j.id)
					delete(led.deleted, j.id)
				case j.want == "":
				case err != nil:
					rep.damaged = append(rep.damaged, fmt.Sprintf("%s: %v", j.id, err))
					delete(led.live, j.id)
				case status == http.StatusNotFound:
					rep.lost = append(rep.lost, j.id)
					delete(led.live, j.id)
				case status != http.StatusOK:
					rep.damaged = append(rep.damaged, fmt.Sprintf("%s: GET answers %d", j.id, status))
					delete(led.live, j.id)
				case got != j.want:
					rep.damaged = append(rep.damaged, fmt.Sprintf("%s: text %q", j.id, clip(got, 60)))
					delete(led.live, j.id)
				}
				mu.Unlock()
			}
		}()
	}
	var all []job
	for id, text := range led.live {
		all = append(all, job{id, text})
	}
	for id := range led.deleted {
		all = append(all, job{id, ""})
	}
	for _, j := range all {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	for w := range led.mine { // lost and damaged documents are not deleted later
		led.mine[w] = slices.DeleteFunc(led.mine[w], func(id string) bool { _, ok := led.live[id]; return !ok })
	}
}

func pathEscape(id string) string { return url.PathEscape(id) }

func (r *killReport) report(w io.Writer, cfg config) {
	fmt.Fprintf(w, "### 3. Kill -9 during writes\n\n")
	fmt.Fprintf(w, "Each round starts `edgesearch serve --threads 1` on a fresh port over one data directory kept across rounds, "+
		"runs %d concurrent writers (POST /documents of one small document with a unique id; one request in %d deletes one of "+
		"the writer's acknowledged documents instead; a writer stops at its first request without an answer), sends SIGKILL %d–%d ms into the writes, restarts the server, waits for /health "+
		"to be ready, and reads back every acknowledged document (exact text) and every acknowledged delete (must stay 404). "+
		"Seed %d. Took %.0f s.\n\n", killWriters, deleteOneIn, killEarliest.Milliseconds(), killLatest.Milliseconds(), cfg.seed, r.took.Seconds())
	fmt.Fprintln(w, "| rounds | acknowledged writes | acknowledged deletes | lost | damaged | deletes undone | store failed to open | reads checked | restart to ready (median / max) |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|---|--:|---|")
	failed := "no"
	if r.storeFailed != "" {
		failed = "**yes**"
	}
	fmt.Fprintf(w, "| %d | %d | %d | %d | %d | %d | %s | %d | %s |\n", r.rounds, r.acked, r.deletes, len(r.lost), len(r.damaged),
		len(r.undeleted), failed, r.checked, medianMax(r.ready))
	if r.uncertain > 0 || r.refused > 0 {
		fmt.Fprintf(w, "\n%d deletes were in flight at a kill (either state is right, not checked)", r.uncertain)
		if r.refused > 0 {
			fmt.Fprintf(w, "; %d writes were refused (e.g. %s)", r.refused, cell(r.refusedEg))
		}
		fmt.Fprintln(w, ".")
	}
	if r.skipped > 0 {
		fmt.Fprintf(w, "\n%d rounds were not run: the time bound ran out.\n", r.skipped)
	}
	if r.storeFailed != "" {
		fmt.Fprintf(w, "\nThe store failed to open %s\n", cell(clip(r.storeFailed, 600)))
	}
	list := func(what string, ids []string) {
		if len(ids) == 0 {
			return
		}
		shown := ids[:min(len(ids), 20)]
		fmt.Fprintf(w, "\n%s (%d): %s", what, len(ids), cell(fmt.Sprint(shown)))
		if len(ids) > len(shown) {
			fmt.Fprint(w, " …")
		}
		fmt.Fprintln(w)
	}
	list("Lost", r.lost)
	list("Damaged", r.damaged)
	list("Deletes undone", r.undeleted)
	fmt.Fprintln(w)
}

func medianMax(ds []time.Duration) string {
	if len(ds) == 0 {
		return "–"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%.2f s / %.2f s", s[len(s)/2].Seconds(), s[len(s)-1].Seconds())
}
