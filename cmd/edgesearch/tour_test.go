package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tourMark is the line README.md puts before each shell block that
// TestReadmeTourRunsAsWritten runs.
const tourMark = "<!-- tour: cmd/edgesearch/tour_test.go runs this block -->"

// tourLines returns the command lines of README.md's marked shell blocks in
// order, a line ending in a backslash joined with the next, as sh would.
func tourLines(t *testing.T, readme string) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(readme))
	marked, in, blocks := false, false, 0
	var cont string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == tourMark:
			marked = true
		case marked && !in && line == "```sh":
			in, marked = true, false
			blocks++
		case marked:
			t.Fatalf("README.md: %q is not followed by a ```sh block but by %q", tourMark, line)
		case in && line == "```":
			in = false
		case in && strings.HasSuffix(line, `\`):
			cont += strings.TrimSuffix(line, `\`)
		case in && strings.TrimSpace(cont+line) != "":
			lines = append(lines, cont+line)
			cont = ""
		}
	}
	if blocks < 4 || in {
		t.Fatalf("README.md: %d marked tour blocks (want the 4 of the tour: make run, the CLI, curl, WASI), last one closed: %v", blocks, !in)
	}
	return lines
}

// tourEnv is the environment of a newcomer whose home is home: none of the
// caller's edgesearch settings, Go's caches kept (go run must not download
// wazero again), make's variables from the test's own make run left out.
func tourEnv(t *testing.T, home string, port int) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	g := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(g) != 3 {
		t.Fatalf("go env: %q", out)
	}
	env := []string{"HOME=" + home, "GOCACHE=" + g[0], "GOMODCACHE=" + g[1], "GOPATH=" + g[2], "PORT=" + strconv.Itoa(port)}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "EDGESEARCH_"), strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "MAKE"),
			k == "HOME", k == "PORT", k == "ADDR", k == "MODEL", k == "MODEL_PATH", k == "MFLAGS",
			k == "GOCACHE", k == "GOMODCACHE", k == "GOPATH":
		default:
			env = append(env, kv)
		}
	}
	return env
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestReadmeTourRunsAsWritten runs the tour's marked blocks from README.md
// as a newcomer would, in the repository with a fresh home: `make run` in
// the background (on a free port: every "localhost:8080" of the other lines
// is moved there), then every other line with sh, one after the other,
// against that server. Each must exit 0; the import must report the chunks
// the server embedded, the searches must find the bees, the embeddings must
// be the seed's JSON. The model is the real one, linked where `make run`
// would have fetched it.
func TestReadmeTourRunsAsWritten(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := tourLines(t, string(readme))

	home := t.TempDir()
	cache := filepath.Join(home, ".cache", "edgesearch")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(modelPath(t), filepath.Join(cache, "all-MiniLM-L6-v2-f16.gguf")); err != nil {
		t.Fatal(err)
	}
	docs := filepath.Join(home, "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"bees.md":    "# Healthy bees\n\nCheck the hive for varroa mites in late summer, and treat the colony before winter.",
		"garden.txt": "Greenhouse\n\nTomatoes need deep watering twice a week in summer.",
	} {
		if err := os.WriteFile(filepath.Join(docs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	env := tourEnv(t, home, port)
	here := func(line string) string {
		return strings.ReplaceAll(line, "localhost:8080", "localhost:"+strconv.Itoa(port))
	}

	if !strings.HasPrefix(lines[0], "make run") {
		t.Fatalf("the tour starts with %q, want make run", lines[0])
	}
	var serverOut bytes.Buffer
	srv := exec.Command("sh", "-c", lines[0])
	srv.Dir, srv.Env, srv.Stdout, srv.Stderr = root, env, &serverOut, &serverOut
	// Its own process group, so that stopping it stops make's child too.
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-srv.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			syscall.Kill(-srv.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	health := fmt.Sprintf("http://127.0.0.1:%d/health", port)
	// make builds the binary first; a bound on the waiting, not a measure.
	for ready := false; !ready; {
		select {
		case err := <-exited:
			t.Fatalf("%s ended before serving: %v\n%s", lines[0], err, serverOut.String())
		case <-time.After(200 * time.Millisecond):
		case <-time.After(5 * time.Minute):
			t.Fatalf("%s did not answer %s:\n%s", lines[0], health, serverOut.String())
		}
		if resp, err := http.Get(health); err == nil {
			ready = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}

	chunks := regexp.MustCompile(`imported 2 files \(2 documents, (\d+) chunks\)`)
	for _, line := range lines[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "sh", "-c", here(line))
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("%s: %v\n%s", line, err, out)
			continue
		}
		text := string(out)
		switch {
		case strings.Contains(line, "import ~/docs --server"):
			if m := chunks.FindStringSubmatch(text); m == nil || m[1] == "0" {
				t.Errorf("%s: want the 2 documents and the chunks the server embedded:\n%s", line, text)
			}
		case strings.Contains(line, "search") && strings.Contains(line, "--server"):
			if !strings.Contains(text, "Healthy bees") {
				t.Errorf("%s: the bees are not found:\n%s", line, text)
			}
		case strings.Contains(line, "/search?"):
			if !strings.Contains(text, `"id":"bees"`) {
				t.Errorf("%s: the bees are not found:\n%s", line, text)
			}
		case strings.HasPrefix(line, "curl"):
			if strings.Contains(text, `"error"`) {
				t.Errorf("%s: %s", line, text)
			}
		case strings.Contains(line, "embed") || strings.Contains(line, "wazero"):
			if !strings.HasPrefix(text, `{"n_embedding":384,"embedding":[`) {
				t.Errorf("%s: not the seed's JSON: %.200s", line, text)
			}
		}
		t.Logf("%s\n%.300s", line, text)
	}
}
