package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

func TestImportCommandStoresFilesAndExitsNonZeroOnFailures(t *testing.T) {
	model := modelPath(t)
	docs := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	for name, text := range map[string]string{
		"a.txt":   "Greenhouse\n\nTomatoes need deep watering twice a week.",
		"b.md":    "# Bees\n\nSmoke calms the bees.",
		"bad.txt": "\x00\x01binary",
		"c.jpg":   "skipped",
	} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model}, "import", docs, "--data", data, "--threads", "2")
	if r.code != 1 || !strings.Contains(r.stdout, "imported 2 files") || !strings.Contains(r.stdout, "bad.txt") ||
		!strings.Contains(r.stdout, "skipped "+filepath.Join(docs, "c.jpg")) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	os.Remove(filepath.Join(docs, "bad.txt"))
	r = runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model}, "import", docs, "--data", data)
	if r.code != 0 || !strings.Contains(r.stdout, "2 unchanged") {
		t.Fatalf("re-import: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	st, err := store.Open(indexer.StorePath(data), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, c, _ := st.Count(); n != 2 || c != 2 {
		t.Errorf("store holds %d documents, %d chunks; want 2, 2", n, c)
	}

	// The store is now held by this process, as a server would hold it.
	r = runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model}, "import", docs, "--data", data)
	want := "a server is using " + data + "; stop it or use --server URL"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("locked store: exit %d, stderr %q, want %q", r.code, r.stderr, want)
	}
}

// TestImportParseLimitsAreFlags pins that the parse limits reach the
// parsers from the command line: a file over --max-file-size and a CSV over
// --max-rows fail alone, naming the flag, while the others are imported.
func TestImportParseLimitsAreFlags(t *testing.T) {
	model := modelPath(t)
	docs := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	for name, text := range map[string]string{
		"small.txt": "Tomatoes need deep watering.",
		"large.txt": strings.Repeat("Bees make honey from nectar. ", 40),
		"rows.csv":  "text\none\ntwo\nthree\n",
	} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runBinary(t, "", []string{"EDGESEARCH_MODEL=" + model, "EDGESEARCH_MAX_ROWS=2"},
		"import", docs, "--data", data, "--max-file-size", "512")
	if r.code != 1 || !strings.Contains(r.stdout, "imported 1 files") ||
		!strings.Contains(r.stdout, "large.txt") || !strings.Contains(r.stdout, "--max-file-size") ||
		!strings.Contains(r.stdout, "rows.csv") || !strings.Contains(r.stdout, "--max-rows") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestImportToABusyServerWaitsAndRetries pins that `import --server` treats
// a 503 as "come back later": it waits Retry-After and sends the same batch
// again, rather than failing the files.
func TestImportToABusyServerWaitsAndRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ids":["a"],"chunks":1,"unchanged":0}`)
	}))
	defer srv.Close()
	send := sendTo(srv.URL, "")
	if sent, err := send(context.Background(), []indexer.Doc{{ID: "a", Text: "some text"}}); err != nil || sent.Chunks != 1 {
		t.Fatalf("send to a busy server: %+v, %v", sent, err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d requests, want 3 (two refused, one accepted)", calls.Load())
	}
}
