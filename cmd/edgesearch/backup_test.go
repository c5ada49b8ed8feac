package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

// startKeyedServe runs `edgesearch serve` on dataDir with API key key until
// its documents are loaded, and returns it with its base URL.
func startKeyedServe(t *testing.T, dataDir, key string) (*exec.Cmd, string) {
	t.Helper()
	return startServeEnv(t, dataDir, "EDGESEARCH_API_KEY="+key)
}

// storeIDs opens a store file and returns its document ids.
func storeIDs(t *testing.T, path string) []string {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("%s does not open as a store: %v", path, err)
	}
	defer st.Close()
	docs, _, err := st.List(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	return ids
}

// TestBackupCommand backs up through a running server (--server, with and
// without its key), refuses the locked store and an existing file, then
// backs up the data directory directly once the server stopped, and
// restores the file the way the README says: it searches.
func TestBackupCommand(t *testing.T) {
	const key = "k3y"
	data := t.TempDir()
	out := t.TempDir()
	env := []string{"MODEL_PATH=" + modelPath(t)}

	if r := runBinary(t, "", env, "backup", filepath.Join(out, "none.db"), "--data", data); r.code != 1 || !strings.Contains(r.stderr, "no store to back up") {
		t.Errorf("backup of an empty data directory: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runBinary(t, "", env, "backup"); r.code != 2 {
		t.Errorf("backup without OUT: exit %d, want 2; stderr %q", r.code, r.stderr)
	}

	srv, base := startKeyedServe(t, data, key)
	req, _ := http.NewRequest("POST", base+"/documents", strings.NewReader(`{"documents":[
		{"id":"bees","title":"Keeping honeybees","text":"A beekeeper inspects the hive every week for the queen and capped brood."},
		{"id":"tires","title":"Changing a flat tire","text":"Loosen the lug nuts, lift the car with the jack and swap in the spare wheel."}]}`))
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

	viaServer := filepath.Join(out, "via-server.db")
	r := runBinary(t, "", env, "backup", viaServer, "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "--server") || !strings.Contains(r.stderr, "locked") {
		t.Errorf("local backup while the server runs: exit %d, stderr %q; want advice to use --server", r.code, r.stderr)
	}
	r = runBinary(t, "", env, "backup", viaServer, "--server", base)
	if r.code != 1 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "--api-key") {
		t.Errorf("backup --server without the key: exit %d, stderr %q", r.code, r.stderr)
	}
	if left, _ := filepath.Glob(filepath.Join(out, "*")); len(left) != 0 {
		t.Errorf("failed backups left files behind: %v", left)
	}
	r = runBinary(t, "", env, "backup", viaServer, "--server", base, "--api-key", key)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "wrote "+viaServer+": 2 documents, 2 chunks, ") {
		t.Fatalf("backup --server: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if ids := storeIDs(t, viaServer); strings.Join(ids, ",") != "bees,tires" {
		t.Errorf("the server's snapshot holds %v, want bees and tires", ids)
	}

	// An existing file is kept unless --force; the key may come from the environment.
	before, err := os.ReadFile(viaServer)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(viaServer, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyEnv := append([]string{"EDGESEARCH_API_KEY=" + key}, env...)
	r = runBinary(t, "", keyEnv, "backup", viaServer, "--server", base)
	if got, _ := os.ReadFile(viaServer); r.code != 1 || !strings.Contains(r.stderr, "--force") || string(got) != "precious" {
		t.Errorf("backup over an existing file: exit %d, stderr %q, file now %.20q", r.code, r.stderr, got)
	}
	r = runBinary(t, "", keyEnv, "backup", viaServer, "--server", base, "--force")
	if got, _ := os.ReadFile(viaServer); r.code != 0 || len(got) != len(before) {
		t.Errorf("backup --force: exit %d, stderr %q, %d bytes, want %d", r.code, r.stderr, len(got), len(before))
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}

	// With the server stopped, the data directory is backed up directly.
	local := filepath.Join(out, "local.db")
	r = runBinary(t, "", env, "backup", local, "--data", data)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "wrote "+local+": 2 documents, 2 chunks, ") {
		t.Fatalf("local backup: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(local + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("%s.tmp is left behind: %v", local, err)
	}
	if fi, err := os.Stat(local); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: %v, %v; want 0600, it holds every document", fi.Mode(), err)
	}
	r = runBinary(t, "", env, "backup", indexer.StorePath(data), "--data", data, "--force")
	if r.code != 1 || !strings.Contains(r.stderr, "live store") {
		t.Errorf("backup onto the live store: exit %d, stderr %q", r.code, r.stderr)
	}

	// Restore as the README says: copy the file to DIR/edgesearch.db.
	restored := t.TempDir()
	snap, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(indexer.StorePath(restored), snap, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, "", env, "search", "insects that make honey", "--data", restored, "-k", "1")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "1. Keeping honeybees  (score ") {
		t.Errorf("search of the restored backup: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
