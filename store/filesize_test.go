package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// storeOfSize makes a store with one document and extends its file, sparse,
// to size bytes: what a store that grew that large looks like to Open.
func storeOfSize(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edgesearch.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	put(t, s, testDoc("kept", 3, testDims, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Skipf("cannot make a sparse file of %d bytes here: %v", size, err)
	}
	return path
}

func TestOpenRefusesAFileLargerThanThisBuildMaps(t *testing.T) {
	// The real limit: on a 32-bit build bbolt read the size of a 2-4 GiB
	// file as negative ("file size too small -2147483648"), and one of
	// 4 GiB + 1 MiB as 1 MiB, mapped that much and panicked on the first
	// page past it. A 64-bit build's limit (256 TiB) is past any disk.
	if maxFileSize > math.MaxInt32 {
		t.Skipf("the limit of a %d-bit build, %d bytes, is past what a test file can be", strconv.IntSize, int64(maxFileSize))
	}
	for _, size := range []int64{maxFileSize + 1, 1 << 32, 1<<32 + 1<<20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			path := storeOfSize(t, size)
			s, err := Open(path, Options{})
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "64-bit") {
				t.Fatalf("Open: %v, want ErrTooLarge saying to use a 64-bit build", err)
			}
		})
	}
	// The premise: bbolt on this platform maps a file of the limit itself.
	path := storeOfSize(t, maxFileSize)
	s := openTest(t, path, Options{})
	if _, err := s.Get("kept"); err != nil {
		t.Fatalf("store of %d bytes: %v", int64(maxFileSize), err)
	}
}

// lowerFileSizeLimit sets fileSizeLimit for one test, so that the paths of
// a full 32-bit store run on every build.
func lowerFileSizeLimit(t *testing.T, limit int64) {
	old := fileSizeLimit
	fileSizeLimit = limit
	t.Cleanup(func() { fileSizeLimit = old })
}

func TestOpenRefusesAFileOverTheLimit(t *testing.T) {
	path := storeOfSize(t, 8<<20)
	lowerFileSizeLimit(t, 8<<20-1)
	if s, err := Open(path, Options{}); !errors.Is(err, ErrTooLarge) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open: %v, want ErrTooLarge", err)
	}
	lowerFileSizeLimit(t, 8<<20)
	s := openTest(t, path, Options{})
	if _, err := s.Get("kept"); err != nil {
		t.Fatal(err)
	}
}

func TestWritesStopAtTheLimitAndLeaveTheStoreWhole(t *testing.T) {
	// bbolt alone failed such a write with an unmatched "mmap allocate
	// error: mmap too large"; a full store now reads as a full disk
	// (ErrNoSpace: import stops, HTTP 507) and says why (ErrTooLarge).
	const limit = 4 << 20
	lowerFileSizeLimit(t, limit)
	path := filepath.Join(t.TempDir(), "edgesearch.db")
	s := openTest(t, path, Options{Model: testModel, Dims: testDims})
	ctx := context.Background()
	var err error
	stored := 0
	for ; stored < 1000; stored++ { // 1000 documents of 8 chunks are 12 MB
		if err = s.Put(ctx, []Document{testDoc(fmt.Sprintf("d%04d", stored), 8, testDims, uint64(stored))}); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("after %d documents Put failed with %v, want ErrNoSpace and ErrTooLarge", stored, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > limit {
		t.Fatalf("file is %d bytes (%v), over the limit of %d", fi.Size(), err, limit)
	}
	checkConsistent(t, s)
	if docs, _, err := s.Count(); err != nil || docs != stored {
		t.Fatalf("Count = %d, %v; want the %d documents stored before the limit", docs, err, stored)
	}
	// Deleting frees pages that later writes reuse.
	if _, err := s.DeleteBatch(ctx, []string{"d0000", "d0001", "d0002"}); err != nil {
		t.Fatal(err)
	}
	put(t, s, testDoc("after", 1, testDims, 1))
	s.Close()
	s = openTest(t, path, Options{})
	checkConsistent(t, s)
}
