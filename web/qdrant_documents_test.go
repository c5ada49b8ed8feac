package web_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/web"
)

// setLibraryAndCollections gives srv, as `edgesearch serve` does, a store
// in dir with the documents' engine and the collections engine over it.
func setLibraryAndCollections(t *testing.T, srv *web.Server, dir string) {
	t.Helper()
	l := openLibrary(t, dir)
	srv.SetEngine(l.engine)
	cols, err := search.OpenCollections(context.Background(), l.st, search.CollectionsOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cols.Close(); err != nil {
			t.Errorf("close collections: %v", err)
		}
	})
	srv.SetCollections(cols)
}

// TestQdrantDocumentsCollection: the documents added on the main port are
// the collection "documents" on the Qdrant port, one point per chunk with
// the document's fields and the chunk's text as payload: listed, described,
// counted, scrolled and searched (by text, with a filter), and refused
// every write, which must go through /documents.
func TestQdrantDocumentsCollection(t *testing.T) {
	p := pool(t)
	srv, base := start(t, web.Config{}, p)
	setLibraryAndCollections(t, srv, t.TempDir())
	qbase := serveQdrant(t, srv)
	col := qbase + "/collections/documents"

	addDocs(t, base, []map[string]any{
		{"id": "bees", "title": "Bees", "text": "Bees make honey in the hive and pollinate flowers.", "metadata": map[string]string{"lang": "en"}},
		{"id": "train", "title": "Trains", "text": "The train leaves the station at noon from platform four.", "metadata": map[string]string{"lang": "en"}},
		{"id": "zug", "title": "Züge", "text": "Der Zug fährt um zwölf Uhr vom Bahnhof ab.", "metadata": map[string]string{"lang": "de"}},
	})
	qok(t, call(t, "PUT", qbase+"/collections/mine", map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}}, nil), nil)

	var list struct {
		Collections []struct{ Name string } `json:"collections"`
	}
	qok(t, call(t, "GET", qbase+"/collections", nil, nil), &list)
	var names []string
	for _, c := range list.Collections {
		names = append(names, c.Name)
	}
	if !slices.Equal(names, []string{"documents", "mine"}) {
		t.Errorf("collections %v, want documents beside mine", names)
	}
	var info struct {
		PointsCount int `json:"points_count"`
		Config      struct {
			Params struct {
				Vectors struct {
					Size     int    `json:"size"`
					Distance string `json:"distance"`
				} `json:"vectors"`
			} `json:"params"`
		} `json:"config"`
	}
	qok(t, call(t, "GET", col, nil, nil), &info)
	if v := info.Config.Params.Vectors; info.PointsCount != 3 || v.Size != p.Info().Dims || v.Distance != "Cosine" {
		t.Errorf("documents collection info %+v", info)
	}

	var qr struct {
		Points []qpoint `json:"points"`
	}
	model := p.Info().Name
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": map[string]any{"text": "when does the train depart", "model": model},
		"limit": 1, "with_payload": true}, nil), &qr)
	var payload struct {
		ID, Title, Text string
		Chunk           int
		Metadata        map[string]string
	}
	if len(qr.Points) != 1 {
		t.Fatalf("query: %d points", len(qr.Points))
	}
	if err := json.Unmarshal(qr.Points[0].Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.ID != "train" || payload.Title != "Trains" || !strings.Contains(payload.Text, "platform four") || payload.Metadata["lang"] != "en" {
		t.Errorf("best chunk for the train question: %+v", payload)
	}
	de := map[string]any{"must": []any{map[string]any{"key": "metadata.lang", "match": map[string]any{"value": "de"}}}}
	qok(t, call(t, "POST", col+"/points/query", map[string]any{"query": map[string]any{"text": "when does the train depart", "model": model},
		"filter": de, "with_payload": true}, nil), &qr)
	if len(qr.Points) != 1 || !strings.Contains(string(qr.Points[0].Payload), `"id":"zug"`) {
		t.Errorf("query with a filter on metadata.lang: %+v", qr.Points)
	}
	var count struct {
		Count int `json:"count"`
	}
	qok(t, call(t, "POST", col+"/points/count", map[string]any{"filter": de}, nil), &count)
	if count.Count != 1 {
		t.Errorf("count of German chunks = %d, want 1", count.Count)
	}
	var scroll struct {
		Points []qpoint `json:"points"`
	}
	qok(t, call(t, "POST", col+"/points/scroll", map[string]any{"limit": 10, "with_payload": true}, nil), &scroll)
	if len(scroll.Points) != 3 {
		t.Errorf("scroll: %d points, want 3", len(scroll.Points))
	}
	qerr(t, call(t, "POST", col+"/points/count", map[string]any{"filter": map[string]any{"must": []any{
		map[string]any{"key": "text", "match": map[string]any{"text": "honey"}}}}}, nil), 400, `"text" cannot be filtered on`)

	// Writes go through /documents.
	qerr(t, call(t, "PUT", col+"/points", map[string]any{"points": []any{map[string]any{"id": 1, "vector": make([]float32, p.Info().Dims)}}}, nil),
		400, "POST /documents")
	qerr(t, call(t, "POST", col+"/points/delete", map[string]any{"points": []any{1}}, nil), 400, "POST /documents")
	qerr(t, call(t, "DELETE", col, nil, nil), 400, "POST /documents")
	qerr(t, call(t, "PUT", col+"/index", map[string]any{"field_name": "title", "field_schema": "keyword"}, nil), 400, "POST /documents")
	qerr(t, call(t, "PUT", col, map[string]any{"vectors": map[string]any{"size": 4, "distance": "Dot"}}, nil), 409, "already exists")

	// A document deleted on the main port leaves the collection.
	if r := call(t, "DELETE", base+"/documents/bees", nil, nil); r.status != 204 {
		t.Fatalf("DELETE /documents/bees: %d %s", r.status, r.body)
	}
	qok(t, call(t, "POST", col+"/points/count", map[string]any{}, nil), &count)
	if count.Count != 2 {
		t.Errorf("count after deleting a document = %d, want 2", count.Count)
	}
}
