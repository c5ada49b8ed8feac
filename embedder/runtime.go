package embedder

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// The guest runs on a WebAssembly runtime chosen by name (Options.Runtime).
// Everything else in this package reaches the guest through these four
// interfaces, so a runtime is one file that implements them and registers
// itself in runtimes (runtime_wazero.go is the default; another may sit
// behind a build tag and add itself from an init function).

// guestRuntime compiles the guest once and makes instances of it.
type guestRuntime interface {
	// instantiate starts a fresh instance with no model loaded, its WASI
	// reactor initialised (_initialize run).
	instantiate(ctx context.Context) (guestModule, error)
	// close frees the runtime; instances made by it must be closed first.
	close(ctx context.Context) error
}

// guestModule is one instance of the guest.
type guestModule interface {
	// function returns the export name, or nil when the guest does not
	// export it.
	function(name string) guestFunction
	// memory returns the instance's linear memory, or nil when it has none.
	memory() guestMemory
	close(ctx context.Context)
}

// guestFunction is an exported guest function. Call returns an error when
// the guest traps; the instance is unusable afterwards.
type guestFunction interface {
	Call(ctx context.Context, params ...uint64) ([]uint64, error)
	name() string
}

// guestMemory is a guest's linear memory. Read returns a view (not a copy)
// of byteCount bytes at offset, valid until the guest next grows its
// memory, and false when the range is out of bounds; Write copies v in and
// returns false, writing nothing, when it does not fit.
type guestMemory interface {
	Size() uint32
	Read(offset, byteCount uint32) ([]byte, bool)
	Write(offset uint32, v []byte) bool
}

// runtimes makes a runtime from a name: given the guest's binary and a
// directory for a compilation cache ("" for none), it compiles the guest.
var runtimes = map[string]func(ctx context.Context, wasm []byte, cacheDir string) (guestRuntime, error){
	"wazero": newWazeroRuntime,
}

// defaultRuntime is the runtime of Options.Runtime "".
const defaultRuntime = "wazero"

// newGuestRuntime makes the runtime called name ("" for the default) for
// wasm, or returns an error listing the runtimes this build has.
func newGuestRuntime(ctx context.Context, name string, wasm []byte, cacheDir string) (guestRuntime, error) {
	if name == "" {
		name = defaultRuntime
	}
	mk, ok := runtimes[name]
	if !ok {
		known := make([]string, 0, len(runtimes))
		for n := range runtimes {
			known = append(known, n)
		}
		slices.Sort(known)
		return nil, fmt.Errorf("embedder: unknown runtime %q (this build has %s)", name, strings.Join(known, ", "))
	}
	return mk(ctx, wasm, cacheDir)
}
