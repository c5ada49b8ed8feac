package indexer

import "errors"

// Sentinel errors, compared with errors.Is.
var (
	// ErrUnsupported means the file's extension names no format this
	// package reads; Import skips such files with a note.
	ErrUnsupported = errors.New("unsupported file type")

	// ErrBinary means a file that should hold text holds binary data.
	ErrBinary = errors.New("binary content")

	// ErrNoText means a document or row has no text to index.
	ErrNoText = errors.New("no text")

	// ErrInvalid means a document was rejected before anything was stored:
	// an id that is too long or holds NUL, a source that is too long.
	ErrInvalid = errors.New("invalid document")
)
