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
	// Rows of JSONL and CSV files: found in the files parsed so far, and
	// done (stored, unchanged or failed); open holds, for each row file
	// not yet done, its rows done and found, so the ETA counts a file
	// half done as half a file.
	rowsFound, rowsDone int
	open                map[*fileState][2]int

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

// rowFile counts the rows of a parsed row file, before any is stored.
func (p *progress) rowFile(f *fileState, rows int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		p.open = make(map[*fileState][2]int)
	}
	p.rowsFound += rows
	p.open[f] = [2]int{0, rows}
}

// rowsStored counts rows of f done and the chunks stored with them.
func (p *progress) rowsStored(f *fileState, rows, chunks int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rowsDone += rows
	p.chunks += chunks
	if o, ok := p.open[f]; ok {
		p.open[f] = [2]int{o[0] + rows, o[1]}
	}
}

// rowFileDone counts f as a whole file done.
func (p *progress) rowFileDone(f *fileState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.open, f)
	p.files++
}

// fraction is how much of the total is done, row files in progress
// counted by their rows; called with mu held.
func (p *progress) fraction() float64 {
	if p.total <= 0 {
		return 1
	}
	done := float64(p.files)
	for _, o := range p.open {
		if o[1] > 0 {
			done += float64(o[0]) / float64(o[1])
		}
	}
	return min(done/float64(p.total), 1)
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
	files, chunks, frac := p.files, p.chunks, p.fraction()
	rows := ""
	if p.rowsFound > 0 {
		// The rows found so far: a row file not yet parsed adds its own.
		rows = fmt.Sprintf("%d/%d rows", p.rowsDone, p.rowsFound)
	}
	p.mu.Unlock()
	el := time.Since(p.start)
	rate := float64(chunks) / max(el.Seconds(), 1e-9)
	eta := "?"
	if frac > 0 && frac < 1 {
		eta = (time.Duration(float64(el) * (1 - frac) / frac)).Round(time.Second).String()
	} else if frac >= 1 {
		eta = "0s"
	}
	if !p.tty {
		if !final {
			if rows != "" {
				rows = ", " + rows
			}
			fmt.Fprintf(p.out, "%s: %d/%d %s%s, %d chunks, %.1f chunks/s, ETA %s\n", p.verb, files, p.total, p.noun, rows, chunks, rate, eta)
		}
		return
	}
	const width = 30
	filled := int(width * frac)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	if rows != "" {
		rows = "  " + rows
	}
	fmt.Fprintf(p.out, "\r[%s] %d/%d %s%s  %d chunks  %.1f chunks/s  ETA %-8s", bar, files, p.total, p.noun, rows, chunks, rate, eta)
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
