package store

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the on-disk layout this package reads and writes. It
// changes whenever a record or key format changes. Version 1 held documents
// only; version 2 added collections of points; version 3 keeps the
// documents' chunks as the points of DocumentsCollection. Open migrates an
// older file in place (see migrate.go).
const SchemaVersion = 3

const (
	maxDims            = 1 << 16
	maxModelLen        = 256
	defaultLockTimeout = 2 * time.Second
)

var (
	bucketDocuments = []byte("documents")
	bucketDocChunks = []byte("docchunks")
	bucketHashes    = []byte("hashes")
	bucketMeta      = []byte("meta")

	metaSchema     = []byte("schema")
	metaModel      = []byte("model")
	metaWeights    = []byte("weights")
	metaDims       = []byte("dims")
	metaGeneration = []byte("generation")
	metaNextChunk  = []byte("nextchunk")
	metaDocuments  = []byte("documents")
	metaChunks     = []byte("chunks")
	metaID         = []byte("id")
)

// Options configure Open.
type Options struct {
	// Model names the embedding model whose vectors are stored, e.g.
	// "all-MiniLM-L6-v2". Required to create a store. When opening an
	// existing store it must match what is stored unless Reembed is set;
	// leave Model and Dims both empty to accept whatever is stored.
	Model string

	// Dims is the length of every vector; it goes with Model.
	Dims int

	// Weights names the kind of weights the model ran with, e.g. "F16" or
	// "Q8_0": one model name quantized two ways makes different vectors,
	// so Weights is part of the model's identity. Empty means any: it is
	// not compared. A store written before weights were recorded (its
	// Weights() is empty) matches any weights of its model, and Open with
	// Model and Weights records them in it.
	Weights string

	// Float16 stores vectors written through this handle as IEEE half
	// precision: half the disk and page cache for about three significant
	// digits. Reads always return float32, and a store may hold both kinds.
	Float16 bool

	// Reembed, when the stored model, weights or dims differ from Model,
	// Weights and Dims,
	// drops every chunk and vector, records the new model and keeps the
	// documents, instead of failing with ErrModelMismatch. The caller then
	// re-chunks and re-embeds each document with Put.
	Reembed bool

	// LockTimeout is how long Open waits for another process to release
	// the file; zero means 2 s. After it Open fails with ErrLocked.
	LockTimeout time.Duration
}

// Store is an open edgesearch store. Its methods are safe for concurrent
// use; bbolt serialises writers and lets readers run beside them.
type Store struct {
	db      *bolt.DB
	path    string
	model   string // fixed at Open: a model change needs a reopen with Reembed
	weights string
	dims    int
	half    bool
	reads   atomic.Int64 // point reads since open; see afterRead
}

// Open opens the store at path, creating it if it does not exist and
// opts.Model is set.
//
// It fails with ErrInvalid for inconsistent options, ErrNotFound when the
// file is missing and no model was given, ErrLocked when another process
// has it open, ErrCorrupt when it is not a store, ErrSchemaVersion when it
// was written with another layout, ErrModelMismatch when it holds
// vectors of another model or dimension (see Options.Reembed), and
// ErrTooLarge when the file is larger than this build can map (2 GiB on a
// 32-bit platform).
func Open(path string, opts Options) (*Store, error) {
	if (opts.Model == "") != (opts.Dims == 0) || opts.Dims < 0 || opts.Dims > maxDims || len(opts.Model) > maxModelLen ||
		len(opts.Weights) > maxModelLen || (opts.Weights != "" && opts.Model == "") {
		return nil, fmt.Errorf("open store %s: model %q (weights %q) with %d dims: give both a model name (up to %d bytes) and dims (1 to %d), or neither, and weights only with a model: %w",
			path, opts.Model, opts.Weights, opts.Dims, maxModelLen, maxDims, ErrInvalid)
	}
	fi, err := os.Stat(path)
	if opts.Model == "" && errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open store %s: no such file, and no model was given to create one: %w", path, ErrNotFound)
	}
	if err == nil && fi.Size() > fileSizeLimit {
		return nil, tooLarge(path, fi.Size())
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = defaultLockTimeout
	}
	// MaxSize makes bbolt refuse to grow the file past what it can map
	// with an error we can name, instead of "mmap too large".
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, MaxSize: int(fileSizeLimit)})
	if err != nil {
		switch {
		case errors.Is(err, berrors.ErrTimeout):
			return nil, fmt.Errorf("open store %s: waited %s: %w; stop the other edgesearch process or use its HTTP API", path, timeout, ErrLocked)
		case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
			return nil, fmt.Errorf("open store %s: not a store file or damaged: %w: %w", path, ErrCorrupt, err)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, half: opts.Float16}
	if err := s.init(opts); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// storedMeta is what the meta bucket says about the store.
type storedMeta struct {
	schema     uint64
	model      string
	weights    string // "" in a store written before weights were recorded
	dims       int
	generation uint64
	nextChunk  uint64
	documents  uint64
	chunks     uint64
}

// init checks or creates the meta bucket. It reads first and writes only
// when creating or re-embedding, so opening an existing store costs no fsync.
func (s *Store) init(opts Options) error {
	var m storedMeta
	fresh := false
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			if k, _ := tx.Cursor().First(); k != nil {
				return fmt.Errorf("open store %s: a bbolt file without edgesearch meta: %w", s.path, ErrCorrupt)
			}
			fresh = true
			return nil
		}
		var err error
		if m, err = readMeta(b); err != nil || m.schema != SchemaVersion {
			return err
		}
		for _, name := range [][]byte{bucketDocuments, bucketDocChunks, bucketHashes, bucketCollections} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("bucket %s is missing: %w", name, ErrCorrupt)
			}
		}
		_, err = openCollection(tx, DocumentsCollection)
		return err
	})
	if err != nil {
		return fmt.Errorf("open store %s: %w", s.path, err)
	}
	if fresh {
		if opts.Model == "" {
			return fmt.Errorf("open store %s: the file is empty and no model was given to create a store: %w", s.path, ErrInvalid)
		}
		s.model, s.weights, s.dims = opts.Model, opts.Weights, opts.Dims
		if err := s.update(func(tx *bolt.Tx) error { return create(tx, opts.Model, opts.Weights, opts.Dims) }); err != nil {
			return fmt.Errorf("create store %s: %w", s.path, err)
		}
		return nil
	}
	switch m.schema {
	case 1:
		if err := s.migrateFrom1(); err != nil {
			return err
		}
		return s.init(opts)
	case 2:
		if err := s.migrateFrom2(); err != nil {
			return err
		}
		return s.init(opts)
	}
	if m.schema != SchemaVersion {
		return fmt.Errorf("open store %s: it has schema version %d, this edgesearch reads version %d; use the edgesearch that wrote it to export the documents and import them here: %w",
			s.path, m.schema, SchemaVersion, ErrSchemaVersion)
	}
	sameWeights := opts.Weights == "" || m.weights == "" || m.weights == opts.Weights
	if opts.Model == "" || (m.model == opts.Model && m.dims == opts.Dims && sameWeights) {
		s.model, s.weights, s.dims = m.model, m.weights, m.dims
		if opts.Model == "" || m.weights != "" || opts.Weights == "" {
			return nil
		}
		// Written before weights were recorded: which ones made its vectors
		// is not known, and until now any of this model's were accepted.
		// The ones it is opened with from now on are recorded, so that a
		// later change of weights is noticed.
		if err := s.update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaWeights, []byte(opts.Weights)) }); err != nil {
			return fmt.Errorf("open store %s: record weights %q: %w", s.path, opts.Weights, err)
		}
		s.weights = opts.Weights
		return nil
	}
	if !opts.Reembed {
		return fmt.Errorf("open store %s: it holds vectors from %s but %s was asked for; "+
			"use the model that built it, or re-embed the documents (Options.Reembed; `edgesearch reindex`): %w",
			s.path, DescribeModel(m.model, m.weights, m.dims), DescribeModel(opts.Model, opts.Weights, opts.Dims), ErrModelMismatch)
	}
	s.model, s.weights, s.dims = opts.Model, opts.Weights, opts.Dims
	if err := s.update(func(tx *bolt.Tx) error { return resetVectors(tx, opts.Model, opts.Weights, opts.Dims) }); err != nil {
		return fmt.Errorf("re-embed store %s for model %q: %w", s.path, opts.Model, err)
	}
	return nil
}

// DescribeModel names a model's identity for a person: `model "NAME" (384
// dims)`, or `model "NAME" (F16 weights, 384 dims)` when weights are known.
func DescribeModel(model, weights string, dims int) string {
	if weights == "" {
		return fmt.Sprintf("model %q (%d dims)", model, dims)
	}
	return fmt.Sprintf("model %q (%s weights, %d dims)", model, weights, dims)
}

func create(tx *bolt.Tx, model, weights string, dims int) error {
	for _, name := range [][]byte{bucketDocuments, bucketDocChunks, bucketHashes, bucketMeta, bucketCollections} {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	if err := createDocumentsCollection(tx, dims); err != nil {
		return err
	}
	m := tx.Bucket(bucketMeta)
	if err := putU64(m, metaSchema, SchemaVersion); err != nil {
		return err
	}
	if err := putModel(m, model, weights); err != nil {
		return err
	}
	if err := putU64(m, metaDims, uint64(dims)); err != nil {
		return err
	}
	// The generation starts at a random number, not 0, so that an index
	// derived from another store (a data directory whose store file was
	// replaced, say by a backup of another) does not match it by chance;
	// 2^62 leaves room to count up.
	if err := putU64(m, metaGeneration, 1+randGeneration()); err != nil {
		return err
	}
	// Chunk ids start at 1 so that 0 can mean "not assigned yet".
	return putU64(m, metaNextChunk, 1)
}

// resetVectors drops all chunks and records a new model. The chunk id
// counter carries on, so a derived index can never confuse an old id with
// a new one.
func resetVectors(tx *bolt.Tx, model, weights string, dims int) error {
	if err := tx.DeleteBucket(bucketDocChunks); err != nil {
		return fmt.Errorf("drop bucket %s: %w", bucketDocChunks, err)
	}
	if _, err := tx.CreateBucket(bucketDocChunks); err != nil {
		return fmt.Errorf("bucket %s: %w", bucketDocChunks, err)
	}
	if err := createDocumentsCollection(tx, dims); err != nil {
		return err
	}
	m := tx.Bucket(bucketMeta)
	if err := putModel(m, model, weights); err != nil {
		return err
	}
	if err := putU64(m, metaDims, uint64(dims)); err != nil {
		return err
	}
	if err := putU64(m, metaChunks, 0); err != nil {
		return err
	}
	return bumpGeneration(m)
}

// putModel records the model's identity; no weights leaves the key out, as
// a store written before weights were recorded has it.
func putModel(m *bolt.Bucket, model, weights string) error {
	if err := m.Put(metaModel, []byte(model)); err != nil {
		return fmt.Errorf("meta %s: %w", metaModel, err)
	}
	if weights == "" {
		return m.Delete(metaWeights)
	}
	if err := m.Put(metaWeights, []byte(weights)); err != nil {
		return fmt.Errorf("meta %s: %w", metaWeights, err)
	}
	return nil
}

// randGeneration is where a generation counter starts: a random number,
// not 0, so that an index derived from another store does not match by
// chance, below 2^62 to leave room to count up.
func randGeneration() uint64 { return rand.Uint64N(1 << 62) }

func readMeta(b *bolt.Bucket) (storedMeta, error) {
	var m storedMeta
	var err error
	// The schema is read alone first: under another schema the other keys
	// may not mean what this version thinks.
	if m.schema, err = getU64(b, metaSchema); err != nil {
		return m, err
	}
	if m.schema != SchemaVersion {
		return m, nil
	}
	m.model = string(b.Get(metaModel))
	m.weights = string(b.Get(metaWeights))
	dims, err := getU64(b, metaDims)
	if err != nil {
		return m, err
	}
	if dims == 0 || dims > maxDims || m.model == "" {
		return m, fmt.Errorf("meta model %q dims %d: %w", m.model, dims, ErrCorrupt)
	}
	m.dims = int(dims)
	for _, f := range []struct {
		key []byte
		dst *uint64
	}{
		{metaGeneration, &m.generation},
		{metaNextChunk, &m.nextChunk},
		{metaDocuments, &m.documents},
		{metaChunks, &m.chunks},
	} {
		if *f.dst, err = getU64(b, f.key); err != nil {
			return m, err
		}
	}
	return m, nil
}

// getU64 reads a counter; a missing key is zero.
func getU64(b *bolt.Bucket, key []byte) (uint64, error) {
	v := b.Get(key)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("meta %s is %d bytes: %w", key, len(v), ErrCorrupt)
}

// getCount reads a counter that callers see as an int. A count beyond
// math.MaxInt cannot be real (on a 32-bit build bbolt maps at most 2 GB), so
// it is damage, reported rather than wrapped negative.
func getCount(b *bolt.Bucket, key []byte) (uint64, error) {
	v, err := getU64(b, key)
	if err == nil && v > math.MaxInt {
		err = fmt.Errorf("meta %s is %d, beyond an int: %w", key, v, ErrCorrupt)
	}
	return v, err
}

func putU64(b *bolt.Bucket, key []byte, v uint64) error {
	if err := b.Put(key, binary.BigEndian.AppendUint64(nil, v)); err != nil {
		return fmt.Errorf("meta %s: %w", key, err)
	}
	return nil
}

// addU64 adds delta (which may be negative) to a counter.
func addU64(b *bolt.Bucket, key []byte, delta int) error {
	v, err := getU64(b, key)
	if err != nil {
		return err
	}
	return putU64(b, key, uint64(int64(v)+int64(delta)))
}

func bumpGeneration(b *bolt.Bucket) error {
	return addU64(b, metaGeneration, 1)
}

// Close releases the file and its lock. Everything acknowledged by Put or
// Delete was already on disk; Close adds no durability.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// ID names this store among others: 16 random bytes in hex, made the first
// time it is asked for and kept in the file (so a copy of the file, a
// backup restored, has the same ID). A search backend shared by several
// devices keeps each one's documents apart by it.
func (s *Store) ID() (string, error) {
	var id string
	err := s.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(metaID))
		return nil
	})
	if err != nil || id != "" {
		return id, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if id = string(b.Get(metaID)); id != "" {
			return nil
		}
		var raw [16]byte
		crand.Read(raw[:])
		id = hex.EncodeToString(raw[:])
		return b.Put(metaID, []byte(id))
	})
	if err != nil {
		return "", fmt.Errorf("store %s id: %w", s.path, err)
	}
	return id, nil
}

// Path returns the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Model returns the name of the model whose vectors the store holds.
func (s *Store) Model() string { return s.model }

// Weights returns the kind of weights the model ran with (see
// Options.Weights), or "" for a store written before they were recorded.
func (s *Store) Weights() string { return s.weights }

// Dims returns the length of every stored vector.
func (s *Store) Dims() int { return s.dims }

// Generation returns a number that grows with every committed write (Put,
// Delete, re-embedding), from a random start at creation. A derived index
// records the generation it was built from and is stale when the store's
// differs, also when the store file was swapped for another store's.
func (s *Store) Generation() (uint64, error) {
	var g uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		g, err = getU64(tx.Bucket(bucketMeta), metaGeneration)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store %s generation: %w", s.path, err)
	}
	return g, nil
}

// Count returns the number of documents and chunks, read from counters kept
// in the same transactions as the writes, so it costs no scan.
func (s *Store) Count() (documents, chunks int, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		d, err := getCount(m, metaDocuments)
		if err != nil {
			return err
		}
		c, err := getCount(m, metaChunks)
		documents, chunks = int(d), int(c)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store %s count: %w", s.path, err)
	}
	return documents, chunks, nil
}

// update runs fn in a read-write transaction, as bolt's Update does, and
// marks a failure because the disk is full, or because the file would grow
// past what this build can map, with ErrNoSpace.
func (s *Store) update(fn func(*bolt.Tx) error) error {
	return diskFull(grownTooLarge(s.db.Update(fn)))
}
