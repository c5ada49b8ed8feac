package store

import (
	"errors"
	"testing"
)

// FuzzDecodeDocument feeds arbitrary bytes to the document decoder: it must
// return a value or ErrCorrupt, never panic, and what it accepts must
// encode back to the same bytes.
func FuzzDecodeDocument(f *testing.F) {
	d := testDoc("seed", 1, 4, 1)
	d.Hash = HashText(d.Text)
	f.Add(encodeDocument(&d))
	f.Add([]byte{docRecordVersion})
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, err := decodeDocument("id", rec)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if _, err := decodeHeader(rec); err != nil {
			t.Fatalf("decodeDocument accepts what decodeHeader rejects: %v", err)
		}
		if again := encodeDocument(&got); string(again) != string(rec) && len(got.Metadata) < 2 {
			// With two or more metadata keys the input may list them in an
			// order the encoder would not, so only smaller records compare.
			t.Fatalf("re-encoding differs:\n in %x\nout %x", rec, again)
		}
	})
}

// FuzzDecodeChunk does the same for chunk records.
func FuzzDecodeChunk(f *testing.F) {
	c := Chunk{Start: 1, End: 5, Tokens: 3, Vector: []float32{0.5, -1, 2, 0}}
	for _, half := range []bool{false, true} {
		rec := encodeChunk(&c, half)
		setChunkID(rec, 42)
		f.Add(rec)
	}
	key := chunkKey("doc", 3)
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, err := decodeChunk(key, rec)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if got.DocID != "doc" || got.Ordinal != 3 || got.Start >= got.End {
			t.Fatalf("decoded %+v", got)
		}
	})
}
