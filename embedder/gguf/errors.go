package gguf

import "errors"

// Sentinel errors; compare with errors.Is.
var (
	// ErrNotGGUF means the file does not start with the GGUF magic.
	ErrNotGGUF = errors.New("not a GGUF file")
	// ErrCorrupt means the file is truncated or a length, count, offset or
	// shape in it is impossible.
	ErrCorrupt = errors.New("corrupt GGUF file")
	// ErrVersion means the GGUF version is not 2 or 3.
	ErrVersion = errors.New("unsupported GGUF version")
	// ErrUnknownType means a tensor type this package has no size for.
	ErrUnknownType = errors.New("unknown tensor type")
	// ErrBadShape means a tensor shape is empty, too deep, overflows, or
	// does not fit its type's block size.
	ErrBadShape = errors.New("bad tensor shape")
	// ErrBadValue means a metadata value has a Go type GGUF cannot hold.
	ErrBadValue = errors.New("unsupported metadata value")
	// ErrWriterState means Writer methods were called out of order or the
	// tensor data written does not match what was declared.
	ErrWriterState = errors.New("gguf writer misuse")
)
