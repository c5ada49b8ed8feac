package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestListPages(t *testing.T) {
	s := newTestStore(t)
	var docs []Document
	for i := range 25 {
		docs = append(docs, testDoc(fmt.Sprintf("doc-%02d", i), 1, testDims, uint64(i)))
	}
	put(t, s, docs...)

	tests := []struct {
		offset, limit int
		first         string // id of the first document, "" for none
		n             int
	}{
		{0, 10, "doc-00", 10},
		{10, 10, "doc-10", 10},
		{20, 10, "doc-20", 5},
		{24, 1, "doc-24", 1},
		{25, 10, "", 0},
		{1000, 10, "", 0},
		{0, 1000, "doc-00", 25},
	}
	for _, tt := range tests {
		got, total, err := s.List(tt.offset, tt.limit)
		if err != nil {
			t.Fatalf("List(%d, %d): %v", tt.offset, tt.limit, err)
		}
		if total != 25 || len(got) != tt.n {
			t.Errorf("List(%d, %d): %d documents of %d, want %d of 25", tt.offset, tt.limit, len(got), total, tt.n)
		}
		if tt.n > 0 && (got[0].ID != tt.first || got[0].Chunks != nil || got[0].Text == "") {
			t.Errorf("List(%d, %d)[0] = %q with %d chunks, want %q with text and no chunks", tt.offset, tt.limit, got[0].ID, len(got[0].Chunks), tt.first)
		}
		for i := 1; i < len(got); i++ {
			if got[i-1].ID >= got[i].ID {
				t.Errorf("List(%d, %d): %q before %q", tt.offset, tt.limit, got[i-1].ID, got[i].ID)
			}
		}
	}
	for _, bad := range [][2]int{{-1, 10}, {0, 0}, {0, -5}} {
		if _, _, err := s.List(bad[0], bad[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("List(%d, %d): %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}

func TestForEachChunkVisitsEveryChunkOnceWithGeneration(t *testing.T) {
	s := newTestStore(t)
	a, b := testDoc("a", 3, testDims, 1), testDoc("b", 4, testDims, 2)
	batch := []Document{a, b}
	put(t, s, batch...)
	want := map[uint64]string{}
	for _, d := range batch {
		for _, c := range d.Chunks {
			want[c.ID] = d.Text[c.Start:c.End]
		}
	}
	seen := map[uint64]bool{}
	gen, err := s.ForEachChunk(context.Background(), func(c Chunk) error {
		if seen[c.ID] || want[c.ID] != c.Text || len(c.Vector) != testDims {
			return fmt.Errorf("chunk %d (%q %d): seen %v, text %q, %d dims", c.ID, c.DocID, c.Ordinal, seen[c.ID], c.Text, len(c.Vector))
		}
		seen[c.ID] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Errorf("visited %d chunks, want %d", len(seen), len(want))
	}
	if g, _ := s.Generation(); gen != g || gen == 0 {
		t.Errorf("ForEachChunk generation %d, Generation() %d", gen, g)
	}

	stop := errors.New("stop")
	n := 0
	if _, err := s.ForEachChunk(context.Background(), func(Chunk) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("ForEachChunk with failing fn: %v after %d calls, want stop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.ForEachChunk(ctx, func(Chunk) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("ForEachChunk with canceled context: %v", err)
	}
}

func TestGenerationGrowsWithEveryWrite(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	last, _ := s.Generation()
	for i, write := range []func() error{
		func() error { return s.Put(ctx, []Document{testDoc("a", 1, testDims, 1)}) },
		func() error { return s.Put(ctx, []Document{testDoc("a", 2, testDims, 2)}) },
		func() error { return s.Delete(ctx, "a") },
	} {
		if err := write(); err != nil {
			t.Fatal(err)
		}
		g, err := s.Generation()
		if err != nil || g <= last {
			t.Fatalf("write %d: generation %d (%v), was %d", i, g, err, last)
		}
		last = g
	}
	// Reads and a no-op Put leave it alone.
	s.List(0, 10)
	s.Put(ctx, nil)
	if g, _ := s.Generation(); g != last {
		t.Errorf("generation moved from %d to %d without a write", last, g)
	}
}

func TestHasHash(t *testing.T) {
	s := newTestStore(t)
	a := testDoc("a", 1, testDims, 1)
	twin := a
	twin.ID = "a-copy"
	put(t, s, a, twin)
	tests := []struct {
		name   string
		source string
		text   string
		id     string
		ok     bool
	}{
		{"same source and text", a.Source, a.Text, "a", true},
		{"changed text", a.Source, a.Text + " edited", "", false},
		{"other source", "/elsewhere.md", a.Text, "", false},
		{"source that extends the stored one", a.Source + "x", a.Text, "", false},
	}
	for _, tt := range tests {
		id, ok, err := s.HasHash(tt.source, HashText(tt.text))
		if err != nil || id != tt.id || ok != tt.ok {
			t.Errorf("%s: HasHash = %q, %v, %v; want %q, %v", tt.name, id, ok, err, tt.id, tt.ok)
		}
	}
}

func TestGetAndChunkByIDReportNotFound(t *testing.T) {
	s := newTestStore(t)
	put(t, s, testDoc("a", 1, testDims, 1))
	for _, id := range []string{"", "b", "a\x00"} {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range []uint64{0, 2, 1 << 60} {
		if _, err := s.ChunkByID(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("ChunkByID(%d): %v, want ErrNotFound", id, err)
		}
	}
}

// TestCountsBeyondIntAreCorrupt pins that a document or chunk counter
// larger than an int is reported as damage by Count and List instead of
// wrapping negative (on any build; on a 32-bit one from 2^31 on), and that
// a chunk key whose ordinal a 32-bit int cannot hold is damage too.
func TestCountsBeyondIntAreCorrupt(t *testing.T) {
	for _, key := range [][]byte{metaDocuments, metaChunks} {
		s := newTestStore(t)
		put(t, s, testDoc("a", 2, testDims, 1))
		if err := s.db.Update(func(tx *bolt.Tx) error {
			return putU64(tx.Bucket(bucketMeta), key, 1<<63)
		}); err != nil {
			t.Fatal(err)
		}
		if d, c, err := s.Count(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("meta %s = 2^63: Count = %d, %d, %v; want ErrCorrupt", key, d, c, err)
		}
		if string(key) == string(metaDocuments) {
			if _, total, err := s.List(0, 10); !errors.Is(err, ErrCorrupt) {
				t.Errorf("meta %s = 2^63: List total %d, %v; want ErrCorrupt", key, total, err)
			}
		}
	}
	if _, ord, err := parseChunkKey(chunkKey("doc", math.MaxInt32)); err != nil || ord != math.MaxInt32 {
		t.Errorf("ordinal 2^31-1: %d, %v", ord, err)
	}
	if _, ord, err := parseChunkKey(append(chunkPrefix("doc"), 0x80, 0, 0, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("ordinal 2^31: %d, %v; want ErrCorrupt", ord, err)
	}
}
