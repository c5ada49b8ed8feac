package store

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	berrors "go.etcd.io/bbolt/errors"
)

// maxFileSize is the largest store file this build opens or grows: bbolt
// maps the whole file into the address space, and maps at most 2 GiB − 1
// on 32-bit platforms (386, arm) and 256 TiB on 64-bit ones. Past it bbolt
// does not fail cleanly on a 32-bit build: it reads the file's size into an
// int, so a file of 2–4 GiB is "too small -2147483648", and one of 4 GiB +
// 1 MiB opens as 1 MiB and panics on the first page past that.
const maxFileSize = min(math.MaxInt, 1<<48-1)

// fileSizeLimit is maxFileSize; tests lower it to run the paths of a full
// 32-bit store on every build.
var fileSizeLimit int64 = maxFileSize

// tooLarge is the error of Open for a file of size bytes over the limit.
func tooLarge(path string, size int64) error {
	return fmt.Errorf("open store %s: the file is %d bytes, more than the %d a %d-bit edgesearch can map; "+
		"open it with a 64-bit build (arm64 on a Raspberry Pi): %w", path, size, fileSizeLimit, strconv.IntSize, ErrTooLarge)
}

// grownTooLarge marks a write that failed because the file would have
// grown past the limit. It wraps ErrNoSpace too: to a caller the store is
// as full as a full disk, and what helps is the same.
func grownTooLarge(err error) error {
	if err == nil || !errors.Is(err, berrors.ErrMaxSizeReached) {
		return err
	}
	return fmt.Errorf("%w: the file may not pass %d bytes on a %d-bit edgesearch, so %w; "+
		"delete documents, or move the data directory to a 64-bit system (arm64 on a Raspberry Pi): %w",
		ErrTooLarge, fileSizeLimit, strconv.IntSize, ErrNoSpace, err)
}
