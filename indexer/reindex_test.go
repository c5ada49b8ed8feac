package indexer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

// reindexDocs are documents of one to several chunks, with metadata, that
// a re-embedding must bring back exactly as Ingest stored them.
func reindexDocs(n int) []Doc {
	docs := make([]Doc, n)
	for i := range docs {
		text := fmt.Sprintf("Note %d: the greenhouse vents open at %d degrees.", i, 20+i%10)
		if i%10 == 0 {
			text = longText(450 + i)
		}
		docs[i] = Doc{ID: fmt.Sprintf("doc-%03d", i), Title: fmt.Sprintf("Note %d", i), Text: text,
			Source: fmt.Sprintf("/notes/%d.txt", i), Metadata: map[string]string{"n": fmt.Sprint(i)}}
	}
	return docs
}

// sameStored fails unless got holds every document of want with the same
// fields, chunk spans and vectors.
func sameStored(t *testing.T, got *store.Store, want []store.Document) {
	t.Helper()
	for _, w := range want {
		g, err := got.Get(w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g.Title != w.Title || g.Text != w.Text || g.Source != w.Source || !reflect.DeepEqual(g.Metadata, w.Metadata) || !g.Created.Equal(w.Created) {
			t.Fatalf("document %s changed:\n got %+v\nwant %+v", w.ID, g, w)
		}
		if len(g.Chunks) != len(w.Chunks) {
			t.Fatalf("document %s: %d chunks, want %d", w.ID, len(g.Chunks), len(w.Chunks))
		}
		for i, c := range g.Chunks {
			wc := w.Chunks[i]
			if c.Start != wc.Start || c.End != wc.End || c.Tokens != wc.Tokens || len(c.Vector) != len(wc.Vector) {
				t.Fatalf("document %s chunk %d: [%d,%d) %d tokens, want [%d,%d) %d tokens",
					w.ID, i, c.Start, c.End, c.Tokens, wc.Start, wc.End, wc.Tokens)
			}
			// Batches differ between the runs; the kernels may sum in
			// another order, so equal means equal to float32 rounding.
			for j, v := range c.Vector {
				if math.Abs(float64(v-wc.Vector[j])) > 1e-5 {
					t.Fatalf("document %s chunk %d: vector[%d] = %v, want %v", w.ID, i, j, v, wc.Vector[j])
				}
			}
		}
	}
}

func TestReindexAfterModelChangeRestoresWhatIngestStored(t *testing.T) {
	ctx := context.Background()
	p := testPool(t)
	info := p.Info()
	path := StorePath(t.TempDir())

	// The documents as the real model stores them, under another model's
	// name, as if a store built with it were being moved to this one.
	st, err := store.Open(path, store.Options{Model: "old-model", Dims: info.Dims})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Ingest(ctx, st, p, reindexDocs(20))
	want := res.Stored
	if err != nil {
		t.Fatal(err)
	}
	if len(want[0].Chunks) < 2 {
		t.Fatalf("document 0 has %d chunks; the test needs one of several", len(want[0].Chunks))
	}
	// Reindex refuses a store of another model: vectors would be mixed.
	if _, err := Reindex(ctx, ReindexOptions{Store: st, Embedder: p}); !errors.Is(err, store.ErrModelMismatch) {
		t.Errorf("Reindex of a store for another model = %v, want ErrModelMismatch", err)
	}
	st.Close()

	st, err = store.Open(path, store.Options{Model: info.Name, Dims: info.Dims, Reembed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var stored int
	sum, err := Reindex(ctx, ReindexOptions{Store: st, Embedder: p, OnStored: func(d []store.Document) { stored += len(d) }})
	if err != nil {
		t.Fatal(err)
	}
	chunks := 0
	for _, d := range want {
		chunks += len(d.Chunks)
	}
	if sum.Pending != 20 || sum.Documents != 20 || sum.Chunks != chunks || len(sum.Failures) != 0 || stored != 20 {
		t.Errorf("summary %+v (OnStored saw %d), want 20 documents and %d chunks", sum, stored, chunks)
	}
	if d, c, _ := st.Count(); d != 20 || c != chunks {
		t.Errorf("store counts %d documents %d chunks, want 20, %d", d, c, chunks)
	}
	if st.Model() != info.Name {
		t.Errorf("store model %q, want %q", st.Model(), info.Name)
	}
	sameStored(t, st, want)

	// Nothing is left to do, and a second run writes nothing.
	gen, _ := st.Generation()
	sum, err = Reindex(ctx, ReindexOptions{Store: st, Embedder: p})
	if err != nil || sum.Pending != 0 || sum.Documents != 0 {
		t.Errorf("second Reindex: %+v, %v", sum, err)
	}
	if g, _ := st.Generation(); g != gen {
		t.Errorf("a Reindex with nothing to do wrote: generation %d -> %d", gen, g)
	}

	// All redoes every document: new chunk ids, same spans and vectors.
	before, _ := st.Get("doc-000")
	sum, err = Reindex(ctx, ReindexOptions{Store: st, Embedder: p, All: true})
	if err != nil || sum.Pending != 20 || sum.Documents != 20 {
		t.Errorf("Reindex with All: %+v, %v", sum, err)
	}
	after, _ := st.Get("doc-000")
	if after.Chunks[0].ID == before.Chunks[0].ID {
		t.Errorf("All kept chunk id %d: the document was not redone", after.Chunks[0].ID)
	}
	sameStored(t, st, want)
	var out strings.Builder
	sum.Write(&out)
	if !strings.HasPrefix(out.String(), "reindexed 20 of 20 documents") {
		t.Errorf("summary line %q", out.String())
	}
}

func TestReindexStoppedHalfWayFinishesOnTheNextRun(t *testing.T) {
	ctx := context.Background()
	p := testPool(t)
	info := p.Info()
	path := StorePath(t.TempDir())
	st, err := store.Open(path, store.Options{Model: "old-model", Dims: info.Dims})
	if err != nil {
		t.Fatal(err)
	}
	docs := reindexDocs(100)
	for i := range docs {
		docs[i].Text = fmt.Sprintf("Short note %d about pruning apple trees in late winter.", i)
	}
	res, err := Ingest(ctx, st, p, docs)
	want := res.Stored
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.Open(path, store.Options{Model: info.Name, Dims: info.Dims, Reembed: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Stop after the first committed batch, as Ctrl-C would.
	stopCtx, stop := context.WithCancel(ctx)
	sum, err := Reindex(stopCtx, ReindexOptions{Store: st, Embedder: p, OnStored: func([]store.Document) { stop() }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped Reindex = %v, want context.Canceled", err)
	}
	if sum.Documents == 0 || sum.Documents >= 100 {
		t.Fatalf("stopped Reindex did %d of 100 documents; the test needs it to stop half-way", sum.Documents)
	}
	left, err := st.Unchunked(ctx)
	if err != nil || len(left) != 100-sum.Documents {
		t.Fatalf("%d documents without chunks after %d done (%v)", len(left), sum.Documents, err)
	}
	// Every document kept its text, chunked or not.
	for _, w := range want {
		if d, err := st.Get(w.ID); err != nil || d.Text != w.Text {
			t.Fatalf("document %s after the stop: %v", w.ID, err)
		}
	}

	sum2, err := Reindex(ctx, ReindexOptions{Store: st, Embedder: p})
	if err != nil || sum2.Pending != len(left) || sum2.Documents != len(left) {
		t.Fatalf("second Reindex: %+v, %v; want the %d left", sum2, err, len(left))
	}
	sameStored(t, st, want)
}
