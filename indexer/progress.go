package indexer

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress output: a bar redrawn this often on a terminal, a log line this
// often elsewhere (a log file or CI does not want a line per redraw).
const (
	barEvery = 200 * time.Millisecond
	logEvery = 5 * time.Second
)

// progress reports the advance of an import (files) or a reindex
// (documents) from its own goroutine; the counts are guarded by mu because
// the writer updates them.
type progress struct {
	out        io.Writer
	tty        bool
	verb, noun string // "import", "files"
	total      int
	start      time.Time

	mu     sync.Mutex
	files  int // of the noun's things
	chunks int

	quit chan struct{}
	done chan struct{}
}

// newProgress starts reporting an import of total files to out; a nil out
// gives a progress that only counts.
func newProgress(out io.Writer, total int) *progress {
	return newCountProgress(out, "import", "files", total)
}

// newCountProgress is newProgress for total things of another noun.
func newCountProgress(out io.Writer, verb, noun string, total int) *progress {
	p := &progress{out: out, verb: verb, noun: noun, total: total, start: time.Now(),
		quit: make(chan struct{}), done: make(chan struct{})}
	if out == nil {
		close(p.done)
		return p
	}
	p.tty = isTerminal(out)
	every := logEvery
	if p.tty {
		every = barEvery
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.print(false)
			case <-p.quit:
				p.print(true)
				return
			}
		}
	}()
	return p
}

func (p *progress) filesDone(files, chunks int) {
	p.mu.Lock()
	p.files += files
	p.chunks += chunks
	p.mu.Unlock()
}

// stop draws the final state and ends the goroutine.
func (p *progress) stop() {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	<-p.done
}

func (p *progress) print(final bool) {
	p.mu.Lock()
	files, chunks := p.files, p.chunks
	p.mu.Unlock()
	el := time.Since(p.start)
	rate := float64(chunks) / max(el.Seconds(), 1e-9)
	eta := "?"
	if files > 0 && files < p.total {
		eta = (time.Duration(float64(el) / float64(files) * float64(p.total-files))).Round(time.Second).String()
	} else if files >= p.total {
		eta = "0s"
	}
	if !p.tty {
		if !final {
			fmt.Fprintf(p.out, "%s: %d/%d %s, %d chunks, %.1f chunks/s, ETA %s\n", p.verb, files, p.total, p.noun, chunks, rate, eta)
		}
		return
	}
	const width = 30
	filled := width
	if p.total > 0 {
		filled = width * min(files, p.total) / p.total
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(p.out, "\r[%s] %d/%d %s  %d chunks  %.1f chunks/s  ETA %-8s", bar, files, p.total, p.noun, chunks, rate, eta)
	if final {
		fmt.Fprintln(p.out)
	}
}

// isTerminal reports whether w is a character device, such as a terminal,
// rather than a file or pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
