package embedder

// The guest is also a standalone WASI program: `<runtime> --dir . edgesearch.wasm
// model.gguf "text"...` prints {"n_embedding":384,"embedding":[...]} a line.
// These tests run it under wazero's WASI and under wasmtime (Python package),
// as a person would, and check the vectors against sentence-transformers.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/edgesearch/edgesearch/guest"
)

type cliLine struct {
	N         int       `json:"n_embedding"`
	Embedding []float32 `json:"embedding"`
}

// runWazeroCLI runs the guest's _start with args, the model's folder
// mounted at /m, and returns stdout, stderr and the exit code.
func runWazeroCLI(t *testing.T, stdin string, args ...string) (string, string, uint32) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithArgs(append([]string{"edgesearch.wasm"}, args...)...).
		WithStdin(strings.NewReader(stdin)).WithStdout(&stdout).WithStderr(&stderr).
		WithFSConfig(wazero.NewFSConfig().WithReadOnlyDirMount(filepath.Dir(modelPath(t)), "/m"))
	_, err := rt.InstantiateWithConfig(ctx, guest.Binary, cfg)
	var code uint32
	if err != nil {
		exit, ok := err.(*sys.ExitError)
		if !ok {
			t.Fatalf("guest CLI: %v (stderr: %s)", err, stderr.String())
		}
		code = exit.ExitCode()
	}
	return stdout.String(), stderr.String(), code
}

func parseCLI(t *testing.T, out string) []cliLine {
	t.Helper()
	var lines []cliLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l cliLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("CLI line %q is not the seed's JSON: %v", sc.Text(), err)
		}
		if l.N != 384 || len(l.Embedding) != 384 {
			t.Fatalf("CLI line has n_embedding %d and %d values", l.N, len(l.Embedding))
		}
		lines = append(lines, l)
	}
	return lines
}

func TestWASICLIUnderWazeroMatchesSentenceTransformers(t *testing.T) {
	texts := stFixture(t)[:4]
	args := []string{"/m/" + filepath.Base(modelPath(t))}
	for _, tx := range texts {
		args = append(args, tx.Text)
	}
	out, stderr, code := runWazeroCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := parseCLI(t, out)
	if len(lines) != len(texts) {
		t.Fatalf("%d lines for %d texts", len(lines), len(texts))
	}
	for i, l := range lines {
		if c := cosine(l.Embedding, texts[i].Vector); c < 0.999 {
			t.Errorf("%s: cosine %.6f", texts[i].Name, c)
		}
	}

	// With no texts it reads one a line from stdin.
	out, stderr, code = runWazeroCLI(t, texts[0].Text+"\n"+texts[1].Text+"\n", args[0])
	if code != 0 {
		t.Fatalf("stdin: exit %d: %s", code, stderr)
	}
	if lines := parseCLI(t, out); len(lines) != 2 || cosine(lines[1].Embedding, texts[1].Vector) < 0.999 {
		t.Errorf("stdin: got %d lines", len(lines))
	}
}

func TestWASICLIFailsClearlyOnBadModel(t *testing.T) {
	_, stderr, code := runWazeroCLI(t, "", "/m/does-not-exist.gguf", "hello")
	if code == 0 || !strings.Contains(stderr, "does-not-exist.gguf") {
		t.Errorf("missing model: exit %d, stderr %q; want non-zero and the file named", code, stderr)
	}
	_, stderr, code = runWazeroCLI(t, "")
	if code == 0 || stderr == "" {
		t.Errorf("no arguments: exit %d, stderr %q; want usage and non-zero", code, stderr)
	}
}

func TestWASICLIUnderWasmtime(t *testing.T) {
	wasm := filepath.Join(t.TempDir(), "edgesearch.wasm")
	if err := os.WriteFile(wasm, guest.Binary, 0o644); err != nil {
		t.Fatal(err)
	}
	texts := stFixture(t)[:2]
	cmd := exec.Command("python3", filepath.Join("..", "testdata", "wasmtime_cli.py"),
		wasm, filepath.Dir(modelPath(t)), "/m/"+filepath.Base(modelPath(t)), texts[0].Text, texts[1].Text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wasmtime: %v\n%s", err, stderr.String())
	}
	lines := parseCLI(t, string(out))
	if len(lines) != 2 {
		t.Fatalf("%d lines for 2 texts", len(lines))
	}
	for i, l := range lines {
		if c := cosine(l.Embedding, texts[i].Vector); c < 0.999 {
			t.Errorf("%s: cosine %.6f under wasmtime", texts[i].Name, c)
		}
	}
}
