package indexer

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestProgressCountsRowsOfARowFileAsTheyAreStored pins issue 11: a JSONL
// file in progress shows its rows done and an ETA from them, on a terminal
// and in log lines. Before, the line said "0/1 files, 0 chunks, ETA ?"
// until the whole file was done.
func TestProgressCountsRowsOfARowFileAsTheyAreStored(t *testing.T) {
	for _, tty := range []bool{false, true} {
		var out bytes.Buffer
		p := &progress{out: &out, tty: tty, verb: "import", noun: "files", total: 2, start: time.Now().Add(-10 * time.Second)}
		rows := &fileState{rowFile: true}
		p.filesDone(1, 4) // a text file
		p.rowFile(rows, 1000)
		p.rowsStored(rows, 250, 296)
		p.print(false)
		// Half of the files (the text file) and a quarter of the other:
		// 62.5% done in 10 s leaves 6 s.
		for _, want := range []string{"1/2 files", "250/1000 rows", "300 chunks", "30.0 chunks/s", "ETA 6s"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("tty %v: %q lacks %q", tty, out.String(), want)
			}
		}
		p.rowsStored(rows, 750, 700)
		p.rowFileDone(rows)
		out.Reset()
		p.print(false)
		if !strings.Contains(out.String(), "2/2 files") || !strings.Contains(out.String(), "1000/1000 rows") || !strings.Contains(out.String(), "ETA 0s") {
			t.Errorf("tty %v, all done: %q", tty, out.String())
		}
	}
}
