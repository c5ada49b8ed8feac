package store

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors. Errors returned by this package wrap one of these (and
// sometimes an error from bbolt), so callers test them with errors.Is.
var (
	// ErrNotFound means the document, chunk, collection or store file does
	// not exist.
	ErrNotFound = errors.New("not found")

	// ErrInvalid means an argument was rejected before anything was written:
	// an empty id or text, a vector of the wrong length, a bad span, and so on.
	ErrInvalid = errors.New("invalid input")

	// ErrModelMismatch means the store holds vectors from another model,
	// the same model with other weights (F16, Q8_0), or with another
	// dimension than the one asked for in Options.
	ErrModelMismatch = errors.New("model mismatch")

	// ErrSchemaVersion means the file was written by an edgesearch with a
	// different on-disk layout.
	ErrSchemaVersion = errors.New("unsupported schema version")

	// ErrCorrupt means a record or the file itself could not be decoded.
	ErrCorrupt = errors.New("corrupt store")

	// ErrLocked means another process holds the store open for writing.
	ErrLocked = errors.New("store is locked by another process")

	// ErrNoSpace means a write failed because the disk (or the user's quota,
	// or the process's file size limit) is full. The transaction was rolled
	// back: what was stored before is intact, the new write is not stored.
	ErrNoSpace = errors.New("no space left on the store's disk")

	// ErrTooLarge means the store file is, or a write would make it, larger
	// than this build can map: 2 GiB on a 32-bit platform (see
	// maxFileSize). Open refuses such a file; a write that would grow the
	// file past it is rolled back and wraps ErrNoSpace as well.
	ErrTooLarge = errors.New("store file too large for this platform")

	// ErrExists means CreateCollection was asked for a name already taken.
	ErrExists = errors.New("already exists")

	// ErrBadPointID means a point id is neither an unsigned 64-bit integer
	// nor a UUID (see ParsePointID).
	ErrBadPointID = errors.New("bad point id")
)

// diskFull wraps err with ErrNoSpace when the operating system said the disk,
// the quota or the file size limit is exhausted, so callers can tell the
// user what to do instead of reporting an internal error.
func diskFull(err error) error {
	if err == nil || errors.Is(err, ErrNoSpace) {
		return err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}
