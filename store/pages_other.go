//go:build !(linux || darwin)

package store

import bolt "go.etcd.io/bbolt"

// ReleasePages does nothing where there is no madvise; see pages_unix.go.
func (s *Store) ReleasePages() error { return nil }

func (s *Store) releaseMapped(*bolt.Tx) error { return nil }

func (s *Store) afterRead() {}
