package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxSafetensorsHeader bounds the JSON header we are willing to parse; real
// headers are tens of kilobytes.
const maxSafetensorsHeader = 64 << 20

// stTensor is one entry of a safetensors header.
type stTensor struct {
	Name       string
	DType      string
	Shape      []uint64 // row-major, outermost first, as PyTorch has it
	Begin, End int64    // absolute file offsets of the data
}

// safetensors is an open .safetensors file whose header has been checked.
type safetensors struct {
	path    string
	f       *os.File
	tensors []stTensor // in header order, which is the order llama.cpp converts in
}

func dtypeSize(dt string) int {
	switch dt {
	case "F32", "I32", "U32":
		return 4
	case "F16", "BF16", "I16", "U16":
		return 2
	case "F64", "I64", "U64":
		return 8
	case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2":
		return 1
	}
	return 0
}

// openSafetensors parses and bounds-checks the header of path: every
// tensor's byte range must lie in the file and match its dtype and shape.
func openSafetensors(path string) (*safetensors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := parseSafetensors(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return st, nil
}

func parseSafetensors(path string, f *os.File) (*safetensors, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	size := fi.Size()
	var lenBuf [8]byte
	if _, err := f.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("%s: %w: file too short for a header length", path, ErrBadSafetensors)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > maxSafetensorsHeader || int64(n) > size-8 {
		return nil, fmt.Errorf("%s: %w: header length %d does not fit a %d-byte file", path, ErrBadSafetensors, n, size)
	}
	hdr := make([]byte, n)
	if _, err := f.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", path, ErrBadSafetensors, err)
	}
	dataStart := int64(8 + n)
	names, raw, err := orderedObject(hdr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: header: %w", path, ErrBadSafetensors, err)
	}
	st := &safetensors{path: path, f: f}
	for i, name := range names {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []uint64 `json:"shape"`
			Offsets []int64  `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw[i], &e); err != nil {
			return nil, fmt.Errorf("%s: %w: tensor %s: %w", path, ErrBadSafetensors, name, err)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] || e.Offsets[1] > size-dataStart {
			return nil, fmt.Errorf("%s: %w: tensor %s: data_offsets %v outside the %d data bytes",
				path, ErrBadSafetensors, name, e.Offsets, size-dataStart)
		}
		if len(e.Shape) > 8 {
			return nil, fmt.Errorf("%s: %w: tensor %s has %d dimensions", path, ErrBadSafetensors, name, len(e.Shape))
		}
		if ds := dtypeSize(e.DType); ds > 0 {
			want := uint64(ds)
			for _, d := range e.Shape {
				if d != 0 && want > (1<<62)/d {
					return nil, fmt.Errorf("%s: %w: tensor %s shape %v overflows", path, ErrBadSafetensors, name, e.Shape)
				}
				want *= d
			}
			if got := uint64(e.Offsets[1] - e.Offsets[0]); got != want {
				return nil, fmt.Errorf("%s: %w: tensor %s has %d bytes, want %d for %s %v",
					path, ErrBadSafetensors, name, got, want, e.DType, e.Shape)
			}
		}
		st.tensors = append(st.tensors, stTensor{Name: name, DType: e.DType, Shape: e.Shape,
			Begin: dataStart + e.Offsets[0], End: dataStart + e.Offsets[1]})
	}
	return st, nil
}

func (s *safetensors) Close() error { return s.f.Close() }

// readFloats reads elements [from, from+len(dst)) of t as float32.
func (s *safetensors) readFloats(t stTensor, from int64, dst []float32, scratch []byte) error {
	ds := int64(dtypeSize(t.DType))
	buf := scratch[:int64(len(dst))*ds]
	if _, err := s.f.ReadAt(buf, t.Begin+from*ds); err != nil && !(errors.Is(err, io.EOF) && len(buf) == 0) {
		return fmt.Errorf("%s: tensor %s: %w", s.path, t.Name, err)
	}
	switch t.DType {
	case "F32":
		for i := range dst {
			dst[i] = float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
		}
	case "F16":
		for i := range dst {
			dst[i] = f16(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = bf16(binary.LittleEndian.Uint16(buf[2*i:]))
		}
	default:
		return fmt.Errorf("%s: tensor %s: %w: dtype %s (want F32, F16 or BF16)", s.path, t.Name, ErrUnsupported, t.DType)
	}
	return nil
}

// orderedObject splits a JSON object into its keys and raw values, keeping
// the order they appear in, which encoding/json's maps would lose.
func orderedObject(b []byte) ([]string, []json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, errors.New("not a JSON object")
	}
	var keys []string
	var vals []json.RawMessage
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		if seen[k] {
			return nil, nil, fmt.Errorf("duplicate key %q", k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, fmt.Errorf("key %q: %w", k, err)
		}
		keys = append(keys, k)
		vals = append(vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	return keys, vals, nil
}
