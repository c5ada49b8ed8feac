package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A transfer survives closing the store, leaves the collection it is about
// alone (same generation: a resume point is not a write of the points),
// and is gone once deleted.
func TestTransferRoundTripsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgesearch.db")
	s, err := Open(path, Options{Model: testModel, Dims: testDims})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Transfer("to weaviate://h:1 c"); ok || err != nil {
		t.Fatalf("transfer in a new store: found %v, %v", ok, err)
	}
	info := newCollection(t, s, "c", vec4)
	last, _ := ParsePointID("5c56c793-69e3-4b3a-9d3f-1c2a3b4c5d6e")
	want := Transfer{Last: &last, Copied: 512, Pages: 2, Created: true, Generation: info.Generation,
		Started: time.Date(2026, 11, 29, 11, 0, 0, 0, time.UTC), Updated: time.Date(2026, 11, 29, 11, 1, 0, 0, time.UTC)}
	if err := s.PutTransfer(bg, "to weaviate://h:1 c", want); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTransfer(bg, "to weaviate://h:1 other", Transfer{Copied: 1}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Collection("c"); err != nil || got.Generation != info.Generation {
		t.Fatalf("collection after PutTransfer: generation %d, %v; want %d unchanged", got.Generation, err, info.Generation)
	}
	s.Close()

	s = openTest(t, path, Options{})
	got, ok, err := s.Transfer("to weaviate://h:1 c")
	if err != nil || !ok {
		t.Fatalf("after reopen: found %v, %v", ok, err)
	}
	if got.Last == nil || *got.Last != last || got.Copied != want.Copied || got.Pages != want.Pages || !got.Created ||
		got.Generation != want.Generation || !got.Started.Equal(want.Started) || !got.Updated.Equal(want.Updated) {
		t.Fatalf("after reopen: %+v, want %+v", got, want)
	}
	if found, err := s.DeleteTransfer(bg, "to weaviate://h:1 c"); !found || err != nil {
		t.Fatalf("DeleteTransfer: %v, %v", found, err)
	}
	if found, err := s.DeleteTransfer(bg, "to weaviate://h:1 c"); found || err != nil {
		t.Fatalf("second DeleteTransfer: %v, %v", found, err)
	}
	if _, ok, _ := s.Transfer("to weaviate://h:1 c"); ok {
		t.Fatal("deleted transfer still found")
	}
	if got, ok, _ := s.Transfer("to weaviate://h:1 other"); !ok || got.Last != nil || got.Copied != 1 {
		t.Fatalf("the other transfer: %+v, %v", got, ok)
	}
}

func TestTransferRefusesBadKeysAndReportsDamage(t *testing.T) {
	s := newTestStore(t)
	for _, key := range []string{"", strings.Repeat("k", maxTransferKey+1)} {
		if err := s.PutTransfer(bg, key, Transfer{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutTransfer(key of %d bytes): %v, want ErrInvalid", len(key), err)
		}
	}
	if found, err := s.DeleteTransfer(bg, "none"); found || err != nil {
		t.Fatalf("DeleteTransfer before any transfer: %v, %v", found, err)
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTransfers)
		if err != nil {
			return err
		}
		return b.Put([]byte("bad"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Transfer("bad"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Transfer of a damaged record: %v, want ErrCorrupt", err)
	}
}
