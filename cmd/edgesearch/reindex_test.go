package main

import (
	"bufio"
	"context"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// q8Model converts the Hugging Face folder of all-MiniLM-L6-v2 to a Q8_0
// GGUF named "minilm-q8" in a temp dir, with the real binary: a second
// model whose vectors a store built with the f16 one cannot hold.
func q8Model(t *testing.T) string {
	t.Helper()
	return convertQ8(t, "minilm-q8")
}

// convertQ8 converts the Hugging Face folder of all-MiniLM-L6-v2 to Q8_0
// under the model name given, into a temp dir, and returns the file.
func convertQ8(t *testing.T, name string) string {
	t.Helper()
	hf := filepath.Join(model.CacheDir(), "hf", model.DefaultModelName)
	if _, err := os.Stat(filepath.Join(hf, "model.safetensors")); err != nil {
		t.Fatalf("need the Hugging Face files of all-MiniLM-L6-v2 (run `make model-source`): %v", err)
	}
	out := filepath.Join(t.TempDir(), name+"-q8_0.gguf")
	if r := runBinary(t, "", nil, "model", "convert", hf, out, "--type", "q8_0", "--name", name); r.code != 0 {
		t.Fatalf("model convert: exit %d: %s", r.code, r.stderr)
	}
	return out
}

// topIDs runs a semantic search with the binary and returns the ids found.
func topIDs(t *testing.T, data, modelPath, query string) []string {
	t.Helper()
	r := runBinary(t, "", nil, "search", query, "--json", "--mode", "semantic", "-k", "3", "--data", data, "--model", modelPath)
	if r.code != 0 {
		t.Fatalf("search %q with %s: exit %d: %s", query, modelPath, r.code, r.stderr)
	}
	var resp web.SearchResponse
	if err := json.Unmarshal([]byte(r.stdout), &resp); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, res := range resp.Results {
		ids = append(ids, res.ID)
	}
	return ids
}

func TestReindexMovesAStoreToAnotherModel(t *testing.T) {
	f16, q8 := modelPath(t), q8Model(t)
	docs := t.TempDir()
	data := filepath.Join(t.TempDir(), "data")
	for name, text := range map[string]string{
		"garden.txt": "Greenhouse\n\nTomatoes need deep watering twice a week in summer.",
		"bees.md":    "# Bees\n\nA little smoke calms the hive before you open it.",
		"bikes.txt":  "Chains\n\nClean and oil a bicycle chain every few hundred kilometres.",
	} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r := runBinary(t, "", nil, "import", docs, "--data", data, "--model", f16, "--threads", "2"); r.code != 0 {
		t.Fatalf("import: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	before := topIDs(t, data, f16, "how often should I water tomato plants")

	// Every command that opens the store for the q8 model names the fix.
	fix := "edgesearch reindex --data " + data + " --model " + q8
	for _, args := range [][]string{
		{"search", "watering", "--data", data, "--model", q8},
		{"import", docs, "--data", data, "--model", q8},
		{"serve", "--addr", "127.0.0.1:0", "--data", data, "--model", q8},
	} {
		r := runBinary(t, "", nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, fix) || !strings.Contains(r.stderr, `"all-MiniLM-L6-v2"`) {
			t.Errorf("%s with the q8 model: exit %d, stderr %q; want it to name %q", args[0], r.code, r.stderr, fix)
		}
	}

	r := runBinary(t, "", nil, "reindex", "--data", data, "--model", q8, "--threads", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "reindexed 3 of 3 documents (3 chunks)") ||
		!strings.Contains(r.stderr, `dropped them to re-embed every document with model "minilm-q8"`) {
		t.Fatalf("reindex: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if after := topIDs(t, data, q8, "how often should I water tomato plants"); len(after) == 0 || len(before) == 0 || after[0] != before[0] {
		t.Errorf("top results before %q, after reindex %q", before, after)
	}
	// The f16 model is now the other one.
	if r := runBinary(t, "", nil, "search", "bees", "--data", data, "--model", f16); r.code != 1 || !strings.Contains(r.stderr, "reindex --data") {
		t.Errorf("search with the old model after reindex: exit %d, %s", r.code, r.stderr)
	}
	r = runBinary(t, "", nil, "reindex", "--data", data, "--model", q8)
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to reindex") {
		t.Errorf("second reindex: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}

	st, err := store.Open(indexer.StorePath(data), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	un, _ := st.Unchunked(context.Background())
	if n, c, _ := st.Count(); st.Model() != "minilm-q8" || n != 3 || c != 3 || len(un) != 0 {
		t.Errorf("store after reindex: model %q, %d documents, %d chunks, %d without chunks", st.Model(), n, c, len(un))
	}
	// Held by this process, as a server would hold it.
	r = runBinary(t, "", nil, "reindex", "--data", data, "--model", q8)
	if want := "a server is using " + data + "; stop it"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("reindex of a held store: exit %d, %q; want %q", r.code, r.stderr, want)
	}
	if r := runBinary(t, "", nil, "reindex", "--data", t.TempDir(), "--model", q8); r.code != 1 || !strings.Contains(r.stderr, "no documents in") {
		t.Errorf("reindex of an empty directory: exit %d, %q", r.code, r.stderr)
	}
}

func TestReindexKilledHalfWayFinishesOnTheNextRun(t *testing.T) {
	f16, q8 := modelPath(t), q8Model(t)
	data := filepath.Join(t.TempDir(), "data")
	rows := filepath.Join(t.TempDir(), "notes.jsonl")
	const n = 500
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "{\"id\": \"n%03d\", \"text\": \"Field note %d: the orchard's row %d needs pruning before the frost.\"}\n", i, i, i%37)
	}
	if err := os.WriteFile(rows, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runBinary(t, "", nil, "import", rows, "--data", data, "--model", f16, "--threads", "2"); r.code != 0 {
		t.Fatalf("import: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}

	// The store is locked while reindex runs, so progress is read from the
	// file itself: reindex says when it has dropped the old vectors, and
	// the next committed transaction is its first batch of documents.
	path := indexer.StorePath(data)
	cmd := exec.Command(binary, "reindex", "--data", data, "--model", q8, "--threads", "2")
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "dropped them") {
	}
	dropped := committedTx(t, path)
	exited := make(chan struct{})
	go func() {
		for lines.Scan() {
		}
		close(exited)
	}()
	for committedTx(t, path) == dropped {
		select {
		case <-exited:
			t.Fatal("reindex ended before a batch was seen to commit")
		case <-time.After(time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("store after SIGKILL: %v", err)
	}
	left, err := st.Unchunked(context.Background())
	docs, _, _ := st.Count()
	st.Close()
	if err != nil || docs != n || st.Model() != "minilm-q8" {
		t.Fatalf("after the kill: %d documents, model %q, %v", docs, st.Model(), err)
	}
	if len(left) == 0 || len(left) == n {
		t.Fatalf("the kill left %d of %d documents without chunks; the test needs it half-way", len(left), n)
	}
	t.Logf("killed with %d of %d documents left", len(left), n)

	// Search works over the half-done store: done documents match, the
	// rest just do not.
	if ids := topIDs(t, data, q8, "orchard pruning before the frost"); len(ids) == 0 {
		t.Error("search over the half-done store found nothing")
	}
	r := runBinary(t, "", nil, "reindex", "--data", data, "--model", q8, "--threads", "2")
	want := fmt.Sprintf("reindexed %d of %d documents", len(left), len(left))
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("rerun: exit %d, %s%s; want %q", r.code, r.stdout, r.stderr, want)
	}
	st, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	left, err = st.Unchunked(context.Background())
	if d, c, _ := st.Count(); err != nil || len(left) != 0 || d != n || c != n {
		t.Errorf("after the rerun: %d documents, %d chunks, %d without chunks, %v", d, c, len(left), err)
	}
}

func TestImportOverServerRemovesRowsGoneFromTheFile(t *testing.T) {
	data := t.TempDir()
	srv, base := startServe(t, data)
	defer srv.Process.Signal(syscall.SIGTERM)
	rows := filepath.Join(t.TempDir(), "rows.jsonl")
	write := func(ids ...string) {
		var b strings.Builder
		for _, id := range ids {
			fmt.Fprintf(&b, "{\"id\": %q, \"text\": \"Row %s: a note on sharpening kitchen knives.\"}\n", id, id)
		}
		if err := os.WriteFile(rows, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("k1", "k2", "k3")
	if r := runBinary(t, "", nil, "import", rows, "--server", base); r.code != 0 {
		t.Fatalf("import --server: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	write("k1", "k3")
	r := runBinary(t, "", nil, "import", rows, "--server", base)
	if r.code != 0 || !strings.Contains(r.stdout, "removed 1 documents") {
		t.Fatalf("re-import --server: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for id, status := range map[string]int{"k1": http.StatusOK, "k2": http.StatusNotFound, "k3": http.StatusOK} {
		resp, err := http.Get(base + "/documents/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Errorf("GET /documents/%s: %d, want %d", id, resp.StatusCode, status)
		}
	}
}

// committedTx returns the id of the last transaction committed to the bbolt
// file at path, read from its two meta pages at offsets 0 and one page (the
// OS page size, which bbolt uses when it creates a file). After a 16-byte
// page header a meta holds magic, version, page size, flags, the root
// bucket (16 bytes), freelist, highest page, txid, and an FNV-64a checksum
// of the 56 bytes before it; a meta caught half-written fails the checksum
// and is ignored.
func committedTx(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var best uint64
	for _, off := range []int64{0, int64(os.Getpagesize())} {
		page := make([]byte, 16+64)
		if _, err := f.ReadAt(page, off); err != nil {
			t.Fatal(err)
		}
		meta := page[16:]
		sum := fnv.New64a()
		sum.Write(meta[:56])
		if bin.LittleEndian.Uint32(meta) == 0xED0CDAED && sum.Sum64() == bin.LittleEndian.Uint64(meta[56:]) {
			best = max(best, bin.LittleEndian.Uint64(meta[48:]))
		}
	}
	if best == 0 {
		t.Fatalf("%s: no valid bbolt meta page", path)
	}
	return best
}
