package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// A collection's payload indexes are the fields a client asked to have
// indexed (Qdrant's create_payload_index): field key → schema, e.g.
// "group" → "keyword". The store only records them; the search package
// builds and keeps the indexes in memory. They live under their own key of
// the collection's bucket, so a store written before them opens with none
// and an older binary that does not know the key ignores it.

var collIndexes = []byte("indexes")

// PayloadSchemas are the field schemas a payload index may be declared
// with, as Qdrant names them.
var PayloadSchemas = []string{"keyword", "integer", "float", "bool", "geo", "datetime", "text", "uuid"}

// MaxPayloadIndexes is the most payload indexes a collection holds.
const MaxPayloadIndexes = 64

// MaxPayloadIndexKey is the longest field key an index may have, in bytes.
const MaxPayloadIndexKey = 256

func readIndexes(b *bolt.Bucket) (map[string]string, error) {
	rec := b.Get(collIndexes)
	if rec == nil {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal(rec, &m); err != nil {
		return nil, fmt.Errorf("payload indexes: %w: %v", ErrCorrupt, err)
	}
	return m, nil
}

// SetPayloadIndex records that field of collection is indexed with schema
// (one of PayloadSchemas), replacing any schema it had, durably on return.
// It fails with ErrNotFound for no such collection and ErrInvalid for an
// empty or too long field, an unknown schema, the documents collection or
// more than MaxPayloadIndexes indexes.
func (s *Store) SetPayloadIndex(ctx context.Context, collection, field, schema string) error {
	return s.changeIndexes(ctx, collection, "create payload index", func(m map[string]string) error {
		if field == "" || len(field) > MaxPayloadIndexKey || strings.ContainsAny(field, "\x00") {
			return fmt.Errorf("field %q: empty, longer than %d bytes or holding NUL: %w", field, MaxPayloadIndexKey, ErrInvalid)
		}
		known := false
		for _, k := range PayloadSchemas {
			known = known || k == schema
		}
		if !known {
			return fmt.Errorf("field schema %q: want one of %s: %w", schema, strings.Join(PayloadSchemas, ", "), ErrInvalid)
		}
		if _, ok := m[field]; !ok && len(m) >= MaxPayloadIndexes {
			return fmt.Errorf("the collection has %d payload indexes, the most it takes: %w", len(m), ErrInvalid)
		}
		m[field] = schema
		return nil
	})
}

// DeletePayloadIndex forgets the index of field, if any, durably on return.
func (s *Store) DeletePayloadIndex(ctx context.Context, collection, field string) error {
	return s.changeIndexes(ctx, collection, "delete payload index", func(m map[string]string) error {
		delete(m, field)
		return nil
	})
}

func (s *Store) changeIndexes(ctx context.Context, collection, op string, change func(map[string]string) error) error {
	if collection == DocumentsCollection {
		return errDocumentsCollection(op + " of")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err := s.update(func(tx *bolt.Tx) error {
		col, err := openCollection(tx, collection)
		if err != nil {
			return err
		}
		m, err := readIndexes(col.b)
		if err != nil {
			return err
		}
		m = maps.Clone(m)
		if m == nil {
			m = map[string]string{}
		}
		if err := change(m); err != nil {
			return err
		}
		rec, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return col.b.Put(collIndexes, rec)
	})
	if err != nil {
		return fmt.Errorf("%s of collection %q in %s: %w", op, collection, s.path, err)
	}
	return nil
}
