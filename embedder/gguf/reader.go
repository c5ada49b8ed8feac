package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

// KV is one metadata entry. Value holds a Go value of the matching type:
// uint8, int8, uint16, int16, uint32, int32, float32, bool, string, uint64,
// int64, float64, a slice of one of those for an array, or []any for an
// array of arrays.
type KV struct {
	Key   string
	Value any
}

// TensorInfo describes one tensor in the file's tensor table.
type TensorInfo struct {
	Name   string
	Shape  []uint64   // ggml order: innermost (row length) first
	Type   TensorType //
	Offset uint64     // from the start of the data section
	Size   uint64     // bytes of data
}

// Elements is the number of values in the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is the parsed header of a GGUF file. Tensor data is not loaded; use
// TensorData to read it.
type File struct {
	Version    uint32
	Metadata   []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset int64 // absolute offset of the data section
	Size       int64 // size of the whole file

	r      io.ReaderAt
	closer io.Closer
}

// Open reads the header of the GGUF file at path. The file stays open for
// TensorData until Close.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open gguf %s: %w", path, err)
	}
	g, err := NewReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gguf %s: %w", path, err)
	}
	g.closer = f
	return g, nil
}

// Close closes the file opened by Open; it does nothing for NewReader.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Get returns the value stored under key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.Metadata {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// String returns the string stored under key, or "" when it is missing or
// not a string.
func (f *File) String(key string) string {
	v, _ := f.Get(key)
	s, _ := v.(string)
	return s
}

// Uint returns the integer stored under key as uint64; ok is false when the
// key is missing, not an integer, or negative.
func (f *File) Uint(key string) (n uint64, ok bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// Tensor returns the tensor named name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// TensorData returns a reader over the bytes of t.
func (f *File) TensorData(t TensorInfo) *io.SectionReader {
	return io.NewSectionReader(f.r, f.DataOffset+int64(t.Offset), int64(t.Size))
}

// decoder reads little-endian values and refuses any length that would run
// past the end of the file, so corrupt counts fail before they allocate.
type decoder struct {
	br   *bufio.Reader
	pos  int64
	size int64
	err  error
	buf  [8]byte
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at offset %d: %s", ErrCorrupt, d.pos, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) remaining() int64 { return d.size - d.pos }

func (d *decoder) read(p []byte) {
	if d.err != nil {
		return
	}
	if int64(len(p)) > d.remaining() {
		d.fail("truncated: need %d bytes, %d left", len(p), d.remaining())
		return
	}
	if _, err := io.ReadFull(d.br, p); err != nil {
		d.err = fmt.Errorf("%w: at offset %d: %w", ErrCorrupt, d.pos, err)
		return
	}
	d.pos += int64(len(p))
}

func (d *decoder) u8() uint8   { d.read(d.buf[:1]); return d.buf[0] }
func (d *decoder) u16() uint16 { d.read(d.buf[:2]); return binary.LittleEndian.Uint16(d.buf[:2]) }
func (d *decoder) u32() uint32 { d.read(d.buf[:4]); return binary.LittleEndian.Uint32(d.buf[:4]) }
func (d *decoder) u64() uint64 { d.read(d.buf[:8]); return binary.LittleEndian.Uint64(d.buf[:8]) }

// preallocMax is the most elements (or string bytes) made room for before
// they are read. A count is checked against the size the caller gave for
// the file, which reading has not yet shown to be backed by bytes; past
// this, slices grow as elements arrive, so memory follows the bytes read.
const preallocMax = 1 << 16

func (d *decoder) str() string {
	n := d.u64()
	if d.err != nil {
		return ""
	}
	if n > uint64(d.remaining()) {
		d.fail("string length %d exceeds file", n)
		return ""
	}
	if n > math.MaxInt {
		d.fail("string length %d is beyond this platform's int", n)
		return ""
	}
	if n <= preallocMax {
		b := make([]byte, n)
		d.read(b)
		return string(b)
	}
	var b []byte
	for left := int(n); left > 0 && d.err == nil; {
		k := min(left, preallocMax)
		b = slices.Grow(b, k)[:len(b)+k]
		d.read(b[len(b)-k:])
		left -= k
	}
	return string(b)
}

// count reads an element count and checks that n elements of at least
// minSize bytes each fit in the rest of the file, and that an int can
// count them (on a 32-bit build a file over 2 GiB could claim more).
func (d *decoder) count(what string, minSize uint64) uint64 {
	n := d.u64()
	if d.err == nil && n > uint64(d.remaining())/minSize {
		d.fail("%s count %d exceeds file", what, n)
		return 0
	}
	if d.err == nil && n > math.MaxInt {
		d.fail("%s count %d is beyond this platform's int", what, n)
		return 0
	}
	return n
}

func (d *decoder) scalar(t ValueType) any {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		return int8(d.u8())
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		return int16(d.u16())
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		return int32(d.u32())
	case TypeFloat32:
		return math.Float32frombits(d.u32())
	case TypeBool:
		b := d.u8()
		if b > 1 {
			d.fail("bool value %d", b)
		}
		return b == 1
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		return int64(d.u64())
	case TypeFloat64:
		return math.Float64frombits(d.u64())
	}
	d.fail("unknown value type %d", uint32(t))
	return nil
}

func (d *decoder) value(t ValueType, depth int) any {
	if t != TypeArray {
		return d.scalar(t)
	}
	if depth > 2 {
		d.fail("arrays nested too deep")
		return nil
	}
	et := ValueType(d.u32())
	min := uint64(et.size())
	if et == TypeString || et == TypeArray {
		min = 8 // a length or type+count prefix at least
	}
	if min == 0 {
		d.fail("unknown array element type %d", uint32(et))
		return nil
	}
	n := d.count("array", min)
	if d.err != nil {
		return nil
	}
	switch et {
	case TypeUint8:
		return readSlice(d, n, func() uint8 { return d.u8() })
	case TypeInt8:
		return readSlice(d, n, func() int8 { return int8(d.u8()) })
	case TypeUint16:
		return readSlice(d, n, func() uint16 { return d.u16() })
	case TypeInt16:
		return readSlice(d, n, func() int16 { return int16(d.u16()) })
	case TypeUint32:
		return readSlice(d, n, func() uint32 { return d.u32() })
	case TypeInt32:
		return readSlice(d, n, func() int32 { return int32(d.u32()) })
	case TypeFloat32:
		return readSlice(d, n, func() float32 { return math.Float32frombits(d.u32()) })
	case TypeBool:
		return readSlice(d, n, func() bool { return d.scalar(TypeBool).(bool) })
	case TypeString:
		return readSlice(d, n, func() string { return d.str() })
	case TypeUint64:
		return readSlice(d, n, func() uint64 { return d.u64() })
	case TypeInt64:
		return readSlice(d, n, func() int64 { return int64(d.u64()) })
	case TypeFloat64:
		return readSlice(d, n, func() float64 { return math.Float64frombits(d.u64()) })
	default: // TypeArray
		return readSlice(d, n, func() any { return d.value(ValueType(d.u32()), depth+1) })
	}
}

func readSlice[T any](d *decoder, n uint64, next func() T) []T {
	s := make([]T, 0, min(n, preallocMax))
	for i := uint64(0); i < n && d.err == nil; i++ {
		s = append(s, next())
	}
	return s
}

// NewReader parses the header and tensor table of a GGUF file of the given
// size read through r. Errors wrap ErrNotGGUF, ErrVersion, ErrCorrupt or
// ErrUnknownType.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	d := &decoder{br: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), size: size}
	var magic [4]byte
	d.read(magic[:])
	if d.err != nil || string(magic[:]) != Magic {
		return nil, ErrNotGGUF
	}
	f := &File{r: r, Size: size, Alignment: DefaultAlignment}
	f.Version = d.u32()
	if d.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("%w: %d", ErrVersion, f.Version)
	}
	// 24 bytes is the smallest tensor info: name length, one dim, type, offset.
	nTensors := d.count("tensor", 8+4+8+4+8)
	nKV := d.count("metadata", 8+4+1)
	if d.err != nil {
		return nil, d.err
	}
	f.Metadata = make([]KV, 0, min(nKV, preallocMax))
	for i := uint64(0); i < nKV && d.err == nil; i++ {
		key := d.str()
		v := d.value(ValueType(d.u32()), 0)
		f.Metadata = append(f.Metadata, KV{key, v})
	}
	if d.err != nil {
		return nil, d.err
	}
	if a, ok := f.Get("general.alignment"); ok {
		al, isU32 := a.(uint32)
		if !isU32 || al == 0 || al&(al-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment %v is not a power of two uint32", ErrCorrupt, a)
		}
		f.Alignment = uint64(al)
	}
	f.Tensors = make([]TensorInfo, 0, min(nTensors, preallocMax))
	for i := uint64(0); i < nTensors && d.err == nil; i++ {
		t := TensorInfo{Name: d.str()}
		nd := d.u32()
		if d.err == nil && (nd == 0 || nd > maxDims) {
			return nil, fmt.Errorf("%w: tensor %q has %d dimensions", ErrCorrupt, t.Name, nd)
		}
		for j := uint32(0); j < nd && d.err == nil; j++ {
			t.Shape = append(t.Shape, d.u64())
		}
		t.Type = TensorType(d.u32())
		t.Offset = d.u64()
		if d.err != nil {
			break
		}
		sz, err := DataSize(t.Type, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		t.Size = sz
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("%w: tensor %q offset %d is not aligned to %d", ErrCorrupt, t.Name, t.Offset, f.Alignment)
		}
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, d.err
	}
	f.DataOffset = int64(alignUp(uint64(d.pos), f.Alignment))
	dataLen := uint64(0)
	if size > f.DataOffset {
		dataLen = uint64(size - f.DataOffset)
	}
	for _, t := range f.Tensors {
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return nil, fmt.Errorf("%w: tensor %q data [%d, +%d) runs past the end of the file (%d data bytes)",
				ErrCorrupt, t.Name, t.Offset, t.Size, dataLen)
		}
	}
	return f, nil
}
