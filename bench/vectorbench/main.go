// Command vectorbench measures the collections engine (search.Collections
// over a real store) beside hnswlib and faiss-cpu on the same vectors:
// upsert throughput, the time to open the saved index, search latency
// (p50/p99, one client and two) and recall@10 unfiltered and with filters
// matching 50% and 1% of the points, and the memory of the process serving
// them.
//
//	go run ./bench/vectorbench -n 100000 [-peers] > bench/out/vectors-100k.json
//
// It makes the data set first (clustered 384-d unit vectors written as .npy
// for the peers, held-out queries with noise, and the exact answers by
// float64 brute force per filter), then runs each phase of its own engine
// in a child process, so the memory measured is what serving holds, not
// what generating or upserting left behind: "upsert" stores the points
// through Collections.Upsert (1000 a batch, as a client would) and closes;
// "serve" opens the store and the saved index again and queries it;
// "rebuild" (small sets only) removes the index file and times the rebuild
// from the store. With -peers it runs bench/peers/vectors_hnswlib.py and
// vectors_faiss.py on the same files, threads and graph parameters. It
// prints one JSON object and writes a markdown table to -md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

const collection = "bench"

type config struct {
	N, Queries, Dims, Clients, Threads int
	M, EfConstruction, EfSearch        int
	Seed                               uint64
	Dir                                string
	Batch                              int
	// PayloadIndex declares payload indexes on group (integer) and tag
	// (keyword) before serving, as a Qdrant client would with
	// create_payload_index; without, every filter scans the payloads.
	PayloadIndex bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.N, "n", 100000, "points")
	flag.IntVar(&cfg.Queries, "queries", 500, "held-out queries (each run per filter)")
	flag.IntVar(&cfg.Dims, "dims", 384, "vector length")
	flag.IntVar(&cfg.Clients, "clients", 2, "concurrent clients in the throughput measure")
	flag.IntVar(&cfg.Threads, "threads", 2, "threads the peers may use to build and to answer the concurrent queries")
	flag.IntVar(&cfg.M, "m", search.DefaultM, "HNSW M, for every engine")
	flag.IntVar(&cfg.EfConstruction, "ef-construction", search.DefaultEfConstruction, "HNSW efConstruction, for every engine")
	flag.IntVar(&cfg.EfSearch, "ef", 0, "HNSW ef at search, for every engine; 0: what collections of n points use unless told (search.DefaultCollectionsEf)")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "data set seed")
	flag.IntVar(&cfg.Batch, "batch", 1000, "points per Upsert call")
	flag.StringVar(&cfg.Dir, "dir", "bench/out/vectors", "where the data set, the store and the outputs go")
	flag.BoolVar(&cfg.PayloadIndex, "payload-index", true, "declare payload indexes on group and tag before serving (create_payload_index)")
	scanRow := flag.Bool("scan-row", false, "also serve once more without payload indexes, a second edgesearch row")
	peers := flag.Bool("peers", false, "also run the hnswlib and faiss-cpu peers (python3 with both installed)")
	python := flag.String("python", "python3", "the Python that runs the peers")
	rebuild := flag.Int("rebuild-max", 200000, "also time a rebuild of the index from the store when n is at most this")
	md := flag.String("md", "", "write the markdown table here too (default: DIR/n<N>.md)")
	memLimit := flag.String("memlimit", "", "also serve once more with this GOMEMLIMIT (e.g. 900MiB), a second edgesearch row")
	phase := flag.String("phase", "", "internal: run one phase in this process (upsert, serve, rebuild)")
	cpuProfile := flag.String("cpuprofile", "", "with -phase: write the phase's CPU profile here")
	flag.Parse()
	if *phase != "" && *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	log.SetFlags(0)
	log.SetPrefix("vectorbench: ")
	files := filesFor(cfg.Dir, cfg.N, cfg.Queries, cfg.Seed)
	if cfg.EfSearch == 0 {
		cfg.EfSearch = search.DefaultCollectionsEf(cfg.N)
	}

	if *phase != "" {
		out, err := runPhase(*phase, cfg, files)
		if err != nil {
			log.Fatal(err)
		}
		json.NewEncoder(os.Stdout).Encode(out)
		return
	}

	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		log.Fatal(err)
	}
	t := time.Now()
	if err := generate(files, cfg.N, cfg.Queries, cfg.Dims, cfg.Seed, os.Stderr); err != nil {
		log.Fatal(err)
	}
	log.Printf("data set ready in %.0f s", time.Since(t).Seconds())
	report := map[string]any{"config": cfg, "machine": machine()}
	var rows []row
	ours := map[string]any{}
	for _, ph := range []string{"upsert", "serve", "rebuild"} {
		if ph == "rebuild" && cfg.N > *rebuild {
			continue
		}
		log.Printf("edgesearch: %s", ph)
		res, err := child(os.Args[0], append(os.Args[1:], "-phase", ph), nil)
		if err != nil {
			log.Fatal(err)
		}
		ours[ph] = res
	}
	report["edgesearch"] = ours
	rows = append(rows, ourRow("edgesearch", ours))
	if *scanRow && cfg.PayloadIndex {
		log.Printf("edgesearch: serve without payload indexes")
		res, err := child(os.Args[0], append(os.Args[1:], "-phase", "serve", "-payload-index=false"), nil)
		if err != nil {
			log.Fatal(err)
		}
		report["edgesearch_scan"] = res
		rows = append(rows, ourRow("edgesearch, no payload index", map[string]any{"upsert": ours["upsert"], "serve": res}))
	}
	if *memLimit != "" {
		log.Printf("edgesearch: serve with GOMEMLIMIT=%s", *memLimit)
		res, err := child(os.Args[0], append(os.Args[1:], "-phase", "serve"), []string{"GOMEMLIMIT=" + *memLimit})
		if err != nil {
			log.Fatal(err)
		}
		limited := map[string]any{"upsert": ours["upsert"], "serve": res}
		report["edgesearch_memlimit"] = res
		rows = append(rows, ourRow("edgesearch, GOMEMLIMIT="+*memLimit, limited))
	}
	if *peers {
		for _, p := range []string{"hnswlib", "faiss"} {
			log.Printf("peer: %s", p)
			script := filepath.Join("bench", "peers", "vectors_"+p+".py")
			args := []string{script, "--vectors", files.vectors, "--queries", files.queries, "--truth", files.truth,
				"--threads", strconv.Itoa(cfg.Threads), "--clients", strconv.Itoa(cfg.Clients),
				"--m", strconv.Itoa(cfg.M), "--ef-construction", strconv.Itoa(cfg.EfConstruction), "--ef", strconv.Itoa(cfg.EfSearch)}
			res, err := child(*python, args, nil)
			if err != nil {
				log.Fatal(err)
			}
			report[p] = res
			rows = append(rows, peerRow(p, res))
		}
	}
	table := markdown(cfg, rows)
	report["table"] = table
	if *md == "" {
		*md = filepath.Join(cfg.Dir, fmt.Sprintf("n%d.md", cfg.N))
	}
	if err := os.WriteFile(*md, []byte(table), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Fprint(os.Stderr, table)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(report)
}

// child runs a command whose stdout is one JSON object, passing its stderr
// through; env is added to this process's environment.
func child(name string, args, env []string) (map[string]any, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("%s: output %q: %w", name, out.String(), err)
	}
	return m, nil
}

func machine() map[string]any {
	m := map[string]any{"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": runtime.NumCPU(), "go": runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg"] = strings.Fields(string(b))[0]
	}
	return m
}

func runPhase(phase string, cfg config, files dataFiles) (map[string]any, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The collector as edgesearch serve tunes it (off with GOGC or
	// GOMEMLIMIT in the environment, as there).
	go search.HeapGovernor(ctx, time.Second, nil)
	dbDir := filepath.Join(cfg.Dir, fmt.Sprintf("store-n%d", cfg.N))
	params := search.Params{M: cfg.M, EfConstruction: cfg.EfConstruction, EfSearch: cfg.EfSearch, Seed: 1}
	switch phase {
	case "upsert":
		return upsert(ctx, cfg, files, dbDir, params)
	case "serve":
		return serve(ctx, cfg, files, dbDir, params)
	case "rebuild":
		if err := os.Remove(filepath.Join(dbDir, search.CollectionsDir, collection+".graph")); err != nil {
			return nil, err
		}
		st, err := store.Open(filepath.Join(dbDir, "edgesearch.db"), store.Options{})
		if err != nil {
			return nil, err
		}
		defer st.Close()
		t := time.Now()
		c, err := search.OpenCollections(ctx, st, search.CollectionsOptions{Dir: dbDir, Params: params})
		if err != nil {
			return nil, err
		}
		took := time.Since(t)
		c.Close()
		return map[string]any{"rebuild_s": took.Seconds(), "rebuild_points_per_s": float64(cfg.N) / took.Seconds(), "mem": memory()}, nil
	}
	return nil, fmt.Errorf("unknown phase %q", phase)
}

// upsert stores every point in a new store, batch by batch, and closes
// (which saves the index).
func upsert(ctx context.Context, cfg config, files dataFiles, dbDir string, params search.Params) (map[string]any, error) {
	if err := os.RemoveAll(dbDir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dbDir, 0o755); err != nil {
		return nil, err
	}
	// The store's document model is unused by collections; it is named as
	// the server would name it.
	st, err := store.Open(filepath.Join(dbDir, "edgesearch.db"), store.Options{Model: "all-MiniLM-L6-v2-f16", Dims: cfg.Dims})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	c, err := search.OpenCollections(ctx, st, search.CollectionsOptions{Dir: dbDir, Params: params})
	if err != nil {
		return nil, err
	}
	if _, err := c.Create(ctx, collection, map[string]store.VectorParams{"": {Size: cfg.Dims, Distance: store.Cosine}}); err != nil {
		return nil, err
	}
	vf, err := openNpy(files.vectors)
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	if vf.rows != cfg.N || vf.dims != cfg.Dims {
		return nil, fmt.Errorf("%s holds %d × %d, want %d × %d", files.vectors, vf.rows, vf.dims, cfg.N, cfg.Dims)
	}
	start := time.Now()
	report := start
	for lo := 0; lo < cfg.N; lo += cfg.Batch {
		pts := make([]store.Point, 0, cfg.Batch)
		for i := lo; i < min(lo+cfg.Batch, cfg.N); i++ {
			v := make([]float32, cfg.Dims)
			if err := vf.next(v); err != nil {
				return nil, fmt.Errorf("%s row %d: %w", files.vectors, i, err)
			}
			pts = append(pts, store.Point{ID: store.NumPointID(uint64(i)), Vectors: map[string][]float32{"": v}, Payload: payload(i)})
		}
		if err := c.Upsert(ctx, collection, pts); err != nil {
			return nil, err
		}
		if time.Since(report) > 30*time.Second {
			report = time.Now()
			done := lo + len(pts)
			log.Printf("  %d/%d points, %.0f points/s", done, cfg.N, float64(done)/time.Since(start).Seconds())
		}
	}
	took := time.Since(start)
	t := time.Now()
	if err := c.Close(); err != nil {
		return nil, err
	}
	save := time.Since(t)
	fi, _ := os.Stat(filepath.Join(dbDir, search.CollectionsDir, collection+".graph"))
	db, _ := os.Stat(filepath.Join(dbDir, "edgesearch.db"))
	out := map[string]any{
		"upsert_s": took.Seconds(), "points_per_s": float64(cfg.N) / took.Seconds(), "batch": cfg.Batch,
		"save_s": save.Seconds(), "mem": memory(),
	}
	if fi != nil {
		out["index_file_bytes"] = fi.Size()
	}
	if db != nil {
		out["store_file_bytes"] = db.Size()
	}
	return out, nil
}

// serve opens the store and its saved index as a server would, then
// measures queries and memory.
func serve(ctx context.Context, cfg config, files dataFiles, dbDir string, params search.Params) (map[string]any, error) {
	qs, err := readAll(files.queries)
	if err != nil {
		return nil, err
	}
	tr, err := readTruth(files.truth)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(filepath.Join(dbDir, "edgesearch.db"), store.Options{})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var progress bytes.Buffer
	t := time.Now()
	c, err := search.OpenCollections(ctx, st, search.CollectionsOptions{Dir: dbDir, Params: params, Progress: &progress})
	if err != nil {
		return nil, err
	}
	open := time.Since(t)
	loaded := !strings.Contains(progress.String(), "rebuilding")
	t = time.Now()
	for _, f := range []struct{ key, schema string }{{"group", "integer"}, {"tag", "keyword"}} {
		if cfg.PayloadIndex {
			err = c.CreatePayloadIndex(ctx, collection, f.key, f.schema)
		} else {
			err = c.DeletePayloadIndex(ctx, collection, f.key)
		}
		if err != nil {
			return nil, err
		}
	}
	indexed := time.Since(t)
	runtime.GC()
	out := map[string]any{"open_s": open.Seconds(), "index_loaded": loaded, "payload_index": cfg.PayloadIndex,
		"payload_index_s": indexed.Seconds(), "mem_after_open": memory()}

	filters := make([]*search.Filter, len(filterNames))
	filterFor := func(fi, q int) *search.Filter {
		switch fi {
		case 1:
			return filters[1]
		case 2:
			return groupFilters[q%groups]
		}
		return nil
	}
	filters[1] = mustFilter(`{"must":[{"key":"tag","match":{"value":"t0"}}]}`)
	for g := range groupFilters {
		groupFilters[g] = mustFilter(fmt.Sprintf(`{"must":[{"key":"group","match":{"value":%d}}]}`, g))
	}
	query := func(fi, q int) ([]uint64, error) {
		res, err := c.Query(ctx, collection, search.PointQuery{Vector: qs[q], Limit: k, Filter: filterFor(fi, q)})
		if err != nil {
			return nil, err
		}
		ids := make([]uint64, len(res))
		for i, p := range res {
			ids[i], _ = p.ID.Num()
		}
		return ids, nil
	}
	// Warm-up: one pass unfiltered, as a server that has answered a few
	// queries.
	for q := range qs {
		if _, err := query(0, q); err != nil {
			return nil, err
		}
	}
	per := map[string]any{}
	for fi, name := range filterNames {
		got := make([][]uint64, len(qs))
		lat := make([]float64, len(qs))
		for q := range qs {
			s := time.Now()
			ids, err := query(fi, q)
			lat[q] = time.Since(s).Seconds() * 1000
			if err != nil {
				return nil, err
			}
			got[q] = ids
		}
		// Concurrent clients, each through all the queries in its own
		// order.
		var wg sync.WaitGroup
		clat := make([][]float64, cfg.Clients)
		var cerr error
		var mu sync.Mutex
		s := time.Now()
		for cl := range cfg.Clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range qs {
					q := (j + cl*len(qs)/cfg.Clients) % len(qs)
					s := time.Now()
					if _, err := query(fi, q); err != nil {
						mu.Lock()
						cerr = err
						mu.Unlock()
						return
					}
					clat[cl] = append(clat[cl], time.Since(s).Seconds()*1000)
				}
			}()
		}
		wg.Wait()
		wall := time.Since(s)
		if cerr != nil {
			return nil, cerr
		}
		all := slices.Concat(clat...)
		per[name] = map[string]any{
			"recall_at_10": recall(tr.IDs[fi], got),
			"p50_ms":       pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "mean_ms": mean(lat),
			"clients":        cfg.Clients,
			"clients_p50_ms": pct(all, 0.5), "clients_p99_ms": pct(all, 0.99),
			"clients_qps": float64(len(all)) / wall.Seconds(),
		}
		log.Printf("  %s: recall@10 %.4f, p50 %.3f ms, p99 %.3f ms", name, per[name].(map[string]any)["recall_at_10"], pct(lat, 0.5), pct(lat, 0.99))
	}
	out["search"] = per
	runtime.GC()
	out["mem"] = memory()
	runtime.KeepAlive(c)
	return out, nil
}

var groupFilters = make([]*search.Filter, groups)

func mustFilter(s string) *search.Filter {
	var f search.Filter
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		log.Fatalf("filter %s: %v", s, err)
	}
	return &f
}

func pct(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s)-1)+0.5))]
}

func mean(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(max(len(v), 1))
}

// memory reads the process's resident memory from /proc/self/status, in
// MiB: VmRSS (now), VmHWM (the peak), RssAnon (heap and stacks) and
// RssFile (mapped files: the store's pages read), and the Go heap.
func memory() map[string]float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out := map[string]float64{"go_heap_inuse_mib": float64(ms.HeapInuse) / (1 << 20), "go_sys_mib": float64(ms.Sys) / (1 << 20)}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		key, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch key {
		case "VmRSS", "VmHWM", "RssAnon", "RssFile":
			f := strings.Fields(v)
			if len(f) == 2 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				out[key+"_mib"] = kb / 1024
			}
		}
	}
	return out
}
