package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
)

// Chart is one horizontal bar chart: groups of bars (a model's weights, say)
// with one bar per engine, every bar's length proportional to its value on
// one scale from zero.
type Chart struct {
	Title  string // e.g. "Embedding throughput, tokens/s"
	Better string // "higher is better" or "lower is better", shown with the title
	Unit   string // after each value: "tokens/s", "ms", "MB"
	Groups []Group
}

// Group is a row of bars under a label.
type Group struct {
	Label string
	Bars  []Bar
}

// Bar is one engine's value; a missing measurement is no Bar at all.
type Bar struct {
	Engine string
	Value  float64
}

// Layout, in SVG user units (pixels at 100%).
const (
	chartWidth = 720
	labelWidth = 190 // engine names, right-aligned before the bars
	valueRoom  = 130 // room after the longest bar for its value
	barHeight  = 18
	barGap     = 6
	groupGap   = 16
	titleRoom  = 44
	groupRoom  = 22 // the group's label above its bars
)

// barSpan is the length of a bar of the chart's largest value.
const barSpan = chartWidth - labelWidth - valueRoom

// engineColors gives each engine the same colour in every chart; an engine
// not listed is grey.
var engineColors = map[string]string{
	"edgesearch":            "#2f6fb5",
	"llama.cpp":             "#d08a2c",
	"sentence-transformers": "#6a9f58",
	"ONNX Runtime":          "#8e6bbf",
	"hnswlib":               "#9a5aa8",
	"faiss":                 "#b55252",
}

// Write renders c as a standalone SVG document. It fails when c has no
// bar, or a value is negative, infinite or NaN, since no bar could show it.
func (c Chart) Write(w io.Writer) error {
	max, bars := 0.0, 0
	for _, g := range c.Groups {
		for _, b := range g.Bars {
			if b.Value < 0 || math.IsInf(b.Value, 0) || math.IsNaN(b.Value) {
				return fmt.Errorf("chart %q: %s %s is %v: a bar needs a finite value of zero or more", c.Title, g.Label, b.Engine, b.Value)
			}
			max = math.Max(max, b.Value)
			bars++
		}
	}
	if bars == 0 {
		return fmt.Errorf("chart %q: no values", c.Title)
	}
	height := titleRoom
	for _, g := range c.Groups {
		height += groupRoom + len(g.Bars)*(barHeight+barGap) + groupGap
	}
	p := &svgWriter{w: w}
	p.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">`+"\n",
		chartWidth, height, chartWidth, height, esc(c.Title+" ("+c.Better+")"))
	p.printf(`<title>%s</title>`+"\n", esc(c.Title+" ("+c.Better+")"))
	p.printf(`<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", chartWidth, height)
	p.printf(`<text x="12" y="24" font-size="16" font-weight="600" fill="#1d1d1f">%s <tspan font-size="13" font-weight="400" fill="#555555">(%s)</tspan></text>`+"\n",
		esc(c.Title), esc(c.Better))
	y := titleRoom
	for _, g := range c.Groups {
		p.printf(`<text x="12" y="%d" font-weight="600" fill="#1d1d1f">%s</text>`+"\n", y+14, esc(g.Label))
		y += groupRoom
		for _, b := range g.Bars {
			length := 0.0
			if max > 0 {
				length = b.Value / max * barSpan
			}
			color, ok := engineColors[b.Engine]
			if !ok {
				color = "#888888"
			}
			p.printf(`<text x="%d" y="%d" text-anchor="end" fill="#1d1d1f">%s</text>`+"\n", labelWidth-8, y+barHeight-5, esc(b.Engine))
			p.printf(`<rect class="bar" x="%d" y="%d" width="%s" height="%d" fill="%s" data-engine="%s" data-value="%s"><title>%s: %s %s</title></rect>`+"\n",
				labelWidth, y, num(length), barHeight, color, esc(b.Engine), num(b.Value), esc(b.Engine), human(b.Value), esc(c.Unit))
			p.printf(`<text x="%s" y="%d" fill="#1d1d1f">%s %s</text>`+"\n", num(float64(labelWidth)+length+6), y+barHeight-5, human(b.Value), esc(c.Unit))
			y += barHeight + barGap
		}
		y += groupGap
	}
	p.printf("</svg>\n")
	return p.err
}

// svgWriter keeps the first write error, so Write checks once.
type svgWriter struct {
	w   io.Writer
	err error
}

func (p *svgWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func esc(s string) string { return html.EscapeString(s) }

// num is a coordinate or a raw value: at most two decimals, no exponent.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// human is a value for a reader: thousands separated, one decimal below
// 100, none above.
func human(v float64) string {
	digits := 0
	if v < 100 {
		digits = 1
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	intPart, frac := s, ""
	for i := range s {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i:]
			break
		}
	}
	var out []byte
	for i := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, intPart[i])
	}
	return string(out) + frac
}
