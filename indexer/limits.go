package indexer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Limits bound the work of parsing one file, so that a hostile or broken
// file costs a bounded amount of time and memory and then fails alone. The
// zero value of a field means its default (DefaultLimits); a negative value
// is an error from Check.
type Limits struct {
	// MaxFileBytes is the largest file read; a larger one fails with
	// ErrLimit before it is read. Default 64 MiB.
	MaxFileBytes int64
	// MaxTextBytes is the most text one document may hold after parsing;
	// a document with more fails with ErrLimit. Default 16 MiB.
	MaxTextBytes int
	// MaxInflatedBytes is the most bytes a PDF's compressed streams may
	// decompress to, all streams of the file together. Default 128 MiB.
	MaxInflatedBytes int64
	// MaxPages is the most pages read from one PDF. Default 10,000.
	MaxPages int
	// MaxDepth is the deepest nesting a parser follows: Markdown block
	// quotes and lists, HTML elements, a PDF's page tree. Default 64.
	MaxDepth int
	// MaxRows is the most documents one JSONL or CSV file may hold.
	// Default 1,000,000.
	MaxRows int
	// Timeout bounds the parse of one file (chunking and embedding are
	// not included). Default 60 s.
	Timeout time.Duration
}

// Defaults of Limits.
const (
	DefaultMaxFileBytes     = 64 << 20
	DefaultMaxTextBytes     = 16 << 20
	DefaultMaxInflatedBytes = 128 << 20
	DefaultMaxPages         = 10_000
	DefaultMaxDepth         = 64
	DefaultMaxRows          = 1_000_000
	DefaultParseTimeout     = 60 * time.Second
)

// ErrLimit means a file went over one of its Limits; the message names the
// limit and the option that raises it.
var ErrLimit = errors.New("over a parse limit")

// Check reports a negative field, and a MaxFileBytes no slice can hold on
// this build (2 GiB on a 32-bit one).
func (l Limits) Check() error {
	if l.MaxFileBytes < 0 || l.MaxTextBytes < 0 || l.MaxInflatedBytes < 0 ||
		l.MaxPages < 0 || l.MaxDepth < 0 || l.MaxRows < 0 || l.Timeout < 0 {
		return fmt.Errorf("parse limits must not be negative: %+v", l)
	}
	// A file is read whole into one []byte of up to MaxFileBytes+1 bytes;
	// past an int that count wraps (MaxInt64+1 read every file as empty).
	if l.MaxFileBytes >= math.MaxInt {
		return fmt.Errorf("parse limit MaxFileBytes %d (--max-file-size) is past the %d bytes a %d-bit build can read into memory",
			l.MaxFileBytes, math.MaxInt-1, strconv.IntSize)
	}
	return nil
}

// withDefaults fills in the zero fields.
func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxTextBytes == 0 {
		l.MaxTextBytes = DefaultMaxTextBytes
	}
	if l.MaxInflatedBytes == 0 {
		l.MaxInflatedBytes = DefaultMaxInflatedBytes
	}
	if l.MaxPages == 0 {
		l.MaxPages = DefaultMaxPages
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxRows == 0 {
		l.MaxRows = DefaultMaxRows
	}
	if l.Timeout == 0 {
		l.Timeout = DefaultParseTimeout
	}
	return l
}

// overLimit makes an ErrLimit naming what was over which limit.
func overLimit(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrLimit)
}
