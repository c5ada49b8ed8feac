package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"runtime"
	"testing"
	"time"
)

// FuzzDecodePointRecord feeds arbitrary bytes to the point record decoder:
// it must return vectors or ErrCorrupt, never panic, allocate no more vector
// and payload memory than the record holds, and what it accepts must
// encode back to the same bytes.
func FuzzDecodePointRecord(f *testing.F) {
	f.Add(encodePoint([]string{""}, map[string][]float32{"": {0.5, -1, 2, 0}}, []byte(`{"a":1}`)))
	f.Add(encodePoint([]string{"image", "text"}, map[string][]float32{"image": {1, 2, 3}, "text": {4}}, nil))
	f.Add([]byte{pointRecordVersion, 1, 0, 0x80, 0x80, 0x04})
	f.Fuzz(func(t *testing.T, rec []byte) {
		vectors, payload, at, err := decodePointRecord(rec)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		held := len(payload)
		for _, v := range vectors {
			held += 4 * len(v)
		}
		if held > len(rec) || at > len(rec) || !bytes.Equal(rec[at:], payload) {
			t.Fatalf("decoded %d bytes of values from a record of %d (payload at %d)", held, len(rec), at)
		}
		if again := encodePoint(sortedNames(vectors), vectors, payload); !bytes.Equal(again, rec) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", rec, again)
		}
	})
}

// FuzzDecodeConfig does the same for collection config records.
func FuzzDecodeConfig(f *testing.F) {
	created := time.Unix(0, 1700000000123456789)
	f.Add(encodeConfig(created, map[string]VectorParams{"": {Size: 384, Distance: Cosine}}))
	f.Add(encodeConfig(created, map[string]VectorParams{"a": {Size: 1, Distance: Dot}, "b": {Size: 65536, Distance: Euclid}}))
	f.Fuzz(func(t *testing.T, rec []byte) {
		cfg, err := decodeConfig(rec)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrCorrupt alone", err)
			}
			return
		}
		if err := checkVectors(cfg.vectors); err != nil {
			t.Fatalf("accepted vectors CreateCollection refuses: %v", err)
		}
		if again := encodeConfig(cfg.created, cfg.vectors); !bytes.Equal(again, rec) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", rec, again)
		}
	})
}

// FuzzPointID parses arbitrary text and bytes as point ids: no panics, the
// right sentinel, and every accepted id round-trips through all its forms.
func FuzzPointID(f *testing.F) {
	for _, s := range []string{"0", "18446744073709551615", "67e55044-10b1-426f-9247-bb680e5fe0c8",
		"{67E55044-10B1-426F-9247-BB680E5FE0C8}", "urn:uuid:67e5504410b1426f9247bb680e5fe0c8", `"x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		check := func(id PointID) {
			if again, err := ParsePointID(id.String()); err != nil || again != id {
				t.Fatalf("%v: String does not parse back: %v, %v", id, again, err)
			}
			js, _ := json.Marshal(id)
			var back PointID
			if err := json.Unmarshal(js, &back); err != nil || back != id {
				t.Fatalf("%v: JSON %s does not read back: %v, %v", id, js, back, err)
			}
			k, _ := id.MarshalBinary()
			if err := back.UnmarshalBinary(k); err != nil || back != id {
				t.Fatalf("%v: binary %x does not read back: %v, %v", id, k, back, err)
			}
		}
		if id, err := ParsePointID(s); err == nil {
			check(id)
		} else if !errors.Is(err, ErrBadPointID) {
			t.Fatalf("ParsePointID(%q): %v is not ErrBadPointID", s, err)
		}
		var id PointID
		if err := id.UnmarshalJSON([]byte(s)); err == nil {
			check(id)
		} else if !errors.Is(err, ErrBadPointID) {
			t.Fatalf("UnmarshalJSON(%q): %v is not ErrBadPointID", s, err)
		}
		if err := id.UnmarshalBinary([]byte(s)); err == nil {
			if k, _ := id.MarshalBinary(); string(k) != s {
				t.Fatalf("binary %x reads as %v, which writes %x", s, id, k)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("UnmarshalBinary(%x): %v is not ErrCorrupt", s, err)
		}
	})
}

// FuzzMergePayload merges into arbitrary stored bytes: a payload that is
// not a JSON object is ErrCorrupt, never a panic, and a merge of a valid
// object is a valid object again.
func FuzzMergePayload(f *testing.F) {
	f.Add([]byte(`{"a":1,"b":{"c":[1,2]},"a":3}`), "a", []byte(`"x"`))
	f.Add([]byte(` {} `), "", []byte(`null`))
	f.Fuzz(func(t *testing.T, stored []byte, key string, value []byte) {
		for _, op := range []PayloadOp{
			{Set: map[string]json.RawMessage{key: value}},
			{Delete: []string{key}},
		} {
			if op.check() != nil {
				continue
			}
			out, err := mergePayload(stored, op)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("mergePayload: %v is not ErrCorrupt", err)
				}
				continue
			}
			if _, err := checkPayload(stored); err != nil {
				continue // garbage a JSON decoder happens to read past
			}
			if _, err := checkPayload(out); err != nil {
				t.Fatalf("merging %+v into %q gave %q: %v", op, stored, out, err)
			}
		}
	})
}

// TestDecodePointRecordRefusesLengthsBeyondTheRecord pins the allocation
// bound with records whose counts claim far more than they hold: each is
// refused having allocated next to nothing.
func TestDecodePointRecordRefusesLengthsBeyondTheRecord(t *testing.T) {
	hostile := [][]byte{
		binary.AppendUvarint([]byte{pointRecordVersion}, 1<<40),                          // vectors
		binary.AppendUvarint([]byte{pointRecordVersion, 1, 0}, maxDims),                  // dims past the record
		binary.AppendUvarint([]byte{pointRecordVersion, 1, 0}, 1<<62),                    // dims past any limit
		binary.AppendUvarint(append([]byte{pointRecordVersion, 1}, 0xff, 0xff, 0x03), 1), // name length
	}
	for _, rec := range hostile {
		rec = append(rec, make([]byte, 64)...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, _, err := decodePointRecord(rec)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodePointRecord(%x): %v, want ErrCorrupt", rec[:8], err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 4096 {
			t.Errorf("decodePointRecord(%x) allocated %d bytes", rec[:8], n)
		}
	}
}
