package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

const (
	testModel = "all-MiniLM-L6-v2"
	testDims  = 384
)

// testDoc builds a document of n chunks whose text and vectors depend only
// on id and seed, so a test can rebuild what it expects to read back.
func testDoc(id string, n, dims int, seed uint64) Document {
	rng := rand.New(rand.NewPCG(seed, 7))
	var text strings.Builder
	var chunks []Chunk
	for i := range n {
		start := text.Len()
		fmt.Fprintf(&text, "Passage %d of %s, seed %d: ünïcode and words %d.", i, id, seed, rng.IntN(1000))
		vec := make([]float32, dims)
		for j := range vec {
			vec[j] = float32(rng.NormFloat64() * 0.05)
		}
		chunks = append(chunks, Chunk{Start: start, End: text.Len(), Tokens: 12 + i, Vector: vec})
		text.WriteString(" ")
	}
	if n == 0 {
		text.WriteString("a document without chunks " + id)
	}
	return Document{
		ID:       id,
		Title:    "Title " + id,
		Source:   "/docs/" + id + ".md",
		Metadata: map[string]string{"lang": "en", "seed": fmt.Sprint(seed)},
		Text:     text.String(),
		Chunks:   chunks,
	}
}

func openTest(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestStore(t testing.TB) *Store {
	t.Helper()
	return openTest(t, filepath.Join(t.TempDir(), "edgesearch.db"), Options{Model: testModel, Dims: testDims})
}

func put(t testing.TB, s *Store, docs ...Document) {
	t.Helper()
	if err := s.Put(context.Background(), docs); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

// checkConsistent runs bbolt's page checker and compares the counters kept
// in meta with what a full scan finds, including the id and hash indexes.
func checkConsistent(t testing.TB, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		b := buckets(tx)
		nDocs, nChunks, nPoints, nHashes := b.docs.Stats().KeyN, b.docChunks.Stats().KeyN, b.points.Stats().KeyN, b.hashes.Stats().KeyN
		wantDocs, _ := getU64(b.meta, metaDocuments)
		wantChunks, _ := getU64(b.meta, metaChunks)
		colCount, _ := getU64(b.chunkCol, collCount)
		if uint64(nDocs) != wantDocs || uint64(nChunks) != wantChunks || nPoints != nChunks || nHashes != nDocs || colCount != wantChunks {
			return fmt.Errorf("counts: docs %d (meta %d), chunks %d (meta %d), chunk points %d (collection says %d), hashes %d",
				nDocs, wantDocs, nChunks, wantChunks, nPoints, colCount, nHashes)
		}
		// Every index entry names the point that says it is that chunk.
		return b.docChunks.ForEach(func(k, v []byte) error {
			_, err := b.chunk(k, v)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenCreatesThenReopensWithStoredModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{Model: testModel, Dims: testDims})
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, testDoc("a", 2, testDims, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for _, opts := range []Options{{Model: testModel, Dims: testDims}, {}} {
		s := openTest(t, path, opts)
		if s.Model() != testModel || s.Dims() != testDims {
			t.Errorf("Open(%+v): model %q dims %d, want %q %d", opts, s.Model(), s.Dims(), testModel, testDims)
		}
		if d, c, err := s.Count(); err != nil || d != 1 || c != 2 {
			t.Errorf("Open(%+v): Count = %d, %d, %v; want 1, 2", opts, d, c, err)
		}
		s.Close()
	}
}

func TestOpenRejects(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.db")
	s, err := Open(existing, Options{Model: testModel, Dims: testDims})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a bbolt file ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tests := []struct {
		name    string
		path    string
		opts    Options
		want    error
		message []string // substrings the message must hold
	}{
		{"model without dims", filepath.Join(dir, "a.db"), Options{Model: "m"}, ErrInvalid, nil},
		{"dims without model", filepath.Join(dir, "b.db"), Options{Dims: 3}, ErrInvalid, nil},
		{"negative dims", filepath.Join(dir, "c.db"), Options{Model: "m", Dims: -1}, ErrInvalid, nil},
		{"missing file without model", filepath.Join(dir, "none.db"), Options{}, ErrNotFound, nil},
		{"other model", existing, Options{Model: "bge-small-en", Dims: testDims}, ErrModelMismatch,
			[]string{`"all-MiniLM-L6-v2" (384 dims)`, `"bge-small-en" (384 dims)`, "re-embed"}},
		{"other dims", existing, Options{Model: testModel, Dims: 768}, ErrModelMismatch,
			[]string{"(384 dims)", "(768 dims)", "re-embed"}},
		{"not a bbolt file", garbage, Options{}, ErrCorrupt, nil},
		{"bbolt file of another program", foreign, Options{Model: "m", Dims: 3}, ErrCorrupt, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.path, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want %v", tt.want)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open: %v, want errors.Is %v", err, tt.want)
			}
			for _, m := range tt.message {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q lacks %q", err, m)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed Open without model left a file behind: %v", err)
	}
}

func TestOpenRejectsOtherSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return putU64(tx.Bucket(bucketMeta), metaSchema, SchemaVersion+1)
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path, Options{Model: testModel, Dims: testDims})
	if !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("Open: %v, want ErrSchemaVersion", err)
	}
	if want := fmt.Sprintf("schema version %d, this edgesearch reads version %d", SchemaVersion+1, SchemaVersion); !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
}

func TestOpenFailsWhileAnotherHandleHoldsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	openTest(t, path, Options{Model: testModel, Dims: testDims})
	_, err := Open(path, Options{LockTimeout: 50e6})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestReembedDropsVectorsAndKeepsDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	put(t, s, testDoc("a", 3, testDims, 1), testDoc("b", 2, testDims, 2))
	old, _ := s.Get("a")
	gen, _ := s.Generation()
	s.Close()

	s = openTest(t, path, Options{Model: "bge-base", Dims: 768, Reembed: true})
	if s.Model() != "bge-base" || s.Dims() != 768 {
		t.Fatalf("after Reembed model %q dims %d", s.Model(), s.Dims())
	}
	if d, c, _ := s.Count(); d != 2 || c != 0 {
		t.Errorf("Count = %d, %d; want 2 documents, 0 chunks", d, c)
	}
	if g, _ := s.Generation(); g <= gen {
		t.Errorf("generation %d did not grow past %d", g, gen)
	}
	got, err := s.Get("a")
	if err != nil || got.Text != old.Text || len(got.Chunks) != 0 {
		t.Fatalf("Get(a) = %d chunks, %v; want the text kept and no chunks", len(got.Chunks), err)
	}
	if _, err := s.ChunkByID(old.Chunks[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("old chunk id still resolves: %v", err)
	}
	// Re-embedding with the new dims works and never reuses an old chunk id.
	d := testDoc("a", 1, 768, 9)
	put(t, s, d)
	if d.Chunks[0].ID <= old.Chunks[len(old.Chunks)-1].ID {
		t.Errorf("new chunk id %d reuses the range of old ids up to %d", d.Chunks[0].ID, old.Chunks[len(old.Chunks)-1].ID)
	}
	checkConsistent(t, s)
	s.Close()

	// The store now opens with the new model only.
	if _, err := Open(path, Options{Model: testModel, Dims: testDims}); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("Open with the old model: %v, want ErrModelMismatch", err)
	}
}

func TestIDIsMadeOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	s, err := Open(path, Options{Model: "m", Dims: 4})
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.ID()
	if err != nil || len(id) != 32 {
		t.Fatalf("ID = %q, %v; want 32 hex digits", id, err)
	}
	if again, _ := s.ID(); again != id {
		t.Fatalf("second ID %q, first %q", again, id)
	}
	s.Close()
	s, err = Open(path, Options{Model: "m", Dims: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if again, _ := s.ID(); again != id {
		t.Fatalf("ID after reopen %q, before %q", again, id)
	}
	other, err := Open(filepath.Join(dir, "b.db"), Options{Model: "m", Dims: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if oid, _ := other.ID(); oid == id {
		t.Fatalf("two stores share ID %q", id)
	}
}
