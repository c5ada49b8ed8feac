package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

func TestIDsAndUnchunkedFollowReembedding(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	// "a" and "a0" share a prefix: the chunks of "a0" must not count for "a".
	put(t, s, testDoc("a", 0, testDims, 1), testDoc("a0", 2, testDims, 2), testDoc("b", 1, testDims, 3), testDoc("c", 0, testDims, 4))

	ids, err := s.IDs(ctx)
	if err != nil || !reflect.DeepEqual(ids, []string{"a", "a0", "b", "c"}) {
		t.Errorf("IDs = %q, %v", ids, err)
	}
	un, err := s.Unchunked(ctx)
	if err != nil || !reflect.DeepEqual(un, []string{"a", "c"}) {
		t.Errorf("Unchunked = %q, %v; want a and c", un, err)
	}
	s.Close()

	s = openTest(t, path, Options{Model: "other", Dims: 8, Reembed: true})
	if un, err = s.Unchunked(ctx); err != nil || !reflect.DeepEqual(un, []string{"a", "a0", "b", "c"}) {
		t.Errorf("after Reembed Unchunked = %q, %v; want every document", un, err)
	}
	put(t, s, testDoc("a0", 1, 8, 5))
	if un, err = s.Unchunked(ctx); err != nil || !reflect.DeepEqual(un, []string{"a", "b", "c"}) {
		t.Errorf("after re-embedding a0 Unchunked = %q, %v", un, err)
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	bulk := make([]Document, 5000) // enough keys to reach a cancellation check
	for i := range bulk {
		bulk[i] = testDoc(fmt.Sprintf("bulk%05d", i), 0, 8, uint64(i))
	}
	put(t, s, bulk...)
	if _, err := s.Unchunked(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Unchunked with a canceled context = %v", err)
	}
}

func TestIDsBySourceFindsEachSourceExactly(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	docs := []Document{testDoc("r2", 1, testDims, 1), testDoc("r1", 1, testDims, 2), testDoc("x", 1, testDims, 3), testDoc("y", 1, testDims, 4)}
	docs[0].Source, docs[1].Source = "/data/rows.jsonl", "/data/rows.jsonl"
	docs[2].Source = "/data/rows.jsonl.bak" // a longer source with the same prefix
	docs[3].Source = ""
	// Same text in two sources: the hash index holds both.
	docs[2].Text, docs[2].Chunks = docs[0].Text, docs[0].Chunks
	put(t, s, docs...)

	for _, tt := range []struct {
		name    string
		sources []string
		want    map[string][]string
	}{
		{"one source, ids sorted", []string{"/data/rows.jsonl"}, map[string][]string{"/data/rows.jsonl": {"r1", "r2"}}},
		{"prefix is not a match", []string{"/data/rows"}, map[string][]string{}},
		{"several, one empty", []string{"/data/rows.jsonl.bak", ""}, map[string][]string{"/data/rows.jsonl.bak": {"x"}, "": {"y"}}},
		{"none asked", nil, map[string][]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.IDsBySource(ctx, tt.sources)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("IDsBySource(%q) = %v, %v; want %v", tt.sources, got, err, tt.want)
			}
		})
	}

	// A replaced document moves to its new source.
	moved := testDoc("r1", 1, testDims, 2)
	moved.Source = "/data/other.csv"
	put(t, s, moved)
	got, err := s.IDsBySource(ctx, []string{"/data/rows.jsonl", "/data/other.csv"})
	want := map[string][]string{"/data/rows.jsonl": {"r2"}, "/data/other.csv": {"r1"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("after moving r1: %v, %v; want %v", got, err, want)
	}
}

func TestDeleteBatchRemovesStoredAndSkipsMissing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	put(t, s, testDoc("a", 2, testDims, 1), testDoc("b", 3, testDims, 2), testDoc("c", 1, testDims, 3))
	gen, _ := s.Generation()

	n, err := s.DeleteBatch(ctx, []string{"b", "missing", "a", "b"})
	if err != nil || n != 2 {
		t.Fatalf("DeleteBatch = %d, %v; want 2 removed", n, err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s) after delete: %v", id, err)
		}
	}
	if d, c, _ := s.Count(); d != 1 || c != 1 {
		t.Errorf("Count = %d, %d; want 1, 1", d, c)
	}
	if g, _ := s.Generation(); g <= gen {
		t.Errorf("generation %d did not grow past %d", g, gen)
	}
	if _, ok, _ := s.HasHash("/docs/a.md", HashText(testDoc("a", 2, testDims, 1).Text)); ok {
		t.Error("hash index still names a deleted document")
	}
	checkConsistent(t, s)

	for _, tt := range []struct {
		name string
		ids  []string
		want error
	}{
		{"empty id", []string{"c", ""}, ErrInvalid},
	} {
		if _, err := s.DeleteBatch(ctx, tt.ids); !errors.Is(err, tt.want) {
			t.Errorf("%s: DeleteBatch = %v, want %v", tt.name, err, tt.want)
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DeleteBatch(canceled, []string{"c"}); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteBatch with a canceled context = %v", err)
	}
	if _, err := s.Get("c"); err != nil {
		t.Errorf("a rejected DeleteBatch removed c: %v", err)
	}
	if n, err := s.DeleteBatch(ctx, nil); n != 0 || err != nil {
		t.Errorf("empty DeleteBatch = %d, %v", n, err)
	}
}
