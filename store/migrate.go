package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migrateFrom1 brings a schema-1 store (documents only) to schema 2 by
// adding the empty collections bucket and recording the new version, in
// one transaction: a crash leaves the file at version 1, which the next
// Open migrates again. Nothing a version-1 store holds changes. An older
// edgesearch cannot open the file afterwards (it reads version 1 only),
// so Open migrates only when it would otherwise refuse the file.
func (s *Store) migrateFrom1() error {
	err := s.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		v, err := getU64(m, metaSchema)
		if err != nil {
			return err
		}
		if v != 1 {
			return fmt.Errorf("schema version changed to %d while opening: %w", v, ErrSchemaVersion)
		}
		if _, err := tx.CreateBucket(bucketCollections); err != nil {
			return fmt.Errorf("bucket %s: %w", bucketCollections, err)
		}
		return putU64(m, metaSchema, 2)
	})
	if err != nil {
		return fmt.Errorf("open store %s: migrate schema version 1 to 2: %w", s.path, err)
	}
	return nil
}
