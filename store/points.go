package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// Collections of points, the storage half of the Qdrant-compatible API.
// They live beside the documents, under their own bucket, and share
// nothing with them but the file: their own vector sizes, counters and
// generation.
//
//	collections  name -> bucket:
//	  config      configRecord
//	  count       points (u64 big-endian)
//	  generation  u64 big-endian, from a random start
//	  points      bucket: PointID key (see pointid.go) -> pointRecord
//
// configRecord: version(1) created(8, unix ns big-endian) nvectors, then per
//               vector in name order: name size distance(1); counts, sizes
//               and name lengths as uvarints.
// pointRecord:  version(1) nvectors, then per vector in name order: name
//               dims values (dims × 4 bytes, float32 little-endian); then
//               the payload, the rest of the record (empty means {}).

// Limits on collections and points.
const (
	MaxPayloadBytes   = 1 << 20 // bytes of one point's JSON payload
	MaxCollections    = 1024    // collections in one store, besides DocumentsCollection
	MaxCollectionName = 255     // bytes in a collection or vector name
	MaxNamedVectors   = 64      // named vectors in one collection
)

// Distance is how a collection compares vectors. The store only records it;
// the search engine uses it.
type Distance uint8

// The distances Qdrant offers, less Manhattan.
const (
	Cosine Distance = 1
	Dot    Distance = 2
	Euclid Distance = 3
)

// String returns Qdrant's name of d: "Cosine", "Dot" or "Euclid".
func (d Distance) String() string {
	switch d {
	case Cosine:
		return "Cosine"
	case Dot:
		return "Dot"
	case Euclid:
		return "Euclid"
	}
	return fmt.Sprintf("Distance(%d)", uint8(d))
}

// ParseDistance reads a distance by its Qdrant name, in any case. Anything
// else is an error wrapping ErrInvalid.
func ParseDistance(s string) (Distance, error) {
	for _, d := range []Distance{Cosine, Dot, Euclid} {
		if strings.EqualFold(s, d.String()) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("distance %q: want Cosine, Dot or Euclid: %w", s, ErrInvalid)
}

// MarshalText writes d's name, so JSON holds "Cosine" as Qdrant's does. A
// distance other than the three is an error wrapping ErrInvalid.
func (d Distance) MarshalText() ([]byte, error) {
	if !d.valid() {
		return nil, fmt.Errorf("distance %d: %w", uint8(d), ErrInvalid)
	}
	return []byte(d.String()), nil
}

// UnmarshalText reads a name as ParseDistance does.
func (d *Distance) UnmarshalText(b []byte) error {
	v, err := ParseDistance(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func (d Distance) valid() bool { return d >= Cosine && d <= Euclid }

// VectorParams describe one vector of every point of a collection.
type VectorParams struct {
	Size     int // dimensions, 1 to 65536
	Distance Distance
}

// CollectionInfo describes a collection.
type CollectionInfo struct {
	Name string
	// Vectors holds the vectors each point has, by name: either the
	// unnamed vector "" alone, or one or more named vectors.
	Vectors map[string]VectorParams
	Created time.Time
	Points  int
	// Generation grows with every committed write that changes the
	// collection's points, from a random start at creation, so a derived
	// index can tell it is stale, also after the collection was deleted
	// and created again under the same name.
	Generation uint64
	// PayloadIndexes are the payload fields a client asked to have indexed,
	// with their schema (SetPayloadIndex); nil for none.
	PayloadIndexes map[string]string
}

// Point is one point of a collection.
type Point struct {
	ID PointID
	// Vectors holds the point's vectors by name, "" for the unnamed one.
	// UpsertPoints wants every vector of the collection and no other:
	// unlike Qdrant, which lets a point omit named vectors, a stored point
	// always has all of them, so the engine never meets a hole.
	Vectors map[string][]float32
	// Payload is a JSON object, or nil for none ({}). UpsertPoints stores
	// it as given once it has checked it (valid JSON, an object, at most
	// MaxPayloadBytes); JSON null counts as none.
	Payload []byte
}

// PayloadOp is one of Qdrant's payload updates:
//
//   - Set alone: set_payload, which sets the top-level keys of Set and keeps
//     the others;
//   - Set with Overwrite: overwrite_payload, which replaces the whole
//     payload with Set (an empty Set leaves {});
//   - Delete alone: delete_payload, which removes those top-level keys;
//   - Clear alone: clear_payload, which leaves {}.
//
// Any other combination is refused with ErrInvalid.
type PayloadOp struct {
	Set       map[string]json.RawMessage
	Overwrite bool
	Delete    []string
	Clear     bool
}

var (
	bucketCollections = []byte("collections")

	collConfig     = []byte("config")
	collCount      = []byte("count")
	collGeneration = []byte("generation")
	collPoints     = []byte("points")
)

const (
	configRecordVersion = 1
	pointRecordVersion  = 1 // vectors as float32
	pointRecordHalf     = 2 // vectors as float16 (chunks of a Float16 store)
)

// CheckCollectionName reports whether name can name a collection: 1 to
// MaxCollectionName bytes of ASCII letters, digits, '_', '.' and '-', and
// not "." or "..", so the name is a URL path segment as it stands. The
// error wraps ErrInvalid.
func CheckCollectionName(name string) error {
	if name == "" || len(name) > MaxCollectionName || name == "." || name == ".." {
		return fmt.Errorf("collection name %.40q: want 1 to %d bytes, not \".\" or \"..\": %w", name, MaxCollectionName, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return fmt.Errorf("collection name %.40q: byte %d is %q; use letters, digits, '_', '.' and '-': %w", name, i, c, ErrInvalid)
		}
	}
	return nil
}

// checkVectors checks the vectors a collection is created with.
func checkVectors(vectors map[string]VectorParams) error {
	if len(vectors) == 0 {
		return fmt.Errorf("no vectors: give the unnamed vector \"\" or named ones: %w", ErrInvalid)
	}
	if _, unnamed := vectors[""]; unnamed && len(vectors) > 1 {
		return fmt.Errorf("the unnamed vector \"\" and %d named ones: a collection has one or the other: %w", len(vectors)-1, ErrInvalid)
	}
	if len(vectors) > MaxNamedVectors {
		return fmt.Errorf("%d named vectors, more than %d: %w", len(vectors), MaxNamedVectors, ErrInvalid)
	}
	for _, name := range sortedNames(vectors) {
		p := vectors[name]
		switch {
		case len(name) > MaxCollectionName || !utf8.ValidString(name):
			return fmt.Errorf("vector name %.40q: want UTF-8 of at most %d bytes: %w", name, MaxCollectionName, ErrInvalid)
		case p.Size < 1 || p.Size > maxDims:
			return fmt.Errorf("vector %q: size %d, want 1 to %d: %w", name, p.Size, maxDims, ErrInvalid)
		case !p.Distance.valid():
			return fmt.Errorf("vector %q: distance %d, want Cosine, Dot or Euclid: %w", name, uint8(p.Distance), ErrInvalid)
		}
	}
	return nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// CreateCollection creates an empty collection whose points have the given
// vectors, durably on return as Put. It fails with ErrExists when the name
// is taken, and with ErrInvalid, creating nothing, for a bad name (see
// CheckCollectionName), no vectors, the unnamed vector beside named ones,
// more than MaxNamedVectors, a vector name over MaxCollectionName bytes or
// not UTF-8, a size outside 1 to 65536, an unknown distance, or when the
// store already holds MaxCollections collections.
func (s *Store) CreateCollection(ctx context.Context, name string, vectors map[string]VectorParams) (CollectionInfo, error) {
	if err := CheckCollectionName(name); err != nil {
		return CollectionInfo{}, fmt.Errorf("create collection: %w", err)
	}
	if err := checkVectors(vectors); err != nil {
		return CollectionInfo{}, fmt.Errorf("create collection %q: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return CollectionInfo{}, fmt.Errorf("create collection %q: %w", name, err)
	}
	info := CollectionInfo{Name: name, Vectors: make(map[string]VectorParams, len(vectors)), Created: time.Now()}
	for k, v := range vectors {
		info.Vectors[k] = v
	}
	// As the store's, the generation starts at a random number so that an
	// index built from a deleted collection of the same name cannot match.
	info.Generation = 1 + randGeneration()
	rec := encodeConfig(info.Created, info.Vectors)
	err := s.update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketCollections)
		if top.Bucket([]byte(name)) != nil {
			return ErrExists
		}
		n := 0
		c := top.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if string(k) != DocumentsCollection {
				n++
			}
		}
		if n >= MaxCollections {
			return fmt.Errorf("the store holds %d collections already, the most it takes: %w", n, ErrInvalid)
		}
		b, err := top.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		if _, err := b.CreateBucket(collPoints); err != nil {
			return err
		}
		if err := b.Put(collConfig, rec); err != nil {
			return err
		}
		if err := putU64(b, collCount, 0); err != nil {
			return err
		}
		return putU64(b, collGeneration, info.Generation)
	})
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("create collection %q in %s: %w", name, s.path, err)
	}
	return info, nil
}

// DeleteCollection removes the collection and all its points, durably on
// return, and reports whether it existed. A name no collection can have is
// not an error: there is nothing to delete.
func (s *Store) DeleteCollection(ctx context.Context, name string) (bool, error) {
	if CheckCollectionName(name) != nil {
		return false, nil
	}
	if name == DocumentsCollection {
		return false, errDocumentsCollection("delete")
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("delete collection %q: %w", name, err)
	}
	found := false
	err := s.update(func(tx *bolt.Tx) error {
		top := tx.Bucket(bucketCollections)
		if top.Bucket([]byte(name)) == nil {
			return nil
		}
		found = true
		return top.DeleteBucket([]byte(name))
	})
	if err != nil {
		return false, fmt.Errorf("delete collection %q from %s: %w", name, s.path, err)
	}
	return found, nil
}

// Collections describes every collection, in name order.
func (s *Store) Collections() ([]CollectionInfo, error) {
	var infos []CollectionInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCollections).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v != nil || CheckCollectionName(string(k)) != nil {
				return fmt.Errorf("collections: %q is not a collection: %w", k, ErrCorrupt)
			}
			col, err := openCollection(tx, string(k))
			if err != nil {
				return err
			}
			info, err := col.info()
			if err != nil {
				return err
			}
			infos = append(infos, info)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list collections in %s: %w", s.path, err)
	}
	return infos, nil
}

// Collection describes the named collection, or fails with ErrNotFound.
func (s *Store) Collection(name string) (CollectionInfo, error) {
	var info CollectionInfo
	err := s.db.View(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, name)
		if err != nil {
			return err
		}
		info, err = col.info()
		return err
	})
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("collection %q in %s: %w", name, s.path, err)
	}
	return info, nil
}

// errConfigChanged means a collection's config changed between the checks
// of a batch and its write transaction; UpsertPoints checks again.
var errConfigChanged = errors.New("collection config changed during the write")

// UpsertPoints stores pts in the collection in one transaction: all of them
// or, on any error, none. A point whose id is stored already is replaced,
// payload included; of two points with one id in pts the later wins.
//
// Durability is Put's: when UpsertPoints returns nil the transaction is
// committed and fsynced.
//
// It fails with ErrNotFound when there is no such collection, and with
// ErrInvalid, naming the point by its index in pts, when a point lacks a
// vector of the collection or has one it does not, a vector has the wrong
// size or a NaN or infinite component, or the payload is not a JSON object
// of at most MaxPayloadBytes; ErrNoSpace as Put. An empty batch is a no-op.
func (s *Store) UpsertPoints(ctx context.Context, collection string, pts []Point) error {
	fail := func(err error) error {
		return fmt.Errorf("upsert %d points into collection %q: %w", len(pts), collection, err)
	}
	if collection == DocumentsCollection {
		return errDocumentsCollection("upsert points into")
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	for attempt := 0; ; attempt++ {
		cfgRec, cfg, err := s.readConfig(collection)
		if err != nil {
			return fail(err)
		}
		if len(pts) == 0 {
			return nil
		}
		// Check and encode outside the transaction, as Put does, so the
		// write lock is held for the B-tree work only.
		keys := make([][]byte, len(pts))
		recs := make([][]byte, len(pts))
		for i := range pts {
			p := &pts[i]
			if err := cfg.check(p.Vectors); err != nil {
				return fail(fmt.Errorf("point %d (id %v): %w", i, p.ID, err))
			}
			payload, err := checkPayload(p.Payload)
			if err != nil {
				return fail(fmt.Errorf("point %d (id %v): %w", i, p.ID, err))
			}
			keys[i] = pointKey(p.ID)
			recs[i] = encodePoint(cfg.names, p.Vectors, payload)
		}
		err = s.update(func(tx *bolt.Tx) error {
			col, err := openCollection(tx, collection)
			if err != nil {
				return err
			}
			if !bytes.Equal(col.cfgRec, cfgRec) {
				return errConfigChanged
			}
			added := 0
			for i := range keys {
				if i%64 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if col.points.Get(keys[i]) == nil {
					added++
				}
				if err := col.points.Put(keys[i], recs[i]); err != nil {
					return fmt.Errorf("point %d (id %v): %w", i, pts[i].ID, err)
				}
			}
			return col.changed(added)
		})
		// The collection was deleted and created again between the checks
		// and the write: check against its new config. Only a racing
		// DeleteCollection and CreateCollection make this loop turn.
		if errors.Is(err, errConfigChanged) && attempt < 3 {
			continue
		}
		if err != nil {
			return fail(err)
		}
		return nil
	}
}

// GetPoints returns the points with the given ids, in the order asked; ids
// not stored are left out, and an id asked twice comes back twice. It fails
// with ErrNotFound when there is no such collection, and with ErrCorrupt
// when a record cannot be decoded.
func (s *Store) GetPoints(collection string, ids []PointID) ([]Point, error) {
	defer s.afterRead()
	var pts []Point
	err := s.db.View(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		for _, id := range ids {
			rec := col.points.Get(pointKey(id))
			if rec == nil {
				continue
			}
			p, err := col.decode(id, rec)
			if err != nil {
				return err
			}
			pts = append(pts, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get %d points from collection %q in %s: %w", len(ids), collection, s.path, err)
	}
	return pts, nil
}

// DeletePoints removes the points with the given ids, durably on return,
// and returns how many there were; ids not stored are ignored. It fails with
// ErrNotFound when there is no such collection.
func (s *Store) DeletePoints(ctx context.Context, collection string, ids []PointID) (int, error) {
	if collection == DocumentsCollection {
		return 0, errDocumentsCollection("delete points from")
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("delete points from collection %q: %w", collection, err)
	}
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		n = 0
		for i, id := range ids {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := pointKey(id)
			if col.points.Get(k) == nil {
				continue // not stored, or asked twice
			}
			if err := col.points.Delete(k); err != nil {
				return fmt.Errorf("point %v: %w", id, err)
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return col.changed(-n)
	})
	if err != nil {
		return 0, fmt.Errorf("delete %d points from collection %q in %s: %w", len(ids), collection, s.path, err)
	}
	return n, nil
}

// UpdatePayload applies op to the payload of each point in ids, in one
// transaction, durably on return, and returns how many payloads changed;
// ids not stored are ignored. Vectors are left alone. It fails with
// ErrNotFound when there is no such collection and with ErrInvalid,
// changing nothing, for an op that is not one of PayloadOp's four, a Set
// value that is not JSON, or a payload that would grow past
// MaxPayloadBytes.
func (s *Store) UpdatePayload(ctx context.Context, collection string, ids []PointID, op PayloadOp) (int, error) {
	fail := func(err error) (int, error) {
		return 0, fmt.Errorf("update the payload of %d points in collection %q: %w", len(ids), collection, err)
	}
	if collection == DocumentsCollection {
		return 0, errDocumentsCollection("update payloads in")
	}
	if err := op.check(); err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	var whole []byte // the new payload of every point, for Overwrite
	if op.Overwrite {
		whole = encodeObject(setMembers(op.Set))
		if len(whole) > MaxPayloadBytes {
			return fail(fmt.Errorf("payload of %d bytes, more than %d: %w", len(whole), MaxPayloadBytes, ErrInvalid))
		}
	}
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		n = 0
		for i, id := range ids {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			k := pointKey(id)
			rec := col.points.Get(k)
			if rec == nil {
				continue
			}
			_, _, payloadAt, err := decodePointRecord(rec)
			if err != nil {
				return fmt.Errorf("point %v: %w", id, err)
			}
			old := rec[payloadAt:]
			var payload []byte
			switch {
			case op.Clear:
				payload = nil
			case op.Overwrite:
				payload = whole
			default:
				if payload, err = mergePayload(old, op); err != nil {
					return fmt.Errorf("point %v: %w", id, err)
				}
			}
			if bytes.Equal(payload, old) {
				continue // unchanged, or asked twice
			}
			if len(payload) > MaxPayloadBytes {
				return fmt.Errorf("point %v: payload would be %d bytes, more than %d: %w", id, len(payload), MaxPayloadBytes, ErrInvalid)
			}
			// rec is bbolt's memory, valid only until the Put: build the
			// new record in a fresh slice.
			nrec := make([]byte, 0, payloadAt+len(payload))
			nrec = append(append(nrec, rec[:payloadAt]...), payload...)
			if err := col.points.Put(k, nrec); err != nil {
				return fmt.Errorf("point %v: %w", id, err)
			}
			n++
		}
		if n == 0 {
			return nil
		}
		return col.changed(0)
	})
	if err != nil {
		return fail(err)
	}
	return n, nil
}

// ScrollPoints returns up to limit points in key order (integer ids
// ascending, then UUIDs; see PointID.Compare) starting at from, inclusive,
// or at the first point when from is nil, and the id of the point after the
// last one returned, nil when there is none. It fails with ErrInvalid for a
// limit below 1 and ErrNotFound when there is no such collection.
func (s *Store) ScrollPoints(collection string, from *PointID, limit int) (pts []Point, next *PointID, err error) {
	if limit < 1 {
		return nil, nil, fmt.Errorf("scroll collection %q: limit %d, want 1 or more: %w", collection, limit, ErrInvalid)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		c := col.points.Cursor()
		var k, v []byte
		if from != nil {
			k, v = c.Seek(pointKey(*from))
		} else {
			k, v = c.First()
		}
		for ; k != nil; k, v = c.Next() {
			id, err := decodePointKey(k)
			if err != nil {
				return err
			}
			if len(pts) == limit {
				next = &id
				return nil
			}
			p, err := col.decode(id, v)
			if err != nil {
				return err
			}
			pts = append(pts, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("scroll collection %q in %s: %w", collection, s.path, err)
	}
	return pts, next, nil
}

// CountPoints returns the number of points in the collection, read from a
// counter kept in the same transactions as the writes. It fails with
// ErrNotFound when there is no such collection.
func (s *Store) CountPoints(collection string) (int, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		n, err = getCount(col.b, collCount)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count points of collection %q in %s: %w", collection, s.path, err)
	}
	return int(n), nil
}

// ForEachPoint calls fn with every point of the collection in key order,
// all from one consistent snapshot, and returns that snapshot's generation
// of the collection for the index being rebuilt to record. The point is
// fn's to keep. Iteration stops at the first error from fn, which is
// returned as is, or when ctx is done. It fails with ErrNotFound when there
// is no such collection.
//
// fn runs inside a bbolt read transaction and must not write to the store:
// a writer that needs to grow the file would wait for this reader forever.
func (s *Store) ForEachPoint(ctx context.Context, collection string, fn func(Point) error) (generation uint64, err error) {
	var fnErr error
	err = s.db.View(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		if generation, err = getU64(col.b, collGeneration); err != nil {
			return err
		}
		n := 0
		c := col.points.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if n%releaseEvery == 0 {
				// As in ForEachChunk: a walk would otherwise leave the
				// whole file resident.
				if err := s.releaseMapped(tx); err != nil {
					return err
				}
			}
			id, err := decodePointKey(k)
			if err != nil {
				return err
			}
			p, err := col.decode(id, v)
			if err != nil {
				return err
			}
			if fnErr = fn(p); fnErr != nil {
				return fnErr
			}
		}
		return ctx.Err()
	})
	if fnErr != nil {
		return 0, fnErr
	}
	if err != nil {
		return 0, fmt.Errorf("walk points of collection %q in %s: %w", collection, s.path, err)
	}
	return generation, nil
}

// collection is one collection's buckets and config inside a transaction.
type collection struct {
	name   string
	b      *bolt.Bucket
	points *bolt.Bucket
	cfgRec []byte
	cfg    collectionConfig
}

// openCollection finds a collection in tx, or fails with ErrNotFound (also
// for a name no collection can have) or ErrCorrupt.
func openCollection(tx *bolt.Tx, name string) (collection, error) {
	col := collection{name: name}
	if CheckCollectionName(name) != nil {
		return col, ErrNotFound
	}
	if col.b = tx.Bucket(bucketCollections).Bucket([]byte(name)); col.b == nil {
		return col, ErrNotFound
	}
	col.points = col.b.Bucket(collPoints)
	col.cfgRec = col.b.Get(collConfig)
	if col.points == nil || col.cfgRec == nil {
		return col, fmt.Errorf("collection %q: config or points missing: %w", name, ErrCorrupt)
	}
	var err error
	if col.cfg, err = decodeConfig(col.cfgRec); err != nil {
		return col, fmt.Errorf("collection %q: %w", name, err)
	}
	return col, nil
}

func (col collection) info() (CollectionInfo, error) {
	n, err := getCount(col.b, collCount)
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", col.name, err)
	}
	g, err := getU64(col.b, collGeneration)
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", col.name, err)
	}
	idx, err := readIndexes(col.b)
	if err != nil {
		return CollectionInfo{}, fmt.Errorf("collection %q: %w", col.name, err)
	}
	return CollectionInfo{Name: col.name, Vectors: col.cfg.vectors, Created: col.cfg.created, Points: int(n), Generation: g, PayloadIndexes: idx}, nil
}

// changed records a committed change of the points: delta more of them and
// the next generation.
func (col collection) changed(delta int) error {
	if err := addU64(col.b, collCount, delta); err != nil {
		return err
	}
	return addU64(col.b, collGeneration, 1)
}

// decode decodes a point record and checks it has the collection's vectors.
func (col collection) decode(id PointID, rec []byte) (Point, error) {
	vectors, payload, _, err := decodePointRecord(rec)
	if err == nil {
		err = col.cfg.check(vectors)
		if errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	}
	if err != nil {
		return Point{}, fmt.Errorf("point %v: %w", id, err)
	}
	return Point{ID: id, Vectors: vectors, Payload: payload}, nil
}

// readConfig reads a collection's config record and its decoding.
func (s *Store) readConfig(name string) ([]byte, collectionConfig, error) {
	var rec []byte
	var cfg collectionConfig
	err := s.db.View(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, name)
		rec, cfg = bytes.Clone(col.cfgRec), col.cfg
		return err
	})
	return rec, cfg, err
}

// collectionConfig is a decoded config record.
type collectionConfig struct {
	created time.Time
	vectors map[string]VectorParams
	names   []string // of vectors, sorted: the order in point records
}

// check reports whether vectors are exactly the collection's, each of its
// size and finite. The error wraps ErrInvalid.
func (cfg collectionConfig) check(vectors map[string][]float32) error {
	for _, name := range cfg.names {
		v, ok := vectors[name]
		want := cfg.vectors[name].Size
		switch {
		case !ok && name == "":
			return fmt.Errorf("no vector: the collection has one unnamed vector of %d dims: %w", want, ErrInvalid)
		case !ok:
			return fmt.Errorf("vector %q is missing: every point needs all %d of the collection's vectors: %w", name, len(cfg.names), ErrInvalid)
		case len(v) != want:
			return fmt.Errorf("vector %q has %d dims, the collection's has %d: %w", name, len(v), want, ErrInvalid)
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("vector %q: component %d is %v: %w", name, j, x, ErrInvalid)
			}
		}
	}
	if len(vectors) != len(cfg.names) {
		for _, name := range sortedNames(vectors) {
			if _, ok := cfg.vectors[name]; !ok {
				return fmt.Errorf("vector %q: the collection has no such vector (it has %q): %w", name, cfg.names, ErrInvalid)
			}
		}
	}
	return nil
}

func encodeConfig(created time.Time, vectors map[string]VectorParams) []byte {
	b := []byte{configRecordVersion}
	b = binary.BigEndian.AppendUint64(b, uint64(created.UnixNano()))
	b = binary.AppendUvarint(b, uint64(len(vectors)))
	for _, name := range sortedNames(vectors) {
		b = appendString(b, name)
		b = binary.AppendUvarint(b, uint64(vectors[name].Size))
		b = append(b, byte(vectors[name].Distance))
	}
	return b
}

// decodeConfig decodes a config record, accepting only what encodeConfig
// writes for vectors CreateCollection accepts.
func decodeConfig(rec []byte) (collectionConfig, error) {
	var cfg collectionConfig
	if len(rec) < 9 || rec[0] != configRecordVersion {
		return cfg, fmt.Errorf("config record header: %w", ErrCorrupt)
	}
	cfg.created = time.Unix(0, int64(binary.BigEndian.Uint64(rec[1:9])))
	d := &decoder{b: rec[9:]}
	n := d.uvarint("vector count")
	if d.err == nil && (n == 0 || n > MaxNamedVectors) {
		d.fail(fmt.Sprintf("vector count %d", n))
	}
	if d.err != nil {
		return cfg, d.err
	}
	cfg.vectors = make(map[string]VectorParams, n)
	for i := range n {
		name := d.string("vector name")
		size := d.uvarint("vector size")
		dist := d.bytes(1, "distance")
		if d.err != nil {
			return cfg, d.err
		}
		if i > 0 && name <= cfg.names[i-1] {
			d.fail(fmt.Sprintf("vector %q after %q, out of order", name, cfg.names[i-1]))
			return cfg, d.err
		}
		cfg.names = append(cfg.names, name)
		cfg.vectors[name] = VectorParams{Size: int(min(size, math.MaxInt32)), Distance: Distance(dist[0])}
	}
	if len(d.b) != 0 {
		d.fail("trailing bytes")
		return cfg, d.err
	}
	if err := checkVectors(cfg.vectors); err != nil {
		return cfg, fmt.Errorf("config: %w: %v", ErrCorrupt, err)
	}
	return cfg, nil
}

// encodePoint encodes a point record; vectors must have been checked
// against the collection whose vector names are names.
func encodePoint(names []string, vectors map[string][]float32, payload []byte) []byte {
	n := 1 + binary.MaxVarintLen64 + len(payload)
	for _, name := range names {
		n += 2*binary.MaxVarintLen64 + len(name) + 4*len(vectors[name])
	}
	b := make([]byte, 0, n)
	b = append(b, pointRecordVersion)
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, name := range names {
		v := vectors[name]
		b = appendString(b, name)
		b = binary.AppendUvarint(b, uint64(len(v)))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
	}
	return append(b, payload...)
}

// decodePointRecord decodes a point record into fresh memory and returns
// where its payload starts. It accepts only what encodePoint writes: names
// in increasing order, the unnamed vector only alone, at most 65536
// finite components a vector, every length within the record; anything
// else is ErrCorrupt. What it allocates is bounded by the record's length.
func decodePointRecord(rec []byte) (vectors map[string][]float32, payload []byte, payloadAt int, err error) {
	if len(rec) < 2 || rec[0] != pointRecordVersion && rec[0] != pointRecordHalf {
		return nil, nil, 0, fmt.Errorf("point record header: %w", ErrCorrupt)
	}
	size := uint64(4)
	if rec[0] == pointRecordHalf {
		size = 2
	}
	d := &decoder{b: rec[1:]}
	n := d.uvarint("vector count")
	// Each vector takes at least two bytes (name length and dims).
	if d.err == nil && (n == 0 || n > MaxNamedVectors || n > uint64(len(d.b))/2) {
		d.fail(fmt.Sprintf("vector count %d", n))
	}
	if d.err != nil {
		return nil, nil, 0, d.err
	}
	vectors = make(map[string][]float32, n)
	prev := ""
	for i := range n {
		name := d.string("vector name")
		dims := d.uvarint("vector dims")
		switch {
		case d.err != nil:
		case i > 0 && name <= prev:
			d.fail(fmt.Sprintf("vector %q after %q, out of order", name, prev))
		case name == "" && n > 1:
			d.fail("the unnamed vector beside named ones")
		case dims == 0 || dims > maxDims || dims > uint64(len(d.b))/size:
			d.fail(fmt.Sprintf("vector %q of %d dims", name, dims))
		}
		raw := d.bytes(size*dims, "vector")
		if d.err != nil {
			return nil, nil, 0, d.err
		}
		v := make([]float32, dims)
		for j := range v {
			if size == 2 {
				v[j] = Float16Value(binary.LittleEndian.Uint16(raw[2*j:]))
			} else {
				v[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
			if math.IsNaN(float64(v[j])) || math.IsInf(float64(v[j]), 0) {
				return nil, nil, 0, fmt.Errorf("vector %q component %d is %v: %w", name, j, v[j], ErrCorrupt)
			}
		}
		vectors[name] = v
		prev = name
	}
	payloadAt = len(rec) - len(d.b)
	if len(d.b) > 0 {
		payload = bytes.Clone(d.b)
	}
	return vectors, payload, payloadAt, nil
}

// checkPayload checks a payload given to UpsertPoints and returns what to
// store: nil for none or JSON null, else the bytes as given.
func checkPayload(p []byte) ([]byte, error) {
	if len(p) > MaxPayloadBytes {
		return nil, fmt.Errorf("payload of %d bytes, more than %d: %w", len(p), MaxPayloadBytes, ErrInvalid)
	}
	t := bytes.TrimSpace(p)
	switch {
	case len(t) == 0 || string(t) == "null":
		return nil, nil
	case !json.Valid(t):
		return nil, fmt.Errorf("payload is not valid JSON: %w", ErrInvalid)
	case t[0] != '{':
		return nil, fmt.Errorf("payload is not a JSON object: %w", ErrInvalid)
	}
	return p, nil
}

// Apply returns the payload old becomes under op, exactly as UpdatePayload
// stores it: nil when it is empty, old itself when nothing changes. It is
// for backends that keep payloads elsewhere (search/weaviate) and must
// apply Qdrant's payload updates the way this store does. It fails with
// ErrInvalid for an op that is not one of PayloadOp's four, a Set value
// that is not JSON or a result longer than MaxPayloadBytes, and with
// ErrCorrupt when old is neither empty nor a JSON object.
func (op PayloadOp) Apply(old []byte) ([]byte, error) {
	if err := op.check(); err != nil {
		return nil, err
	}
	var payload []byte
	switch {
	case op.Clear:
	case op.Overwrite:
		payload = encodeObject(setMembers(op.Set))
	default:
		var err error
		if payload, err = mergePayload(old, op); err != nil {
			return nil, err
		}
	}
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("payload would be %d bytes, more than %d: %w", len(payload), MaxPayloadBytes, ErrInvalid)
	}
	return payload, nil
}

// check reports whether op is one of the four payload updates and its Set
// values are JSON.
func (op PayloadOp) check() error {
	switch {
	case op.Clear && (len(op.Set) > 0 || op.Overwrite || len(op.Delete) > 0):
		return fmt.Errorf("clear goes alone, without set, overwrite or delete: %w", ErrInvalid)
	case len(op.Delete) > 0 && (len(op.Set) > 0 || op.Overwrite):
		return fmt.Errorf("delete goes alone, without set or overwrite: %w", ErrInvalid)
	}
	for _, k := range sortedNames(op.Set) {
		if v := bytes.TrimSpace(op.Set[k]); len(v) == 0 || !json.Valid(v) {
			return fmt.Errorf("payload key %q: value is not JSON: %w", k, ErrInvalid)
		}
	}
	return nil
}

// member is one top-level key of a JSON object with its value as written.
type member struct {
	key string
	raw []byte
}

func setMembers(set map[string]json.RawMessage) []member {
	ms := make([]member, 0, len(set))
	for _, k := range sortedNames(set) {
		ms = append(ms, member{k, bytes.TrimSpace(set[k])})
	}
	return ms
}

// objectMembers splits a stored payload into its top-level members in
// order. A key written twice keeps its first place and its last value, as
// a JSON decoder into a map would see it.
func objectMembers(payload []byte) ([]member, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("stored payload is not a JSON object: %w", ErrCorrupt)
	}
	var ms []member
	at := map[string]int{}
	for dec.More() {
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return nil, fmt.Errorf("stored payload: %w", ErrCorrupt)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("stored payload: %w", ErrCorrupt)
		}
		if i, dup := at[key]; dup {
			ms[i].raw = raw
			continue
		}
		at[key] = len(ms)
		ms = append(ms, member{key, raw})
	}
	return ms, nil
}

// mergePayload applies a set or delete op to a stored payload. It returns
// the old payload itself when nothing changes, so a no-op writes nothing.
// Both ops take time linear in the keys, whatever their number.
func mergePayload(old []byte, op PayloadOp) ([]byte, error) {
	ms, err := objectMembers(old)
	if err != nil {
		return nil, err
	}
	changed := false
	if len(op.Delete) > 0 {
		gone := make(map[string]bool, len(op.Delete))
		for _, k := range op.Delete {
			gone[k] = true
		}
		n := len(ms)
		ms = slices.DeleteFunc(ms, func(m member) bool { return gone[m.key] })
		changed = len(ms) != n
	}
	if len(op.Set) > 0 {
		at := make(map[string]int, len(ms))
		for i, m := range ms {
			at[m.key] = i
		}
		for _, s := range setMembers(op.Set) {
			i, ok := at[s.key]
			switch {
			case !ok:
				ms = append(ms, s)
				changed = true
			case !bytes.Equal(ms[i].raw, s.raw):
				ms[i].raw = s.raw
				changed = true
			}
		}
	}
	if !changed {
		return old, nil
	}
	return encodeObject(ms), nil
}

// encodeObject writes members as a JSON object, nil for none.
func encodeObject(ms []member) []byte {
	if len(ms) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		_ = enc.Encode(m.key)   // a string always encodes
		b.Truncate(b.Len() - 1) // Encode's newline
		b.WriteByte(':')
		b.Write(m.raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}
