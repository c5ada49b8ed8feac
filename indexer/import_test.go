package indexer

import (
	"context"
	"errors"
	"fmt"
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

// writeRows writes a JSONL file with one {"id","text"} row per id; the
// text of each id is text[id], else a sentence naming it.
func writeRows(t *testing.T, path string, text map[string]string, ids ...string) {
	t.Helper()
	var b strings.Builder
	for _, id := range ids {
		tx, ok := text[id]
		if !ok {
			tx = "Row " + id + " is about compost heaps and worms."
		}
		if id == "" {
			b.WriteString(`{"title": "a row without text"}` + "\n")
			continue
		}
		fmt.Fprintf(&b, "{\"id\": %q, \"text\": %q}\n", id, tx)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportRemovesRowsGoneFromAChangedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl"), filepath.Join(dir, "c.jsonl")

	for _, tt := range []struct {
		name string
		send bool // through Send, SourceIDs and Remove, as `import --server` does
	}{{"store", false}, {"send", true}} {
		t.Run(tt.name, func(t *testing.T) {
			st := testStore(t, t.TempDir())
			p := testPool(t)
			var removed []string
			opts := ImportOptions{Store: st, Embedder: p, Workers: 2, OnRemoved: func(ids []string) { removed = append(removed, ids...) }}
			if tt.send {
				opts = ImportOptions{Workers: 2, OnRemoved: opts.OnRemoved,
					Send: func(ctx context.Context, docs []Doc) error {
						_, err := Ingest(ctx, st, p, docs)
						return err
					},
					SourceIDs: st.IDsBySource, Remove: st.DeleteBatch}
			}
			writeRows(t, a, nil, "r1", "r2", "r3", "r4")
			writeRows(t, b, nil, "b1", "b2")
			writeRows(t, c, nil, "c1", "c2")
			sum, err := Import(ctx, []string{dir}, opts)
			if err != nil || sum.Documents != 8 || sum.Removed != 0 {
				t.Fatalf("first import: %+v, %v", sum, err)
			}

			// a: r1 changed, r2 removed, r3 kept, r4 moved to b, b2 moved in
			// from b. c: c2 removed, but a row without text failed, so c
			// keeps what it no longer lists.
			writeRows(t, a, map[string]string{"r1": "Row r1 now talks about mulch."}, "r1", "r3", "b2")
			writeRows(t, b, nil, "b1", "r4")
			writeRows(t, c, nil, "c1", "")
			sum, err = Import(ctx, []string{dir}, opts)
			if err != nil || sum.Removed != 1 || sum.StaleKept != 1 || len(removed) != 1 || removed[0] != "r2" {
				t.Fatalf("import after the change: %+v, %v; OnRemoved saw %q", sum, err, removed)
			}
			if _, err := st.Get("r2"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("r2, removed from its file, is still stored: %v", err)
			}
			for id, src := range map[string]string{"r1": a, "r3": a, "b2": a, "b1": b, "r4": b, "c1": c, "c2": c} {
				d, err := st.Get(id)
				if err != nil || d.Source != src || len(d.Chunks) == 0 {
					t.Errorf("%s: source %q, %d chunks, %v; want it stored from %s", id, d.Source, len(d.Chunks), err, src)
				}
			}
			if d, _ := st.Get("r1"); !strings.Contains(d.Text, "mulch") {
				t.Errorf("r1 was not replaced: %q", d.Text)
			}
			if n, _, _ := st.Count(); n != 7 {
				t.Errorf("store holds %d documents, want 7", n)
			}
			var out strings.Builder
			sum.Write(&out)
			if !strings.Contains(out.String(), "removed 1 documents") || !strings.Contains(out.String(), "kept 1 documents") {
				t.Errorf("summary does not report the removal:\n%s", out.String())
			}

			// Once c is fixed, its stale row goes too.
			writeRows(t, c, nil, "c1")
			if sum, err = Import(ctx, []string{dir}, opts); err != nil || sum.Removed != 1 || sum.StaleKept != 0 {
				t.Errorf("import after fixing c: %+v, %v", sum, err)
			}
			if _, err := st.Get("c2"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("c2 is still stored: %v", err)
			}
		})
	}
}
