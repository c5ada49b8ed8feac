package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer streams a GGUF v3 file: AddKV and AddTensor declare the header,
// WriteHeader writes it, Write appends tensor data in declaration order, and
// Finish checks that every declared byte was written. The layout matches
// llama.cpp's gguf-py writer: 32-byte alignment, each tensor padded with
// zeros to the alignment.
type Writer struct {
	w         *bufio.Writer
	kvs       []KV
	tensors   []TensorInfo
	next      uint64 // offset of the next declared tensor
	header    bool
	cur       int    // tensor being written
	written   uint64 // bytes of tensors[cur] written so far
	alignment uint64
	err       error
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 1<<20), alignment: DefaultAlignment}
}

// AddKV declares a metadata entry; value must be one of the Go types listed
// on KV. Keys keep their insertion order.
func (w *Writer) AddKV(key string, value any) error {
	if w.header {
		return fmt.Errorf("%w: metadata %q added after the header", ErrWriterState, key)
	}
	if _, _, err := typeOf(value); err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	for _, kv := range w.kvs {
		if kv.Key == key {
			return fmt.Errorf("%w: duplicate metadata key %q", ErrWriterState, key)
		}
	}
	w.kvs = append(w.kvs, KV{key, value})
	return nil
}

// AddTensor declares a tensor; shape is in ggml order (row length first).
func (w *Writer) AddTensor(name string, typ TensorType, shape []uint64) error {
	if w.header {
		return fmt.Errorf("%w: tensor %q added after the header", ErrWriterState, name)
	}
	size, err := DataSize(typ, shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	for _, t := range w.tensors {
		if t.Name == name {
			return fmt.Errorf("%w: duplicate tensor %q", ErrWriterState, name)
		}
	}
	w.tensors = append(w.tensors, TensorInfo{Name: name, Shape: append([]uint64(nil), shape...),
		Type: typ, Offset: w.next, Size: size})
	w.next = alignUp(w.next+size, w.alignment)
	return nil
}

func (w *Writer) u32(v uint32) { w.w.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *Writer) u64(v uint64) { w.w.Write(binary.LittleEndian.AppendUint64(nil, v)) }
func (w *Writer) str(s string) { w.u64(uint64(len(s))); w.w.WriteString(s) }

// WriteHeader writes the magic, metadata and tensor table, padded to the
// alignment.
func (w *Writer) WriteHeader() error {
	if w.header {
		return fmt.Errorf("%w: header written twice", ErrWriterState)
	}
	w.header = true
	n := &countingWriter{w: w.w}
	bw := w.w
	w.w = bufio.NewWriterSize(n, 64<<10)
	w.w.WriteString(Magic)
	w.u32(Version)
	w.u64(uint64(len(w.tensors)))
	w.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		w.str(kv.Key)
		w.value(kv.Value)
	}
	for _, t := range w.tensors {
		w.str(t.Name)
		w.u32(uint32(len(t.Shape)))
		for _, d := range t.Shape {
			w.u64(d)
		}
		w.u32(uint32(t.Type))
		w.u64(t.Offset)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write gguf header: %w", err)
	}
	w.w = bw
	if err := w.pad(n.n); err != nil {
		return err
	}
	w.startTensor()
	return w.err
}

func (w *Writer) pad(n uint64) error {
	if p := alignUp(n, w.alignment) - n; p > 0 {
		if _, err := w.w.Write(make([]byte, p)); err != nil {
			return fmt.Errorf("write gguf padding: %w", err)
		}
	}
	return nil
}

// startTensor skips over zero-sized tensors, which own no data.
func (w *Writer) startTensor() {
	for w.cur < len(w.tensors) && w.tensors[w.cur].Size == 0 {
		w.cur++
	}
}

// Write appends tensor data. Bytes flow into the declared tensors in order;
// a tensor is padded as soon as it is complete. Writing more bytes than were
// declared is an error.
func (w *Writer) Write(p []byte) (int, error) {
	if !w.header {
		return 0, fmt.Errorf("%w: tensor data before the header", ErrWriterState)
	}
	if w.err != nil {
		return 0, w.err
	}
	total := 0
	for len(p) > 0 {
		if w.cur >= len(w.tensors) {
			w.err = fmt.Errorf("%w: %d bytes of tensor data beyond the declared tensors", ErrWriterState, len(p))
			return total, w.err
		}
		t := w.tensors[w.cur]
		k := min(uint64(len(p)), t.Size-w.written)
		if _, err := w.w.Write(p[:k]); err != nil {
			w.err = fmt.Errorf("write tensor %q: %w", t.Name, err)
			return total, w.err
		}
		w.written += k
		total += int(k)
		p = p[k:]
		if w.written == t.Size {
			if err := w.pad(t.Size); err != nil {
				w.err = err
				return total, err
			}
			w.cur++
			w.written = 0
			w.startTensor()
		}
	}
	return total, nil
}

// Finish flushes the data and fails if a declared tensor is incomplete.
// It does not close the underlying writer.
func (w *Writer) Finish() error {
	if w.err != nil {
		return w.err
	}
	if !w.header {
		return fmt.Errorf("%w: finish before the header", ErrWriterState)
	}
	if w.cur < len(w.tensors) {
		t := w.tensors[w.cur]
		return fmt.Errorf("%w: tensor %q has %d of %d bytes", ErrWriterState, t.Name, w.written, t.Size)
	}
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write gguf: %w", err)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += uint64(n)
	return n, err
}

// typeOf maps a Go value to its GGUF type and, for arrays, element type.
func typeOf(v any) (t, elem ValueType, err error) {
	switch x := v.(type) {
	case uint8:
		return TypeUint8, 0, nil
	case int8:
		return TypeInt8, 0, nil
	case uint16:
		return TypeUint16, 0, nil
	case int16:
		return TypeInt16, 0, nil
	case uint32:
		return TypeUint32, 0, nil
	case int32:
		return TypeInt32, 0, nil
	case float32:
		return TypeFloat32, 0, nil
	case bool:
		return TypeBool, 0, nil
	case string:
		return TypeString, 0, nil
	case uint64:
		return TypeUint64, 0, nil
	case int64:
		return TypeInt64, 0, nil
	case float64:
		return TypeFloat64, 0, nil
	case []uint8:
		return TypeArray, TypeUint8, nil
	case []int8:
		return TypeArray, TypeInt8, nil
	case []uint16:
		return TypeArray, TypeUint16, nil
	case []int16:
		return TypeArray, TypeInt16, nil
	case []uint32:
		return TypeArray, TypeUint32, nil
	case []int32:
		return TypeArray, TypeInt32, nil
	case []float32:
		return TypeArray, TypeFloat32, nil
	case []bool:
		return TypeArray, TypeBool, nil
	case []string:
		return TypeArray, TypeString, nil
	case []uint64:
		return TypeArray, TypeUint64, nil
	case []int64:
		return TypeArray, TypeInt64, nil
	case []float64:
		return TypeArray, TypeFloat64, nil
	case []any:
		for _, e := range x {
			if et, _, err := typeOf(e); err != nil || et != TypeArray {
				return 0, 0, fmt.Errorf("%w: []any must hold arrays", ErrBadValue)
			}
		}
		return TypeArray, TypeArray, nil
	}
	return 0, 0, fmt.Errorf("%w: %T", ErrBadValue, v)
}

// value writes a type tag and the value.
func (w *Writer) value(v any) {
	t, elem, _ := typeOf(v)
	w.u32(uint32(t))
	if t != TypeArray {
		w.scalar(v)
		return
	}
	w.u32(uint32(elem))
	switch x := v.(type) {
	case []uint8:
		writeSlice(w, x)
	case []int8:
		writeSlice(w, x)
	case []uint16:
		writeSlice(w, x)
	case []int16:
		writeSlice(w, x)
	case []uint32:
		writeSlice(w, x)
	case []int32:
		writeSlice(w, x)
	case []float32:
		writeSlice(w, x)
	case []bool:
		writeSlice(w, x)
	case []string:
		writeSlice(w, x)
	case []uint64:
		writeSlice(w, x)
	case []int64:
		writeSlice(w, x)
	case []float64:
		writeSlice(w, x)
	case []any:
		w.u64(uint64(len(x)))
		for _, e := range x {
			w.value(e)
		}
	}
}

func writeSlice[T any](w *Writer, s []T) {
	w.u64(uint64(len(s)))
	for _, e := range s {
		w.scalar(e)
	}
}

func (w *Writer) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		w.w.WriteByte(x)
	case int8:
		w.w.WriteByte(byte(x))
	case uint16:
		w.w.Write(binary.LittleEndian.AppendUint16(nil, x))
	case int16:
		w.w.Write(binary.LittleEndian.AppendUint16(nil, uint16(x)))
	case uint32:
		w.u32(x)
	case int32:
		w.u32(uint32(x))
	case float32:
		w.u32(math.Float32bits(x))
	case bool:
		if x {
			w.w.WriteByte(1)
		} else {
			w.w.WriteByte(0)
		}
	case string:
		w.str(x)
	case uint64:
		w.u64(x)
	case int64:
		w.u64(uint64(x))
	case float64:
		w.u64(math.Float64bits(x))
	}
}
