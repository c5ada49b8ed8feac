package store

import (
	"errors"
	"reflect"
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
		// The decoder accepts only the encoder's canonical form (metadata
		// keys in increasing order, each once), so nothing it accepts can
		// lose a value to a duplicate key.
		if again := encodeDocument(&got); string(again) != string(rec) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", rec, again)
		}
	})
}

// TestDecodeDocumentRefusesDuplicateAndUnorderedMetadataKeys pins that a
// record listing a metadata key twice is corrupt rather than decoded with one
// of the two values dropped.
func TestDecodeDocumentRefusesDuplicateAndUnorderedMetadataKeys(t *testing.T) {
	for name, keys := range map[string][2]string{"duplicate": {"lang", "lang"}, "unordered": {"lang", "author"}} {
		t.Run(name, func(t *testing.T) {
			// A record without metadata ends in the count 0 and the text;
			// keep what comes before and write two pairs in the order given.
			head := encodeDocument(&Document{Text: "some text"})
			prefix := head[:len(head)-len(appendString(nil, "some text"))-1]
			rec := append(append([]byte{}, prefix...), 2)
			rec = appendString(rec, keys[0])
			rec = appendString(rec, "en")
			rec = appendString(rec, keys[1])
			rec = appendString(rec, "de")
			rec = appendString(rec, "some text")
			_, err := decodeDocument("id", rec)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeDocument with metadata keys %q = %v, want ErrCorrupt", keys, err)
			}
		})
	}
}

// FuzzDecodeChunk does the same for schema-2 chunk records, which the
// migration reads.
func FuzzDecodeChunk(f *testing.F) {
	c := Chunk{Start: 1, End: 5, Tokens: 3, Vector: []float32{0.5, -1, 2, 0}}
	for _, half := range []bool{false, true} {
		rec := encodeChunk(&c, half)
		setChunkID(rec, 42)
		f.Add(rec)
	}
	key := chunkKey("doc", 3)
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, err := decodeChunkV2(key, rec)
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

// FuzzDecodeChunkPoint: any record either decodes to a sound chunk or
// fails with ErrCorrupt, and the fast path agrees with the general one.
func FuzzDecodeChunkPoint(f *testing.F) {
	c := Chunk{Start: 1, End: 5, Tokens: 3, Vector: []float32{0.5, -1, 2, 0}}
	for _, half := range []bool{false, true} {
		f.Add(encodeChunkPoint(&c, "doc/ü", 3, half))
	}
	f.Add(encodePoint([]string{""}, map[string][]float32{"": {1}}, []byte(`{"document_id":"d","chunk":0,"start":0,"end":1}`)))
	f.Add(encodePoint([]string{"a"}, map[string][]float32{"a": {1}}, []byte(`{"document_id":"d","chunk":0,"start":0,"end":1}`)))
	f.Add(encodeChunkPoint(&c, `quote" <and> back\\slash`, 1, false))
	f.Add(encodePoint([]string{""}, map[string][]float32{"": {1}}, []byte(`{"document_id":"d","chunk":0,"start":0,"end":2147483648}`)))
	f.Fuzz(func(t *testing.T, rec []byte) {
		// The fast path reads only what the general one reads the same.
		if fast, ok := decodeChunkPointFast(7, rec); ok {
			if slow, err := decodeChunkPointGeneral(7, rec); err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("fast path %+v, general %+v, %v", fast, slow, err)
			}
		}
		got, err := decodeChunkPoint(7, rec)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if got.ID != 7 || got.DocID == "" || got.Start >= got.End || got.Start < 0 || got.Ordinal < 0 || len(got.Vector) == 0 {
			t.Fatalf("decoded %+v", got)
		}
	})
}
