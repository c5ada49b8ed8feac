package web_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/web"
)

// TestForeignPagesCannotChangeOrReadTheServerInBrowser runs
// web/uitest/crossorigin.test.mjs: headless Chromium, the user's browser,
// opens a page on another site that attacks a server with the default
// configuration on 127.0.0.1 (no-cors text/plain and multipart POSTs,
// DELETEs, a self-submitting form), a page whose name is rebound to the
// server's address reads it, and the server's own UI uploads and searches.
// Then the API must show the stored document unchanged and nothing but
// the UI's upload added.
func TestForeignPagesCannotChangeOrReadTheServerInBrowser(t *testing.T) {
	node, chromium := browserTools(t)
	_, base := startUIServer(t, web.Config{UI: web.UI()})
	// One victim for the fetches and the DELETEs, one for the form, so
	// each attack that got through shows on its own.
	victims := map[string]string{
		"diary":  "Dear diary, the bees swarmed on Tuesday.",
		"letter": "Dear aunt, the honey harvest was good this year.",
	}
	for id, text := range victims {
		addDocs(t, base, map[string]any{"id": id, "title": id, "text": text})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "crossorigin.test.mjs", base, "diary", "letter")
	cmd.Dir = "uitest"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("crossorigin.test.mjs:\n%s", out)
	if err != nil {
		t.Errorf("browser checks failed: %v", err)
	}

	for id, text := range victims {
		var doc struct{ Title, Text string }
		r := call(t, "GET", base+"/documents/"+id, nil, nil)
		if r.status != http.StatusOK {
			t.Errorf("a foreign page deleted %s: GET /documents/%s: %d %s", id, id, r.status, r.body)
			continue
		}
		r.decode(t, &doc)
		if doc.Text != text || doc.Title != id {
			t.Errorf("a foreign page changed %s: title %q, text %q", id, doc.Title, doc.Text)
		}
	}
	var list struct {
		Documents []struct{ ID, Source string }
		Total     int
	}
	call(t, "GET", base+"/documents", nil, nil).decode(t, &list)
	var got []string
	for _, d := range list.Documents {
		got = append(got, d.ID+" ("+d.Source+")")
		if _, victim := victims[d.ID]; !victim && d.Source != "ui-note.txt" {
			t.Errorf("a foreign page planted document %s (source %q)", d.ID, d.Source)
		}
	}
	if list.Total > len(victims)+1 {
		t.Errorf("documents %s, want the victims and the UI's upload only", strings.Join(got, ", "))
	}
}

// browserTools finds node and Chromium with playwright-core for the browser
// tests, failing with the command that installs what is missing.
func browserTools(t *testing.T) (node, chromium string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed for the browser test (run `make test-deps`): %v", err)
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("chromium is needed for the browser test (run `make test-deps`): %v", err)
	}
	if _, err := os.Stat(filepath.Join("uitest", "node_modules", "playwright-core")); err != nil {
		t.Fatalf("playwright-core is missing (run `make test-deps`, or npm ci --prefix web/uitest): %v", err)
	}
	return node, chromium
}
