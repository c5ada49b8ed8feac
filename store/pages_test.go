//go:build linux

package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// mappedKB is the resident size of this process's mappings of path, from
// /proc/self/smaps.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kb, in := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		// A mapping's header line starts with its address range; the
		// path, when it has one, is the last field.
		if fields := strings.Fields(line); len(fields) >= 5 && !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && fields[len(fields)-1] == path
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			kb += n
		}
	}
	return kb
}

func TestReleasedPagesLeaveResidentMemoryAndReadBackUnchanged(t *testing.T) {
	s := newTestStore(t)
	const docs = 400 // ~2 MB of vectors and texts: many pages
	var batch []Document
	for i := range docs {
		batch = append(batch, testDoc(fmt.Sprintf("d%03d", i), 4, 384, uint64(i)))
	}
	put(t, s, batch...)
	read := func() map[uint64]string {
		got := map[uint64]string{}
		if _, err := s.ForEachChunk(context.Background(), func(c Chunk) error {
			got[c.ID] = fmt.Sprint(c.Text, c.Vector[:4])
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	before := read()
	if kb := mappedKB(t, s.Path()); kb < 1024 {
		t.Fatalf("after a walk %d KB of the store are resident; the test needs more to mean anything", kb)
	}
	if err := s.ReleasePages(); err != nil {
		t.Fatal(err)
	}
	if kb := mappedKB(t, s.Path()); kb > 64 {
		t.Errorf("after ReleasePages %d KB of the store are still resident", kb)
	}
	after := read()
	if len(after) != len(before) {
		t.Fatalf("read %d chunks after the release, %d before", len(after), len(before))
	}
	for id, v := range before {
		if after[id] != v {
			t.Fatalf("chunk %d reads %q after the release, %q before", id, after[id], v)
		}
	}
	// Writes after a release (which may remap the file) and point reads
	// past releaseAfterReads still see everything.
	put(t, s, testDoc("late", 2, 384, 999))
	for i := 0; i < 2*releaseAfterReads; i++ {
		d, err := s.Get(fmt.Sprintf("d%03d", i%docs))
		if err != nil || len(d.Chunks) != 4 {
			t.Fatalf("Get after releases: %v, %d chunks", err, len(d.Chunks))
		}
	}
	checkConsistent(t, s)
}
