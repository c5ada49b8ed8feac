package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// IDs returns the id of every stored document, in id order, from one
// snapshot. Only keys are read, so it costs far less than List.
func (s *Store) IDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDocuments).Cursor()
		n := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			ids = append(ids, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list document ids in %s: %w", s.path, err)
	}
	return ids, nil
}

// Unchunked returns, in id order, the ids of the documents that have no
// chunks: every document right after Open with Options.Reembed, and those a
// re-embedding has not reached yet when it was interrupted. Such documents
// keep their text but no search can find them.
func (s *Store) Unchunked(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := buckets(tx)
		docs, chunks := b.docs.Cursor(), b.docChunks.Cursor()
		n := 0
		// Chunk keys start with the document id and a NUL, which sorts
		// before any byte of a longer id, so both cursors move forward
		// together and each Seek lands near the last one.
		for k, _ := docs.First(); k != nil; k, _ = docs.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			prefix := chunkPrefix(string(k))
			if ck, _ := chunks.Seek(prefix); ck == nil || !bytes.HasPrefix(ck, prefix) {
				ids = append(ids, string(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find documents without chunks in %s: %w", s.path, err)
	}
	return ids, nil
}

// IDsBySource returns, for each of sources, the ids of the stored documents
// whose Source is exactly that, in id order; a source with no documents has
// no entry. It reads the keys of the hash index in one snapshot, not the
// documents, so an importer can afford it once per run to find the rows a
// changed JSONL or CSV file no longer holds.
func (s *Store) IDsBySource(ctx context.Context, sources []string) (map[string][]string, error) {
	want := make(map[string]bool, len(sources))
	for _, src := range sources {
		want[src] = true
	}
	out := make(map[string][]string)
	if len(want) == 0 {
		return out, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketHashes).Cursor()
		n := 0
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if n++; n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			// hash(32) source NUL id: neither source nor id holds a NUL.
			rest := k[min(len(k), 32):]
			i := bytes.IndexByte(rest, 0)
			if len(k) < 32 || i < 0 {
				return fmt.Errorf("hash index key %x: %w", k, ErrCorrupt)
			}
			if src := string(rest[:i]); want[src] {
				out[src] = append(out[src], string(rest[i+1:]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find documents by source in %s: %w", s.path, err)
	}
	// The index is ordered by hash first; callers get ids in id order.
	for _, ids := range out {
		slices.Sort(ids)
	}
	return out, nil
}
