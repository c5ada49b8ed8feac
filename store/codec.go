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
//	docchunks  id 0x00 ordinal(u32)               -> chunk id(u64)
//	hashes     sha256(32) source 0x00 id          -> empty
//	meta       name                               -> value (see store.go)
//	collections/documents/points  chunk id        -> chunk point (chunkpoints.go)
//
// docRecord:   version(1) created(8) updated(8) sha256(32) title source
//              nmeta {key value} text, strings as uvarint length + bytes.

const (
	docRecordVersion = 1
	docHeaderLen     = 1 + 8 + 8 + 32
	createdOffset    = 1
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
