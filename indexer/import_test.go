package indexer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// copyTree copies testdata into dir/docs/{a,b} and adds bad files.
func importTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "docs")
	for _, sub := range []string{"a", "b/deep", ".hidden"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, dst := range map[string]string{
		"notes.txt": "a/notes.txt", "guide.md": "a/guide.md", "messy.html": "b/messy.html",
		"rows.csv": "b/deep/rows.csv", "rows.jsonl": "b/rows.jsonl",
	} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dst), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePDF(t, filepath.Join(root, "b/manual.pdf"), "Pump manual", "Prime the pump before first use.")
	for name, data := range map[string]string{
		"a/broken.txt":       "\x00\x01\x02binary",
		"a/photo.jpg":        "not read",
		".hidden/secret.txt": "never imported",
		"b/long.txt":         longText(3000),
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestImportStoresGoodFilesListsFailuresAndSkipsUnchanged(t *testing.T) {
	ctx := context.Background()
	root := importTree(t)
	st := testStore(t, t.TempDir())
	var stored []store.Document
	opts := ImportOptions{Store: st, Embedder: testPool(t), Workers: 2,
		OnStored: func(d []store.Document) { stored = append(stored, d...) }}

	sum, err := Import(ctx, []string{root}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Files: notes, guide, messy, rows.csv, rows.jsonl, manual.pdf, long.txt good; broken.txt bad.
	if sum.Files != 8 || sum.Imported != 7 || sum.Unchanged != 0 || len(sum.Skipped) != 1 {
		t.Errorf("summary %+v", sum)
	}
	var failed []string
	for _, f := range sum.Failures {
		failed = append(failed, strings.TrimPrefix(f.String(), root+"/"))
	}
	// broken.txt, the CSV row without text, the JSONL row without text and the non-JSON line.
	if len(failed) != 4 || !strings.HasPrefix(failed[0], "a/broken.txt:") || !errors.Is(sum.Failures[0].Err, ErrBinary) {
		t.Errorf("failures:\n%s", strings.Join(failed, "\n"))
	}
	// 5 single-document files + 3 CSV rows + 2 JSONL rows.
	docs, chunks, err := st.Count()
	if err != nil || docs != 10 || sum.Documents != 10 || chunks != sum.Chunks || len(stored) != 10 {
		t.Errorf("store holds %d docs %d chunks (%v); summary %d docs %d chunks; OnStored saw %d",
			docs, chunks, err, sum.Documents, sum.Chunks, len(stored))
	}
	long, err := st.Get(FileID(filepath.Join(root, "b/long.txt")))
	if err != nil || len(long.Chunks) < 10 {
		t.Fatalf("long.txt: %d chunks, %v", len(long.Chunks), err)
	}
	for _, c := range long.Chunks {
		if c.Tokens > testPool(t).Info().MaxTokens || len(c.Vector) != st.Dims() {
			t.Errorf("chunk %d: %d tokens, %d dims", c.Ordinal, c.Tokens, len(c.Vector))
		}
	}

	// Nothing changed: everything is skipped, nothing is written.
	gen, _ := st.Generation()
	sum, err = Import(ctx, []string{root}, opts)
	if err != nil || sum.Unchanged != 7 || sum.Imported != 0 || sum.Chunks != 0 {
		t.Errorf("re-import: %+v, %v", sum, err)
	}
	if g, _ := st.Generation(); g != gen {
		t.Errorf("re-import wrote to the store: generation %d -> %d", gen, g)
	}

	// A changed file replaces its document.
	notes := filepath.Join(root, "a/notes.txt")
	if err := os.WriteFile(notes, []byte("Watering the greenhouse\n\nWater at dawn."), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err = Import(ctx, []string{root}, opts)
	if err != nil || sum.Imported != 1 || sum.Unchanged != 6 || sum.Documents != 1 {
		t.Errorf("import after a change: %+v, %v", sum, err)
	}
	d, err := st.Get(FileID(notes))
	if err != nil || !strings.Contains(d.Text, "Water at dawn.") {
		t.Errorf("changed notes: %q, %v", d.Text, err)
	}
	if n, _, _ := st.Count(); n != 10 {
		t.Errorf("store holds %d documents after the change, want 10", n)
	}

	if _, err := Import(ctx, []string{filepath.Join(root, "missing")}, opts); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Import of a missing path = %v, want ErrNotExist", err)
	}
}

func TestIngestStoresParsedDocumentsAndRejectsBadOnes(t *testing.T) {
	ctx := context.Background()
	st := testStore(t, t.TempDir())
	p := testPool(t)
	got, err := Ingest(ctx, st, p, []Doc{
		{ID: "x", Title: "X", Text: "First version.", Metadata: map[string]string{"k": "v"}},
		{Text: "No id or source: the id comes from the text."},
		{Source: "https://example.com/page", Text: longText(600)},
		{ID: "x", Text: "Second version wins."},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "x" || got[0].Text != "Second version wins." || got[2].ID != FileID("https://example.com/page") || len(got[2].Chunks) < 2 {
		t.Errorf("Ingest returned %d documents: %+v", len(got), got)
	}
	if n, _, _ := st.Count(); n != 3 {
		t.Errorf("store holds %d documents, want 3", n)
	}
	for _, tc := range []struct {
		doc  Doc
		want error
	}{
		{Doc{Text: "  "}, ErrNoText},
		{Doc{ID: strings.Repeat("i", store.MaxIDLen+1), Text: "t"}, ErrInvalid},
		{Doc{Text: "bad \xff utf-8"}, ErrInvalid},
		{Doc{Text: "t", Metadata: map[string]string{"": "v"}}, ErrInvalid},
	} {
		if _, err := Ingest(ctx, st, p, []Doc{{ID: "ok", Text: "fine"}, tc.doc}); !errors.Is(err, tc.want) {
			t.Errorf("Ingest(%+v) = %v, want %v", tc.doc, err, tc.want)
		}
	}
	if n, _, _ := st.Count(); n != 3 {
		t.Errorf("a failed Ingest stored something: %d documents", n)
	}
}
