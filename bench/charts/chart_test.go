package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// drawnBar is a bar as the SVG has it.
type drawnBar struct {
	engine        string
	value, length float64
	x, y          float64
}

// parseSVG decodes doc as XML, fails the test unless it is one <svg> root
// with a width, height and viewBox, and returns its bars in document order.
func parseSVG(t *testing.T, doc []byte) (width, height float64, bars []drawnBar) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	depth := 0
	attr := func(el xml.StartElement, name string) string {
		for _, a := range el.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	number := func(el xml.StartElement, name string) float64 {
		v, err := strconv.ParseFloat(attr(el, name), 64)
		if err != nil {
			t.Fatalf("<%s %s=%q>: %v", el.Name.Local, name, attr(el, name), err)
		}
		return v
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v, want svg in the SVG namespace", el.Name)
				}
				width, height = number(el, "width"), number(el, "height")
				if vb := attr(el, "viewBox"); vb != "0 0 "+attr(el, "width")+" "+attr(el, "height") {
					t.Errorf("viewBox %q does not match the size", vb)
				}
			}
			if el.Name.Local == "rect" && attr(el, "class") == "bar" {
				bars = append(bars, drawnBar{attr(el, "data-engine"), number(el, "data-value"), number(el, "width"), number(el, "x"), number(el, "y")})
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements (depth %d at the end)", depth)
	}
	return width, height, bars
}

// checkProportional fails unless every bar's length is its value times one
// scale, the largest spans barSpan, and every bar lies inside the picture.
func checkProportional(t *testing.T, name string, width, height float64, bars []drawnBar) {
	t.Helper()
	max := 0.0
	for _, b := range bars {
		max = math.Max(max, b.value)
	}
	for _, b := range bars {
		want := b.value / max * barSpan
		if math.Abs(b.length-want) > 0.01 {
			t.Errorf("%s: %s bar of %v is %v long, want %v (proportional, the largest %d)", name, b.engine, b.value, b.length, want, barSpan)
		}
		if b.x < 0 || b.x+b.length > width-valueRoom+0.01 || b.y < 0 || b.y+barHeight > height {
			t.Errorf("%s: %s bar at (%v, %v), %v long, leaves the %vx%v picture or its values' room", name, b.engine, b.x, b.y, b.length, width, height)
		}
	}
}

func TestChartBarsAreProportionalToTheirValues(t *testing.T) {
	c := Chart{Title: "Throughput <&> \"quoted\"", Better: "higher is better", Unit: "tokens/s", Groups: []Group{
		{Label: "f16 model", Bars: []Bar{{"edgesearch", 1606.8}, {"llama.cpp", 1617}, {"sentence-transformers", 4258.9}}},
		{Label: "q8_0 model", Bars: []Bar{{"edgesearch", 2842.3}, {"a new engine", 0}}},
	}}
	var b bytes.Buffer
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	w, h, bars := parseSVG(t, b.Bytes())
	if len(bars) != 5 {
		t.Fatalf("%d bars drawn, want 5", len(bars))
	}
	checkProportional(t, "chart", w, h, bars)
	if bars[2].length != barSpan || bars[4].length != 0 {
		t.Errorf("largest bar %v long, zero bar %v; want %d and 0", bars[2].length, bars[4].length, barSpan)
	}
	for i := 1; i < len(bars); i++ {
		if bars[i].y <= bars[i-1].y {
			t.Errorf("bar %d at y %v is not below bar %d at %v", i, bars[i].y, i-1, bars[i-1].y)
		}
	}
	for _, want := range []string{"4,259 tokens/s", "1,607 tokens/s", "0.0 tokens/s", "Throughput &lt;&amp;&gt; &#34;quoted&#34;"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
}

func TestChartRefusesWhatNoBarCanShow(t *testing.T) {
	for name, c := range map[string]Chart{
		"no groups":   {Title: "t"},
		"no bars":     {Title: "t", Groups: []Group{{Label: "g"}}},
		"negative":    {Title: "t", Groups: []Group{{Label: "g", Bars: []Bar{{"e", -1}}}}},
		"not a value": {Title: "t", Groups: []Group{{Label: "g", Bars: []Bar{{"e", math.NaN()}}}}},
		"infinite":    {Title: "t", Groups: []Group{{Label: "g", Bars: []Bar{{"e", math.Inf(1)}}}}},
	} {
		if err := c.Write(io.Discard); err == nil {
			t.Errorf("%s: Write succeeded", name)
		}
	}
}

// TestChartsFromTheBenchmarkOutputs runs the program's path on the numbers
// transcribed from bench/RESULTS.md: every chart is written, valid, with a
// bar for each engine that ran (sentence-transformers has no q8_0 run), in
// proportion, and a missing output file only leaves its bars out.
func TestChartsFromTheBenchmarkOutputs(t *testing.T) {
	runs, err := readRuns("results-2026-11-25")
	if err != nil {
		t.Fatal(err)
	}
	// That run had no ONNX Runtime peer (added later): its file is missing.
	if len(runs) != len(inputs)-1 {
		t.Fatalf("read %d runs, want %d", len(runs), len(inputs)-1)
	}
	out := t.TempDir()
	if err := writeCharts(out, charts(runs)); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "chart-*.svg"))
	if len(files) != 4 {
		t.Fatalf("wrote %v, want 4 charts", files)
	}
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		w, h, bars := parseSVG(t, doc)
		if len(bars) != 5 {
			t.Errorf("%s: %d bars, want 5", filepath.Base(f), len(bars))
		}
		checkProportional(t, filepath.Base(f), w, h, bars)
	}
	tp := charts(runs)["chart-throughput.svg"]
	if got := tp.Groups[0].Bars[0]; got != (Bar{"edgesearch", 1606.8}) {
		t.Errorf("first throughput bar %+v, want edgesearch's 1606.8 tokens/s", got)
	}

	delete(runs, key{"q8_0 model", "llama.cpp"})
	if c := charts(runs)["chart-memory.svg"]; len(c.Groups) != 2 || len(c.Groups[1].Bars) != 1 {
		t.Errorf("without llama.cpp's q8_0 run: %+v", c.Groups)
	}
	if err := writeCharts(t.TempDir(), charts(map[key]run{})); err == nil {
		t.Error("charts of no runs were written")
	}
}

// TestVectorChartsFromTheReport draws the vector charts from the committed
// 1M-point report: three filter groups of four engines, three memory bars
// (the unindexed run is the same process's memory), values as reported;
// no report, no charts.
func TestVectorChartsFromTheReport(t *testing.T) {
	cs, err := vectorCharts("results-2026-11-29/" + vectorReport)
	if err != nil {
		t.Fatal(err)
	}
	p50, mem := cs["chart-vectors-p50.svg"], cs["chart-vectors-memory.svg"]
	if len(p50.Groups) != 3 || len(mem.Groups) != 1 || len(mem.Groups[0].Bars) != 3 {
		t.Fatalf("p50 groups %d, memory %+v", len(p50.Groups), mem.Groups)
	}
	for _, g := range p50.Groups {
		if len(g.Bars) != 4 || g.Bars[0].Engine != "edgesearch" || g.Bars[2].Engine != "hnswlib" {
			t.Errorf("group %q: %+v", g.Label, g.Bars)
		}
	}
	if v := p50.Groups[2].Bars[2].Value; v < 41 || v > 42 {
		t.Errorf("hnswlib at 1%%: %v ms, want the report's 41.8", v)
	}
	none, err := vectorCharts("no-such-dir/" + vectorReport)
	if err != nil || none != nil {
		t.Errorf("no report: %v, %v", none, err)
	}
}
