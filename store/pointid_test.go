package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func mustPointID(t testing.TB, s string) PointID {
	t.Helper()
	id, err := ParsePointID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPointIDParsesEveryUUIDSpellingToOneID(t *testing.T) {
	const canon = "67e55044-10b1-426f-9247-bb680e5fe0c8"
	for _, s := range []string{canon, strings.ToUpper(canon), "67e5504410b1426f9247bb680e5fe0c8", "{" + canon + "}", "urn:uuid:" + canon, "URN:UUID:" + canon} {
		id, err := ParsePointID(s)
		if err != nil {
			t.Errorf("ParsePointID(%q): %v", s, err)
			continue
		}
		if u, ok := id.UUID(); !ok || u != canon || id.String() != canon {
			t.Errorf("ParsePointID(%q) = %v, want %s", s, id, canon)
		}
		if _, ok := id.Num(); ok {
			t.Errorf("ParsePointID(%q) claims to be a number", s)
		}
		if id != mustPointID(t, canon) {
			t.Errorf("ParsePointID(%q) != ParsePointID(%q)", s, canon)
		}
	}
	id, err := ParsePointID("18446744073709551615")
	if n, ok := id.Num(); err != nil || !ok || n != math.MaxUint64 || id != NumPointID(math.MaxUint64) {
		t.Errorf("ParsePointID(max uint64) = %v, %v", id, err)
	}
	if _, ok := id.UUID(); ok {
		t.Error("an integer id claims to be a UUID")
	}
	if (PointID{}) != NumPointID(0) || (PointID{}).String() != "0" {
		t.Error("the zero PointID is not the integer 0")
	}
	// The nil UUID is a UUID, not the integer 0.
	if nilUUID := mustPointID(t, "00000000-0000-0000-0000-000000000000"); nilUUID == NumPointID(0) {
		t.Error("the nil UUID equals the integer 0")
	}
	for _, s := range []string{"", "-1", "+1", "18446744073709551616", "1.0", "1e3", " 1",
		"67e55044-10b1-426f-9247-bb680e5fe0c", "67e55044_10b1-426f-9247-bb680e5fe0c8",
		"g7e55044-10b1-426f-9247-bb680e5fe0c8", "67e55044-10b1-426f-9247bbb680e5fe0c8",
		"{67e55044-10b1-426f-9247-bb680e5fe0c8", "urn:uuid:67e5504410b1426f9247bb680e5fe0c8"} {
		if _, err := ParsePointID(s); !errors.Is(err, ErrBadPointID) {
			t.Errorf("ParsePointID(%q) = %v, want ErrBadPointID", s, err)
		}
	}
}

func TestPointIDJSON(t *testing.T) {
	const canon = "67e55044-10b1-426f-9247-bb680e5fe0c8"
	var ids []PointID
	if err := json.Unmarshal([]byte(`[0, 18446744073709551615, "`+strings.ToUpper(canon)+`"]`), &ids); err != nil {
		t.Fatal(err)
	}
	want := []PointID{NumPointID(0), NumPointID(math.MaxUint64), mustPointID(t, canon)}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("unmarshal = %v, want %v", ids, want)
	}
	out, _ := json.Marshal(ids)
	if string(out) != `[0,18446744073709551615,"`+canon+`"]` {
		t.Errorf("marshal = %s", out)
	}
	for _, bad := range []string{`"42"`, `-1`, `1.5`, `1e2`, `true`, `null`, `"x"`, `{}`, `18446744073709551616`} {
		var id PointID
		if err := json.Unmarshal([]byte(bad), &id); !errors.Is(err, ErrBadPointID) {
			t.Errorf("unmarshal %s = %v, want ErrBadPointID", bad, err)
		}
	}
}

// TestPointIDBinaryOrderIsCompareOrder pins what ScrollPoints relies on:
// bbolt's byte order of point keys is integers ascending, then UUIDs by
// their bytes, which is Compare's order.
func TestPointIDBinaryOrderIsCompareOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ids := []PointID{NumPointID(0), NumPointID(1), NumPointID(255), NumPointID(256), NumPointID(math.MaxUint64),
		mustPointID(t, "00000000-0000-0000-0000-000000000000"), mustPointID(t, "ffffffff-ffff-ffff-ffff-ffffffffffff"),
		mustPointID(t, "00000000-0000-0001-0000-000000000000"), mustPointID(t, "00000000-0000-0000-ffff-ffffffffffff")}
	for range 200 {
		ids = append(ids, NumPointID(r.Uint64()>>r.UintN(64)),
			PointID{hi: r.Uint64(), lo: r.Uint64(), uuid: true})
	}
	byCompare := slices.Clone(ids)
	slices.SortFunc(byCompare, PointID.Compare)
	byKey := slices.Clone(ids)
	slices.SortFunc(byKey, func(a, b PointID) int { return bytes.Compare(pointKey(a), pointKey(b)) })
	if !slices.Equal(byCompare, byKey) {
		t.Fatal("key byte order differs from Compare order")
	}
	for i := 1; i < len(byCompare); i++ {
		a, b := byCompare[i-1], byCompare[i]
		if _, aNum := a.Num(); a != b && !aNum {
			if _, bNum := b.Num(); bNum {
				t.Fatalf("UUID %v sorts before integer %v", a, b)
			}
		}
	}
	for _, id := range ids {
		b, err := id.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back PointID
		if err := back.UnmarshalBinary(b); err != nil || back != id {
			t.Fatalf("binary round trip of %v = %v, %v", id, back, err)
		}
		if again, _ := ParsePointID(id.String()); again != id {
			t.Fatalf("String round trip of %v = %v", id, again)
		}
	}
}

func TestPointIDBinaryRefusesOtherForms(t *testing.T) {
	for _, k := range [][]byte{nil, {}, {0}, {0, 1, 2, 3, 4, 5, 6, 7}, append([]byte{1}, make([]byte, 8)...),
		append([]byte{0}, make([]byte, 16)...), append([]byte{2}, make([]byte, 8)...), append([]byte{1}, make([]byte, 17)...)} {
		var id PointID
		if err := id.UnmarshalBinary(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("UnmarshalBinary(%x) = %v, want ErrCorrupt", k, err)
		}
	}
}
