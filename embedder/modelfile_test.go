package embedder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenModelRefusesAFileItCannotLoad(t *testing.T) {
	// A model is read whole into wasm32 guest memory, so at most 4 GiB,
	// and its size is an int: on a 32-bit build a file of 2-4 GiB was
	// let through with a negative size. The sparse file costs no disk.
	path := filepath.Join(t.TempDir(), "huge.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxModelSize + 1); err != nil {
		t.Skipf("cannot make a sparse file of %d bytes here: %v", int64(maxModelSize)+1, err)
	}
	f.Close()
	m, err := openModel(path)
	if err == nil {
		m.Close()
		t.Fatalf("opened a model of %d bytes with size %d", int64(maxModelSize)+1, m.size)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}
