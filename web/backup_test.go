package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/search"
	"github.com/edgesearch/edgesearch/store"
	"github.com/edgesearch/edgesearch/web"
)

// startKeyedLibrary serves a library in a new directory behind API key key.
func startKeyedLibrary(t *testing.T, key string) (*library, string) {
	t.Helper()
	l := openLibrary(t, t.TempDir())
	s, base := start(t, web.Config{APIKey: key}, pool(t))
	s.SetEngine(l.engine)
	return l, base
}

// download GETs /backup into a file in a new directory and returns the
// answer's headers with the file's path.
func download(t *testing.T, base string, header map[string]string) (reply, string) {
	t.Helper()
	req, err := http.NewRequest("GET", base+"/backup", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return reply{status: resp.StatusCode, header: resp.Header, body: body}, ""
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		t.Fatalf("downloading the backup: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header}, path
}

// TestBackupWhileWritingHasEveryAcknowledgedDocument takes a snapshot over
// HTTP while another client keeps adding documents: the snapshot is a
// store with everything acknowledged before the request, and the live store
// loses nothing written during it.
func TestBackupWhileWritingHasEveryAcknowledgedDocument(t *testing.T) {
	const key = "secret"
	auth := map[string]string{"Authorization": "Bearer " + key}
	l, base := startKeyedLibrary(t, key)

	var (
		mu    sync.Mutex
		acked []string
	)
	ackedNow := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), acked...)
	}
	ctx, stop := context.WithCancel(context.Background())
	firstFive := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ctx.Err() == nil; i++ {
			id := fmt.Sprintf("note-%03d", i)
			r := call(t, "POST", base+"/documents", map[string]any{"id": id, "title": "Note " + id,
				"text": fmt.Sprintf("Garden note %d: the tomatoes by the south wall need water and the bees visit the lavender.", i)}, auth)
			if r.status != http.StatusCreated {
				t.Errorf("POST %s during the backup: %d %s", id, r.status, r.body)
				return
			}
			mu.Lock()
			acked = append(acked, id)
			mu.Unlock()
			if i == 4 {
				close(firstFive)
			}
		}
	}()
	select {
	case <-firstFive:
	case <-writerDone:
		t.Fatal("the writer stopped before five documents were acknowledged")
	}

	before := ackedNow()
	r, path := download(t, base, auth)
	// Let the writer acknowledge at least one more document after the
	// snapshot, then stop it.
	for len(ackedNow()) <= len(before)+1 {
		select {
		case <-writerDone:
			t.Fatal("the writer stopped early")
		default:
		}
		call(t, "GET", base+"/health", nil, nil)
	}
	stop()
	<-writerDone
	if t.Failed() {
		return
	}

	if r.status != http.StatusOK {
		t.Fatalf("GET /backup: status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q, want application/octet-stream", ct)
	}
	cd := r.header.Get("Content-Disposition")
	if !regexp.MustCompile(`^attachment; filename="edgesearch-\d{8}T\d{6}Z\.db"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q, want attachment with edgesearch-<UTC time>.db", cd)
	}

	snap, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("the snapshot does not open as a store: %v", err)
	}
	defer snap.Close()
	for _, id := range before {
		if _, err := snap.Get(id); err != nil {
			t.Errorf("document %s, acknowledged before the backup, is not in it: %v", id, err)
		}
	}
	docs, chunks, err := snap.Count()
	if err != nil || docs < len(before) || chunks < docs {
		t.Errorf("snapshot counts %d documents, %d chunks, %v; want at least %d documents", docs, chunks, err, len(before))
	}
	// Every document the snapshot lists is whole: it reads back with its text.
	list, total, err := snap.List(0, 1000)
	if err != nil || total != docs || len(list) != docs {
		t.Errorf("snapshot lists %d of %d documents (count %d): %v", len(list), total, docs, err)
	}

	all := ackedNow()
	for _, id := range all {
		if _, err := l.st.Get(id); err != nil {
			t.Errorf("document %s, acknowledged while the backup ran, is missing from the live store: %v", id, err)
		}
	}
	t.Logf("%d documents before the backup, %d in it, %d acknowledged in all", len(before), docs, len(all))

	// The snapshot is searchable once restored into a data directory.
	dir := t.TempDir()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(indexer.StorePath(dir), data, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(indexer.StorePath(dir), store.Options{Model: pool(t).Info().Name, Dims: pool(t).Info().Dims})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e, err := search.Open(context.Background(), st, search.EngineOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Search(context.Background(), search.Query{Text: "lavender", K: 100, Mode: search.Keyword})
	if err != nil || len(res) != docs {
		t.Errorf("keyword search of the restored snapshot found %d documents, want %d: %v", len(res), docs, err)
	}
}

func TestBackupNeedsTheAPIKey(t *testing.T) {
	_, base := startKeyedLibrary(t, "secret")
	for _, header := range []map[string]string{nil, {"Authorization": "Bearer wrong"}} {
		r, _ := download(t, base, header)
		r.wantError(t, http.StatusUnauthorized, "API key")
	}
	r, path := download(t, base, map[string]string{"X-API-Key": "secret"})
	if r.status != http.StatusOK || path == "" {
		t.Fatalf("with the key: status %d: %s", r.status, r.body)
	}
}

// TestBackupFailingBeforeTheFirstByteIsAJSONError: a store that cannot
// start a snapshot, and a server whose store is not open yet, answer with
// JSON errors, not with an empty or partial file.
func TestBackupFailingBeforeTheFirstByteIsAJSONError(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	r, _ := download(t, base, nil)
	r.wantError(t, http.StatusServiceUnavailable, "loading")
	if r.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After")
	}

	l, base := startLibrary(t, t.TempDir())
	l.close(t) // the engine still points at the store, which can no longer be read
	r, _ = download(t, base, nil)
	r.wantError(t, http.StatusInternalServerError, "internal error")
	if cd := r.header.Get("Content-Disposition"); cd != "" {
		t.Errorf("an error answer offers a file: Content-Disposition %q", cd)
	}
}
