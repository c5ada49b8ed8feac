//go:build unix

package embedder

import (
	"context"
	"math/bits"
	"syscall"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// withGuestMemory makes the guest instances created with ctx back their
// linear memory with an address-space reservation that grows in place.
//
// wazero's default grows a memory by appending to a Go slice, which copies
// the whole memory and leaves the old one to the garbage collector: loading
// a 45 MB model and dequantizing it made a guest's memory grow several times,
// and the process peaked at about 3× its steady size. Reserving the address
// space once (PROT_NONE, no backing) and enabling pages as the guest grows
// costs no copies, and untouched pages cost no RAM.
func withGuestMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(reserveMemory))
}

// maxReserve bounds one instance's reservation: the whole 4 GiB a wasm32
// memory can address on 64-bit hosts, 512 MiB on 32-bit ones (armv7), whose
// 3 GiB of address space must also hold the store's mapping (up to 2 GiB)
// and one reservation per worker and the tokenizer. A guest needs far less:
// the whole process peaks at 131 MB embedding 32 texts of 256 tokens with
// the f16 model (67 MB with q8_0). A guest growing past it gets a failed
// memory.grow, which its allocator reports as out of memory.
const maxReserve = 1<<29 + (bits.UintSize/64)*(7<<29)

type reservedMemory struct {
	buf  []byte // the whole reservation; buf[:size] is readable and writable
	size uint64
}

func reserveMemory(_, max uint64) experimental.LinearMemory {
	if max > maxReserve {
		max = maxReserve
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		// No address space to reserve (a crowded 32-bit process): grow by
		// copying, as wazero does by default.
		return &sliceMemory{}
	}
	return &reservedMemory{buf: buf}
}

type sliceMemory struct{ buf []byte }

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if n := uint64(len(m.buf)); size > n {
		m.buf = append(m.buf, make([]byte, size-n)...)
	}
	return m.buf[:size]
}

func (m *sliceMemory) Free() { m.buf = nil }

func (m *reservedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	if size > m.size {
		// Pages are enabled from the start of the reservation; mprotect
		// wants a page-aligned start, which offset 0 is.
		if err := syscall.Mprotect(m.buf[:size], syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.size = size
	}
	return m.buf[:size:size]
}

func (m *reservedMemory) Free() {
	if m.buf != nil {
		syscall.Munmap(m.buf)
		m.buf, m.size = nil, 0
	}
}

// releaseGuestPages tells the kernel that the whole pages within b, a view
// of guest memory the guest no longer uses, may be dropped: they read as
// zeros next time, which is what fresh memory reads as anyway.
func releaseGuestPages(b []byte) {
	page := uintptr(syscall.Getpagesize())
	start := (uintptr(unsafe.Pointer(unsafe.SliceData(b))) + page - 1) &^ (page - 1)
	end := (uintptr(unsafe.Pointer(unsafe.SliceData(b))) + uintptr(len(b))) &^ (page - 1)
	if end <= start {
		return
	}
	off := start - uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	_ = unix.Madvise(b[off:off+(end-start)], unix.MADV_DONTNEED)
}
