// Command matchcalib measures the cosine similarities that search.MatchOf's
// thresholds rest on: a SciFact test query against its relevant abstract,
// against the best of unrelated abstracts, and off-topic queries against
// all of them, with the real model.
//
//	go run ./bench/matchcalib -model ~/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf
package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgesearch/edgesearch/embedder"
)

func main() {
	model := flag.String("model", "", "GGUF model file (required)")
	data := flag.String("scifact", "../shared/eval/scifact", "directory with qrels_test.tsv, queries_test.jsonl and corpus.jsonl.gz")
	n := flag.Int("queries", 120, "test queries to use")
	flag.Parse()
	if *model == "" {
		fmt.Fprintln(os.Stderr, "matchcalib: -model is required")
		os.Exit(2)
	}
	if err := run(*model, *data, *n); err != nil {
		fmt.Fprintln(os.Stderr, "matchcalib:", err)
		os.Exit(1)
	}
}

func run(model, dir string, nq int) error {
	qrels, order, err := readQrels(filepath.Join(dir, "qrels_test.tsv"))
	if err != nil {
		return err
	}
	queries, err := readJSONL(filepath.Join(dir, "queries_test.jsonl"), false)
	if err != nil {
		return err
	}
	corpus, err := readJSONL(filepath.Join(dir, "corpus.jsonl.gz"), true)
	if err != nil {
		return err
	}
	order = order[:min(nq, len(order))]
	relevant := map[string]bool{}
	var qt, rt []string
	for _, q := range order {
		qt = append(qt, queries[q])
		rt = append(rt, corpus[qrels[q]])
		relevant[qrels[q]] = true
	}
	// 200 abstracts relevant to none of the chosen queries, in id order.
	ids := make([]string, 0, len(corpus))
	for id := range corpus {
		if !relevant[id] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var ot []string
	for _, id := range ids[:min(200, len(ids))] {
		ot = append(ot, corpus[id])
	}
	offTopic := []string{"purple elephant trampoline", "asdf qwerty zxcv", "how to bake a chocolate cake", "best football team 2024",
		"cheap flights to paris", "lyrics of a love song", "my cat sleeps on the keyboard", "car engine makes a noise",
		"weather tomorrow in london", "how to tie a tie", "funny jokes about dogs", "install windows on a laptop"}

	ctx := context.Background()
	p, err := embedder.New(ctx, embedder.Options{ModelPath: model, Workers: 2})
	if err != nil {
		return err
	}
	defer p.Close()
	embed := func(texts []string) ([][]float32, error) {
		e, err := p.EmbedBulk(ctx, texts)
		if err != nil {
			return nil, err
		}
		out := make([][]float32, len(e))
		for i := range e {
			out[i] = e[i].Vector
		}
		return out, nil
	}
	qv, err := embed(qt)
	if err != nil {
		return err
	}
	rv, err := embed(rt)
	if err != nil {
		return err
	}
	ov, err := embed(ot)
	if err != nil {
		return err
	}
	nv, err := embed(offTopic)
	if err != nil {
		return err
	}
	best := func(v []float32, docs ...[][]float32) float64 {
		b := -1.0
		for _, set := range docs {
			for _, d := range set {
				b = max(b, cos(v, d))
			}
		}
		return b
	}
	var rel, unrel, off []float64
	for i := range qv {
		rel = append(rel, cos(qv[i], rv[i]))
		unrel = append(unrel, best(qv[i], ov))
	}
	for i := range nv {
		off = append(off, best(nv[i], rv, ov))
	}
	fmt.Printf("| cosine similarity | n | p5 | p25 | p50 | p75 | p95 | max |\n|---|---|---|---|---|---|---|---|\n")
	row("a query and its relevant abstract", rel)
	row("a query and the best of 200 unrelated abstracts", unrel)
	row(fmt.Sprintf("an off-topic query and the best of all %d abstracts", len(rv)+len(ov)), off)
	return nil
}

func row(name string, x []float64) {
	slices.Sort(x)
	n := len(x)
	fmt.Printf("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", name, n, x[n*5/100], x[n/4], x[n/2], x[n*3/4], x[n*95/100], x[n-1])
}

func cos(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / (math.Sqrt(aa) * math.Sqrt(bb))
}

// readQrels returns each query's first relevant document, and the queries
// in file order.
func readQrels(path string) (map[string]string, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	out := map[string]string{}
	var order []string
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		p := strings.Split(sc.Text(), "\t")
		if line == 0 || len(p) < 2 {
			continue
		}
		if _, ok := out[p[0]]; !ok {
			out[p[0]] = p[1]
			order = append(order, p[0])
		}
	}
	return out, order, sc.Err()
}

// readJSONL reads {_id, title?, text} lines into id → "title. text".
func readJSONL(path string, gz bool) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	sc := bufio.NewScanner(r)
	if gz {
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		sc = bufio.NewScanner(z)
	}
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	out := map[string]string{}
	for sc.Scan() {
		var d struct {
			ID    string `json:"_id"`
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if d.Title != "" {
			d.Text = d.Title + ". " + d.Text
		}
		out[d.ID] = d.Text
	}
	return out, sc.Err()
}
