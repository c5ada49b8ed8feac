package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The outbox: writes to collections kept on another backend (a Weaviate
// cluster), recorded here before they are acknowledged and removed once
// the backend accepted them, so that nothing acknowledged is lost while
// the backend is unreachable or the process dies. It is a queue per
// collection, in the order the writes were acknowledged.
//
//	outbox  collection name -> bucket:
//	  queue    bucket: seq (u64 big-endian) -> entryRecord
//	  dead     bucket: seq -> deadRecord (entries the backend refused)
//	  entries  u64: entries in queue and dead
//	  bytes    u64: bytes of their records
//	  vectors  configRecord (created 0): the collection's vectors as last
//	           known, so writes can be checked while the backend is down
//
// entryRecord: version(1) added(8, unix ns) kind(1), then by kind:
//
//	upsert:         n, then per point: id, nvectors, per vector in name
//	                order: name dims values (float32 little-endian),
//	                payload (uvarint length + bytes)
//	delete:         n ids
//	delete where:   filter (uvarint length + JSON)
//	update payload: flags(1: 1 filter, 2 overwrite, 4 clear), then ids or
//	                filter, nset {key value}, ndelete {key}
//
// ids are PointID's binary form; counts and lengths uvarints.
// deadRecord: version(1) buried(8) reason (uvarint length + text), then the
// entryRecord as it was.
//
// The bucket is made on the first append, so a store written before the
// outbox existed opens as it is, and an edgesearch that predates it
// ignores it.

// OutboxKind is the kind of one queued write.
type OutboxKind uint8

// The writes an outbox holds.
const (
	OutboxUpsert        OutboxKind = 1 // Points
	OutboxDelete        OutboxKind = 2 // IDs
	OutboxDeleteWhere   OutboxKind = 3 // Filter
	OutboxUpdatePayload OutboxKind = 4 // IDs or Filter, and Payload
)

// OutboxOp is one write to a collection, as queued.
type OutboxOp struct {
	Kind   OutboxKind
	Points []Point
	IDs    []PointID
	// Filter is a search filter as JSON; the store keeps the bytes and
	// does not read them (it knows nothing of filters).
	Filter  []byte
	Payload PayloadOp
}

// OutboxEntry is one queued write: its sequence number in its collection's
// queue (increasing, never reused while the queue exists), when it was
// appended and the bytes its record takes.
type OutboxEntry struct {
	Seq   uint64
	Added time.Time
	Size  int
	Op    OutboxOp
}

// DeadLetter is an entry the backend refused for good, moved aside with
// the reason so the entries after it could be delivered.
type DeadLetter struct {
	OutboxEntry
	Buried time.Time
	Reason string
}

// OutboxLimits bound the whole outbox, every collection's entries
// together, dead letters included (they take the same disk). Zero is no
// bound.
type OutboxLimits struct {
	MaxEntries int
	MaxBytes   int64
}

// OutboxStats describe one collection's outbox.
type OutboxStats struct {
	Entries     int       // queued, not yet delivered
	Bytes       int64     // of the queued and the dead letters' records
	Oldest      time.Time // when the oldest queued entry was appended; zero when none is
	DeadLetters int
}

// ErrOutboxFull means an append would take the outbox past its limits;
// nothing was appended.
var ErrOutboxFull = errors.New("outbox full")

var (
	bucketOutbox = []byte("outbox")

	outboxQueue   = []byte("queue")
	outboxDead    = []byte("dead")
	outboxEntries = []byte("entries")
	outboxBytes   = []byte("bytes")
	outboxVectors = []byte("vectors")
)

const (
	outboxRecordVersion = 1
	deadRecordVersion   = 1
	outboxHeaderLen     = 1 + 8 + 1

	payloadByFilter  = 1
	payloadOverwrite = 2
	payloadClear     = 4
)

// AppendOutbox queues op at the end of collection's outbox and returns its
// sequence number. vectors, when not nil, are recorded as the collection's
// (OutboxVectors). When the call returns nil the entry is committed and
// fsynced, as Write's changes are.
//
// It fails with ErrOutboxFull when the outbox would hold more than
// lim.MaxEntries entries or lim.MaxBytes bytes (the error says how many it
// holds), with ErrInvalid for a bad collection name, an op whose kind
// and fields do not match or one larger than lim.MaxBytes alone, and with
// ErrNoSpace when the disk is full.
func (s *Store) AppendOutbox(ctx context.Context, collection string, vectors map[string]VectorParams, op OutboxOp, lim OutboxLimits) (uint64, error) {
	if err := CheckCollectionName(collection); err != nil {
		return 0, fmt.Errorf("outbox of %q: %w", collection, err)
	}
	rec, err := encodeOutboxOp(time.Now(), op)
	if err != nil {
		return 0, fmt.Errorf("outbox of %q: %w", collection, err)
	}
	var vrec []byte
	if vectors != nil {
		if err := checkVectors(vectors); err != nil {
			return 0, fmt.Errorf("outbox of %q: %w", collection, err)
		}
		vrec = encodeConfig(time.Unix(0, 0), vectors)
	}
	if lim.MaxBytes > 0 && int64(len(rec)) > lim.MaxBytes {
		return 0, fmt.Errorf("outbox of %q: a write of %d bytes is larger than the whole outbox may hold (%d bytes): send it in parts: %w",
			collection, len(rec), lim.MaxBytes, ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("outbox of %q: %w", collection, err)
	}
	var seq uint64
	err = s.update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(bucketOutbox)
		if err != nil {
			return err
		}
		entries, size, err := outboxTotals(top)
		if err != nil {
			return err
		}
		if (lim.MaxEntries > 0 && entries+1 > uint64(lim.MaxEntries)) || (lim.MaxBytes > 0 && size+uint64(len(rec)) > uint64(lim.MaxBytes)) {
			return fmt.Errorf("%w: it holds %d entries and %d bytes, the limits are %d entries and %d bytes, and this write takes %d bytes",
				ErrOutboxFull, entries, size, lim.MaxEntries, lim.MaxBytes, len(rec))
		}
		col, err := top.CreateBucketIfNotExists([]byte(collection))
		if err != nil {
			return err
		}
		q, err := col.CreateBucketIfNotExists(outboxQueue)
		if err != nil {
			return err
		}
		// Keys only grow: pack the pages full.
		q.FillPercent = 0.95
		if seq, err = q.NextSequence(); err != nil {
			return err
		}
		if err := q.Put(idKey(seq), rec); err != nil {
			return err
		}
		if vrec != nil && !bytes.Equal(col.Get(outboxVectors), vrec) {
			if err := col.Put(outboxVectors, vrec); err != nil {
				return err
			}
		}
		if err := addU64(col, outboxEntries, 1); err != nil {
			return err
		}
		return addU64(col, outboxBytes, len(rec))
	})
	if err != nil {
		return 0, fmt.Errorf("append to the outbox of %q in %s: %w", collection, s.path, err)
	}
	return seq, nil
}

// outboxTotals sums every collection's counters.
func outboxTotals(top *bolt.Bucket) (entries, size uint64, err error) {
	err = top.ForEachBucket(func(name []byte) error {
		col := top.Bucket(name)
		n, err := getU64(col, outboxEntries)
		if err != nil {
			return fmt.Errorf("outbox of %q: %w", name, err)
		}
		b, err := getU64(col, outboxBytes)
		if err != nil {
			return fmt.Errorf("outbox of %q: %w", name, err)
		}
		entries, size = entries+n, size+b
		return nil
	})
	return entries, size, err
}

// PeekOutbox returns the oldest entries of collection's outbox, oldest
// first: up to max of them, fewer when the next would take their records
// past maxBytes (0: no bound), but always the oldest when there is one;
// none when the outbox is empty or does not exist.
func (s *Store) PeekOutbox(collection string, max, maxBytes int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.db.View(func(tx *bolt.Tx) error {
		q := outboxBucket(tx, collection, outboxQueue)
		if q == nil {
			return nil
		}
		c := q.Cursor()
		size := 0
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			if size += len(v); len(out) > 0 && maxBytes > 0 && size > maxBytes {
				break
			}
			if len(k) != 8 {
				return fmt.Errorf("outbox key %x: %w", k, ErrCorrupt)
			}
			e, err := decodeOutboxEntry(v)
			if err != nil {
				return fmt.Errorf("outbox entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the outbox of %q in %s: %w", collection, s.path, err)
	}
	return out, nil
}

// outboxBucket returns a collection's queue or dead bucket, nil when it
// does not exist.
func outboxBucket(tx *bolt.Tx, collection string, which []byte) *bolt.Bucket {
	top := tx.Bucket(bucketOutbox)
	if top == nil {
		return nil
	}
	col := top.Bucket([]byte(collection))
	if col == nil {
		return nil
	}
	return col.Bucket(which)
}

// RemoveOutbox removes the entries of collection's outbox up to and
// including seq (delivered), durably on return. Entries already gone are
// no error, so a retry is harmless.
func (s *Store) RemoveOutbox(ctx context.Context, collection string, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		q := outboxBucket(tx, collection, outboxQueue)
		if q == nil {
			return nil
		}
		col := tx.Bucket(bucketOutbox).Bucket([]byte(collection))
		var keys [][]byte
		size := 0
		c := q.Cursor()
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq; k, v = c.Next() {
			keys = append(keys, bytes.Clone(k))
			size += len(v)
		}
		for _, k := range keys {
			if err := q.Delete(k); err != nil {
				return err
			}
		}
		if len(keys) == 0 {
			return nil
		}
		if err := addU64(col, outboxEntries, -len(keys)); err != nil {
			return err
		}
		return addU64(col, outboxBytes, -size)
	})
	if err != nil {
		return fmt.Errorf("remove from the outbox of %q in %s: %w", collection, s.path, err)
	}
	return nil
}

// BuryOutbox moves entry seq of collection's outbox to its dead letters
// with reason, durably on return. A seq not queued is no error.
func (s *Store) BuryOutbox(ctx context.Context, collection string, seq uint64, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	err := s.update(func(tx *bolt.Tx) error {
		q := outboxBucket(tx, collection, outboxQueue)
		if q == nil {
			return nil
		}
		rec := q.Get(idKey(seq))
		if rec == nil {
			return nil
		}
		col := tx.Bucket(bucketOutbox).Bucket([]byte(collection))
		dead, err := col.CreateBucketIfNotExists(outboxDead)
		if err != nil {
			return err
		}
		d := []byte{deadRecordVersion}
		d = binary.BigEndian.AppendUint64(d, uint64(now.UnixNano()))
		d = appendString(d, reason)
		d = append(d, rec...)
		if err := dead.Put(idKey(seq), d); err != nil {
			return err
		}
		if err := addU64(col, outboxBytes, len(d)-len(rec)); err != nil {
			return err
		}
		return q.Delete(idKey(seq))
	})
	if err != nil {
		return fmt.Errorf("move entry %d of the outbox of %q to its dead letters in %s: %w", seq, collection, s.path, err)
	}
	return nil
}

// DeadLetters returns collection's dead letters, oldest first.
func (s *Store) DeadLetters(collection string) ([]DeadLetter, error) {
	var out []DeadLetter
	err := s.db.View(func(tx *bolt.Tx) error {
		dead := outboxBucket(tx, collection, outboxDead)
		if dead == nil {
			return nil
		}
		return dead.ForEach(func(k, v []byte) error {
			if len(k) != 8 || len(v) < 9 || v[0] != deadRecordVersion {
				return fmt.Errorf("dead letter %x: %w", k, ErrCorrupt)
			}
			d := &decoder{b: v[9:]}
			reason := d.string("reason")
			if d.err != nil {
				return fmt.Errorf("dead letter %x: %w", k, d.err)
			}
			e, err := decodeOutboxEntry(d.b)
			if err != nil {
				return fmt.Errorf("dead letter %x: %w", k, err)
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, DeadLetter{OutboxEntry: e, Buried: time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))), Reason: reason})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the dead letters of %q in %s: %w", collection, s.path, err)
	}
	return out, nil
}

// OutboxStats describes every collection that has an outbox, by name.
func (s *Store) OutboxStats() (map[string]OutboxStats, error) {
	out := map[string]OutboxStats{}
	err := s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketOutbox)
		if top == nil {
			return nil
		}
		return top.ForEachBucket(func(name []byte) error {
			col := top.Bucket(name)
			n, err := getCount(col, outboxEntries)
			if err != nil {
				return fmt.Errorf("outbox of %q: %w", name, err)
			}
			b, err := getCount(col, outboxBytes)
			if err != nil {
				return fmt.Errorf("outbox of %q: %w", name, err)
			}
			var st OutboxStats
			st.Bytes = int64(b)
			if dead := col.Bucket(outboxDead); dead != nil {
				st.DeadLetters = dead.Stats().KeyN
			}
			st.Entries = int(n) - st.DeadLetters
			if q := col.Bucket(outboxQueue); q != nil {
				if k, v := q.Cursor().First(); k != nil {
					if len(v) < outboxHeaderLen {
						return fmt.Errorf("outbox of %q: entry %x: %w", name, k, ErrCorrupt)
					}
					st.Oldest = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9])))
				}
			}
			out[string(name)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the outbox in %s: %w", s.path, err)
	}
	return out, nil
}

// OutboxVectors returns the vectors last recorded for collection by
// AppendOutbox, or nil when none were.
func (s *Store) OutboxVectors(collection string) (map[string]VectorParams, error) {
	var vectors map[string]VectorParams
	err := s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketOutbox)
		if top == nil {
			return nil
		}
		col := top.Bucket([]byte(collection))
		if col == nil || col.Get(outboxVectors) == nil {
			return nil
		}
		cfg, err := decodeConfig(col.Get(outboxVectors))
		vectors = cfg.vectors
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the outbox of %q in %s: %w", collection, s.path, err)
	}
	return vectors, nil
}

// DiscardDeadLetters removes collection's dead letters, durably on
// return, and returns how many there were: their room in the outbox's
// bounds is free again. Queued entries stay.
func (s *Store) DiscardDeadLetters(ctx context.Context, collection string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		dead := outboxBucket(tx, collection, outboxDead)
		if dead == nil {
			return nil
		}
		size := 0
		if err := dead.ForEach(func(k, v []byte) error {
			n++
			size += len(v)
			return nil
		}); err != nil {
			return err
		}
		col := tx.Bucket(bucketOutbox).Bucket([]byte(collection))
		if err := col.DeleteBucket(outboxDead); err != nil {
			return err
		}
		if err := addU64(col, outboxEntries, -n); err != nil {
			return err
		}
		return addU64(col, outboxBytes, -size)
	})
	if err != nil {
		return 0, fmt.Errorf("discard the dead letters of %q in %s: %w", collection, s.path, err)
	}
	return n, nil
}

// ClearOutbox removes collection's outbox, queued entries and dead letters
// alike, durably on return: for a collection that was dropped.
func (s *Store) ClearOutbox(ctx context.Context, collection string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketOutbox)
		if top == nil || top.Bucket([]byte(collection)) == nil {
			return nil
		}
		return top.DeleteBucket([]byte(collection))
	})
	if err != nil {
		return fmt.Errorf("clear the outbox of %q in %s: %w", collection, s.path, err)
	}
	return nil
}

// encodeOutboxOp encodes an entry record, checking the op's kind and
// fields agree (ErrInvalid).
func encodeOutboxOp(added time.Time, op OutboxOp) ([]byte, error) {
	b := []byte{outboxRecordVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(added.UnixNano()))
	b = append(b, byte(op.Kind))
	bad := func(what string) ([]byte, error) {
		return nil, fmt.Errorf("outbox op of kind %d: %s: %w", op.Kind, what, ErrInvalid)
	}
	switch op.Kind {
	case OutboxUpsert:
		if op.IDs != nil || op.Filter != nil {
			return bad("an upsert has points only")
		}
		b = binary.AppendUvarint(b, uint64(len(op.Points)))
		for _, p := range op.Points {
			b = p.ID.appendKey(b)
			names := sortedNames(p.Vectors)
			b = binary.AppendUvarint(b, uint64(len(names)))
			for _, name := range names {
				v := p.Vectors[name]
				b = appendString(b, name)
				b = binary.AppendUvarint(b, uint64(len(v)))
				for _, x := range v {
					b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
				}
			}
			b = binary.AppendUvarint(b, uint64(len(p.Payload)))
			b = append(b, p.Payload...)
		}
	case OutboxDelete:
		if op.Points != nil || op.Filter != nil {
			return bad("a delete has ids only")
		}
		b = appendIDs(b, op.IDs)
	case OutboxDeleteWhere:
		if op.Points != nil || op.IDs != nil || op.Filter == nil {
			return bad("a delete by filter has a filter only")
		}
		b = binary.AppendUvarint(b, uint64(len(op.Filter)))
		b = append(b, op.Filter...)
	case OutboxUpdatePayload:
		if op.Points != nil || (op.IDs == nil) == (op.Filter == nil) {
			return bad("a payload update has ids or a filter")
		}
		if err := op.Payload.check(); err != nil {
			return nil, err
		}
		var flags byte
		if op.Filter != nil {
			flags |= payloadByFilter
		}
		if op.Payload.Overwrite {
			flags |= payloadOverwrite
		}
		if op.Payload.Clear {
			flags |= payloadClear
		}
		b = append(b, flags)
		if op.Filter != nil {
			b = binary.AppendUvarint(b, uint64(len(op.Filter)))
			b = append(b, op.Filter...)
		} else {
			b = appendIDs(b, op.IDs)
		}
		keys := sortedNames(op.Payload.Set)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = appendString(b, k)
			b = binary.AppendUvarint(b, uint64(len(op.Payload.Set[k])))
			b = append(b, op.Payload.Set[k]...)
		}
		b = binary.AppendUvarint(b, uint64(len(op.Payload.Delete)))
		for _, k := range op.Payload.Delete {
			b = appendString(b, k)
		}
	default:
		return bad("no such kind")
	}
	return b, nil
}

func appendIDs(b []byte, ids []PointID) []byte {
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = id.appendKey(b)
	}
	return b
}

// decodeOutboxEntry decodes an entry record; it accepts only what
// encodeOutboxOp writes, and what it allocates is bounded by the record's
// length.
func decodeOutboxEntry(rec []byte) (OutboxEntry, error) {
	if len(rec) < outboxHeaderLen || rec[0] != outboxRecordVersion {
		return OutboxEntry{}, fmt.Errorf("outbox record header: %w", ErrCorrupt)
	}
	e := OutboxEntry{Added: time.Unix(0, int64(binary.BigEndian.Uint64(rec[1:9]))), Size: len(rec)}
	op := &e.Op
	op.Kind = OutboxKind(rec[9])
	d := &decoder{b: rec[outboxHeaderLen:]}
	// count reads a count of items that take at least min bytes each.
	count := func(what string, min int) uint64 {
		n := d.uvarint(what)
		if d.err == nil && n > uint64(len(d.b)/min) {
			d.fail(what)
			return 0
		}
		return n
	}
	id := func() PointID {
		tag := d.bytes(1, "point id")
		if d.err != nil {
			return PointID{}
		}
		n := uint64(pointNumLen - 1)
		if tag[0] == pointTagUUID {
			n = pointUUIDLen - 1
		}
		rest := d.bytes(n, "point id")
		if d.err != nil {
			return PointID{}
		}
		p, err := decodePointKey(append([]byte{tag[0]}, rest...))
		if err != nil {
			d.fail("point id")
		}
		return p
	}
	ids := func() []PointID {
		n := count("id count", pointNumLen)
		out := make([]PointID, 0, n)
		for range n {
			out = append(out, id())
		}
		return out
	}
	filter := func() []byte {
		return bytes.Clone(d.bytes(d.uvarint("filter length"), "filter"))
	}
	switch op.Kind {
	case OutboxUpsert:
		n := count("point count", pointNumLen+2)
		op.Points = make([]Point, 0, n)
		for range n {
			p := Point{ID: id()}
			nv := count("vector count", 2)
			p.Vectors = make(map[string][]float32, nv)
			for range nv {
				name := d.string("vector name")
				dims := count("vector dims", 4)
				raw := d.bytes(4*dims, "vector")
				if d.err != nil {
					break
				}
				v := make([]float32, dims)
				for j := range v {
					v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
				}
				p.Vectors[name] = v
			}
			if pl := d.bytes(d.uvarint("payload length"), "payload"); len(pl) > 0 {
				p.Payload = bytes.Clone(pl)
			}
			op.Points = append(op.Points, p)
		}
	case OutboxDelete:
		op.IDs = ids()
	case OutboxDeleteWhere:
		op.Filter = filter()
	case OutboxUpdatePayload:
		flags := d.bytes(1, "flags")
		if d.err != nil {
			break
		}
		if flags[0]&payloadByFilter != 0 {
			op.Filter = filter()
		} else {
			op.IDs = ids()
		}
		op.Payload.Overwrite = flags[0]&payloadOverwrite != 0
		op.Payload.Clear = flags[0]&payloadClear != 0
		if n := count("set count", 2); n > 0 {
			op.Payload.Set = make(map[string]json.RawMessage, n)
			for range n {
				k := d.string("set key")
				op.Payload.Set[k] = json.RawMessage(bytes.Clone(d.bytes(d.uvarint("set value length"), "set value")))
			}
		}
		for n := count("delete count", 1); n > 0; n-- {
			op.Payload.Delete = append(op.Payload.Delete, d.string("delete key"))
		}
	default:
		d.fail(fmt.Sprintf("kind %d", op.Kind))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return OutboxEntry{}, d.err
	}
	return e, nil
}
