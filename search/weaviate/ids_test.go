package weaviate

import (
	"errors"
	"slices"
	"testing"

	"github.com/edgesearch/edgesearch/store"
)

func TestObjectIDRoundTripsAndSortsAsPointIDs(t *testing.T) {
	var ids []store.PointID
	for _, n := range []uint64{0, 1, 255, 256, 1 << 40, ^uint64(0)} {
		ids = append(ids, store.NumPointID(n))
	}
	for _, s := range []string{"00000000-0000-0001-0000-000000000000", "5c56c793-69e3-4b3a-9d3f-1c2a3b4c5d6e", "ffffffff-ffff-ffff-ffff-ffffffffffff"} {
		id, err := store.ParsePointID(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var uuids []string
	for _, id := range ids {
		u, err := ObjectID(id)
		if err != nil {
			t.Fatalf("%v: %v", id, err)
		}
		back, err := PointID(u)
		if err != nil || back != id {
			t.Fatalf("%v → %s → %v, %v", id, u, back, err)
		}
		uuids = append(uuids, u)
	}
	// ids are in PointID order; their UUIDs must be in string (byte) order.
	if !slices.IsSorted(uuids) {
		t.Fatalf("UUIDs not in point id order: %v", uuids)
	}
	if u, _ := ObjectID(store.NumPointID(5)); u != "00000000-0000-0000-0000-000000000005" {
		t.Fatalf("integer 5 → %s", u)
	}
}

func TestObjectIDRefusesUUIDsInTheIntegerRange(t *testing.T) {
	id, _ := store.ParsePointID("00000000-0000-0000-0000-000000000005")
	if _, err := ObjectID(id); !errors.Is(err, ErrUnmappableID) {
		t.Fatalf("got %v, want ErrUnmappableID", err)
	}
}

func TestPredecessor(t *testing.T) {
	for in, want := range map[string]string{
		"00000000-0000-0000-0000-000000000005": "00000000-0000-0000-0000-000000000004",
		"00000000-0000-0001-0000-000000000000": "00000000-0000-0000-ffff-ffffffffffff",
	} {
		if got, ok := predecessor(in); !ok || got != want {
			t.Errorf("predecessor(%s) = %s, %v; want %s", in, got, ok, want)
		}
	}
	if _, ok := predecessor("00000000-0000-0000-0000-000000000000"); ok {
		t.Error("the zero UUID has a predecessor")
	}
}

func TestClassNamesKeepDistinctCollectionsDistinct(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"docs", "Docs", "do_cs", "do.cs", "do-cs", "do__cs", "do_dcs", "a_b", "a__b"} {
		c := ClassName(name)
		if prev, dup := seen[lower(c)]; dup {
			t.Fatalf("%q and %q both map to %s (Weaviate ignores case)", prev, name, c)
		}
		seen[lower(c)] = name
	}
	if got := ClassName("My-docs.v2"); got != "Es__my_hdocs_dv2" {
		t.Fatalf("ClassName = %s", got)
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestDocumentsIndexClassesAreApart(t *testing.T) {
	c, err := New(Options{URL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	d := c.DocumentsIndex()
	if got := d.className("documents-ab"); got != "Esdoc_documents_hab" {
		t.Fatalf("documents index class %q", got)
	}
	if c.className("documents-ab") == d.className("documents-ab") {
		t.Fatal("a collection of points and a documents index share a class")
	}
}
