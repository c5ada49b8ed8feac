package indexer

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/store"
)

var (
	poolOnce sync.Once
	pool     *embedder.Pool
	poolErr  error
)

// testPool is the real model, loaded once for the package's tests. A
// missing model fails the test: these tests are the proof the pipeline works.
// modelFile is the real model: $EDGESEARCH_MODEL, else the default path.
func modelFile() string {
	if p := os.Getenv("EDGESEARCH_MODEL"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "edgesearch", "all-MiniLM-L6-v2-f16.gguf")
}

func testPool(t testing.TB) *embedder.Pool {
	t.Helper()
	poolOnce.Do(func() {
		pool, poolErr = embedder.New(context.Background(), embedder.Options{ModelPath: modelFile(), Workers: 2})
	})
	if poolErr != nil {
		t.Fatalf("load the model (run `make model` or set EDGESEARCH_MODEL): %v", poolErr)
	}
	return pool
}

// testStore opens a fresh store for the model in t's temp dir.
func testStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	info := testPool(t).Info()
	st, err := store.Open(StorePath(dir), store.Options{Model: info.Name, Dims: info.Dims})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
