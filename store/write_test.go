package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sameDocument compares what was put with what was read back; vectors
// within tol (0 for float32, which must round-trip exactly).
func sameDocument(t *testing.T, got, want Document, tol float64) {
	t.Helper()
	if got.ID != want.ID || got.Title != want.Title || got.Source != want.Source || got.Text != want.Text ||
		!reflect.DeepEqual(got.Metadata, want.Metadata) || got.Hash != HashText(want.Text) {
		t.Fatalf("document %q: fields differ:\n got %+v\nwant %+v", want.ID, got, want)
	}
	if len(got.Chunks) != len(want.Chunks) {
		t.Fatalf("document %q: %d chunks, want %d", want.ID, len(got.Chunks), len(want.Chunks))
	}
	for i, c := range got.Chunks {
		w := want.Chunks[i]
		if c.DocID != want.ID || c.Ordinal != i || c.Start != w.Start || c.End != w.End || c.Tokens != w.Tokens ||
			c.Text != want.Text[w.Start:w.End] || c.ID == 0 {
			t.Fatalf("document %q chunk %d: got %+v", want.ID, i, c)
		}
		for j, v := range c.Vector {
			if d := math.Abs(float64(v - w.Vector[j])); d > tol {
				t.Fatalf("document %q chunk %d vector[%d] = %v, want %v", want.ID, i, j, v, w.Vector[j])
			}
		}
	}
}

func TestPutGetRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name    string
		float16 bool
		tol     float64
	}{
		{"float32 exact", false, 0},
		// Vectors of |v| < 0.25 keep 11 significant bits: error <= 2^-14.
		{"float16", true, 1.0 / (1 << 14)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: testModel, Dims: testDims, Float16: tt.float16})
			docs := []Document{testDoc("a", 3, testDims, 1), testDoc("b/ü", 1, testDims, 2), testDoc("c", 0, testDims, 3)}
			docs[2].Metadata = nil
			before := time.Now()
			put(t, s, docs...)
			for _, want := range docs {
				got, err := s.Get(want.ID)
				if err != nil {
					t.Fatal(err)
				}
				sameDocument(t, got, want, tt.tol)
				if got.Created.Before(before.Add(-time.Second)) || !got.Created.Equal(got.Updated) || !got.Created.Equal(want.Created) {
					t.Errorf("document %q: created %v updated %v, put reported %v", want.ID, got.Created, got.Updated, want.Created)
				}
				for i, c := range got.Chunks {
					if c.ID != want.Chunks[i].ID {
						t.Errorf("document %q chunk %d: id %d, Put reported %d", want.ID, i, c.ID, want.Chunks[i].ID)
					}
					byID, err := s.ChunkByID(c.ID)
					if err != nil || !reflect.DeepEqual(byID, c) {
						t.Errorf("ChunkByID(%d) = %+v, %v; want %+v", c.ID, byID, err, c)
					}
				}
			}
			if d, c, _ := s.Count(); d != 3 || c != 4 {
				t.Errorf("Count = %d, %d; want 3, 4", d, c)
			}
			checkConsistent(t, s)
		})
	}
}

func TestPutSameIDReplacesChunks(t *testing.T) {
	s := newTestStore(t)
	batch := []Document{testDoc("a", 5, testDims, 1), testDoc("b", 2, testDims, 2)}
	put(t, s, batch...)
	first := batch[0]
	batch = []Document{testDoc("a", 2, testDims, 3)}
	put(t, s, batch...)
	second := batch[0]

	got, err := s.Get("a")
	if err != nil {
		t.Fatal(err)
	}
	sameDocument(t, got, second, 0)
	if !got.Created.Equal(first.Created) || !got.Updated.Equal(second.Updated) || got.Updated.Before(first.Updated) {
		t.Errorf("created %v updated %v; want created kept from the first Put (%v) and updated from the second (%v)",
			got.Created, got.Updated, first.Created, second.Updated)
	}
	for _, c := range first.Chunks {
		if _, err := s.ChunkByID(c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("chunk %d of the replaced document: %v, want ErrNotFound", c.ID, err)
		}
	}
	if _, ok, _ := s.HasHash(first.Source, HashText(first.Text)); ok {
		t.Error("HasHash still finds the replaced text")
	}
	if id, ok, _ := s.HasHash(second.Source, HashText(second.Text)); !ok || id != "a" {
		t.Errorf("HasHash(new text) = %q, %v; want a, true", id, ok)
	}
	if d, c, _ := s.Count(); d != 2 || c != 4 {
		t.Errorf("Count = %d, %d; want 2 documents, 4 chunks", d, c)
	}
	n := 0
	if _, err := s.ForEachChunk(context.Background(), func(Chunk) error { n++; return nil }); err != nil || n != 4 {
		t.Errorf("ForEachChunk saw %d chunks, %v; want 4", n, err)
	}
	checkConsistent(t, s)
}

func TestPutRejectsBadInputAndWritesNothing(t *testing.T) {
	good := func() Document { return testDoc("good", 2, testDims, 1) }
	tests := []struct {
		name  string
		spoil func(d *Document)
	}{
		{"empty id", func(d *Document) { d.ID = "" }},
		{"id with NUL", func(d *Document) { d.ID = "a\x00b" }},
		{"id not UTF-8", func(d *Document) { d.ID = "\xff" }},
		{"id too long", func(d *Document) { d.ID = strings.Repeat("x", MaxIDLen+1) }},
		{"empty text", func(d *Document) { d.Text = ""; d.Chunks = nil }},
		{"text not UTF-8", func(d *Document) { d.Text = "ok \xc3" }},
		{"source with NUL", func(d *Document) { d.Source = "/a\x00" }},
		{"empty metadata key", func(d *Document) { d.Metadata[""] = "v" }},
		{"short vector", func(d *Document) { d.Chunks[1].Vector = d.Chunks[1].Vector[:383] }},
		{"long vector", func(d *Document) { d.Chunks[0].Vector = append(d.Chunks[0].Vector, 0) }},
		{"missing vector", func(d *Document) { d.Chunks[0].Vector = nil }},
		{"NaN in vector", func(d *Document) { d.Chunks[0].Vector[5] = float32(math.NaN()) }},
		{"Inf in vector", func(d *Document) { d.Chunks[0].Vector[5] = float32(math.Inf(-1)) }},
		{"span past text", func(d *Document) { d.Chunks[1].End = len(d.Text) + 1 }},
		{"empty span", func(d *Document) { d.Chunks[0].End = d.Chunks[0].Start }},
		{"negative start", func(d *Document) { d.Chunks[0].Start = -1 }},
		{"chunk text not the span", func(d *Document) { d.Chunks[0].Text = "something else" }},
		{"negative tokens", func(d *Document) { d.Chunks[0].Tokens = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStore(t)
			put(t, s, testDoc("existing", 1, testDims, 9))
			gen, _ := s.Generation()
			bad := good()
			tt.spoil(&bad)
			// A good document first in the batch must not be written either.
			batch := []Document{testDoc("other", 1, testDims, 4), bad}
			err := s.Put(context.Background(), batch)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Put: %v, want ErrInvalid", err)
			}
			if g, _ := s.Generation(); g != gen {
				t.Errorf("generation moved from %d to %d", gen, g)
			}
			if d, c, _ := s.Count(); d != 1 || c != 1 {
				t.Errorf("Count = %d, %d; want the store unchanged at 1, 1", d, c)
			}
			if _, err := s.Get("other"); !errors.Is(err, ErrNotFound) {
				t.Errorf("the good document of the batch was written: %v", err)
			}
			if batch[0].Chunks[0].ID != 0 || !batch[0].Created.IsZero() {
				t.Errorf("a rejected Put changed the caller's documents: %+v", batch[0].Chunks[0])
			}
		})
	}
}

func TestPutRejectsDuplicateIDInBatch(t *testing.T) {
	s := newTestStore(t)
	err := s.Put(context.Background(), []Document{testDoc("a", 1, testDims, 1), testDoc("a", 1, testDims, 2)})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Put: %v, want ErrInvalid", err)
	}
	if d, _, _ := s.Count(); d != 0 {
		t.Errorf("%d documents written", d)
	}
}

func TestPutRejectsFloat16Overflow(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: testModel, Dims: testDims, Float16: true})
	d := testDoc("a", 1, testDims, 1)
	d.Chunks[0].Vector[0] = 70000
	if err := s.Put(context.Background(), []Document{d}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Put: %v, want ErrInvalid", err)
	}
}

func TestPutWithCanceledContextWritesNothing(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, []Document{testDoc("a", 1, testDims, 1)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v, want context.Canceled", err)
	}
	if d, _, _ := s.Count(); d != 0 {
		t.Errorf("%d documents written", d)
	}
}

func TestDeleteRemovesDocumentAndChunks(t *testing.T) {
	s := newTestStore(t)
	a, b := testDoc("a", 3, testDims, 1), testDoc("b", 2, testDims, 2)
	put(t, s, a, b)
	gen, _ := s.Generation()
	ctx := context.Background()
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	for _, c := range a.Chunks {
		if _, err := s.ChunkByID(c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("ChunkByID(%d) after Delete: %v, want ErrNotFound", c.ID, err)
		}
	}
	if _, ok, _ := s.HasHash(a.Source, HashText(a.Text)); ok {
		t.Error("HasHash finds the deleted document")
	}
	if d, c, _ := s.Count(); d != 1 || c != 2 {
		t.Errorf("Count = %d, %d; want 1, 2", d, c)
	}
	if g, _ := s.Generation(); g <= gen {
		t.Errorf("generation %d did not grow past %d", g, gen)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Delete(\"\"): %v, want ErrInvalid", err)
	}
	got, err := s.Get("b")
	if err != nil {
		t.Fatal(err)
	}
	sameDocument(t, got, b, 0)
	checkConsistent(t, s)
}

func TestConcurrentPutsAndReadsStayConsistent(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	errs := make(chan error, 5)
	for w := range 4 {
		go func() {
			for i := range 20 {
				// Writers overlap on ids so replacements race too.
				d := testDoc(fmt.Sprintf("doc-%d", (w*7+i)%30), 1+i%3, testDims, uint64(w*100+i))
				if err := s.Put(ctx, []Document{d}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for range 20 {
			if _, err := s.ForEachChunk(ctx, func(Chunk) error { return nil }); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 5 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	checkConsistent(t, s)
}

// TestWritePutsAndDeletesInOneTransaction: a Change is applied whole or
// not at all, and an id may not be both put and deleted.
func TestWritePutsAndDeletesInOneTransaction(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: testModel, Dims: testDims})
	put(t, s, testDoc("old", 2, testDims, 1), testDoc("keep", 1, testDims, 2))
	gen, _ := s.Generation()

	bad := testDoc("new", 1, testDims, 3)
	bad.Chunks[0].Vector[0] = float32(math.NaN())
	if _, err := s.Write(ctx, Change{Put: []Document{bad}, Delete: []string{"old"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("write with a bad vector: %v, want ErrInvalid", err)
	}
	if _, err := s.Write(ctx, Change{Put: []Document{testDoc("old", 1, testDims, 4)}, Delete: []string{"old"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("put and delete of one id: %v, want ErrInvalid", err)
	}
	if g, _ := s.Generation(); g != gen {
		t.Fatalf("a refused change moved the generation %d -> %d", gen, g)
	}
	if _, err := s.Get("old"); err != nil {
		t.Fatalf("a refused change deleted a document: %v", err)
	}

	n, err := s.Write(ctx, Change{Put: []Document{testDoc("new", 1, testDims, 5)}, Delete: []string{"old", "never"}})
	if err != nil || n != 1 {
		t.Fatalf("write = %d, %v; want 1 deleted", n, err)
	}
	if _, err := s.Get("old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old after delete: %v", err)
	}
	docs, chunks, err := s.Count()
	if err != nil || docs != 2 || chunks != 2 {
		t.Fatalf("count = %d docs %d chunks, %v; want 2 and 2", docs, chunks, err)
	}
	if g, _ := s.Generation(); g == gen {
		t.Fatal("an applied change left the generation")
	}
	// Deleting only ids that are not stored changes nothing.
	gen, _ = s.Generation()
	if n, err := s.Write(ctx, Change{Delete: []string{"never"}}); err != nil || n != 0 {
		t.Fatalf("delete of a missing id = %d, %v", n, err)
	}
	if g, _ := s.Generation(); g != gen {
		t.Fatal("deleting nothing moved the generation")
	}
}
