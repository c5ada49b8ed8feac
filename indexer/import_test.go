package indexer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder"
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
	opts := ImportOptions{Store: st, Embedder: testPool(t), Workers: 2}

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
	if err != nil || docs != 10 || sum.Documents != 10 || chunks != sum.Chunks {
		t.Errorf("store holds %d docs %d chunks (%v); summary %d docs %d chunks",
			docs, chunks, err, sum.Documents, sum.Chunks)
	}
	long, err := st.Get(fileID([]byte(longText(3000))))
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

	// A changed file replaces its document: a new id, the old one removed.
	notes := filepath.Join(root, "a/notes.txt")
	old, err := os.ReadFile(notes)
	if err != nil {
		t.Fatal(err)
	}
	edited := []byte("Watering the greenhouse\n\nWater at dawn.")
	if err := os.WriteFile(notes, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err = Import(ctx, []string{root}, opts)
	if err != nil || sum.Imported != 1 || sum.Unchanged != 6 || sum.Documents != 1 || sum.Removed != 1 {
		t.Errorf("import after a change: %+v, %v", sum, err)
	}
	d, err := st.Get(fileID(edited))
	if err != nil || !strings.Contains(d.Text, "Water at dawn.") || d.Source != notes {
		t.Errorf("changed notes: %q from %q, %v", d.Text, d.Source, err)
	}
	if _, err := st.Get(fileID(old)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the old version of notes.txt is still stored: %v", err)
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
	res, err := Ingest(ctx, st, p, []Doc{
		{ID: "x", Title: "X", Text: "First version.", Metadata: map[string]string{"k": "v"}},
		{Text: "No id or source: the id comes from the text."},
		{Source: "https://example.com/page", Text: longText(600)},
		{Source: "https://example.com/other", Text: "No id or source: the id comes from the text."},
		{ID: "x", Text: "Second version wins."},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Stored
	// Without an id, the id is the content's, whatever the source: the
	// fourth document is the second again, from elsewhere, and replaces it.
	if len(got) != 3 || got[0].ID != "x" || got[0].Text != "Second version wins." ||
		got[1].ID != contentID(Doc{Text: "No id or source: the id comes from the text."}) || got[1].Source != "https://example.com/other" ||
		got[2].ID != contentID(Doc{Text: longText(600)}) || len(got[2].Chunks) < 2 {
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

// TestIngestLeavesDocumentsStoredAsSent pins the resume of a client that
// sends a batch again: documents stored exactly as sent are not embedded or
// written again, a change to any field is. Before, every document was
// embedded and replaced each time.
func TestIngestLeavesDocumentsStoredAsSent(t *testing.T) {
	ctx := context.Background()
	st := testStore(t, t.TempDir())
	p := testPool(t)
	docs := []Doc{
		{ID: "a", Title: "A", Text: "Bees carry pollen between apple blossoms.", Metadata: map[string]string{"k": "v"}},
		{ID: "b", Source: "notes.jsonl", Text: "Frost in April can cost a whole harvest."},
		{Text: "A document without an id gets one from its content."},
	}
	first, err := Ingest(ctx, st, p, docs)
	if err != nil || len(first.Stored) != 3 || first.Unchanged != 0 {
		t.Fatalf("first Ingest: %d stored, %d unchanged, %v", len(first.Stored), first.Unchanged, err)
	}
	texts := p.Stats().Texts.Load()
	again, err := Ingest(ctx, st, p, docs)
	if err != nil || len(again.Stored) != 0 || again.Unchanged != 3 || !slices.Equal(again.IDs, first.IDs) {
		t.Fatalf("same documents again: %d stored, %d unchanged, ids %v (first %v), %v",
			len(again.Stored), again.Unchanged, again.IDs, first.IDs, err)
	}
	if n := p.Stats().Texts.Load() - texts; n != 0 {
		t.Errorf("sending the same documents again embedded %d texts", n)
	}
	changed := slices.Clone(docs)
	changed[0].Metadata = map[string]string{"k": "w"}
	changed[1].Title = "Frost"
	res, err := Ingest(ctx, st, p, changed)
	if err != nil || len(res.Stored) != 2 || res.Unchanged != 1 {
		t.Fatalf("two changed: %d stored, %d unchanged, %v", len(res.Stored), res.Unchanged, err)
	}
	if d, err := st.Get("a"); err != nil || d.Metadata["k"] != "w" {
		t.Errorf("changed metadata not stored: %+v, %v", d.Metadata, err)
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
			opts := ImportOptions{Store: st, Embedder: p, Workers: 2}
			if tt.send {
				opts = ImportOptions{Workers: 2,
					Send:      ingestSend(st, p),
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
			if err != nil || sum.Removed != 1 || sum.StaleKept != 1 {
				t.Fatalf("import after the change: %+v, %v", sum, err)
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

func TestImportOfEditedCopiedAndMovedFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := testStore(t, t.TempDir())
	opts := ImportOptions{Store: st, Embedder: testPool(t), Workers: 2}
	write := func(name, text string) []byte {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return []byte(text)
	}
	imp := func() Summary {
		t.Helper()
		sum, err := Import(ctx, []string{dir}, opts)
		if err != nil || len(sum.Failures) > 0 {
			t.Fatalf("import: %+v, %v", sum, err)
		}
		return sum
	}
	ids := func() []string {
		t.Helper()
		all, err := st.IDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return all
	}

	// Two copies of one file are one document.
	copyText := write("x.txt", "Pond notes\n\nFrogs lay eggs in March.")
	write("y.txt", string(copyText))
	guide := write("z.md", "# Pruning\n\nCut in late winter.")
	if sum := imp(); sum.Imported != 3 || len(ids()) != 2 {
		t.Fatalf("first import: %+v, ids %q", sum, ids())
	}
	// Unchanged: nothing embedded, nothing written, the copies included.
	gen, _ := st.Generation()
	if sum := imp(); sum.Unchanged != 3 || sum.Chunks != 0 || sum.Imported != 0 {
		t.Errorf("re-import: %+v", sum)
	}
	if g, _ := st.Generation(); g != gen {
		t.Errorf("the unchanged re-import wrote: generation %d -> %d", gen, g)
	}

	// Edit one copy, twice: each version replaces the one before; the
	// other copy keeps the old text.
	var versions [][]byte
	for _, v := range []string{"Pond notes\n\nFrogs lay eggs in April.", "Pond notes\n\nToads lay eggs in April."} {
		versions = append(versions, write("x.txt", v))
		imp()
	}
	if _, err := st.Get(fileID(versions[0])); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the first edit of x.txt is still stored: %v", err)
	}
	for _, want := range []struct {
		data []byte
		src  string
	}{{versions[1], "x.txt"}, {copyText, "y.txt"}, {guide, "z.md"}} {
		if d, err := st.Get(fileID(want.data)); err != nil || d.Source != filepath.Join(dir, want.src) {
			t.Errorf("%s: stored from %q, %v", want.src, d.Source, err)
		}
	}
	if n := len(ids()); n != 3 {
		t.Errorf("%d documents after the edits, want 3: %q", n, ids())
	}

	// A moved file is the same document, now from its new path.
	if err := os.Rename(filepath.Join(dir, "z.md"), filepath.Join(dir, "w.md")); err != nil {
		t.Fatal(err)
	}
	imp()
	if d, err := st.Get(fileID(guide)); err != nil || d.Source != filepath.Join(dir, "w.md") || len(ids()) != 3 {
		t.Errorf("moved file: stored from %q, %v; ids %q", d.Source, err, ids())
	}

	// A file that now fails keeps its stored document.
	write("y.txt", "\x00\x01binary")
	if sum, err := Import(ctx, []string{dir}, opts); err != nil || len(sum.Failures) != 1 || sum.Removed != 0 {
		t.Errorf("import with a broken file: %+v, %v", sum, err)
	}
	if _, err := st.Get(fileID(copyText)); err != nil {
		t.Errorf("the document of the now broken y.txt is gone: %v", err)
	}
}

// ingestSend is a Send function that does what a server's POST /documents
// does, and answers as it does.
func ingestSend(st *store.Store, p *embedder.Pool) func(context.Context, []Doc) (Sent, error) {
	return func(ctx context.Context, docs []Doc) (Sent, error) {
		res, err := Ingest(ctx, st, p, docs)
		sent := Sent{Unchanged: res.Unchanged}
		for _, d := range res.Stored {
			sent.Chunks += len(d.Chunks)
		}
		return sent, err
	}
}
