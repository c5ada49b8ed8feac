package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
)

// TestServeBackendWeaviate: serve --backend weaviate://… makes new
// collections in that Weaviate and keeps the ones it had locally.
func TestServeBackendWeaviate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	node := weaviatetest.StartNode(t)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	vectors := map[string]any{"vectors": map[string]any{"size": 2, "distance": "Dot"}}

	// Before: a local collection.
	cmd, _, q := startQdrantServe(t, data)
	qdrantCall(t, "PUT", q+"/collections/here", vectors, nil)
	cmd.Process.Kill()
	cmd.Wait()

	_, _, q = startQdrantServe(t, data, "--backend", node.Backend(0))
	qdrantCall(t, "PUT", q+"/collections/there", vectors, nil)
	qdrantCall(t, "PUT", q+"/collections/there/points?wait=true", map[string]any{"points": []any{
		map[string]any{"id": 1, "vector": []float32{1, 0}, "payload": map[string]any{"k": "v"}}}}, nil)
	if n, err := client.Count(ctx, "there", nil); err != nil || n != 1 {
		t.Fatalf("collection there on the Weaviate: %d points, %v; want 1", n, err)
	}
	if _, err := client.Info(ctx, "here"); !errors.Is(err, weaviate.ErrNotFound) {
		t.Fatalf("the local collection here went to the Weaviate: %v", err)
	}
	var list struct {
		Collections []struct{ Name string } `json:"collections"`
	}
	qdrantCall(t, "GET", q+"/collections", nil, &list)
	var names []string
	for _, c := range list.Collections {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "documents here there" {
		t.Fatalf("collections %v, want [documents here there]", names)
	}
}
