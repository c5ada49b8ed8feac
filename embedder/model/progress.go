package model

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress reports download progress: a redrawn bar on a terminal, a log
// line every few seconds elsewhere (so CI logs stay short).
type progress struct {
	w        io.Writer
	name     string
	total    int64 // -1 when unknown
	n        int64
	start    time.Time
	last     time.Time
	terminal bool
}

func newProgress(w io.Writer, name string, total int64) *progress {
	p := &progress{w: w, name: name, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) Write(b []byte) (int, error) {
	p.n += int64(len(b))
	interval := 5 * time.Second
	if p.terminal {
		interval = 200 * time.Millisecond
	}
	if now := time.Now(); now.Sub(p.last) >= interval {
		p.last = now
		p.print()
	}
	return len(b), nil
}

func (p *progress) print() {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.n) / el / 1e6
	}
	pct := ""
	bar := ""
	if p.total > 0 {
		f := float64(p.n) / float64(p.total)
		pct = fmt.Sprintf(" %5.1f%%", 100*f)
		const width = 30
		k := int(f * width)
		bar = " [" + repeat('#', k) + repeat('.', width-k) + "]"
	}
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s%s%s %.1f MB %.1f MB/s ", p.name, bar, pct, float64(p.n)/1e6, rate)
	} else {
		fmt.Fprintf(p.w, "downloading %s:%s %.1f MB at %.1f MB/s\n", p.name, pct, float64(p.n)/1e6, rate)
	}
}

func (p *progress) done() {
	p.print()
	if p.terminal {
		fmt.Fprintln(p.w)
	}
}

func repeat(c byte, n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
