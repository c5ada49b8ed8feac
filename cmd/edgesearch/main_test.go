package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/edgesearch/edgesearch/embedder/model"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// binary is the edgesearch command built once for all tests.
var binary string

// releaseTags are the build tags of `make build` (GOFLAGS in the Makefile).
const releaseTags = "nomsgpack"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgesearch-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "edgesearch")
	// The tags of the binary that ships (the Makefile's GOFLAGS), whatever
	// the environment says.
	if out, err := exec.Command("go", "build", "-tags", releaseTags, "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// modelPath is the real model: $EDGESEARCH_MODEL, else the default location.
func modelPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("EDGESEARCH_MODEL")
	if p == "" {
		p = model.DefaultPath()
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("model %s is missing: run `make model` or set EDGESEARCH_MODEL: %v", p, err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs the built command with args, stdin and a clean environment
// (plus env), so the tests do not depend on the caller's EDGESEARCH_*.
func runBinary(t *testing.T, stdin string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

// seedLines parses the embed output and checks each line's exact shape.
func seedLines(t *testing.T, out string) [][]float32 {
	t.Helper()
	var vecs [][]float32
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, `{"n_embedding":384,"embedding":[`) || !strings.HasSuffix(line, "]}") {
			t.Fatalf("line %d is not the seed's shape: %.80s", i+1, line)
		}
		var v struct {
			N int       `json:"n_embedding"`
			E []float32 `json:"embedding"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		var s float64
		for _, x := range v.E {
			s += float64(x) * float64(x)
		}
		if v.N != 384 || len(v.E) != 384 || math.Abs(math.Sqrt(s)-1) > 1e-4 {
			t.Fatalf("line %d: n_embedding %d, %d values, norm %v", i+1, v.N, len(v.E), math.Sqrt(s))
		}
		vecs = append(vecs, v.E)
	}
	return vecs
}

func TestEmbedArgsAndStdinPrintTheSameSeedLines(t *testing.T) {
	m := modelPath(t)
	args := runBinary(t, "", nil, "embed", "--model", m, "Hello world", "A second text.")
	if args.code != 0 {
		t.Fatalf("exit %d: %s", args.code, args.stderr)
	}
	if n := len(seedLines(t, args.stdout)); n != 2 {
		t.Fatalf("%d lines for 2 texts", n)
	}

	// Blank lines are skipped; CRLF input is read as lines; model from the env.
	stdin := runBinary(t, "Hello world\n\n   \r\nA second text.\r\n", []string{"EDGESEARCH_MODEL=" + m}, "embed")
	if stdin.code != 0 {
		t.Fatalf("exit %d: %s", stdin.code, stdin.stderr)
	}
	if stdin.stdout != args.stdout {
		t.Fatalf("stdin output differs from args output:\n%.200s\n%.200s", stdin.stdout, args.stdout)
	}
}

func TestEmbedWarnsAboutTruncation(t *testing.T) {
	r := runBinary(t, "", nil, "embed", "--model", modelPath(t), strings.Repeat("word ", 1000))
	if r.code != 0 || len(seedLines(t, r.stdout)) != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "text 1 truncated") {
		t.Fatalf("no truncation warning: %q", r.stderr)
	}
}

func TestModelInfoDescribesTheModel(t *testing.T) {
	m := modelPath(t)
	text := runBinary(t, "", nil, "model", "info", m)
	if text.code != 0 || !strings.Contains(text.stdout, "bert") || !strings.Contains(text.stdout, "384") {
		t.Fatalf("exit %d: %s%s", text.code, text.stdout, text.stderr)
	}
	for _, args := range [][]string{{"model", "info", "--json", m}, {"model", "info", "--json", "--model", m}} {
		r := runBinary(t, "", nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		var info map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &info); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, r.stdout)
		}
		if info["path"] != m || info["dims"] != 384.0 || info["architecture"] != "bert" {
			t.Fatalf("%v: %s", args, r.stdout)
		}
	}
}

func TestFailuresExitNonZeroWithAMessage(t *testing.T) {
	m := modelPath(t)
	missing := filepath.Join(t.TempDir(), "none.gguf")
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unknown flag", nil, []string{"embed", "--nope"}, 2, "--nope"},
		{"bad flag value", nil, []string{"serve", "--threads", "x"}, 2, "threads"},
		{"bad env value", []string{"EDGESEARCH_THREADS=x"}, []string{"embed", "--model", m, "hi"}, 2, "EDGESEARCH_THREADS"},
		{"empty text", nil, []string{"embed", "--model", m, ""}, 2, "text 1 is empty"},
		{"extra argument", nil, []string{"version", "extra"}, 2, "no arguments"},
		{"bad convert type", nil, []string{"model", "convert", "a", "b", "--type", "q4"}, 2, "q4"},
		{"missing model for embed", nil, []string{"embed", "--model", missing, "hi"}, 1, "edgesearch model pull"},
		{"missing model for serve", []string{"MODEL_PATH=" + missing}, []string{"serve", "--addr", "127.0.0.1:0"}, 1, "edgesearch model pull"},
		{"missing model for info", nil, []string{"model", "info", missing}, 1, "edgesearch model pull"},
		{"model info on a non-GGUF file", nil, []string{"model", "info", "main.go"}, 1, "main.go"},
		{"convert a folder that is not a model", nil, []string{"model", "convert", ".", filepath.Join(t.TempDir(), "o.gguf")}, 1, "convert"},
		{"model is not GGUF", nil, []string{"embed", "--model", "main.go", "hi"}, 1, "main.go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBinary(t, "", tt.env, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) || !strings.HasPrefix(r.stderr, "edgesearch: ") {
				t.Fatalf("stderr %q does not say %q", r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Fatalf("stdout %q, want nothing on failure", r.stdout)
			}
		})
	}
}

func TestVersionPrintsTheVersion(t *testing.T) {
	r := runBinary(t, "", nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "edgesearch dev ") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

// serve must come up, answer with the real model, honour the seed's
// variable names, and exit 0 on SIGTERM after a graceful shutdown.
func TestServeAnswersAndStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--log-format", "json")
	cmd.Env = []string{"HOME=" + t.TempDir(), "MODEL_PATH=" + modelPath(t), "EDGESEARCH_API_KEY=k"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	// Read the log until the model is loaded; it names the address.
	logs := bufio.NewScanner(stderr)
	addrRE := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	var addr string
	var seen []string
	loaded := false
	for logs.Scan() {
		line := logs.Text()
		seen = append(seen, line)
		if m := addrRE.FindStringSubmatch(line); m != nil && addr == "" {
			addr = m[1]
		}
		loaded = loaded || strings.Contains(line, `"msg":"model loaded"`)
		if loaded && addr != "" {
			break
		}
	}
	if addr == "" || !loaded {
		t.Fatalf("serve never logged its address and loaded the model:\n%s", strings.Join(seen, "\n"))
	}
	go io.Copy(io.Discard, stderr) // keep the pipe drained

	req, _ := http.NewRequest("POST", "http://"+addr+"/embed", strings.NewReader(`{"text":"Hello world"}`))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(body, []byte(`{"n_embedding":384,"embedding":[`)) {
		t.Fatalf("POST /embed: %d %.100s", resp.StatusCode, body)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v, want exit 0", err)
	}
}

func TestModelPullKeepsAValidModel(t *testing.T) {
	m := modelPath(t)
	r := runBinary(t, "", []string{"EDGESEARCH_MODEL=" + m}, "model", "pull")
	if r.code != 0 || r.stdout != m+"\n" || !strings.Contains(r.stderr, "already present") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
