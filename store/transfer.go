package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Transfers are the resume points of copies of a collection between this
// store and somewhere else (`edgesearch migrate`). They live in their own
// bucket, made by the first PutTransfer, so writing one changes no
// collection's generation and an older file without the bucket is simply
// a store with no transfers.
//
//	transfers  key (the caller's, e.g. "to weaviate://host:port coll") -> JSON of Transfer

var bucketTransfers = []byte("transfers")

// maxTransferKey bounds a transfer's key, which bbolt limits to 32 KiB.
const maxTransferKey = 1024

// Transfer is how far a copy of one collection got. The copier writes it
// after each page it copied, so a copy that was interrupted starts again
// after Last instead of from the beginning.
type Transfer struct {
	// Last is the id of the last point copied, in id order (PointID.Compare);
	// nil until the first page is copied.
	Last *PointID `json:"last,omitempty"`
	// Copied and Pages count the points and pages copied so far, over
	// every run of this transfer.
	Copied int64 `json:"copied"`
	Pages  int64 `json:"pages"`
	// Created says the copy made the target collection itself, so starting
	// over may drop it: it holds nothing but what the copy put there.
	Created bool `json:"created,omitempty"`
	// Generation is the local collection's generation (CollectionInfo)
	// when Last was recorded. A different one later means the collection
	// was written between runs, so the pages already copied may be stale.
	Generation uint64    `json:"generation"`
	Started    time.Time `json:"started"`
	Updated    time.Time `json:"updated"`
}

// Transfer returns the transfer recorded under key, and false when there
// is none. It fails with ErrCorrupt when the record cannot be decoded.
func (s *Store) Transfer(key string) (Transfer, bool, error) {
	var t Transfer
	found := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTransfers)
		if b == nil {
			return nil
		}
		rec := b.Get([]byte(key))
		if rec == nil {
			return nil
		}
		found = true
		if err := json.Unmarshal(rec, &t); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	})
	if err != nil {
		return Transfer{}, false, fmt.Errorf("transfer %q in %s: %w", key, s.path, err)
	}
	return t, found, nil
}

// PutTransfer records t under key, replacing what was there, durably on
// return (committed and fsynced, as Put). It fails with ErrInvalid for an
// empty key or one over 1 KiB, and with ErrNoSpace as Put.
func (s *Store) PutTransfer(ctx context.Context, key string, t Transfer) error {
	if key == "" || len(key) > maxTransferKey {
		return fmt.Errorf("record transfer %.40q: key of %d bytes, want 1 to %d: %w", key, len(key), maxTransferKey, ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record transfer %q: %w", key, err)
	}
	rec, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("record transfer %q: %w", key, err)
	}
	err = s.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTransfers)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), rec)
	})
	if err != nil {
		return fmt.Errorf("record transfer %q in %s: %w", key, s.path, err)
	}
	return nil
}

// DeleteTransfer removes the transfer recorded under key, durably on
// return, and reports whether there was one.
func (s *Store) DeleteTransfer(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("delete transfer %q: %w", key, err)
	}
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTransfers)
		if b == nil || b.Get([]byte(key)) == nil {
			return nil
		}
		found = true
		return b.Delete([]byte(key))
	})
	if err != nil {
		return false, fmt.Errorf("delete transfer %q from %s: %w", key, s.path, err)
	}
	return found, nil
}
