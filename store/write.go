package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Put stores docs in a single transaction: all of them or, on any error,
// none. A document whose id is already stored is replaced, its old chunks
// and vectors removed; its Created time is kept.
//
// Durability: when Put returns nil the transaction has been committed and
// bbolt has fsynced the file, so every document in docs survives a crash
// or power loss from then on. Batching many documents into one Put pays
// for that fsync once.
//
// On success Put sets Hash, Created and Updated of each document and the
// ID, DocID and Ordinal of each chunk in the caller's slice. It fails with
// ErrInvalid, writing nothing and changing nothing in docs, when a document
// has an empty, too long or non-UTF-8 id or text, a duplicate id within the
// batch, a chunk span outside the text, or a vector whose length is not
// Dims or that holds NaN or Inf. An empty batch is a no-op.
func (s *Store) Put(ctx context.Context, docs []Document) error {
	if len(docs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %d documents: %w", len(docs), err)
	}
	seen := make(map[string]int, len(docs))
	for i := range docs {
		if err := validate(&docs[i], s.dims, s.half); err != nil {
			return fmt.Errorf("put: %w", err)
		}
		if j, dup := seen[docs[i].ID]; dup {
			return fmt.Errorf("put: document %q is both item %d and item %d of the batch: %w", docs[i].ID, j, i, ErrInvalid)
		}
		seen[docs[i].ID] = i
	}

	// Encode outside the transaction so the write lock is held only for the
	// B-tree work; the fields known only inside it (created time of a
	// replaced document, chunk ids) are patched in place there.
	now := time.Now()
	type pending struct {
		doc     Document // copy carrying the computed fields
		rec     []byte
		chunks  [][]byte
		created time.Time
		ids     []uint64
	}
	work := make([]pending, len(docs))
	for i := range docs {
		p := &work[i]
		p.doc = docs[i]
		p.doc.Hash = HashText(p.doc.Text)
		p.doc.Created, p.doc.Updated = now, now
		p.rec = encodeDocument(&p.doc)
		p.chunks = make([][]byte, len(p.doc.Chunks))
		for j := range p.doc.Chunks {
			p.chunks[j] = encodeChunk(&p.doc.Chunks[j], s.half)
		}
		p.ids = make([]uint64, len(p.chunks))
	}

	err := s.update(func(tx *bolt.Tx) error {
		b := buckets(tx)
		next, err := getU64(b.meta, metaNextChunk)
		if err != nil {
			return err
		}
		newDocs, chunkDelta := 0, 0
		for i := range work {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			p := &work[i]
			id := p.doc.ID
			p.created = now
			if old := b.docs.Get([]byte(id)); old != nil {
				h, err := decodeHeader(old)
				if err != nil {
					return fmt.Errorf("document %q: %w", id, err)
				}
				p.created = h.created
				n, err := deleteChunks(b, id)
				if err != nil {
					return err
				}
				chunkDelta -= n
				if err := b.hashes.Delete(hashKey(h.hash, h.source, id)); err != nil {
					return fmt.Errorf("document %q: hash index: %w", id, err)
				}
			} else {
				newDocs++
			}
			setCreated(p.rec, p.created)
			if err := b.docs.Put([]byte(id), p.rec); err != nil {
				return fmt.Errorf("document %q: %w", id, err)
			}
			for j, rec := range p.chunks {
				p.ids[j] = next
				setChunkID(rec, next)
				ck := chunkKey(id, j)
				if err := b.chunks.Put(ck, rec); err != nil {
					return fmt.Errorf("document %q chunk %d: %w", id, j, err)
				}
				if err := b.chunkIDs.Put(idKey(next), ck); err != nil {
					return fmt.Errorf("document %q chunk %d: id index: %w", id, j, err)
				}
				next++
			}
			chunkDelta += len(p.chunks)
			if err := b.hashes.Put(hashKey(p.doc.Hash, p.doc.Source, id), []byte{}); err != nil {
				return fmt.Errorf("document %q: hash index: %w", id, err)
			}
		}
		if err := putU64(b.meta, metaNextChunk, next); err != nil {
			return err
		}
		if err := addU64(b.meta, metaDocuments, newDocs); err != nil {
			return err
		}
		if err := addU64(b.meta, metaChunks, chunkDelta); err != nil {
			return err
		}
		return bumpGeneration(b.meta)
	})
	if err != nil {
		return fmt.Errorf("put %d documents into %s: %w", len(docs), s.path, err)
	}
	for i := range docs {
		d, p := &docs[i], &work[i]
		d.Hash, d.Created, d.Updated = p.doc.Hash, p.created, now
		for j := range d.Chunks {
			d.Chunks[j].ID, d.Chunks[j].DocID, d.Chunks[j].Ordinal = p.ids[j], d.ID, j
		}
	}
	return nil
}

// Delete removes the document id with its chunks, durably on return like
// Put. It fails with ErrInvalid for an empty id and ErrNotFound when no
// such document is stored.
func (s *Store) Delete(ctx context.Context, id string) error {
	if id == "" {
		return fmt.Errorf("delete: document id is empty: %w", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete document %q: %w", id, err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		b := buckets(tx)
		old := b.docs.Get([]byte(id))
		if old == nil {
			return ErrNotFound
		}
		h, err := decodeHeader(old)
		if err != nil {
			return err
		}
		n, err := deleteChunks(b, id)
		if err != nil {
			return err
		}
		if err := b.hashes.Delete(hashKey(h.hash, h.source, id)); err != nil {
			return err
		}
		if err := b.docs.Delete([]byte(id)); err != nil {
			return err
		}
		if err := addU64(b.meta, metaDocuments, -1); err != nil {
			return err
		}
		if err := addU64(b.meta, metaChunks, -n); err != nil {
			return err
		}
		return bumpGeneration(b.meta)
	})
	if err != nil {
		return fmt.Errorf("delete document %q from %s: %w", id, s.path, err)
	}
	return nil
}

// deleteChunks removes every chunk of docID and its id index entry and
// returns how many there were.
func deleteChunks(b bucketSet, docID string) (int, error) {
	prefix := chunkPrefix(docID)
	var keys [][]byte
	var ids []uint64
	// Collect first: deleting under a live bbolt cursor can skip keys.
	c := b.chunks.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		id, err := chunkRecordID(v)
		if err != nil {
			return 0, fmt.Errorf("document %q: %w", docID, err)
		}
		keys = append(keys, bytes.Clone(k))
		ids = append(ids, id)
	}
	for i, k := range keys {
		if err := b.chunks.Delete(k); err != nil {
			return 0, fmt.Errorf("document %q chunk: %w", docID, err)
		}
		if err := b.chunkIDs.Delete(idKey(ids[i])); err != nil {
			return 0, fmt.Errorf("document %q chunk id %d: %w", docID, ids[i], err)
		}
	}
	return len(keys), nil
}

// bucketSet holds the buckets of one transaction.
type bucketSet struct {
	docs, chunks, chunkIDs, hashes, meta *bolt.Bucket
}

func buckets(tx *bolt.Tx) bucketSet {
	b := bucketSet{
		docs:     tx.Bucket(bucketDocuments),
		chunks:   tx.Bucket(bucketChunks),
		chunkIDs: tx.Bucket(bucketChunkIDs),
		hashes:   tx.Bucket(bucketHashes),
		meta:     tx.Bucket(bucketMeta),
	}
	if b.chunkIDs != nil {
		// Chunk ids only ever grow, so their keys are appended at the
		// right edge; packing pages full wastes nothing.
		b.chunkIDs.FillPercent = 0.95
	}
	return b
}
