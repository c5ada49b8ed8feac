package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/edgesearch/edgesearch/web"
)

// startServe runs `edgesearch serve` on dataDir until the documents are
// loaded and returns its address; the test stops it with SIGTERM.
func startServe(t *testing.T, dataDir string) (*exec.Cmd, string) {
	t.Helper()
	return startServeEnv(t, dataDir)
}

// startServeEnv is startServe with more environment variables (KEY=value).
func startServeEnv(t *testing.T, dataDir string, env ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--log-format", "json", "--data", dataDir)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "MODEL_PATH=" + modelPath(t)}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := bufio.NewScanner(stderr)
	addrRE := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	var addr string
	var seen []string
	for logs.Scan() {
		line := logs.Text()
		seen = append(seen, line)
		if m := addrRE.FindStringSubmatch(line); m != nil && addr == "" {
			addr = m[1]
		}
		if strings.Contains(line, `"msg":"documents loaded"`) {
			break
		}
	}
	if addr == "" {
		t.Fatalf("serve never loaded the documents:\n%s", strings.Join(seen, "\n"))
	}
	go io.Copy(io.Discard, stderr)
	return cmd, "http://" + addr
}

// TestSearchCommand pins `edgesearch search` against a running server
// (--server), the locked-store advice while it runs, and local search of
// the same data directory after it stopped.
func TestSearchCommand(t *testing.T) {
	data := t.TempDir()
	env := []string{"MODEL_PATH=" + modelPath(t)}
	if r := runBinary(t, "", env, "search", "anything", "--data", data); r.code != 1 || !strings.Contains(r.stderr, "edgesearch import") {
		t.Errorf("search of an empty data directory: exit %d, stderr %q; want advice to import", r.code, r.stderr)
	}

	srv, base := startServe(t, data)
	body := `{"documents":[
		{"id":"bees","title":"Keeping honeybees","text":"A beekeeper inspects the hive every week for the queen and capped brood.","metadata":{"topic":"nature"}},
		{"id":"tires","title":"Changing a flat tire","text":"Loosen the lug nuts, lift the car with the jack and swap in the spare wheel.","metadata":{"topic":"cars"}}]}`
	resp, err := http.Post(base+"/documents", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /documents: %d", resp.StatusCode)
	}

	r := runBinary(t, "", env, "search", "insects that make honey", "--server", base, "--json", "-k", "1")
	var got web.SearchResponse
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil || len(got.Results) != 1 || got.Results[0].ID != "bees" {
		t.Errorf("search --server --json: exit %d, %v, stdout %q, stderr %q", r.code, err, r.stdout, r.stderr)
	}
	r = runBinary(t, "", env, "search", "beekeeper", "--data", data)
	if r.code != 1 || !strings.Contains(r.stderr, "--server") || !strings.Contains(r.stderr, "locked") {
		t.Errorf("local search while the server runs: exit %d, stderr %q; want advice to use --server", r.code, r.stderr)
	}
	r = runBinary(t, "", env, "search", "tea", "--server", base, "--mode", "fuzzy")
	if r.code != 2 || !strings.Contains(r.stderr, "fuzzy") {
		t.Errorf("unknown mode: exit %d, stderr %q", r.code, r.stderr)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}

	// Local search: plain output (not a terminal, so no escapes), the graph
	// the server saved is loaded rather than rebuilt.
	r = runBinary(t, "", env, "search", "my car has a puncture", "--data", data, "-k", "1")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "1. Changing a flat tire  (score ") || strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("local search: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "rebuilding") {
		t.Errorf("local search rebuilt the graph the server saved: %q", r.stderr)
	}
	r = runBinary(t, "", env, "search", "lug nuts", "--data", data, "--mode", "keyword", "--json", "--filter", "topic=cars")
	if r.code != 0 || !strings.Contains(r.stdout, "<mark>lug</mark> <mark>nuts</mark>") ||
		!strings.Contains(r.stdout, `"passage":{"text":`) || !strings.Contains(r.stdout, `"facets":{"documents":1,`) {
		t.Errorf("keyword --json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, "", env, "search", "lug nuts", "--data", data, "--filter", "topic")
	if r.code != 2 || !strings.Contains(r.stderr, "key=value") {
		t.Errorf("bad filter: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRenderPassage pins how the CLI prints a passage: matches in bold on a
// terminal only, by their byte offsets (emoji before them included), and
// never a control character from the document, which could restyle or
// clear the terminal.
func TestRenderPassage(t *testing.T) {
	text := "🐝 bees\x1b[2J and café"
	p := web.Passage{Text: text, Matches: [][2]int{{5, 9}, {len(text) - 5, len(text)}, {3, 99}}}
	if got, want := renderPassage(p, true), "🐝 \x1b[1mbees\x1b[0m [2J and \x1b[1mcafé\x1b[0m"; got != want {
		t.Errorf("terminal: %q, want %q", got, want)
	}
	if got, want := renderPassage(p, false), "🐝 bees [2J and café"; got != want {
		t.Errorf("not a terminal: %q, want %q", got, want)
	}
}
