package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// outboxOps is one op of each kind, with the edge cases of the encoding:
// UUID and integer ids, named vectors, no payload, an empty filter.
func outboxOps(t testing.TB) []OutboxOp {
	u, err := ParsePointID("5c56c793-69f3-4fbf-87e6-c4bf54c28c26")
	if err != nil {
		t.Fatal(err)
	}
	return []OutboxOp{
		{Kind: OutboxUpsert, Points: []Point{
			{ID: NumPointID(1), Vectors: map[string][]float32{"": {1, -2.5, 3}}, Payload: []byte(`{"a":1}`)},
			{ID: u, Vectors: map[string][]float32{"": {0, 0, 1e-30}}},
		}},
		{Kind: OutboxUpsert, Points: []Point{{ID: NumPointID(1 << 60), Vectors: map[string][]float32{"img": {1}, "txt": {2, 3}}}}},
		{Kind: OutboxDelete, IDs: []PointID{NumPointID(0), u}},
		{Kind: OutboxDeleteWhere, Filter: []byte(`{"must":[{"key":"a","match":{"value":1}}]}`)},
		{Kind: OutboxUpdatePayload, IDs: []PointID{NumPointID(7)}, Payload: PayloadOp{Set: map[string]json.RawMessage{"b": json.RawMessage(`[1,2]`), "c": json.RawMessage(`"x"`)}}},
		{Kind: OutboxUpdatePayload, Filter: []byte(`{}`), Payload: PayloadOp{Set: map[string]json.RawMessage{"b": json.RawMessage(`2`)}, Overwrite: true}},
		{Kind: OutboxUpdatePayload, IDs: []PointID{u}, Payload: PayloadOp{Delete: []string{"a", "b"}}},
		{Kind: OutboxUpdatePayload, Filter: []byte(`{"must":[]}`), Payload: PayloadOp{Clear: true}},
	}
}

func TestOutboxAppendPeekRemoveInOrderAndSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{Model: "m", Dims: 4})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.OutboxStats(); err != nil || len(st) != 0 {
		t.Fatalf("a fresh store's outbox: %v, %v", st, err)
	}
	ops := outboxOps(t)
	vec := map[string]VectorParams{"": {Size: 3, Distance: Cosine}}
	for i, op := range ops {
		seq, err := s.AppendOutbox(bg, "c", vec, op, OutboxLimits{})
		if err != nil {
			t.Fatalf("append op %d: %v", i, err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("op %d has seq %d, want %d", i, seq, i+1)
		}
	}
	if _, err := s.AppendOutbox(bg, "other", nil, ops[2], OutboxLimits{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.PeekOutbox("c", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(ops) {
		t.Fatalf("after reopen %d entries, want %d", len(got), len(ops))
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || !reflect.DeepEqual(e.Op, ops[i]) || e.Added.IsZero() || e.Size == 0 {
			t.Fatalf("entry %d: %+v, want seq %d and %+v", i, e, i+1, ops[i])
		}
	}
	if v, err := s.OutboxVectors("c"); err != nil || !reflect.DeepEqual(v, vec) {
		t.Fatalf("vectors %v, %v; want %v", v, err, vec)
	}
	if v, err := s.OutboxVectors("other"); err != nil || v != nil {
		t.Fatalf("vectors of other %v, %v; want none", v, err)
	}
	st, err := s.OutboxStats()
	if err != nil || st["c"].Entries != len(ops) || st["other"].Entries != 1 || st["c"].Oldest.IsZero() {
		t.Fatalf("stats %+v, %v", st, err)
	}

	// A byte budget stops before the entry that would pass it, but
	// always gives the oldest.
	if few, err := s.PeekOutbox("c", 100, got[0].Size+got[1].Size); err != nil || len(few) != 2 {
		t.Fatalf("peek within the size of two entries: %d entries, %v", len(few), err)
	}
	if few, err := s.PeekOutbox("c", 100, 1); err != nil || len(few) != 1 || few[0].Seq != 1 {
		t.Fatalf("peek within 1 byte: %+v, %v", few, err)
	}

	// Delivered in order: removing through seq 3 leaves 4 at the head.
	if err := s.RemoveOutbox(bg, "c", 3); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveOutbox(bg, "c", 3); err != nil { // a retry
		t.Fatal(err)
	}
	head, err := s.PeekOutbox("c", 1, 0)
	if err != nil || len(head) != 1 || head[0].Seq != 4 {
		t.Fatalf("head after removing 1-3: %+v, %v", head, err)
	}
	if err := s.BuryOutbox(bg, "c", 4, "weaviate said no"); err != nil {
		t.Fatal(err)
	}
	head, _ = s.PeekOutbox("c", 1, 0)
	if len(head) != 1 || head[0].Seq != 5 {
		t.Fatalf("head after burying 4: %+v", head)
	}
	dead, err := s.DeadLetters("c")
	if err != nil || len(dead) != 1 || dead[0].Seq != 4 || dead[0].Reason != "weaviate said no" || !reflect.DeepEqual(dead[0].Op, ops[3]) {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	st, _ = s.OutboxStats()
	if c := st["c"]; c.Entries != len(ops)-4 || c.DeadLetters != 1 {
		t.Fatalf("stats after removing 3 and burying 1: %+v", c)
	}
	// Discarding the dead letters frees their room and leaves the queue.
	before := st["c"]
	if n, err := s.DiscardDeadLetters(bg, "c"); err != nil || n != 1 {
		t.Fatalf("discard: %d, %v; want 1", n, err)
	}
	if n, err := s.DiscardDeadLetters(bg, "c"); err != nil || n != 0 {
		t.Fatalf("discard again: %d, %v; want 0", n, err)
	}
	st, _ = s.OutboxStats()
	if c := st["c"]; c.Entries != before.Entries || c.DeadLetters != 0 || c.Bytes >= before.Bytes {
		t.Fatalf("stats after discarding the dead letter: %+v, before %+v", c, before)
	}
	if dead, err := s.DeadLetters("c"); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters after the discard: %+v, %v", dead, err)
	}
	if head, _ := s.PeekOutbox("c", 1, 0); len(head) != 1 || head[0].Seq != 5 {
		t.Fatalf("head after the discard: %+v", head)
	}
	// Later appends carry on after the highest seq ever given.
	if seq, err := s.AppendOutbox(bg, "c", nil, ops[0], OutboxLimits{}); err != nil || seq != uint64(len(ops)+1) {
		t.Fatalf("append after removals: seq %d, %v", seq, err)
	}
	if err := s.ClearOutbox(bg, "c"); err != nil {
		t.Fatal(err)
	}
	st, _ = s.OutboxStats()
	if _, ok := st["c"]; ok || st["other"].Entries != 1 {
		t.Fatalf("after clearing c: %+v", st)
	}
	if got, err := s.PeekOutbox("c", 10, 0); err != nil || len(got) != 0 {
		t.Fatalf("peek of a cleared outbox: %v, %v", got, err)
	}
}

// The limits count every collection's entries and bytes, dead letters
// included; a refused append changes nothing.
func TestOutboxAppendStopsAtTheLimits(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: "m", Dims: 4})
	op := OutboxOp{Kind: OutboxDelete, IDs: []PointID{NumPointID(1)}}
	rec, err := encodeOutboxOp(time.Unix(1, 0), op)
	if err != nil {
		t.Fatal(err)
	}
	lim := OutboxLimits{MaxEntries: 3, MaxBytes: 1 << 20}
	for i := range 3 {
		if _, err := s.AppendOutbox(bg, []string{"a", "b", "a"}[i], nil, op, lim); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.BuryOutbox(bg, "a", 1, "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendOutbox(bg, "b", nil, op, lim); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("a fourth entry: %v, want ErrOutboxFull", err)
	}
	if err := s.RemoveOutbox(bg, "b", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendOutbox(bg, "b", nil, op, lim); err != nil {
		t.Fatalf("after one was delivered: %v", err)
	}
	st, _ := s.OutboxStats()
	total := st["a"].Bytes + st["b"].Bytes
	byBytes := OutboxLimits{MaxBytes: total + int64(len(rec)) - 1}
	if _, err := s.AppendOutbox(bg, "c", nil, op, byBytes); !errors.Is(err, ErrOutboxFull) {
		t.Fatalf("one byte short: %v, want ErrOutboxFull", err)
	}
	byBytes.MaxBytes++
	if _, err := s.AppendOutbox(bg, "c", nil, op, byBytes); err != nil {
		t.Fatalf("exactly at the byte limit: %v", err)
	}
	if _, err := s.AppendOutbox(bg, "c", nil, op, OutboxLimits{MaxBytes: int64(len(rec)) - 1}); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrOutboxFull) {
		t.Fatalf("an op larger than the whole outbox: %v, want ErrInvalid (retrying cannot help)", err)
	}
	for _, bad := range []OutboxOp{
		{Kind: OutboxUpsert, IDs: []PointID{NumPointID(1)}},
		{Kind: OutboxDeleteWhere},
		{Kind: OutboxUpdatePayload, Payload: PayloadOp{Clear: true}},
		{Kind: OutboxUpdatePayload, IDs: []PointID{NumPointID(1)}, Payload: PayloadOp{Clear: true, Delete: []string{"a"}}},
		{Kind: 9},
	} {
		if _, err := s.AppendOutbox(bg, "c", nil, bad, OutboxLimits{}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("op %+v: %v, want ErrInvalid", bad, err)
		}
	}
}

// A store written before the outbox existed has no bucket: it opens, reads
// as empty, and the first append makes the bucket.
func TestOutboxOnAStoreWithoutOne(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"), Options{Model: "m", Dims: 4})
	err := s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketOutbox) != nil {
			return errors.New("a fresh store has an outbox bucket")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { _, err := s.PeekOutbox("c", 1, 0); return err },
		func() error { return s.RemoveOutbox(bg, "c", 1) },
		func() error { return s.BuryOutbox(bg, "c", 1, "x") },
		func() error { _, err := s.DeadLetters("c"); return err },
		func() error { return s.ClearOutbox(bg, "c") },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
}

// Every prefix of a record, and every record with a byte changed, decodes
// to an error or to an entry, never a panic.
func TestDecodeOutboxEntryRefusesDamage(t *testing.T) {
	for i, op := range outboxOps(t) {
		rec, err := encodeOutboxOp(time.Unix(1, 0), op)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(rec) {
			if _, err := decodeOutboxEntry(rec[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("op %d cut to %d of %d bytes: %v, want ErrCorrupt", i, n, len(rec), err)
			}
		}
		if _, err := decodeOutboxEntry(append(rec, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("op %d with a trailing byte: %v", i, err)
		}
		for j := range rec {
			bad := append([]byte(nil), rec...)
			bad[j] ^= 0xff
			decodeOutboxEntry(bad)
		}
	}
}

// BenchmarkAppendOutbox is the cost a write to a remote collection adds
// before it is acknowledged: one committed, fsynced append of one point of
// 384 dimensions.
func BenchmarkAppendOutbox(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "s.db"), Options{Model: "m", Dims: 4})
	v := make([]float32, 384)
	for i := range v {
		v[i] = float32(i)
	}
	vec := map[string]VectorParams{"": {Size: 384, Distance: Cosine}}
	b.ResetTimer()
	for i := range b.N {
		op := OutboxOp{Kind: OutboxUpsert, Points: []Point{{ID: NumPointID(uint64(i)), Vectors: map[string][]float32{"": v}, Payload: []byte(`{"text":"a point"}`)}}}
		if _, err := s.AppendOutbox(bg, "c", vec, op, OutboxLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}
