package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// migrateFrom1 brings a schema-1 store (documents only) to schema 2 by
// adding the empty collections bucket and recording the new version, in
// one transaction: a crash leaves the file at version 1, which the next
// Open migrates again. Nothing a version-1 store holds changes. An older
// edgesearch cannot open the file afterwards (it reads version 1 only),
// so Open migrates only when it would otherwise refuse the file.
func (s *Store) migrateFrom1() error {
	err := s.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		v, err := getU64(m, metaSchema)
		if err != nil {
			return err
		}
		if v != 1 {
			return fmt.Errorf("schema version changed to %d while opening: %w", v, ErrSchemaVersion)
		}
		if _, err := tx.CreateBucket(bucketCollections); err != nil {
			return fmt.Errorf("bucket %s: %w", bucketCollections, err)
		}
		return putU64(m, metaSchema, 2)
	})
	if err != nil {
		return fmt.Errorf("open store %s: migrate schema version 1 to 2: %w", s.path, err)
	}
	return nil
}

// Schema 2 kept each chunk under its document (chunks: id 0x00 ordinal ->
// chunkRecord) with an id index beside it (chunkids: chunk id -> chunks
// key). chunkRecord: encoding(1) chunk id(8) start end tokens dims
// (uvarints) vector (dims × 4 or 2 bytes).
var (
	bucketChunksV2   = []byte("chunks")
	bucketChunkIDsV2 = []byte("chunkids")
)

const (
	encodingFloat32 = 1
	encodingFloat16 = 2
	chunkIDOffset   = 1
)

// migrateBatch is how many chunks one migration transaction moves: the
// dirty pages of a transaction stay in memory until it commits, so a large
// store moves in pieces (a few MB each) rather than all at once.
const migrateBatch = 4096

// migrateFrom2 brings a schema-2 store to schema 3 by moving every chunk
// into DocumentsCollection as a point of the same id, with the vector in
// the encoding it had, indexed from docchunks. It moves migrateBatch chunks
// per transaction (migrateStep); a crash between them leaves the file at
// version 2 with some chunks moved, and the next Open carries on where it
// stopped. Chunk ids and the store's generation do not change, so a search
// index saved before the migration stays current. The last transaction
// drops the old buckets and records version 3.
func (s *Store) migrateFrom2() error {
	for done := false; !done; {
		err := s.update(func(tx *bolt.Tx) error {
			var err error
			done, err = migrateStep(tx, migrateBatch)
			return err
		})
		if err != nil {
			return fmt.Errorf("open store %s: migrate schema version 2 to 3: %w", s.path, err)
		}
	}
	return nil
}

// migrateStep moves up to batch chunks of a schema-2 store in tx and
// reports whether none are left (and the schema is now 3).
func migrateStep(tx *bolt.Tx, batch int) (done bool, err error) {
	m := tx.Bucket(bucketMeta)
	v, err := getU64(m, metaSchema)
	if err != nil {
		return false, err
	}
	if v != 2 {
		return false, fmt.Errorf("schema version changed to %d while opening: %w", v, ErrSchemaVersion)
	}
	old, oldIDs := tx.Bucket(bucketChunksV2), tx.Bucket(bucketChunkIDsV2)
	if old == nil || oldIDs == nil {
		return false, fmt.Errorf("schema-2 chunk buckets missing: %w", ErrCorrupt)
	}
	if tx.Bucket(bucketDocChunks) == nil {
		// The first step.
		if tx.Bucket(bucketCollections).Bucket([]byte(DocumentsCollection)) != nil {
			return false, fmt.Errorf("a collection named %q exists; this edgesearch keeps the documents' chunks under that name: "+
				"copy its points elsewhere with the edgesearch that made it, delete it, and open the store again: %w",
				DocumentsCollection, ErrSchemaVersion)
		}
		dims, err := getU64(m, metaDims)
		if err != nil {
			return false, err
		}
		if dims == 0 || dims > maxDims {
			return false, fmt.Errorf("meta dims %d: %w", dims, ErrCorrupt)
		}
		if _, err := tx.CreateBucket(bucketDocChunks); err != nil {
			return false, err
		}
		if err := createDocumentsCollection(tx, int(dims)); err != nil {
			return false, err
		}
	}
	b := buckets(tx)
	var keys [][]byte
	var ids []uint64
	c := old.Cursor()
	for k, v := c.First(); k != nil && len(keys) < batch; k, v = c.Next() {
		ch, err := decodeChunkV2(k, v)
		if err != nil {
			return false, err
		}
		rec := encodeChunkPoint(&ch, ch.DocID, ch.Ordinal, v[0] == encodingFloat16)
		if err := b.points.Put(chunkPointKey(ch.ID), rec); err != nil {
			return false, err
		}
		if err := b.docChunks.Put(bytes.Clone(k), idKey(ch.ID)); err != nil {
			return false, err
		}
		keys = append(keys, bytes.Clone(k))
		ids = append(ids, ch.ID)
	}
	for i, k := range keys {
		if err := old.Delete(k); err != nil {
			return false, err
		}
		if err := oldIDs.Delete(idKey(ids[i])); err != nil {
			return false, err
		}
	}
	if err := addU64(b.chunkCol, collCount, len(keys)); err != nil {
		return false, err
	}
	if k, _ := old.Cursor().First(); k != nil {
		return false, nil // more to move in the next transaction
	}
	if k, _ := oldIDs.Cursor().First(); k != nil {
		return false, fmt.Errorf("chunk id index holds ids of no chunk: %w", ErrCorrupt)
	}
	for _, name := range [][]byte{bucketChunksV2, bucketChunkIDsV2} {
		if err := tx.DeleteBucket(name); err != nil {
			return false, err
		}
	}
	return true, putU64(m, metaSchema, 3)
}

// decodeChunkV2 decodes a schema-2 chunk from its key and record. Text is left empty;
// the caller fills it from the document.
func decodeChunkV2(key, rec []byte) (Chunk, error) {
	docID, ord, err := parseChunkKey(key)
	if err != nil {
		return Chunk{}, err
	}
	id, err := chunkRecordID(rec)
	if err != nil {
		return Chunk{}, fmt.Errorf("document %q chunk %d: %w", docID, ord, err)
	}
	c := Chunk{ID: id, DocID: docID, Ordinal: ord}
	d := &decoder{b: rec[9:]}
	start, end := d.uvarint("start"), d.uvarint("end")
	tokens, dims := d.uvarint("tokens"), d.uvarint("dims")
	size := uint64(4)
	if rec[0] == encodingFloat16 {
		size = 2
	} else if rec[0] != encodingFloat32 {
		d.fail(fmt.Sprintf("vector encoding %d", rec[0]))
	}
	if d.err == nil && (dims > uint64(len(d.b))/size || start >= end || end > math.MaxInt32 || tokens > math.MaxInt32) {
		d.fail("chunk fields")
	}
	raw := d.bytes(dims*size, "vector")
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Chunk{}, fmt.Errorf("document %q chunk %d: %w", docID, ord, d.err)
	}
	c.Start, c.End, c.Tokens = int(start), int(end), int(tokens)
	c.Vector = make([]float32, dims)
	for i := range c.Vector {
		if size == 2 {
			c.Vector[i] = Float16Value(binary.LittleEndian.Uint16(raw[2*i:]))
		} else {
			c.Vector[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return c, nil
}

// chunkRecordID reads only the id of a schema-2 chunk record.
func chunkRecordID(rec []byte) (uint64, error) {
	if len(rec) < 9 {
		return 0, fmt.Errorf("chunk record of %d bytes: %w", len(rec), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(rec[chunkIDOffset:]), nil
}
