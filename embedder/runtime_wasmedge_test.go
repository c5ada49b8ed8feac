//go:build wasmedge

package embedder

// The guest on WasmEdge, checked against the same guest on wazero. The
// oracle tests (oracle_test.go) run on WasmEdge too when
// EDGESEARCH_RUNTIME=wasmedge: make test-wasmedge runs both.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/guest"
)

// wasmedgeTexts are short and long enough to go through every kernel
// shape, few enough for the interpreter.
var wasmedgeTexts = []string{
	"hello world",
	"The quick brown fox jumps over the lazy dog.",
	"Ünïcödé, emoji 🙂 and CJK 日本語 in one text",
	strings.Repeat("A longer passage about search engines and embeddings. ", 8),
}

// wazeroVectors embeds texts on wazero, the reference.
func wazeroVectors(t *testing.T, texts []string) []Embedding {
	t.Helper()
	p, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 1, Runtime: "wazero"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	embs, err := p.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return embs
}

// compareVectors checks got against want by cosine and token counts.
func compareVectors(t *testing.T, what string, got, want []Embedding) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d vectors, want %d", what, len(got), len(want))
	}
	worst := 1.0
	for i := range want {
		c := cosine(got[i].Vector, want[i].Vector)
		worst = min(worst, c)
		if c < 0.9999 {
			t.Errorf("%s: text %d: cosine %.7f against wazero, want ≥ 0.9999", what, i, c)
		}
		if got[i].Tokens != 0 && got[i].Tokens != want[i].Tokens { // the CLI prints no counts
			t.Errorf("%s: text %d: %d tokens, wazero %d", what, i, got[i].Tokens, want[i].Tokens)
		}
	}
	t.Logf("%s: %d texts, worst cosine %.7f against wazero", what, len(want), worst)
}

func TestWasmEdgeVectorsMatchWazero(t *testing.T) {
	want := wazeroVectors(t, wasmedgeTexts)
	for _, name := range []string{"wasmedge", "wasmedge-interp"} {
		t.Run(name, func(t *testing.T) {
			p, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 1, Runtime: name})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			got, err := p.Embed(context.Background(), wasmedgeTexts)
			if err != nil {
				t.Fatal(err)
			}
			compareVectors(t, name, got, want)
			toks, err := p.Tokenize(context.Background(), wasmedgeTexts[2])
			if err != nil {
				t.Fatal(err)
			}
			if len(toks)+2 != want[2].Tokens {
				t.Errorf("Tokenize gave %d pieces, the embedding %d tokens with [CLS] and [SEP]", len(toks), want[2].Tokens)
			}
		})
	}
}

// On the interpreter, a call whose context ends is stopped inside the
// guest, returns the context's error as a trap (so the pool drops the
// instance), and a new instance works. On both runtimes a call is not
// started once its context has ended.
func TestWasmEdgeCallStopsWhenContextEnds(t *testing.T) {
	model, err := openModel(modelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	ctx := context.Background()
	start := func(t *testing.T, name string) (guestRuntime, *instance) {
		t.Helper()
		rt, err := newGuestRuntime(ctx, name, guest.Binary, cacheDir(""))
		if err != nil {
			t.Fatal(err)
		}
		in, err := newInstance(ctx, rt, model, 0, false)
		if err != nil {
			rt.close(ctx)
			t.Fatal(err)
		}
		return rt, in
	}
	t.Run("interpreter stops a running call", func(t *testing.T) {
		rt, in := start(t, "wasmedge-interp")
		defer rt.close(ctx)
		// 8 texts of 256 tokens: a minute of interpreting, so the
		// cancel lands inside the call.
		texts := make([]string, 8)
		for i := range texts {
			texts[i] = strings.Repeat("many words make a long text ", 80)
		}
		cctx, cancel := context.WithCancel(ctx)
		stop := time.AfterFunc(200*time.Millisecond, cancel)
		defer stop.Stop()
		begin := time.Now()
		_, err := in.embedOneCall(cctx, texts)
		took := time.Since(begin)
		in.close(ctx)
		if err == nil {
			t.Fatalf("the call finished (in %v) before its context ended; make the work larger", took)
		}
		if !errors.Is(err, context.Canceled) || !isTrap(err) {
			t.Fatalf("error %v: want context.Canceled, reported as a trap", err)
		}
		// Stopped inside the guest, not waited for and then dropped.
		if !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("error %v: the guest was not interrupted", err)
		}
		t.Logf("stopped after %v: %v", took, err)
		in, err = newInstance(ctx, rt, model, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		defer in.close(ctx)
		if _, err := in.embed(ctx, []string{"after a stop"}); err != nil {
			t.Errorf("a new instance after the stop: %v", err)
		}
	})
	for _, name := range []string{"wasmedge", "wasmedge-interp"} {
		t.Run(name+" does not start a call", func(t *testing.T) {
			rt, in := start(t, name)
			defer rt.close(ctx)
			defer in.close(ctx)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := in.embed(cctx, []string{"never embedded"}); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "not called") {
				t.Errorf("error %v: want context.Canceled before the call", err)
			}
		})
	}
}

// An instance cannot grow its memory past the bound: loading a model that
// does not fit is an error from the guest's allocator, not a crash.
func TestWasmEdgeMemoryBoundIsAnError(t *testing.T) {
	saved := wasmedgeMaxPages
	wasmedgeMaxPages = 32 << 20 >> 16 // 32 MiB, under the f16 model's 45 MB
	defer func() { wasmedgeMaxPages = saved }()
	_, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 1, Runtime: "wasmedge-interp", CacheDir: "-"})
	if err == nil {
		t.Fatal("the model loaded into 32 MiB")
	}
	if !strings.Contains(err.Error(), "guest is out of memory") {
		t.Errorf("error %q should say the guest is out of memory", err)
	}
	t.Log(err)
}

// The AOT compile happens once per cache dir: a second runtime loads the
// shared object the first one wrote.
func TestWasmEdgeAOTIsCompiledOnceIntoTheCacheDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stamp := func() (string, time.Time) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "wasmedge", "*.so"))
		if len(files) != 1 {
			t.Fatalf("cache holds %v, want one shared object", files)
		}
		st, err := os.Stat(files[0])
		if err != nil {
			t.Fatal(err)
		}
		return files[0], st.ModTime()
	}
	var names [2]string
	var times [2]time.Time
	for i := range 2 {
		start := time.Now()
		rt, err := newGuestRuntime(ctx, "wasmedge", guest.Binary, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("runtime %d ready in %v", i+1, time.Since(start))
		names[i], times[i] = stamp()
		rt.close(ctx)
	}
	if names[0] != names[1] || !times[0].Equal(times[1]) {
		t.Errorf("second runtime rewrote the shared object: %s %v, then %s %v", names[0], times[0], names[1], times[1])
	}
}

// wasmedgeCLI finds the wasmedge command embedder/wasmedge/build.sh
// installs: $WASMEDGE_PREFIX/bin, ~/.cache/edgesearch/wasmedge/bin, PATH.
func wasmedgeCLI(t *testing.T) string {
	t.Helper()
	var dirs []string
	if p := os.Getenv("WASMEDGE_PREFIX"); p != "" {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	if base, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(base, "edgesearch", "wasmedge", "bin"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "wasmedge"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("wasmedge"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no wasmedge command: run make wasmedge")
	}
	t.Skip("no wasmedge command (make wasmedge builds it)")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// The guest is also a WASI command: under the wasmedge CLI, interpreted and
// compiled ahead of time, it prints the vectors the embedder computes.
func TestWasmEdgeCLIRunsTheGuestStandalone(t *testing.T) {
	cli := wasmedgeCLI(t)
	want := wazeroVectors(t, wasmedgeTexts)
	model := modelPath(t)
	wasm := filepath.Join(t.TempDir(), "edgesearch.wasm")
	if err := os.WriteFile(wasm, guest.Binary, 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(t.TempDir(), "edgesearch.so")
	if out, err := exec.Command(cli, "compile", wasm, so).CombinedOutput(); err != nil {
		t.Fatalf("wasmedge compile: %v\n%s", err, out)
	}
	for _, mod := range []struct{ name, path string }{{"interpreter", wasm}, {"aot", so}} {
		t.Run(mod.name, func(t *testing.T) {
			// The model's directory is the guest's /model. Without
			// --run-mode aot, wasmedge interprets the wasm embedded in
			// the shared object.
			args := append([]string{"--run-mode", mod.name, "--dir", "/model:" + filepath.Dir(model), mod.path, "/model/" + filepath.Base(model)}, wasmedgeTexts...)
			cmd := exec.Command(cli, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("wasmedge %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
			}
			var got []Embedding
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if !bytes.HasPrefix(sc.Bytes(), []byte("{")) {
					continue // wasmedge logs some steps on standard output
				}
				var line struct {
					N         int       `json:"n_embedding"`
					Embedding []float32 `json:"embedding"`
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				if line.N != len(line.Embedding) {
					t.Fatalf("n_embedding %d with %d values", line.N, len(line.Embedding))
				}
				got = append(got, Embedding{Vector: line.Embedding})
			}
			compareVectors(t, "wasmedge CLI "+mod.name, got, want)
		})
	}
}
