package gguf

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

// sample writes a small but complete GGUF with every value type and three
// tensors, the last of an odd size so padding matters.
func sample(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, kv := range sampleKVs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddTensor("a", F32, []uint64{3}))
	must(w.AddTensor("b", Q8_0, []uint64{32, 2}))
	must(w.AddTensor("c", F16, []uint64{5}))
	must(w.WriteHeader())
	a := AppendF32(nil, []float32{1, 2, 3})
	vals := make([]float32, 64)
	for i := range vals {
		vals[i] = float32(i) - 20
	}
	b, err := AppendQ8_0(nil, vals)
	must(err)
	c := AppendF16(nil, []float32{1, 2, 3, 4, 5})
	// Write in uneven pieces: the writer must split them across tensors.
	all := append(append(append([]byte{}, a...), b...), c...)
	for len(all) > 0 {
		k := min(7, len(all))
		_, err := w.Write(all[:k])
		must(err)
		all = all[k:]
	}
	must(w.Finish())
	return buf.Bytes()
}

var sampleKVs = []KV{
	{"general.architecture", "bert"},
	{"u8", uint8(7)}, {"i8", int8(-7)}, {"u16", uint16(700)}, {"i16", int16(-700)},
	{"u32", uint32(70000)}, {"i32", int32(-70000)}, {"f32", float32(1e-12)}, {"bool", true},
	{"u64", uint64(1 << 40)}, {"i64", int64(-1 << 40)}, {"f64", 3.25},
	{"strings", []string{"[CLS]", "\u2581the", "ing", ""}},
	{"i32s", []int32{1, 3, -1}}, {"f32s", []float32{0.5}}, {"bools", []bool{true, false}},
	{"nested", []any{[]uint8{1, 2}, []string{"x"}}},
}

func TestWriterReaderRoundTrip(t *testing.T) {
	data := sample(t)
	f, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 || f.DataOffset%32 != 0 {
		t.Fatalf("version %d alignment %d data offset %d", f.Version, f.Alignment, f.DataOffset)
	}
	if !reflect.DeepEqual(f.Metadata, sampleKVs) {
		t.Fatalf("metadata\n got %#v\nwant %#v", f.Metadata, sampleKVs)
	}
	want := []TensorInfo{
		{Name: "a", Shape: []uint64{3}, Type: F32, Offset: 0, Size: 12},
		{Name: "b", Shape: []uint64{32, 2}, Type: Q8_0, Offset: 32, Size: 68},
		{Name: "c", Shape: []uint64{5}, Type: F16, Offset: 128, Size: 10},
	}
	if !reflect.DeepEqual(f.Tensors, want) {
		t.Fatalf("tensors\n got %+v\nwant %+v", f.Tensors, want)
	}
	// gguf-py pads the last tensor too.
	if got := int64(len(data)) - f.DataOffset; got != 160 {
		t.Errorf("data section is %d bytes, want 160", got)
	}
	raw := make([]byte, 12)
	if _, err := f.TensorData(want[0]).Read(raw); err != nil || !bytes.Equal(raw, AppendF32(nil, []float32{1, 2, 3})) {
		t.Errorf("tensor a data %v, %v", raw, err)
	}
	if n, ok := f.Uint("u16"); !ok || n != 700 {
		t.Errorf("Uint(u16) = %d, %v", n, ok)
	}
	if _, ok := f.Uint("i8"); ok {
		t.Error("Uint of a negative value reported ok")
	}
	if s := f.String("general.architecture"); s != "bert" {
		t.Errorf("String = %q", s)
	}
}

func TestReaderRejectsCorruptFiles(t *testing.T) {
	good := sample(t)
	le64 := func(b []byte, off int, v uint64) []byte {
		c := append([]byte{}, b...)
		for i := range 8 {
			c[off+i] = byte(v >> (8 * i))
		}
		return c
	}
	// Offset of the first key's length: magic, version, two counts.
	const firstKeyLen = 4 + 4 + 8 + 8
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotGGUF},
		{"bad magic", append([]byte("GGUX"), good[4:]...), ErrNotGGUF},
		{"version 9", append(append([]byte("GGUF"), 9, 0, 0, 0), good[8:]...), ErrVersion},
		{"huge tensor count", le64(good, 8, 1<<60), ErrCorrupt},
		{"huge metadata count", le64(good, 16, 1<<60), ErrCorrupt},
		{"huge key length", le64(good, firstKeyLen, 1<<62), ErrCorrupt},
		{"data cut off", good[:len(good)-40], ErrCorrupt},
		{"header cut off", good[:100], ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(c.data), int64(len(c.data)))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestReaderRejectsBadTensorInfos(t *testing.T) {
	cases := []struct {
		name  string
		shape []uint64
		typ   TensorType
		off   uint64
		want  error
	}{
		{"five dims", []uint64{1, 1, 1, 1, 1}, F32, 0, ErrCorrupt},
		{"unknown type", []uint64{4}, TensorType(99), 0, ErrUnknownType},
		{"partial block", []uint64{33}, Q8_0, 0, ErrBadShape},
		{"misaligned", []uint64{4}, F32, 3, ErrCorrupt},
		{"past the end", []uint64{4}, F32, 1 << 20, ErrCorrupt},
		{"overflowing shape", []uint64{1 << 40, 1 << 40}, F32, 0, ErrBadShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Hand-assemble: the Writer refuses to produce these.
			var b bytes.Buffer
			w := NewWriter(&b)
			w.header = true
			w.w.WriteString(Magic)
			w.u32(3)
			w.u64(1)
			w.u64(0)
			w.str("t")
			w.u32(uint32(len(c.shape)))
			for _, d := range c.shape {
				w.u64(d)
			}
			w.u32(uint32(c.typ))
			w.u64(c.off)
			w.w.Write(make([]byte, 64))
			w.w.Flush()
			_, err := NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestReaderNeverPanicsOnTruncation(t *testing.T) {
	good := sample(t)
	for n := range len(good) - 1 {
		if _, err := NewReader(bytes.NewReader(good[:n]), int64(n)); err == nil {
			// A cut inside trailing padding of the last tensor is fine only
			// if the data still fits; anything earlier must fail.
			if n < len(good)-22 {
				t.Fatalf("prefix of %d bytes parsed without error", n)
			}
		}
	}
}

func FuzzNewReader(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		for _, ti := range g.Tensors {
			if int64(ti.Offset+ti.Size)+g.DataOffset > int64(len(data)) {
				t.Fatalf("tensor %q runs past the file", ti.Name)
			}
		}
	})
}

func TestWriterMisuse(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.AddKV("x", struct{}{}); !errors.Is(err, ErrBadValue) {
		t.Errorf("struct value: %v", err)
	}
	if err := w.AddKV("k", "v"); err != nil {
		t.Fatal(err)
	}
	if err := w.AddKV("k", "v"); !errors.Is(err, ErrWriterState) {
		t.Errorf("duplicate key: %v", err)
	}
	if err := w.AddTensor("q", Q8_0, []uint64{48}); !errors.Is(err, ErrBadShape) {
		t.Errorf("q8_0 row of 48: %v", err)
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, ErrWriterState) {
		t.Errorf("data before header: %v", err)
	}
	if err := w.AddTensor("t", F32, []uint64{2}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	if err := w.AddKV("late", "v"); !errors.Is(err, ErrWriterState) {
		t.Errorf("key after header: %v", err)
	}
	if _, err := w.Write(make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(); !errors.Is(err, ErrWriterState) {
		t.Errorf("finish with half a tensor: %v", err)
	}
	if _, err := w.Write(make([]byte, 5)); !errors.Is(err, ErrWriterState) {
		t.Errorf("too much data: %v", err)
	}
}

func TestF16RoundTripsEveryHalf(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if got := F32ToF16(f); got != uint16(h) {
			t.Fatalf("half %#04x -> %v -> %#04x", h, f, got)
		}
	}
}

func TestF16RoundsHalfwayToEven(t *testing.T) {
	// The midpoint between adjacent halves must round to the even one, as
	// numpy's astype(float16) does; this covers normals and subnormals.
	for h := uint16(0); h < 0x7bff; h++ {
		lo, hi := float64(F16ToF32(h)), float64(F16ToF32(h+1))
		mid := float32((lo + hi) / 2)
		want := h
		if h&1 == 1 {
			want = h + 1
		}
		if got := F32ToF16(mid); got != want {
			t.Fatalf("midpoint of %#04x and %#04x (%v) -> %#04x, want %#04x", h, h+1, mid, got, want)
		}
		if got := F32ToF16(math.Nextafter32(mid, float32(hi))); got != h+1 {
			t.Fatalf("just above midpoint of %#04x -> %#04x", h, got)
		}
	}
}

func TestF16Specials(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{65504, 0x7bff}, {65519, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {5.960464477539063e-08, 0x0001}, {2.9802322387695312e-08, 0},
		{2.98023259e-08, 0x0001}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
	}
	for _, c := range cases {
		if got := F32ToF16(c.in); got != c.want {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if h := F32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
}

func TestQ8_0(t *testing.T) {
	cases := []struct {
		name string
		in   func(i int) float32
		d    uint16
		qs   func(i int) int8
	}{
		// max |x| = 127 gives d = 1, so q = round(x) with halves away from zero.
		{"unit scale", func(i int) float32 {
			if i == 0 {
				return 127
			}
			return float32(i) - 16.5
		}, 0x3c00, func(i int) int8 {
			if i == 0 {
				return 127
			}
			x := float64(i) - 16.5
			return int8(math.Copysign(math.Floor(math.Abs(x)+0.5), x))
		}},
		{"zeros", func(int) float32 { return 0 }, 0, func(int) int8 { return 0 }},
		{"negative max", func(i int) float32 { return -float32(i) / 31 * 2.54 }, F32ToF16(2.54 / 127), func(i int) int8 {
			return int8(-math.Floor(float64(float32(float32(i)/31*2.54)*(1/float32(float32(2.54)/127))) + 0.5))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := make([]float32, 32)
			for i := range in {
				in[i] = c.in(i)
			}
			out, err := AppendQ8_0(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != 34 {
				t.Fatalf("%d bytes, want 34", len(out))
			}
			if d := uint16(out[0]) | uint16(out[1])<<8; d != c.d {
				t.Errorf("scale %#04x, want %#04x", d, c.d)
			}
			for i := range 32 {
				if q := int8(out[2+i]); q != c.qs(i) {
					t.Errorf("q[%d] = %d, want %d (x=%v)", i, q, c.qs(i), in[i])
				}
			}
		})
	}
	if _, err := AppendQ8_0(nil, make([]float32, 33)); !errors.Is(err, ErrBadShape) {
		t.Errorf("33 values: %v", err)
	}
}
