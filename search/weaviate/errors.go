package weaviate

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsupportedFilter means a filter holds a condition that Weaviate's
	// where filter cannot express with the same result; the message names
	// the condition. The caller may evaluate such a filter itself.
	ErrUnsupportedFilter = errors.New("filter not supported by the weaviate backend")
	// ErrUnmappableID means a point id has no Weaviate UUID of its own: a
	// UUID whose first 8 bytes are zero, the range integer ids map to.
	ErrUnmappableID = errors.New("point id has no weaviate uuid")
	// ErrNotFound means the class (collection) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means a class of that name exists already.
	ErrExists = errors.New("already exists")
	// ErrResponseTooLarge means Weaviate answered with more than
	// Options.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("weaviate response too large")
)

// Error is an error answer of Weaviate: the operation, the HTTP status (0
// for a GraphQL error in a 200 answer) and Weaviate's messages.
type Error struct {
	Op      string
	Status  int
	Message string
}

func (e *Error) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("weaviate %s: %s", e.Op, e.Message)
	}
	return fmt.Sprintf("weaviate %s: HTTP %d: %s", e.Op, e.Status, e.Message)
}
