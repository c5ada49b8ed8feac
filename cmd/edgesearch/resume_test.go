package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

// resumeRows writes a JSONL file of n short rows, half with an id of their
// own and half identified by their content, and returns its path.
func resumeRows(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "export.jsonl")
	var b strings.Builder
	for i := range n {
		if i%2 == 0 {
			fmt.Fprintf(&b, "{\"id\": \"e%04d\", ", i)
		} else {
			b.WriteString("{")
		}
		fmt.Fprintf(&b, "\"text\": \"Entry %d of the export: hive %d was inspected and the queen was seen on frame %d.\"}\n", i, i%41, i%10)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// summaryCounts reads "imported F files (D documents, C chunks)" and "left
// U documents already stored" from an import's output.
func summaryCounts(t *testing.T, out string) (docs, chunks, unchanged int) {
	t.Helper()
	m := regexp.MustCompile(`imported \d+ files \((\d+) documents, (\d+) chunks\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in %q", out)
	}
	docs, _ = strconv.Atoi(m[1])
	chunks, _ = strconv.Atoi(m[2])
	if m := regexp.MustCompile(`left (\d+) documents already stored`).FindStringSubmatch(out); m != nil {
		unchanged, _ = strconv.Atoi(m[1])
	}
	return docs, chunks, unchanged
}

// TestImportKilledHalfWayResumes pins issue 11: one large JSONL file is
// stored in batches as it is embedded, so SIGKILL half-way keeps what was
// committed, and the rerun embeds only the rows that were missing. Before,
// nothing of the file was committed until its last row was embedded, and
// the rerun started from zero.
func TestImportKilledHalfWayResumes(t *testing.T) {
	const n = 600
	rows := resumeRows(t, n)
	data := filepath.Join(t.TempDir(), "data")
	model := modelPath(t)
	// A first import creates the store, so the kill below is timed by the
	// big file's own commits.
	other := filepath.Join(t.TempDir(), "other.txt")
	if err := os.WriteFile(other, []byte("A note from elsewhere."), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, "", nil, "import", other, "--data", data, "--model", model); r.code != 0 {
		t.Fatalf("first import: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	path := indexer.StorePath(data)
	before := committedTx(t, path)

	cmd := exec.Command(binary, "import", rows, "--data", data, "--model", model, "--threads", "2")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	// A few batches of rows committed: kill it there.
	for committedTx(t, path) < before+3 {
		select {
		case <-exited:
			t.Fatalf("import ended before three batches were seen to commit: %s", stderr.String())
		case <-time.After(time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	source, err := filepath.Abs(rows)
	if err != nil {
		t.Fatal(err)
	}
	stored := storedFrom(t, path, source)
	if stored == 0 || stored == n {
		t.Fatalf("the kill left %d of %d rows stored; the test needs it half-way", stored, n)
	}
	t.Logf("killed with %d of %d rows stored", stored, n)

	r := runBinary(t, "", nil, "import", rows, "--data", data, "--model", model, "--threads", "2")
	if r.code != 0 {
		t.Fatalf("rerun: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	docs, chunks, unchanged := summaryCounts(t, r.stdout)
	if docs != n-stored || unchanged != stored || chunks != n-stored {
		t.Errorf("rerun stored %d documents (%d chunks) and left %d; want %d, %d and %d:\n%s",
			docs, chunks, unchanged, n-stored, n-stored, stored, r.stdout)
	}
	if got := storedFrom(t, path, source); got != n {
		t.Errorf("after the rerun %d rows are stored, want %d", got, n)
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if d, c, _ := st.Count(); d != n+1 || c != n+1 {
		t.Errorf("store holds %d documents and %d chunks, want %d of each (every row once)", d, c, n+1)
	}
}

// storedFrom counts the documents of the store at path stored from source.
func storedFrom(t *testing.T, path, source string) int {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer st.Close()
	ids, err := st.IDsBySource(context.Background(), []string{source})
	if err != nil {
		t.Fatal(err)
	}
	return len(ids[source])
}

// TestImportOverServerKilledHalfWayResumes is the same over --server: the
// rows reach the server in batches as the import goes, and rows the server
// already holds as sent are not embedded again.
func TestImportOverServerKilledHalfWayResumes(t *testing.T) {
	const n = 600
	rows := resumeRows(t, n)
	srv, base := startServe(t, t.TempDir())
	defer srv.Process.Signal(syscall.SIGTERM)

	cmd := exec.Command(binary, "import", rows, "--server", base)
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for serverDocuments(t, base) < 100 {
		select {
		case <-exited:
			t.Fatal("import ended before 100 rows reached the server")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	// A batch in flight when the client died may still be stored.
	stored := serverDocuments(t, base)
	if stored >= n {
		t.Fatalf("every row was stored before the kill; the test needs it half-way")
	}
	t.Logf("killed with %d of %d rows stored", stored, n)

	r := runBinary(t, "", nil, "import", rows, "--server", base)
	if r.code != 0 {
		t.Fatalf("rerun: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	docs, chunks, unchanged := summaryCounts(t, r.stdout)
	if docs+unchanged != n || unchanged < stored || chunks != docs || docs == n {
		t.Errorf("rerun: %d documents (%d chunks) stored, %d left as they were; want %d in all, at least %d left:\n%s",
			docs, chunks, unchanged, n, stored, r.stdout)
	}
	if got := serverDocuments(t, base); got != n {
		t.Errorf("the server holds %d documents, want %d (every row once)", got, n)
	}
}

// serverDocuments is the document count of a running server (/health).
func serverDocuments(t *testing.T, base string) int {
	t.Helper()
	var h struct {
		Documents int `json:"documents"`
	}
	getJSON(t, base+"/health", &h)
	return h.Documents
}
