package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
)

// claimedReader serves head and then zeros up to limit bytes, and fails
// past that, while its caller is told the file is far larger: what a
// header read from a huge (or sparse, or lying) file sees. Counts and
// lengths that fit the claimed size but not an int on a 32-bit build must
// fail with ErrCorrupt there, and must not be allocated up front anywhere.
type claimedReader struct {
	head  []byte
	limit int64
}

func (r claimedReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.limit {
		return 0, errors.New("read past the bytes this test backs")
	}
	n := int(min(int64(len(p)), r.limit-off))
	for i := range n {
		p[i] = 0
		if at := off + int64(i); at < int64(len(r.head)) {
			p[i] = r.head[at]
		}
	}
	if n < len(p) {
		return n, errors.New("read past the bytes this test backs")
	}
	return n, nil
}

func TestReaderRefusesCountsBeyondAnInt(t *testing.T) {
	// Each header claims more elements than a 32-bit int can count; the
	// file is said to hold 1 TiB, so the counts pass the check against the
	// file's size. On a 32-bit build making such a slice panicked; on a
	// 64-bit build it reserved gigabytes before reading a byte.
	header := func(write func(w *Writer)) []byte {
		var b bytes.Buffer
		w := NewWriter(&b)
		w.header = true
		w.w.WriteString(Magic)
		w.u32(3)
		write(w)
		w.w.Flush()
		return b.Bytes()
	}
	cases := []struct {
		name string
		head []byte
	}{
		{"uint8 array of 2^32+1", header(func(w *Writer) {
			w.u64(0) // tensors
			w.u64(1) // metadata
			w.str("k")
			w.u32(uint32(TypeArray))
			w.u32(uint32(TypeUint8))
			w.u64(1<<32 + 1)
		})},
		{"string array of 2^31", header(func(w *Writer) {
			w.u64(0)
			w.u64(1)
			w.str("k")
			w.u32(uint32(TypeArray))
			w.u32(uint32(TypeString))
			w.u64(1 << 31)
		})},
		{"string of 2^31+1 bytes", header(func(w *Writer) {
			w.u64(0)
			w.u64(1)
			w.str("k")
			w.u32(uint32(TypeString))
			w.u64(1<<31 + 1)
		})},
		{"2^33 tensors", header(func(w *Writer) {
			w.u64(1 << 33)
			w.u64(0)
		})},
		{"2^31 metadata entries", header(func(w *Writer) {
			w.u64(0)
			w.u64(1 << 31)
		})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := claimedReader{head: c.head, limit: 1 << 20}
			_, err := NewReader(r, 1<<40)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestValueTypeStringOfAnyNumber(t *testing.T) {
	// Converted to an int, a type number of 2^31 or more was negative on
	// a 32-bit build, passed the bound and indexed the name table.
	for _, v := range []ValueType{13, math.MaxInt32, math.MaxInt32 + 1, math.MaxUint32} {
		if got, want := v.String(), fmt.Sprintf("type(%d)", uint32(v)); got != want {
			t.Errorf("ValueType(%d).String() = %q, want %q", uint32(v), got, want)
		}
	}
	if got := TypeFloat64.String(); got != "float64" {
		t.Errorf("TypeFloat64.String() = %q", got)
	}
}

var _ io.ReaderAt = claimedReader{}
