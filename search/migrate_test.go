package search_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
)

// TestEngineKeepsItsGraphAcrossTheSchema3Migration: a store written by the
// schema-2 code (store/testdata/schema2.db) with the graph that code's
// engine saved for it (testdata/schema2-hnsw.graph, written at 6c95ed4)
// migrates on open, and the engine then loads the saved graph instead of
// rebuilding it: the migration keeps chunk ids and the generation, so an
// upgrade costs no re-index.
func TestEngineKeepsItsGraphAcrossTheSchema3Migration(t *testing.T) {
	dir := t.TempDir()
	for src, dst := range map[string]string{
		"../store/testdata/schema2.db": "edgesearch.db",
		"testdata/schema2-hnsw.graph":  search.GraphFile,
	} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(filepath.Join(dir, "edgesearch.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir, Params: search.Params{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if !e.Loaded() {
		t.Error("the engine rebuilt its graph after the migration; it should have loaded the saved one")
	}
	docs, chunks := e.Len()
	if docs != 3 || chunks != 5 {
		t.Errorf("indexed %d documents, %d chunks; want the 3 with chunks and their 5 chunks", docs, chunks)
	}
	d, err := st.Get("alpha")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.QueryPoints(context.Background(), search.PointQuery{Vector: d.Chunks[0].Vector, Limit: 1})
	if err != nil || len(res) != 1 || res[0].ID != store.NumPointID(d.Chunks[0].ID) {
		t.Errorf("nearest chunk to alpha's first = %+v, %v", res, err)
	}
}
