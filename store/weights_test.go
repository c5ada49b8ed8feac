package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestOpenTellsWeightsApart pins the weights as part of the model's
// identity: one model name quantized another way is another model (its
// vectors differ), so opening for it fails until the store is re-embedded.
func TestOpenTellsWeightsApart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openTest(t, path, Options{Model: testModel, Weights: "F16", Dims: testDims})
	put(t, s, testDoc("a", 2, testDims, 1))
	if s.Weights() != "F16" {
		t.Errorf("Weights() = %q after creating with F16", s.Weights())
	}
	s.Close()

	_, err := Open(path, Options{Model: testModel, Weights: "Q8_0", Dims: testDims})
	if !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("Open with Q8_0 weights of a store made with F16: %v, want ErrModelMismatch", err)
	}
	for _, want := range []string{`"all-MiniLM-L6-v2" (F16 weights, 384 dims)`, `"all-MiniLM-L6-v2" (Q8_0 weights, 384 dims)`, "re-embed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	// The same weights, and a caller that does not say, open it as it is.
	for _, w := range []string{"F16", ""} {
		s = openTest(t, path, Options{Model: testModel, Weights: w, Dims: testDims})
		if d, c, _ := s.Count(); d != 1 || c != 2 || s.Weights() != "F16" {
			t.Errorf("Open with weights %q: %d documents, %d chunks, weights %q", w, d, c, s.Weights())
		}
		s.Close()
	}
	s = openTest(t, path, Options{Model: testModel, Weights: "Q8_0", Dims: testDims, Reembed: true})
	if d, c, _ := s.Count(); d != 1 || c != 0 || s.Weights() != "Q8_0" {
		t.Errorf("after Reembed for Q8_0: %d documents, %d chunks, weights %q", d, c, s.Weights())
	}
	s.Close()
	if _, err := Open(path, Options{Model: testModel, Weights: "F16", Dims: testDims}); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("Open with F16 after re-embedding for Q8_0: %v, want ErrModelMismatch", err)
	}
}

// TestOpenRecordsWeightsInAStoreWithoutThem: a store written before weights
// were recorded (the meta bucket has a model name and no weights key, as
// Open without Weights still writes it) keeps opening for its model with
// any weights, and the first Open that names them records them, so that a
// change after that is noticed. Nothing else in the store changes.
func TestOpenRecordsWeightsInAStoreWithoutThem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	put(t, s, testDoc("a", 2, testDims, 1))
	gen, _ := s.Generation()
	if err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaWeights); v != nil {
			t.Errorf("a store created without weights has the key %q = %q", metaWeights, v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openTest(t, path, Options{})
	if s.Weights() != "" {
		t.Errorf("Weights() = %q, want none recorded", s.Weights())
	}
	s.Close()
	s = openTest(t, path, Options{Model: testModel, Weights: "Q8_0", Dims: testDims})
	if d, c, _ := s.Count(); d != 1 || c != 2 || s.Weights() != "Q8_0" {
		t.Errorf("first Open with Q8_0: %d documents, %d chunks, weights %q; want 1, 2, Q8_0", d, c, s.Weights())
	}
	if g, _ := s.Generation(); g != gen {
		t.Errorf("recording the weights changed the generation from %d to %d (the graph would be rebuilt)", gen, g)
	}
	checkConsistent(t, s)
	s.Close()
	if _, err := Open(path, Options{Model: testModel, Weights: "F16", Dims: testDims}); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("Open with F16 once Q8_0 is recorded: %v, want ErrModelMismatch", err)
	}
	if _, err := Open(path, Options{Weights: "F16"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Open with weights but no model: %v, want ErrInvalid", err)
	}
}
