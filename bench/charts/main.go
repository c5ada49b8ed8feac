// Command charts draws make bench's comparisons with the peers as SVG bar
// charts: embedding throughput, one query's latency, process start to first
// vector and peak memory, edgesearch beside llama.cpp and
// sentence-transformers, for the f16 and the q8_0 model; and, when
// bench/vectorbench's 1M-point report is there, vector search latency and
// memory beside hnswlib and faiss.
//
//	go run ./bench/charts -in bench/out -out bench
//
// It reads the JSON the embedding benchmarks write in bench/out
// (bench/embedbench for edgesearch, bench/peers for the others; the last
// line of each file, as bench/report.py reads them) and writes
// bench/chart-*.svg. A file that is missing leaves its bars out; a chart
// with no bar at all is an error, so a broken run does not draw empty
// charts.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// run is one engine's embedding benchmark, as bench/embedbench and
// bench/peers write it.
type run struct {
	TokensPerSec   float64 `json:"throughput_tokens_per_s"`
	QueryP50Ms     float64 `json:"query_ms_p50"`
	StartToFirstMs float64 `json:"start_to_first_vector_ms"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
}

// inputs names the benchmark files of each model's weights and engine.
var inputs = []struct {
	group  string
	engine string
	file   string
}{
	{"f16 model", "edgesearch", "edgesearch.json"},
	{"f16 model", "llama.cpp", "llamacpp.json"},
	{"f16 model", "sentence-transformers", "sentence_transformers.json"},
	{"f16 model", "ONNX Runtime", "onnxruntime.json"},
	{"q8_0 model", "edgesearch", "edgesearch-q8_0.json"},
	{"q8_0 model", "llama.cpp", "llamacpp-q8_0.json"},
}

func main() {
	in := flag.String("in", "bench/out", "folder of the benchmarks' JSON outputs")
	out := flag.String("out", "bench", "folder the SVG files are written to")
	flag.Parse()
	runs, err := readRuns(*in)
	var vc map[string]Chart
	if err == nil {
		vc, err = vectorCharts(filepath.Join(*in, vectorReport))
	}
	switch {
	case err != nil:
	case len(runs) == 0 && vc == nil:
		err = fmt.Errorf("no benchmark outputs in %s", *in)
	case len(runs) > 0:
		// Embedding runs present: every chart must have a bar.
		err = writeCharts(*out, charts(runs))
	}
	if err == nil {
		err = writeCharts(*out, vc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
}

// key names one engine's run with one model's weights.
type key struct{ group, engine string }

// readRuns reads every input file present in dir.
func readRuns(dir string) (map[key]run, error) {
	runs := make(map[key]run)
	for _, in := range inputs {
		b, err := os.ReadFile(filepath.Join(dir, in.file))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var r run
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
			return nil, fmt.Errorf("%s: last line: %w", filepath.Join(dir, in.file), err)
		}
		runs[key{in.group, in.engine}] = r
	}
	return runs, nil
}

// charts lays the runs out as the four comparisons, file name to chart.
func charts(runs map[key]run) map[string]Chart {
	measures := []struct {
		file, title, better, unit string
		value                     func(run) float64
	}{
		{"chart-throughput.svg", "Embedding throughput", "higher is better", "tokens/s", func(r run) float64 { return r.TokensPerSec }},
		{"chart-query-latency.svg", "One short query, p50", "lower is better", "ms", func(r run) float64 { return r.QueryP50Ms }},
		{"chart-start.svg", "Process start to first vector", "lower is better", "ms", func(r run) float64 { return r.StartToFirstMs }},
		{"chart-memory.svg", "Peak RSS while embedding 1,000 sentences", "lower is better", "MB", func(r run) float64 { return r.PeakRSSMB }},
	}
	out := make(map[string]Chart)
	for _, m := range measures {
		c := Chart{Title: m.title, Better: m.better, Unit: m.unit}
		for _, in := range inputs {
			r, ok := runs[key{in.group, in.engine}]
			if !ok || m.value(r) == 0 { // 0: not measured (omitempty)
				continue
			}
			if len(c.Groups) == 0 || c.Groups[len(c.Groups)-1].Label != in.group {
				c.Groups = append(c.Groups, Group{Label: in.group})
			}
			g := &c.Groups[len(c.Groups)-1]
			g.Bars = append(g.Bars, Bar{Engine: in.engine, Value: m.value(r)})
		}
		out[m.file] = c
	}
	return out
}

// writeCharts renders every chart into dir, each file replaced whole.
func writeCharts(dir string, cs map[string]Chart) error {
	for name, c := range cs {
		var b bytes.Buffer
		if err := c.Write(&b); err != nil {
			return err
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", path)
	}
	return nil
}

// vectorReport is bench/vectorbench's JSON report at 1M points, as
// bench/run.sh names it.
const vectorReport = "vectors-1000000.json"

// vectorRun is one engine's part of that report.
type vectorRun struct {
	Search map[string]struct {
		P50Ms float64 `json:"p50_ms"`
	} `json:"search"`
	Mem map[string]float64 `json:"mem"`
}

// vectorCharts reads the 1M-point vector report at path (none there: no
// charts) and lays out search p50 by filter and the serving process's
// anonymous memory (heap and stacks: the peers' RSS also holds the mapped
// vector file), edgesearch beside hnswlib and faiss.
func vectorCharts(path string) (map[string]Chart, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rep struct {
		Edgesearch struct {
			Serve vectorRun `json:"serve"`
		} `json:"edgesearch"`
		Scan    *vectorRun `json:"edgesearch_scan"`
		Hnswlib *vectorRun `json:"hnswlib"`
		Faiss   *vectorRun `json:"faiss"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	engines := []struct {
		name string
		r    *vectorRun
	}{
		{"edgesearch", &rep.Edgesearch.Serve},
		{"edgesearch, no index", rep.Scan},
		{"hnswlib", rep.Hnswlib},
		{"faiss", rep.Faiss},
	}
	p50 := Chart{Title: "Vector search at 1M points, p50", Better: "lower is better", Unit: "ms"}
	for _, f := range []struct{ key, label string }{{"none", "no filter"}, {"50%", "filter matching 50%"}, {"1%", "filter matching 1%"}} {
		g := Group{Label: f.label}
		for _, e := range engines {
			if e.r != nil && e.r.Search[f.key].P50Ms > 0 {
				g.Bars = append(g.Bars, Bar{Engine: e.name, Value: e.r.Search[f.key].P50Ms})
			}
		}
		if len(g.Bars) > 0 {
			p50.Groups = append(p50.Groups, g)
		}
	}
	mem := Chart{Title: "Serving 1M 384-d points, anonymous RSS", Better: "lower is better", Unit: "MiB"}
	g := Group{Label: "after 1,500 searches"}
	for _, e := range engines {
		if e.r != nil && e.r.Mem["RssAnon_mib"] > 0 && e.r != rep.Scan {
			g.Bars = append(g.Bars, Bar{Engine: e.name, Value: e.r.Mem["RssAnon_mib"]})
		}
	}
	mem.Groups = append(mem.Groups, g)
	if len(p50.Groups) == 0 || len(g.Bars) == 0 {
		return nil, fmt.Errorf("%s: no search or memory measurements", path)
	}
	return map[string]Chart{"chart-vectors-p50.svg": p50, "chart-vectors-memory.svg": mem}, nil
}
