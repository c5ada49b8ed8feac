//go:build !unix

package embedder

import "context"

// withGuestMemory keeps wazero's default memory on systems without mmap.
func withGuestMemory(ctx context.Context) context.Context { return ctx }

// releaseGuestPages does nothing here; see memory_unix.go.
func releaseGuestPages([]byte) {}
