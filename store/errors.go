package store

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (and
// sometimes an error from bbolt), so callers test them with errors.Is.
var (
	// ErrNotFound means the document, chunk or store file does not exist.
	ErrNotFound = errors.New("not found")

	// ErrInvalid means an argument was rejected before anything was written:
	// an empty id or text, a vector of the wrong length, a bad span, and so on.
	ErrInvalid = errors.New("invalid input")

	// ErrModelMismatch means the store holds vectors from another model or
	// with another dimension than the one asked for in Options.
	ErrModelMismatch = errors.New("model mismatch")

	// ErrSchemaVersion means the file was written by an edgesearch with a
	// different on-disk layout.
	ErrSchemaVersion = errors.New("unsupported schema version")

	// ErrCorrupt means a record or the file itself could not be decoded.
	ErrCorrupt = errors.New("corrupt store")

	// ErrLocked means another process holds the store open for writing.
	ErrLocked = errors.New("store is locked by another process")
)
