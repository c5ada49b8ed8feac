package store

import (
	"crypto/sha256"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what Put accepts. Keys must stay well under bbolt's 32 KiB key
// limit once the chunk and hash-index suffixes are added.
const (
	MaxIDLen     = 512  // bytes in Document.ID
	MaxSourceLen = 4096 // bytes in Document.Source
)

// Document is one stored document. Put fills in Hash, Created, Updated and
// the chunk ids; Get returns it with its chunks, List without them.
type Document struct {
	ID       string            // non-empty UTF-8, at most MaxIDLen bytes, no NUL
	Title    string            // free text
	Source   string            // where the text came from (a path or URL), at most MaxSourceLen bytes, no NUL
	Hash     [32]byte          // SHA-256 of Text; set by Put
	Metadata map[string]string // user key=value pairs; keys non-empty
	Text     string            // the full text, non-empty UTF-8
	Created  time.Time         // when this id was first stored; set by Put
	Updated  time.Time         // when this id was last stored; set by Put
	Chunks   []Chunk           // in reading order; filled by Get, nil from List
}

// Chunk is a span of a document's text with its embedding vector.
//
// When writing, only Start, End, Tokens and Vector are read (and Text, if
// set, must equal the span). Put sets ID, DocID and Ordinal; reads fill in
// every field, Text being the document's Text[Start:End].
type Chunk struct {
	ID      uint64    // unique for the life of the store, never reused
	DocID   string    // the document this chunk belongs to
	Ordinal int       // position of the chunk within its document
	Start   int       // byte offset of the span in Document.Text
	End     int       // byte offset one past the span; Start < End <= len(Text)
	Tokens  int       // number of model tokens in the span (>= 0)
	Vector  []float32 // exactly Dims values, all finite
	Text    string    // Text[Start:End] of the document; filled by reads
}

// HashText returns the SHA-256 of text, the value Put stores in
// Document.Hash and HasHash looks up.
func HashText(text string) [32]byte {
	return sha256.Sum256([]byte(text))
}

// CheckID reports whether id can be stored and then addressed: non-empty,
// at most MaxIDLen bytes of UTF-8 without NUL, and not "." or "..", which
// no URL path can hold as a segment (clients resolve them away), so such a
// document could be stored but never fetched or deleted over HTTP. Any
// other character is fine; HTTP clients percent-encode "/", "?" and "#".
// The error wraps ErrInvalid.
func CheckID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("document id is empty: %w", ErrInvalid)
	case len(id) > MaxIDLen:
		return fmt.Errorf("document id %.40q...: longer than %d bytes: %w", id, MaxIDLen, ErrInvalid)
	case !utf8.ValidString(id) || strings.IndexByte(id, 0) >= 0:
		// NUL separates the id from the ordinal in chunk keys, so it must
		// not appear inside an id or the prefix scan would mix documents.
		return fmt.Errorf("document id %q: not UTF-8 or contains NUL: %w", id, ErrInvalid)
	case id == "." || id == "..":
		return fmt.Errorf("document id %q: a URL cannot address it; choose another: %w", id, ErrInvalid)
	}
	return nil
}

// validate checks d against the store's dims without touching the file, so
// a bad document in a batch is rejected before the write transaction starts.
func validate(d *Document, dims int, half bool) error {
	if err := CheckID(d.ID); err != nil {
		return err
	}
	switch {
	case d.Text == "":
		return fmt.Errorf("document %q: text is empty: %w", d.ID, ErrInvalid)
	case !utf8.ValidString(d.Text):
		return fmt.Errorf("document %q: text is not valid UTF-8: %w", d.ID, ErrInvalid)
	case len(d.Source) > MaxSourceLen:
		return fmt.Errorf("document %q: source longer than %d bytes: %w", d.ID, MaxSourceLen, ErrInvalid)
	case strings.IndexByte(d.Source, 0) >= 0:
		return fmt.Errorf("document %q: source contains NUL: %w", d.ID, ErrInvalid)
	}
	for k := range d.Metadata {
		if k == "" {
			return fmt.Errorf("document %q: metadata key is empty: %w", d.ID, ErrInvalid)
		}
	}
	if uint64(len(d.Chunks)) > math.MaxUint32 {
		return fmt.Errorf("document %q: %d chunks is too many: %w", d.ID, len(d.Chunks), ErrInvalid)
	}
	for i := range d.Chunks {
		c := &d.Chunks[i]
		switch {
		case c.Start < 0 || c.End > len(d.Text) || c.Start >= c.End:
			return fmt.Errorf("document %q chunk %d: span [%d,%d) is outside text of %d bytes or empty: %w",
				d.ID, i, c.Start, c.End, len(d.Text), ErrInvalid)
		case c.Text != "" && c.Text != d.Text[c.Start:c.End]:
			return fmt.Errorf("document %q chunk %d: text does not match span [%d,%d): %w",
				d.ID, i, c.Start, c.End, ErrInvalid)
		case c.Tokens < 0:
			return fmt.Errorf("document %q chunk %d: token count %d is negative: %w", d.ID, i, c.Tokens, ErrInvalid)
		case len(c.Vector) != dims:
			return fmt.Errorf("document %q chunk %d: vector has %d dims, store has %d: %w",
				d.ID, i, len(c.Vector), dims, ErrInvalid)
		}
		for j, v := range c.Vector {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("document %q chunk %d: vector[%d] is %v: %w", d.ID, i, j, v, ErrInvalid)
			}
			if half && math.Abs(float64(v)) > maxFloat16 {
				return fmt.Errorf("document %q chunk %d: vector[%d] = %v does not fit float16: %w", d.ID, i, j, v, ErrInvalid)
			}
		}
	}
	return nil
}
