package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

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
//
// Opening a search engine decodes every chunk, so the record encodeChunkPoint
// writes is read directly, without a map or reflection; anything else (a
// document id with escapes in its JSON, say) goes through the general
// decoders, which accept exactly the same records.
func decodeChunkPoint(id uint64, rec []byte) (Chunk, error) {
	if c, ok := decodeChunkPointFast(id, rec); ok {
		return c, nil
	}
	return decodeChunkPointGeneral(id, rec)
}

// decodeChunkPointGeneral is decodeChunkPoint through the general point
// record and JSON decoders.
func decodeChunkPointGeneral(id uint64, rec []byte) (Chunk, error) {
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
	case !p.valid():
		return Chunk{}, fmt.Errorf("chunk %d payload %s: %w", id, payload, ErrCorrupt)
	}
	return Chunk{ID: id, DocID: p.DocumentID, Ordinal: p.Chunk, Start: p.Start, End: p.End, Tokens: p.Tokens, Vector: v}, nil
}

func (p *chunkPayload) valid() bool {
	return p.DocumentID != "" && p.Chunk >= 0 && p.Start >= 0 && p.Start < p.End && p.Tokens >= 0 &&
		p.Chunk <= math.MaxInt32 && p.End <= math.MaxInt32 && p.Tokens <= math.MaxInt32
}

// decodeChunkPointFast decodes a record exactly as encodeChunkPoint writes
// it for a document id that JSON leaves unescaped; ok is false for any
// other record, which the caller then decodes the general way.
func decodeChunkPointFast(id uint64, rec []byte) (Chunk, bool) {
	// version, one vector, the empty name.
	if len(rec) < 4 || rec[0] != pointRecordVersion && rec[0] != pointRecordHalf || rec[1] != 1 || rec[2] != 0 {
		return Chunk{}, false
	}
	size := uint64(4)
	if rec[0] == pointRecordHalf {
		size = 2
	}
	dims, n := binary.Uvarint(rec[3:])
	if n <= 0 || dims == 0 || dims > maxDims || dims*size > uint64(len(rec)-3-n) {
		return Chunk{}, false
	}
	raw := rec[3+n : 3+n+int(dims*size)]
	rest := rec[3+n+int(dims*size):]
	var p chunkPayload
	doc, rest, ok := cutJSONString(rest, `{"document_id":"`)
	if !ok {
		return Chunk{}, false
	}
	p.DocumentID = doc
	for _, f := range []struct {
		key string
		dst *int
	}{{`,"chunk":`, &p.Chunk}, {`,"start":`, &p.Start}, {`,"end":`, &p.End}, {`,"tokens":`, &p.Tokens}} {
		if *f.dst, rest, ok = cutJSONInt(rest, f.key); !ok {
			return Chunk{}, false
		}
	}
	if string(rest) != "}" || !p.valid() {
		return Chunk{}, false
	}
	v := make([]float32, dims)
	for i := range v {
		if size == 2 {
			v[i] = Float16Value(binary.LittleEndian.Uint16(raw[2*i:]))
		} else {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		if math.IsNaN(float64(v[i])) || math.IsInf(float64(v[i]), 0) {
			return Chunk{}, false
		}
	}
	return Chunk{ID: id, DocID: p.DocumentID, Ordinal: p.Chunk, Start: p.Start, End: p.End, Tokens: p.Tokens, Vector: v}, true
}

// cutJSONString reads prefix, then a JSON string body without escapes up
// to its closing quote, and returns the body and what follows it.
func cutJSONString(b []byte, prefix string) (string, []byte, bool) {
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", nil, false
	}
	b = b[len(prefix):]
	end := bytes.IndexByte(b, '"')
	if end < 0 || bytes.IndexByte(b[:end], '\\') >= 0 || !utf8.Valid(b[:end]) {
		return "", nil, false
	}
	for _, c := range b[:end] {
		if c < 0x20 {
			return "", nil, false
		}
	}
	return string(b[:end]), b[end+1:], true
}

// cutJSONInt reads key, then a non-negative JSON integer up to
// math.MaxInt32, and returns it and what follows.
func cutJSONInt(b []byte, key string) (int, []byte, bool) {
	if !bytes.HasPrefix(b, []byte(key)) {
		return 0, nil, false
	}
	b = b[len(key):]
	var n int64
	i := 0
	for ; i < len(b) && i < 11 && '0' <= b[i] && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	// Past MaxInt32 is no chunk's; leaving it to the general decoder keeps
	// a 32-bit int from wrapping here.
	if i == 0 || i > 10 || (i > 1 && b[0] == '0') || n > math.MaxInt32 {
		return 0, nil, false
	}
	return int(n), b[i:], true
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
