package web_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/web"
)

var updateScreenshots = flag.Bool("update-screenshots", false,
	"copy the browser test's screenshots into docs/ for the README")

// TestUIInBrowser runs web/uitest/ui.test.mjs: headless Chromium (Debian's,
// driven by playwright-core) against two real servers on 127.0.0.1 with
// the real model and empty data directories, one of them requiring an API
// key. The script uploads its own documents, so every run sees the same
// data. `make test-deps` installs chromium and the npm packages.
func TestUIInBrowser(t *testing.T) {
	node, chromium := browserTools(t)

	_, base := startUIServer(t, web.Config{UI: web.UI()})
	const key = "ui-test-key"
	_, keyBase := startUIServer(t, web.Config{UI: web.UI(), APIKey: key})

	runBrowserScript(t, node, chromium, 10*time.Minute, "ui.test.mjs", base, keyBase, key)
}

// runBrowserScript runs a node script of web/uitest with Chromium, bounded
// by timeout, passing -update-screenshots on as UI_SCREENSHOTS=docs/, and
// fails the test with the script's output if it fails.
func runBrowserScript(t *testing.T, node, chromium string, timeout time.Duration, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = "uitest"
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	if *updateScreenshots {
		docs, err := filepath.Abs(filepath.Join("..", "docs"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, "UI_SCREENSHOTS="+docs)
	}
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", script, out)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
}

// startUIServer serves the UI and the document routes over a new library in
// a temp directory.
func startUIServer(t *testing.T, cfg web.Config) (*web.Server, string) {
	t.Helper()
	l := openLibrary(t, t.TempDir())
	s, base := start(t, cfg, pool(t))
	s.SetEngine(l.engine)
	return s, base
}
