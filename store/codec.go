package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// On-disk records. Integers in keys are big-endian so that bbolt's byte
// order is numeric order; vectors are little-endian as the rest of the
// project (GGUF, wasm memory) expects.
//
//	documents  id                                 -> docRecord
//	chunks     id 0x00 ordinal(u32)               -> chunkRecord
//	chunkids   chunk id(u64)                      -> chunks key
//	hashes     sha256(32) source 0x00 id          -> empty
//	meta       name                               -> value (see store.go)
//
// docRecord:   version(1) created(8) updated(8) sha256(32) title source
//              nmeta {key value} text, strings as uvarint length + bytes.
// chunkRecord: encoding(1) chunk id(8) start end tokens dims (uvarints)
//              vector (dims × 4 or 2 bytes).

const (
	docRecordVersion = 1
	docHeaderLen     = 1 + 8 + 8 + 32
	createdOffset    = 1

	encodingFloat32 = 1
	encodingFloat16 = 2
	chunkIDOffset   = 1
)

func chunkPrefix(docID string) []byte {
	k := make([]byte, 0, len(docID)+1)
	k = append(k, docID...)
	return append(k, 0)
}

func chunkKey(docID string, ordinal int) []byte {
	return binary.BigEndian.AppendUint32(chunkPrefix(docID), uint32(ordinal))
}

// parseChunkKey splits a chunks key into document id and ordinal.
func parseChunkKey(k []byte) (string, int, error) {
	if len(k) < 6 || k[len(k)-5] != 0 {
		return "", 0, fmt.Errorf("chunk key %x: %w", k, ErrCorrupt)
	}
	// A document has fewer chunks than bytes of text, which bbolt keeps
	// under 2^31: a larger ordinal is damage, and would turn negative as a
	// 32-bit int.
	ord := binary.BigEndian.Uint32(k[len(k)-4:])
	if ord > math.MaxInt32 {
		return "", 0, fmt.Errorf("chunk key %x: ordinal %d: %w", k, ord, ErrCorrupt)
	}
	return string(k[:len(k)-5]), int(ord), nil
}

func idKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, id)
}

func hashPrefix(hash [32]byte, source string) []byte {
	k := make([]byte, 0, 32+len(source)+1)
	k = append(k, hash[:]...)
	k = append(k, source...)
	return append(k, 0)
}

func hashKey(hash [32]byte, source, docID string) []byte {
	return append(hashPrefix(hash, source), docID...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// encodeDocument encodes everything but the chunks. Created is written at a
// fixed offset so Put can patch it inside the transaction after it has seen
// the record being replaced.
func encodeDocument(d *Document) []byte {
	n := docHeaderLen + 5*binary.MaxVarintLen64 + len(d.Title) + len(d.Source) + len(d.Text)
	for k, v := range d.Metadata {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	b = append(b, docRecordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(d.Created.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(d.Updated.UnixNano()))
	b = append(b, d.Hash[:]...)
	b = appendString(b, d.Title)
	b = appendString(b, d.Source)
	b = binary.AppendUvarint(b, uint64(len(d.Metadata)))
	// Sorted keys make the record deterministic, so equal documents give
	// equal bytes (and equal backups).
	keys := make([]string, 0, len(d.Metadata))
	for k := range d.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, d.Metadata[k])
	}
	return appendString(b, d.Text)
}

// setCreated patches the created timestamp of an encoded document.
func setCreated(rec []byte, t time.Time) {
	binary.BigEndian.PutUint64(rec[createdOffset:], uint64(t.UnixNano()))
}

// decoder reads a record front to back and remembers the first error, so
// the decoding functions read as a list of fields.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", what, ErrCorrupt)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	// The encoder writes the shortest form; a longer one (0x80 0x00 for 0)
	// is not ours, so every record has one encoding.
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(what string) string {
	return string(d.bytes(d.uvarint(what), what))
}

// docHeader is the part of a document record Put and Delete need to clean
// up the hash index, read without copying the text.
type docHeader struct {
	created time.Time
	hash    [32]byte
	source  string
}

func decodeHeader(rec []byte) (docHeader, error) {
	var h docHeader
	if len(rec) < docHeaderLen || rec[0] != docRecordVersion {
		return h, fmt.Errorf("document record header: %w", ErrCorrupt)
	}
	h.created = time.Unix(0, int64(binary.BigEndian.Uint64(rec[1:9])))
	copy(h.hash[:], rec[17:49])
	d := &decoder{b: rec[docHeaderLen:]}
	d.string("title") // skipped; read again by decodeDocument
	h.source = d.string("source")
	return h, d.err
}

// decodeDocument decodes a document record; the strings are copies, so the
// result stays valid after the transaction ends.
func decodeDocument(id string, rec []byte) (Document, error) {
	if len(rec) < docHeaderLen || rec[0] != docRecordVersion {
		return Document{}, fmt.Errorf("document %q: record header: %w", id, ErrCorrupt)
	}
	doc := Document{
		ID:      id,
		Created: time.Unix(0, int64(binary.BigEndian.Uint64(rec[1:9]))),
		Updated: time.Unix(0, int64(binary.BigEndian.Uint64(rec[9:17]))),
	}
	copy(doc.Hash[:], rec[17:49])
	d := &decoder{b: rec[docHeaderLen:]}
	doc.Title = d.string("title")
	doc.Source = d.string("source")
	n := d.uvarint("metadata count")
	if n > uint64(len(d.b)) { // each pair takes at least two bytes
		d.fail("metadata count")
	}
	if d.err == nil && n > 0 {
		// The encoder writes keys in increasing order; a key out of order,
		// or the same key twice, is damage, and taking either value would
		// silently drop the other.
		doc.Metadata = make(map[string]string, n)
		prev := ""
		for i := range n {
			k := d.string("metadata key")
			if d.err == nil && i > 0 && k <= prev {
				if k == prev {
					d.fail(fmt.Sprintf("metadata key %q twice", k))
				} else {
					d.fail(fmt.Sprintf("metadata key %q after %q, out of order", k, prev))
				}
			}
			prev = k
			doc.Metadata[k] = d.string("metadata value")
		}
	}
	doc.Text = d.string("text")
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return Document{}, fmt.Errorf("document %q: %w", id, d.err)
	}
	return doc, nil
}

// encodeChunk encodes c with its id left zero; Put patches the id in the
// transaction once it has been allocated.
func encodeChunk(c *Chunk, half bool) []byte {
	size := 4
	enc := byte(encodingFloat32)
	if half {
		size, enc = 2, encodingFloat16
	}
	b := make([]byte, 9, 9+4*binary.MaxVarintLen64+size*len(c.Vector))
	b[0] = enc
	b = binary.AppendUvarint(b, uint64(c.Start))
	b = binary.AppendUvarint(b, uint64(c.End))
	b = binary.AppendUvarint(b, uint64(c.Tokens))
	b = binary.AppendUvarint(b, uint64(len(c.Vector)))
	for _, v := range c.Vector {
		if half {
			b = binary.LittleEndian.AppendUint16(b, Float16Bits(v))
		} else {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return b
}

func setChunkID(rec []byte, id uint64) {
	binary.BigEndian.PutUint64(rec[chunkIDOffset:], id)
}

// chunkRecordID reads only the id of a chunk record.
func chunkRecordID(rec []byte) (uint64, error) {
	if len(rec) < 9 {
		return 0, fmt.Errorf("chunk record of %d bytes: %w", len(rec), ErrCorrupt)
	}
	return binary.BigEndian.Uint64(rec[chunkIDOffset:]), nil
}

// decodeChunk decodes a chunk from its key and record. Text is left empty;
// the caller fills it from the document.
func decodeChunk(key, rec []byte) (Chunk, error) {
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

// spanText returns text[c.Start:c.End], or an error if the stored span does
// not fit the stored text.
func spanText(c *Chunk, text string) error {
	if c.End > len(text) {
		return fmt.Errorf("document %q chunk %d: span [%d,%d) past text of %d bytes: %w",
			c.DocID, c.Ordinal, c.Start, c.End, len(text), ErrCorrupt)
	}
	c.Text = strings.Clone(text[c.Start:c.End])
	return nil
}
