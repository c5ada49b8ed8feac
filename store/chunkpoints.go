package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The documents' chunks are the points of one collection,
// DocumentsCollection: a chunk's id is its point id, its vector the
// point's unnamed vector (float16 in a store opened with Float16), and
// where it sits in its document the point's payload:
//
//	{"document_id": ID, "chunk": ORDINAL, "start": S, "end": E, "tokens": T}
//
// The documents layer keeps, beside the collection, the document records,
// the hash index and docchunks (document id, ordinal -> chunk id). The
// collection is created with the store, sized for its model, and written
// only through Write: the point operations refuse it.

// DocumentsCollection is the collection that holds the documents' chunks.
const DocumentsCollection = "documents"

// errDocumentsCollection answers a point write to DocumentsCollection.
func errDocumentsCollection(verb string) error {
	return fmt.Errorf("%s collection %q: it holds the documents' chunks, which change only with their documents: %w",
		verb, DocumentsCollection, ErrInvalid)
}

// chunkPayload is the stored payload of a chunk point.
type chunkPayload struct {
	DocumentID string `json:"document_id"`
	Chunk      int    `json:"chunk"`
	Start      int    `json:"start"`
	End        int    `json:"end"`
	Tokens     int    `json:"tokens"`
}

// encodeChunkPoint encodes chunk ordinal of document docID as a point
// record: the vector as float32, or as float16 when half is set (record
// version pointRecordHalf).
func encodeChunkPoint(c *Chunk, docID string, ordinal int, half bool) []byte {
	payload, _ := json.Marshal(chunkPayload{DocumentID: docID, Chunk: ordinal, Start: c.Start, End: c.End, Tokens: c.Tokens})
	if !half {
		return encodePoint([]string{""}, map[string][]float32{"": c.Vector}, payload)
	}
	b := make([]byte, 0, 4+2*len(c.Vector)+len(payload))
	b = append(b, pointRecordHalf)
	b = binary.AppendUvarint(b, 1)
	b = appendString(b, "")
	b = binary.AppendUvarint(b, uint64(len(c.Vector)))
	for _, x := range c.Vector {
		b = binary.LittleEndian.AppendUint16(b, Float16Bits(x))
	}
	return append(b, payload...)
}

// decodeChunkPoint decodes the point record of chunk id. Text is left
// empty; the caller fills it from the document. Anything but a chunk point
// (one unnamed vector, the payload above with 0 <= start < end) is
// ErrCorrupt.
func decodeChunkPoint(id uint64, rec []byte) (Chunk, error) {
	vectors, payload, _, err := decodePointRecord(rec)
	if err != nil {
		return Chunk{}, fmt.Errorf("chunk %d: %w", id, err)
	}
	v, ok := vectors[""]
	var p chunkPayload
	if ok && len(vectors) == 1 {
		err = json.Unmarshal(payload, &p)
	}
	switch {
	case !ok || len(vectors) != 1:
		return Chunk{}, fmt.Errorf("chunk %d: not one unnamed vector: %w", id, ErrCorrupt)
	case err != nil:
		return Chunk{}, fmt.Errorf("chunk %d payload: %w: %v", id, ErrCorrupt, err)
	case p.DocumentID == "" || p.Chunk < 0 || p.Start < 0 || p.Start >= p.End || p.Tokens < 0 ||
		p.Chunk > math.MaxInt32 || p.End > math.MaxInt32 || p.Tokens > math.MaxInt32:
		return Chunk{}, fmt.Errorf("chunk %d payload %s: %w", id, payload, ErrCorrupt)
	}
	return Chunk{ID: id, DocID: p.DocumentID, Ordinal: p.Chunk, Start: p.Start, End: p.End, Tokens: p.Tokens, Vector: v}, nil
}

// chunkPointKey is the points key of chunk id.
func chunkPointKey(id uint64) []byte { return pointKey(NumPointID(id)) }

// createDocumentsCollection makes DocumentsCollection for vectors of dims,
// empty, in tx, replacing one that exists.
func createDocumentsCollection(tx *bolt.Tx, dims int) error {
	top := tx.Bucket(bucketCollections)
	name := []byte(DocumentsCollection)
	gen := 1 + randGeneration()
	if old := top.Bucket(name); old != nil {
		// Keep counting where the old one was, so that an index of the
		// old chunks never matches the new.
		if g, err := getU64(old, collGeneration); err == nil {
			gen = g + 1
		}
		if err := top.DeleteBucket(name); err != nil {
			return fmt.Errorf("drop collection %q: %w", DocumentsCollection, err)
		}
	}
	b, err := top.CreateBucket(name)
	if err != nil {
		return fmt.Errorf("collection %q: %w", DocumentsCollection, err)
	}
	points, err := b.CreateBucket(collPoints)
	if err != nil {
		return fmt.Errorf("collection %q: %w", DocumentsCollection, err)
	}
	// Chunk ids only grow, so new keys land at the right edge.
	points.FillPercent = 0.95
	rec := encodeConfig(time.Now(), map[string]VectorParams{"": {Size: dims, Distance: Cosine}})
	if err := b.Put(collConfig, rec); err != nil {
		return err
	}
	if err := putU64(b, collCount, 0); err != nil {
		return err
	}
	return putU64(b, collGeneration, gen)
}
