package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/search/weaviate"
	"github.com/edgesearch/edgesearch/search/weaviate/weaviatetest"
)

// TestServeDocumentsOnWeaviateSurviveAKill: with --backend the documents
// are indexed in Weaviate, in a collection named after the store; a
// document accepted while the cluster is down, by a server then killed
// with SIGKILL, reaches the cluster once both are back.
func TestServeDocumentsOnWeaviateSurviveAKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	node := weaviatetest.StartNode(t)
	client, err := weaviate.New(weaviate.Options{URL: node.URL(0)})
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	backend := "EDGESEARCH_BACKEND=weaviate://" + strings.TrimPrefix(node.URL(0), "http://")

	post := func(base string, docs ...map[string]any) {
		t.Helper()
		body, _ := json.Marshal(docs)
		resp, err := http.Post(base+"/documents", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /documents: %d %s", resp.StatusCode, b)
		}
	}
	// settled polls /search until the backend holds every write, then
	// returns that search's result ids.
	settled := func(base, q string) []string {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			resp, err := http.Get(base + "/search?mode=keyword&q=" + q)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Results []struct{ ID string } `json:"results"`
			}
			json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Edgesearch-Pending") == "0" {
				var ids []string
				for _, r := range got.Results {
					ids = append(ids, r.ID)
				}
				return ids
			}
			if time.Now().After(deadline) {
				t.Fatalf("backend not settled after a minute: %d, pending %q", resp.StatusCode, resp.Header.Get("X-Edgesearch-Pending"))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	documentsClass := func() string {
		t.Helper()
		infos, err := client.DocumentsIndex().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if strings.HasPrefix(in.Name, "documents-") {
				return in.Name
			}
		}
		t.Fatalf("no documents-… collection on the cluster: %+v", infos)
		return ""
	}

	cmd, base := startServeEnv(t, data, backend)
	post(base, map[string]any{"id": "bees", "text": "A beekeeper inspects the hive every week in spring."})
	if ids := settled(base, "beekeeper"); strings.Join(ids, ",") != "bees" {
		t.Fatalf("search before the outage: %v", ids)
	}
	class := documentsClass()

	if err := node.Stop(0, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	post(base, map[string]any{"id": "tires", "text": "Loosen the lug nuts before lifting the car with the jack."})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	if err := node.Restart(ctx, 0); err != nil {
		t.Fatal(err)
	}
	_, base = startServeEnv(t, data, backend)
	if ids := settled(base, "lug+nuts"); strings.Join(ids, ",") != "tires" {
		t.Fatalf("the document accepted during the outage: search gives %v", ids)
	}
	if n, err := client.DocumentsIndex().Count(ctx, class, nil); err != nil || n != 2 {
		t.Fatalf("collection %s holds %d chunks, %v; want 2", class, n, err)
	}
}
