package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Get returns the document id with its chunks (vectors and text filled in)
// in ordinal order. It fails with ErrNotFound when no such document is
// stored, and with ErrCorrupt when its records cannot be decoded.
func (s *Store) Get(id string) (Document, error) {
	defer s.afterRead()
	var doc Document
	err := s.db.View(func(tx *bolt.Tx) error {
		b := buckets(tx)
		rec := b.docs.Get([]byte(id))
		if rec == nil {
			return ErrNotFound
		}
		var err error
		if doc, err = decodeDocument(id, rec); err != nil {
			return err
		}
		prefix := chunkPrefix(id)
		c := b.docChunks.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			ch, err := b.chunk(k, v)
			if err != nil {
				return err
			}
			if err := spanText(&ch, doc.Text); err != nil {
				return err
			}
			doc.Chunks = append(doc.Chunks, ch)
		}
		return nil
	})
	if err != nil {
		return Document{}, fmt.Errorf("get document %q from %s: %w", id, s.path, err)
	}
	return doc, nil
}

// List returns up to limit documents, without their chunks, in id order
// starting at offset, and the total number of documents. Because replacing
// a document keeps its id, paging with increasing offsets while other
// callers Put sees every document that existed throughout. It fails with
// ErrInvalid for a negative offset or a limit below 1.
func (s *Store) List(offset, limit int) ([]Document, int, error) {
	if offset < 0 || limit < 1 {
		return nil, 0, fmt.Errorf("list documents: offset %d, limit %d: offset must be >= 0 and limit >= 1: %w", offset, limit, ErrInvalid)
	}
	var docs []Document
	var total uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		b := buckets(tx)
		var err error
		if total, err = getCount(b.meta, metaDocuments); err != nil {
			return err
		}
		if uint64(offset) >= total {
			return nil
		}
		c := b.docs.Cursor()
		k, v := c.First()
		// bbolt keeps no subtree counts, so an offset is a walk over keys;
		// cheap next to decoding, and a list page is small.
		for range offset {
			if k == nil {
				return nil
			}
			k, v = c.Next()
		}
		for ; k != nil && len(docs) < limit; k, v = c.Next() {
			d, err := decodeDocument(string(k), v)
			if err != nil {
				return err
			}
			docs = append(docs, d)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list documents in %s: %w", s.path, err)
	}
	return docs, int(total), nil
}

// ChunkByID returns the chunk with the given id, text and vector filled in.
// It fails with ErrNotFound when no chunk has that id (for instance because
// its document was replaced or deleted since an index was built).
func (s *Store) ChunkByID(id uint64) (Chunk, error) {
	defer s.afterRead()
	var ch Chunk
	err := s.db.View(func(tx *bolt.Tx) error {
		b := buckets(tx)
		rec := b.points.Get(chunkPointKey(id))
		if rec == nil {
			return ErrNotFound
		}
		var err error
		if ch, err = decodeChunkPoint(id, rec); err != nil {
			return err
		}
		doc := b.docs.Get([]byte(ch.DocID))
		if doc == nil {
			return fmt.Errorf("chunk of missing document %q: %w", ch.DocID, ErrCorrupt)
		}
		d, err := decodeDocument(ch.DocID, doc)
		if err != nil {
			return err
		}
		return spanText(&ch, d.Text)
	})
	if err != nil {
		return Chunk{}, fmt.Errorf("get chunk %d from %s: %w", id, s.path, err)
	}
	return ch, nil
}

// ForEachChunk calls fn with every chunk, text and vector filled in, in
// chunk id order (a document's chunks together, in ordinal order), all from one consistent snapshot, and
// returns that snapshot's generation for the index being rebuilt to record.
// The chunk is fn's to keep. Iteration stops at the first error from fn,
// which is returned as is, or when ctx is done.
//
// fn runs inside a bbolt read transaction and must not call Put or Delete:
// a writer that needs to grow the file would wait for this reader forever.
func (s *Store) ForEachChunk(ctx context.Context, fn func(Chunk) error) (generation uint64, err error) {
	var fnErr error
	err = s.db.View(func(tx *bolt.Tx) error {
		b := buckets(tx)
		var err error
		if generation, err = getU64(b.meta, metaGeneration); err != nil {
			return err
		}
		var doc Document
		n := 0
		c := b.points.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if n%releaseEvery == 0 {
				// A walk reads the whole file once; without this, all of
				// it would stay resident until the walk ends.
				if err := s.releaseMapped(tx); err != nil {
					return err
				}
			}
			id, err := decodePointKey(k)
			if err != nil {
				return err
			}
			cid, ok := id.Num()
			if !ok {
				return fmt.Errorf("chunk point %v: not a chunk id: %w", id, ErrCorrupt)
			}
			ch, err := decodeChunkPoint(cid, v)
			if err != nil {
				return err
			}
			if ch.DocID != doc.ID || doc.ID == "" {
				rec := b.docs.Get([]byte(ch.DocID))
				if rec == nil {
					return fmt.Errorf("chunk of missing document %q: %w", ch.DocID, ErrCorrupt)
				}
				if doc, err = decodeDocument(ch.DocID, rec); err != nil {
					return err
				}
			}
			if err := spanText(&ch, doc.Text); err != nil {
				return err
			}
			if fnErr = fn(ch); fnErr != nil {
				return fnErr
			}
		}
		return ctx.Err()
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, fmt.Errorf("walk chunks of %s: %w", s.path, err)
	}
	return generation, nil
}

// releaseEvery is how many chunks ForEachChunk reads between releases of
// the file pages it has mapped (see ReleasePages): about 25 MB of a store
// of 384-d float32 vectors and their texts.
const releaseEvery = 1 << 14

// HasHash reports whether a document with this source and text hash (see
// HashText) is stored, and its id, so an importer can skip files that have
// not changed. Several documents may share a source and hash; the one with
// the smallest id is returned.
func (s *Store) HasHash(source string, hash [32]byte) (id string, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		prefix := hashPrefix(hash, source)
		k, _ := tx.Bucket(bucketHashes).Cursor().Seek(prefix)
		if k != nil && bytes.HasPrefix(k, prefix) {
			id, ok = string(k[len(prefix):]), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("look up hash of %q in %s: %w", source, s.path, err)
	}
	return id, ok, nil
}

// chunk reads the chunk a docchunks entry (key k, value v) names and checks
// that it is the one the key says.
func (b bucketSet) chunk(k, v []byte) (Chunk, error) {
	docID, ord, err := parseChunkKey(k)
	if err != nil {
		return Chunk{}, err
	}
	if len(v) != 8 {
		return Chunk{}, fmt.Errorf("document %q chunk %d: index value %x: %w", docID, ord, v, ErrCorrupt)
	}
	id := binary.BigEndian.Uint64(v)
	rec := b.points.Get(chunkPointKey(id))
	if rec == nil {
		return Chunk{}, fmt.Errorf("document %q chunk %d: its point %d is missing: %w", docID, ord, id, ErrCorrupt)
	}
	ch, err := decodeChunkPoint(id, rec)
	if err != nil {
		return Chunk{}, err
	}
	if ch.DocID != docID || ch.Ordinal != ord {
		return Chunk{}, fmt.Errorf("document %q chunk %d: its point %d says document %q chunk %d: %w",
			docID, ord, id, ch.DocID, ch.Ordinal, ErrCorrupt)
	}
	return ch, nil
}
