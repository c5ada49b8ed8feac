package embedder

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
)

// modelFile is the GGUF file a pool's instances load, open for the pool's
// life (or, in tests, bytes in memory).
type modelFile struct {
	r    io.ReaderAt
	name string
	size int
}

// modelBytes serves a model from memory.
func modelBytes(b []byte) *modelFile {
	return &modelFile{r: bytes.NewReader(b), name: "(in memory)", size: len(b)}
}

// maxModelSize is the largest model file: the guest reads it whole into
// its wasm32 memory (4 GiB), and the host counts its bytes in an int (2 GiB
// on a 32-bit build).
const maxModelSize = min(math.MaxUint32, math.MaxInt)

func openModel(path string) (*modelFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("couldn't read model: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("couldn't read model: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxModelSize {
		f.Close()
		return nil, fmt.Errorf("couldn't read model %s: not a regular file of at most %d bytes", path, int64(maxModelSize))
	}
	return &modelFile{r: f, name: path, size: int(fi.Size())}, nil
}

// readInto fills dst, len(dst) == m.size, with the whole file.
func (m *modelFile) readInto(dst []byte) error {
	if _, err := io.ReadFull(io.NewSectionReader(m.r, 0, int64(m.size)), dst); err != nil {
		return fmt.Errorf("couldn't read model %s: %w", m.name, err)
	}
	return nil
}

func (m *modelFile) Close() error {
	if c, ok := m.r.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
