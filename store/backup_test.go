package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestBackupOpensAsTheSameStore(t *testing.T) {
	s := newTestStore(t)
	docs := []Document{testDoc("a", 3, testDims, 1), testDoc("b", 1, testDims, 2)}
	put(t, s, docs...)
	var buf bytes.Buffer
	n, err := s.Backup(context.Background(), &buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup = %d bytes, %v; buffer holds %d", n, err, buf.Len())
	}
	// A write after the snapshot must not show up in it.
	put(t, s, testDoc("c", 1, testDims, 3))

	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, path, Options{})
	if r.Model() != testModel || r.Dims() != testDims {
		t.Errorf("restored model %q dims %d", r.Model(), r.Dims())
	}
	if d, c, _ := r.Count(); d != 2 || c != 4 {
		t.Errorf("restored Count = %d, %d; want 2, 4", d, c)
	}
	for _, want := range docs {
		got, err := r.Get(want.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameDocument(t, got, want, 0)
	}
	if _, err := r.Get("c"); !errors.Is(err, ErrNotFound) {
		t.Errorf("document written after the backup is in it: %v", err)
	}
	checkConsistent(t, r)
}

func TestBackupStopsOnCanceledContext(t *testing.T) {
	s := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var buf bytes.Buffer
	if _, err := s.Backup(ctx, &buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("Backup: %v, want context.Canceled", err)
	}
}
