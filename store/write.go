package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Change is one write to the documents: documents to store and ids to
// remove, applied together by Write in a single transaction.
type Change struct {
	// Put are stored, replacing a stored document of the same id (its old
	// chunks and vectors removed, its Created time kept).
	Put []Document
	// Delete are removed with their chunks; ids that are not stored are
	// skipped, so a retry after a crash is harmless.
	Delete []string
}

// Write applies c in a single transaction: all of it or, on any error,
// nothing. It returns how many of c.Delete were stored (and are removed).
//
// Durability: when Write returns nil the transaction has been committed
// and bbolt has fsynced the file, so the change survives a crash or power
// loss from then on. Batching many documents into one Write pays for that
// fsync once.
//
// On success Write sets Hash, Created and Updated of each document in
// c.Put and the ID, DocID and Ordinal of each chunk, in the caller's
// slice. It fails with ErrInvalid, writing nothing and changing nothing in
// c.Put, when a document has an empty, too long or non-UTF-8 id or text, a
// duplicate id within the batch, a chunk span outside the text, or a
// vector whose length is not Dims or that holds NaN or Inf; when an id to
// delete is empty; or when an id is both put and deleted. An empty change
// is a no-op.
func (s *Store) Write(ctx context.Context, c Change) (deleted int, err error) {
	docs := c.Put
	what := fmt.Sprintf("put %d documents", len(docs))
	if len(c.Delete) > 0 {
		what = fmt.Sprintf("delete %d documents", len(c.Delete))
		if len(docs) > 0 {
			what = fmt.Sprintf("put %d and delete %d documents", len(docs), len(c.Delete))
		}
	}
	if len(docs) == 0 && len(c.Delete) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	seen := make(map[string]int, len(docs))
	for i := range docs {
		if err := validate(&docs[i], s.dims, s.half); err != nil {
			return 0, fmt.Errorf("%s: %w", what, err)
		}
		if j, dup := seen[docs[i].ID]; dup {
			return 0, fmt.Errorf("%s: document %q is both item %d and item %d of the batch: %w", what, docs[i].ID, j, i, ErrInvalid)
		}
		seen[docs[i].ID] = i
	}
	for _, id := range c.Delete {
		if id == "" {
			return 0, fmt.Errorf("%s: an id to delete is empty: %w", what, ErrInvalid)
		}
		if _, both := seen[id]; both {
			return 0, fmt.Errorf("%s: document %q is both put and deleted: %w", what, id, ErrInvalid)
		}
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
			p.chunks[j] = encodeChunkPoint(&p.doc.Chunks[j], p.doc.ID, j, s.half)
		}
		p.ids = make([]uint64, len(p.chunks))
	}

	err = s.update(func(tx *bolt.Tx) error {
		deleted = 0
		b := buckets(tx)
		next, err := getU64(b.meta, metaNextChunk)
		if err != nil {
			return err
		}
		docDelta, chunkDelta := 0, 0
		for i, id := range c.Delete {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			_, n, found, err := deleteDocument(b, id, true)
			if err != nil {
				return err
			}
			if found {
				deleted++
				docDelta--
				chunkDelta -= n
			}
		}
		for i := range work {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			p := &work[i]
			id := p.doc.ID
			p.created = now
			h, n, found, err := deleteDocument(b, id, false)
			if err != nil {
				return err
			}
			if found {
				p.created = h.created
				chunkDelta -= n
			} else {
				docDelta++
			}
			setCreated(p.rec, p.created)
			if err := b.docs.Put([]byte(id), p.rec); err != nil {
				return fmt.Errorf("document %q: %w", id, err)
			}
			for j, rec := range p.chunks {
				p.ids[j] = next
				if err := b.points.Put(chunkPointKey(next), rec); err != nil {
					return fmt.Errorf("document %q chunk %d: %w", id, j, err)
				}
				if err := b.docChunks.Put(chunkKey(id, j), idKey(next)); err != nil {
					return fmt.Errorf("document %q chunk %d: chunk index: %w", id, j, err)
				}
				next++
			}
			chunkDelta += len(p.chunks)
			if err := b.hashes.Put(hashKey(p.doc.Hash, p.doc.Source, id), []byte{}); err != nil {
				return fmt.Errorf("document %q: hash index: %w", id, err)
			}
		}
		if len(work) == 0 && deleted == 0 {
			return nil // nothing changed: the generation stays
		}
		if err := putU64(b.meta, metaNextChunk, next); err != nil {
			return err
		}
		if err := addU64(b.meta, metaDocuments, docDelta); err != nil {
			return err
		}
		if err := addU64(b.meta, metaChunks, chunkDelta); err != nil {
			return err
		}
		if err := addU64(b.chunkCol, collCount, chunkDelta); err != nil {
			return err
		}
		if err := addU64(b.chunkCol, collGeneration, 1); err != nil {
			return err
		}
		return bumpGeneration(b.meta)
	})
	if err != nil {
		return 0, fmt.Errorf("%s in %s: %w", what, s.path, err)
	}
	for i := range docs {
		d, p := &docs[i], &work[i]
		d.Hash, d.Created, d.Updated = p.doc.Hash, p.created, now
		for j := range d.Chunks {
			d.Chunks[j].ID, d.Chunks[j].DocID, d.Chunks[j].Ordinal = p.ids[j], d.ID, j
		}
	}
	return deleted, nil
}

// Put stores docs in a single transaction; see Write for what is checked,
// set and durable. An empty batch is a no-op.
func (s *Store) Put(ctx context.Context, docs []Document) error {
	_, err := s.Write(ctx, Change{Put: docs})
	return err
}

// Delete removes the document id with its chunks, durably on return like
// Write. It fails with ErrInvalid for an empty id and ErrNotFound when no
// such document is stored.
func (s *Store) Delete(ctx context.Context, id string) error {
	n, err := s.Write(ctx, Change{Delete: []string{id}})
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delete document %q from %s: %w", id, s.path, ErrNotFound)
	}
	return nil
}

// DeleteBatch removes the documents ids with their chunks in a single
// transaction, durably on return like Write, and returns how many were
// stored. Ids that are not stored are skipped. It fails with ErrInvalid,
// removing nothing, for an empty id.
func (s *Store) DeleteBatch(ctx context.Context, ids []string) (int, error) {
	return s.Write(ctx, Change{Delete: ids})
}

// deleteDocument removes the stored document id — its chunks and hash
// index entry, and its record too when record is set (a replacement
// overwrites it) — and returns its header, how many chunks it had and
// whether it was stored.
func deleteDocument(b bucketSet, id string, record bool) (h docHeader, chunks int, found bool, err error) {
	old := b.docs.Get([]byte(id))
	if old == nil {
		return h, 0, false, nil
	}
	if h, err = decodeHeader(old); err != nil {
		return h, 0, true, fmt.Errorf("document %q: %w", id, err)
	}
	n, err := deleteChunks(b, id)
	if err != nil {
		return h, 0, true, err
	}
	if err := b.hashes.Delete(hashKey(h.hash, h.source, id)); err != nil {
		return h, 0, true, fmt.Errorf("document %q: hash index: %w", id, err)
	}
	if record {
		if err := b.docs.Delete([]byte(id)); err != nil {
			return h, 0, true, fmt.Errorf("document %q: %w", id, err)
		}
	}
	return h, n, true, nil
}

// deleteChunks removes every chunk of docID, its point and its index
// entry, and returns how many there were.
func deleteChunks(b bucketSet, docID string) (int, error) {
	prefix := chunkPrefix(docID)
	var keys [][]byte
	var ids []uint64
	// Collect first: deleting under a live bbolt cursor can skip keys.
	c := b.docChunks.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 8 {
			return 0, fmt.Errorf("document %q: chunk index value %x: %w", docID, v, ErrCorrupt)
		}
		keys = append(keys, bytes.Clone(k))
		ids = append(ids, binary.BigEndian.Uint64(v))
	}
	for i, k := range keys {
		if err := b.docChunks.Delete(k); err != nil {
			return 0, fmt.Errorf("document %q chunk: %w", docID, err)
		}
		if err := b.points.Delete(chunkPointKey(ids[i])); err != nil {
			return 0, fmt.Errorf("document %q chunk %d: %w", docID, ids[i], err)
		}
	}
	return len(keys), nil
}

// bucketSet holds the buckets of one transaction: the documents layer's
// own and the collection of their chunks.
type bucketSet struct {
	docs, docChunks, hashes, meta *bolt.Bucket
	chunkCol, points              *bolt.Bucket // DocumentsCollection's bucket and its points
}

func buckets(tx *bolt.Tx) bucketSet {
	b := bucketSet{
		docs:      tx.Bucket(bucketDocuments),
		docChunks: tx.Bucket(bucketDocChunks),
		hashes:    tx.Bucket(bucketHashes),
		meta:      tx.Bucket(bucketMeta),
	}
	if top := tx.Bucket(bucketCollections); top != nil {
		if b.chunkCol = top.Bucket([]byte(DocumentsCollection)); b.chunkCol != nil {
			b.points = b.chunkCol.Bucket(collPoints)
		}
	}
	if b.points != nil {
		// Chunk ids only ever grow, so their keys are appended at the
		// right edge; packing pages full wastes nothing.
		b.points.FillPercent = 0.95
	}
	return b
}
