package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
)

// postAndStop starts serve on data, stores docs (a JSON array), and stops
// it with SIGTERM, which saves the search graph beside the store.
func postAndStop(t *testing.T, data, docs string) {
	t.Helper()
	const key = "k3y"
	srv, base := startKeyedServe(t, data, key)
	req, _ := http.NewRequest("POST", base+"/documents", strings.NewReader(`{"documents":`+docs+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /documents: %d", resp.StatusCode)
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
}

// backup --help's restore steps are the ones that work: copying a backup
// over the store of a data directory whose saved graph is newer than the
// backup needs no deleting of hnsw.graph; the stale graph is noticed and
// rebuilt, and search answers from the restored documents alone.
func TestRestoreOverANewerGraphRebuildsIt(t *testing.T) {
	env := []string{"MODEL_PATH=" + modelPath(t)}
	help := runBinary(t, "", nil, "backup", "--help")
	if help.code != 0 || strings.Contains(help.stdout, "delete DATA") || !strings.Contains(help.stdout, "rebuil") {
		t.Fatalf("backup --help should say the graph is rebuilt, not that it must be deleted:\n%s", help.stdout)
	}

	data := t.TempDir()
	postAndStop(t, data, `[{"id":"bees","title":"Keeping honeybees","text":"A beekeeper inspects the hive every week for the queen and capped brood."}]`)
	snap := filepath.Join(t.TempDir(), "snap.db")
	if r := runBinary(t, "", env, "backup", snap, "--data", data); r.code != 0 {
		t.Fatalf("backup: exit %d, stderr %q", r.code, r.stderr)
	}
	postAndStop(t, data, `[{"id":"wasps","title":"Wasp nests","text":"Paper wasps build nests of chewed wood fibre under the eaves."}]`)
	graph := filepath.Join(data, search.GraphFile)
	if _, err := os.Stat(graph); err != nil {
		t.Fatalf("serve saved no graph to rebuild: %v", err)
	}

	// Restore as backup --help says: the server is stopped; copy the file
	// to DATA/edgesearch.db and leave hnsw.graph where it is.
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(indexer.StorePath(data), b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runBinary(t, "", env, "search", "insects that build nests", "--data", data, "-k", "5")
	if r.code != 0 || !strings.Contains(r.stdout, "Keeping honeybees") || strings.Contains(r.stdout, "Wasp") {
		t.Fatalf("search after restore: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "stale") {
		t.Errorf("the newer graph was not noticed as stale: stderr %q", r.stderr)
	}
}
