//go:build linux || darwin

package store

import (
	"fmt"
	"math"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// ReleasePages tells the kernel that this process is done with the pages
// of the store file it has read so far. bbolt reads through a read-only
// shared mapping of the file, so a walk over every chunk, as the search
// engine's start does, leaves the whole file counted in the process's
// resident memory although nothing will read most of it again. The pages
// stay in the page cache; a later read faults them back in. Nothing stored
// changes: writes go through the file descriptor, not the mapping.
func (s *Store) ReleasePages() error {
	return s.db.View(s.releaseMapped)
}

// releaseMapped is ReleasePages inside a read transaction, which holds
// bbolt's mapping lock, so the mapping cannot move or shrink meanwhile.
func (s *Store) releaseMapped(tx *bolt.Tx) error {
	info := s.db.Info()
	// The mapping fits the address space, so its size fits an int; the
	// min keeps a 32-bit build from wrapping should that ever not hold.
	size := int(min(tx.Size(), math.MaxInt)) &^ (syscall.Getpagesize() - 1)
	if info == nil || info.Data == 0 || size <= 0 {
		return nil
	}
	// The mapping is not Go memory; the raw call keeps it a number.
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, info.Data, uintptr(size), syscall.MADV_DONTNEED); errno != 0 {
		return fmt.Errorf("release the pages of %s: %w", s.path, errno)
	}
	return nil
}

// releaseAfterReads is how many point reads (Get, ChunkByID) pass between
// releases of the mapped pages. Each read faults in a few pages, and the
// kernel maps up to 16 cached neighbours with each fault, so a server
// answering searches would otherwise see its resident size creep towards
// the whole file: 300 searches took it from 30 to 180 MB of file pages over
// a 264 MB store.
const releaseAfterReads = 64

// afterRead counts a point read and now and then releases the mapped pages.
// It must run outside any transaction.
func (s *Store) afterRead() {
	if s.reads.Add(1)%releaseAfterReads == 0 {
		_ = s.ReleasePages()
	}
}
