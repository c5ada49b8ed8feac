package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/model"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

// q8SameName converts the Hugging Face folder of all-MiniLM-L6-v2 to Q8_0
// under the f16 model's own name, as `make model` and `model pull` name
// both: the model whose identity differs from the f16 one only in its
// weights.
func q8SameName(t *testing.T) string {
	t.Helper()
	return convertQ8(t, model.DefaultModelName)
}

// tourDocs writes the three documents of the reindex tests to a new folder.
func tourDocs(t *testing.T) string {
	t.Helper()
	docs := t.TempDir()
	for name, text := range map[string]string{
		"garden.txt": "Greenhouse\n\nTomatoes need deep watering twice a week in summer.",
		"bees.md":    "# Bees\n\nA little smoke calms the hive before you open it.",
		"bikes.txt":  "Chains\n\nClean and oil a bicycle chain every few hundred kilometres.",
	} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return docs
}

// storeIdentity reads the model identity and counts recorded in data's store.
func storeIdentity(t *testing.T, data string) (name, weights string, docs, chunks int) {
	t.Helper()
	st, err := store.Open(indexer.StorePath(data), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	docs, chunks, err = st.Count()
	if err != nil {
		t.Fatal(err)
	}
	return st.Model(), st.Weights(), docs, chunks
}

// TestReindexNoticesAChangeOfWeights: the q8_0 file of all-MiniLM-L6-v2 has
// the f16 file's name but makes other vectors, so a store built with f16
// refuses it with the advice to reindex, and reindex re-embeds everything.
func TestReindexNoticesAChangeOfWeights(t *testing.T) {
	f16, q8 := modelPath(t), q8SameName(t)
	docs, data := tourDocs(t), filepath.Join(t.TempDir(), "data")
	if r := runBinary(t, "", nil, "import", docs, "--data", data, "--model", f16, "--threads", "2"); r.code != 0 {
		t.Fatalf("import: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	if name, w, _, _ := storeIdentity(t, data); name != model.DefaultModelName || w != "F16" {
		t.Fatalf("store made with the f16 model records %q, weights %q", name, w)
	}
	fix := "edgesearch reindex --data " + data + " --model " + q8
	for _, args := range [][]string{
		{"search", "watering", "--data", data, "--model", q8},
		{"import", docs, "--data", data, "--model", q8},
		{"serve", "--addr", "127.0.0.1:0", "--data", data, "--model", q8},
	} {
		r := runBinary(t, "", nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, fix) || !strings.Contains(r.stderr, "(F16 weights, 384 dims)") {
			t.Errorf("%s with the q8_0 weights: exit %d, stderr %q; want it to name the F16 weights and %q", args[0], r.code, r.stderr, fix)
		}
	}
	r := runBinary(t, "", nil, "reindex", "--data", data, "--model", q8, "--threads", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "reindexed 3 of 3 documents (3 chunks)") ||
		!strings.Contains(r.stderr, "dropped them to re-embed every document with model \"all-MiniLM-L6-v2\" (Q8_0 weights") {
		t.Fatalf("reindex with the q8_0 weights: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, w, d, c := storeIdentity(t, data); w != "Q8_0" || d != 3 || c != 3 {
		t.Errorf("after reindex: weights %q, %d documents, %d chunks", w, d, c)
	}
	if ids := topIDs(t, data, q8, "how often should I water tomato plants"); len(ids) == 0 {
		t.Error("no results with the q8_0 weights after reindex")
	}
}

// TestAStoreWithoutRecordedWeightsKeepsWorking opens a store written by
// edgesearch before the weights were recorded (testdata/name-only-identity.db,
// made at commit c6538be by `edgesearch import` of tourDocs' three files
// with the f16 model): search finds its documents and records the weights
// it ran with; reindex with other weights after that re-embeds, and reindex
// on a store that never recorded them records them and says how to redo
// everything, since which weights made the vectors cannot be known.
func TestAStoreWithoutRecordedWeightsKeepsWorking(t *testing.T) {
	f16, q8 := modelPath(t), q8SameName(t)
	legacy := func() string {
		data := t.TempDir()
		copyInto(t, "testdata/name-only-identity.db", indexer.StorePath(data))
		if name, w, d, c := storeIdentity(t, data); name != model.DefaultModelName || w != "" || d != 3 || c != 3 {
			t.Fatalf("fixture: model %q, weights %q, %d documents, %d chunks", name, w, d, c)
		}
		return data
	}

	data := legacy()
	if ids := topIDs(t, data, f16, "calming a bee hive"); len(ids) == 0 || !strings.HasPrefix(ids[0], "f") {
		t.Fatalf("search of the old store: %q", ids)
	}
	if _, w, _, c := storeIdentity(t, data); w != "F16" || c != 3 {
		t.Errorf("after a search with the f16 model: weights %q, %d chunks; want F16 recorded, 3 chunks kept", w, c)
	}
	r := runBinary(t, "", nil, "reindex", "--data", data, "--model", q8, "--threads", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "reindexed 3 of 3 documents (3 chunks)") {
		t.Errorf("reindex with q8_0 once F16 is recorded: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	data = legacy()
	r = runBinary(t, "", nil, "reindex", "--data", data, "--model", q8, "--threads", "2")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to reindex") ||
		!strings.Contains(r.stderr, `did not record which weights of "all-MiniLM-L6-v2" made its vectors`) ||
		!strings.Contains(r.stderr, "recorded Q8_0") || !strings.Contains(r.stderr, "with --all") {
		t.Errorf("reindex of a store without weights: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, w, d, c := storeIdentity(t, data); w != "Q8_0" || d != 3 || c != 3 {
		t.Errorf("after reindex: weights %q, %d documents, %d chunks; want Q8_0 recorded and everything kept", w, d, c)
	}
	r = runBinary(t, "", nil, "reindex", "--data", data, "--model", q8, "--all")
	if r.code != 0 || !strings.Contains(r.stdout, "reindexed 3 of 3 documents (3 chunks)") {
		t.Errorf("reindex --all: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// copyInto copies the file src to dst, creating dst's directory.
func copyInto(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
