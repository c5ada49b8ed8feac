package web_test

import (
	"bufio"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/web"
)

// frameworksRequirements pins the framework packages the scripts below
// import; `make test-deps` installs it.
var frameworksRequirements = filepath.Join("qdranttest", "requirements-frameworks.txt")

// startBothPorts serves one Server with the real model and a collections
// engine on two real 127.0.0.1 ports, as `serve --qdrant-addr` does, and
// returns the main port's base URL (for /v1) and the Qdrant port's.
func startBothPorts(t *testing.T, cfg web.Config) (mainURL, qdrantURL string) {
	t.Helper()
	srv := newQdrantServer(t, cfg, pool(t))
	setLibraryAndCollections(t, srv, t.TempDir())
	return serveMain(t, srv), serveQdrant(t, srv)
}

// requirePinned fails the test unless python3 has every package pinned in
// the requirements file at its pinned version. It never installs (the
// frameworks pull in dozens of packages; `make test-deps` does that) and
// never skips, so CI cannot pass without running the proof.
func requirePinned(t *testing.T, requirements string) string {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatalf("python3 is needed for the framework tests: %v", err)
	}
	pins := readPins(t, requirements)
	names := slices.Sorted(maps.Keys(pins))
	// One interpreter start for every package: name=version lines, or
	// name=MISSING.
	script := `import importlib.metadata as m, sys
for n in sys.argv[1:]:
    try: print(n + "=" + m.version(n))
    except m.PackageNotFoundError: print(n + "=MISSING")`
	out, err := exec.Command(python, append([]string{"-c", script}, names...)...).Output()
	if err != nil {
		t.Fatalf("python3 could not list package versions: %v", err)
	}
	var wrong []string
	for line := range strings.Lines(string(out)) {
		name, have, _ := strings.Cut(strings.TrimSpace(line), "=")
		if want := pins[name]; have != want {
			wrong = append(wrong, name+" "+have+" (want "+want+")")
		}
	}
	if len(wrong) > 0 {
		// The tests run in web/; the hint names the file from the repo root.
		hint := requirements
		if !filepath.IsAbs(hint) {
			hint = filepath.Join("web", hint)
		}
		t.Fatalf("python packages missing or at other versions: %s\ninstall them with: python3 -m pip install -r %s (make test-deps does)",
			strings.Join(wrong, ", "), hint)
	}
	return python
}

// readPins reads name==version lines from a pip requirements file,
// following -r includes relative to it.
func readPins(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if inc, ok := strings.CutPrefix(line, "-r "); ok {
			for k, v := range readPins(t, filepath.Join(filepath.Dir(path), strings.TrimSpace(inc))) {
				pins[k] = v
			}
			continue
		}
		if line == "" {
			continue
		}
		name, version, ok := strings.Cut(line, "==")
		if !ok {
			t.Fatalf("%s: %q is not name==version", path, line)
		}
		pins[strings.TrimSpace(name)] = strings.TrimSpace(version)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return pins
}

// runFrameworkScript runs one script of web/qdranttest against a server
// with an API key on both ports, and fails with its output if it exits
// non-zero.
func runFrameworkScript(t *testing.T, script string) {
	python := requirePinned(t, frameworksRequirements)
	const key = "framework-key"
	mainURL, qdrantURL := startBothPorts(t, web.Config{APIKey: key})
	// A bound on a hung script; each client also has its own timeouts.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script, qdrantURL, mainURL+"/v1", key, pool(t).Info().Name)
	cmd.Dir = "qdranttest"
	// Nothing may reach OpenAI or a telemetry host; the scripts name every
	// URL they use.
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "OPENAI_BASE_URL=", "OPENAI_API_BASE=",
		"LANGCHAIN_TRACING_V2=false", "LANGSMITH_TRACING=false", "TOKENIZERS_PARALLELISM=false")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s (%.1f s):\n%s", script, time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("%s failed: %v", script, err)
	}
}

// TestQdrantFrameworksLangChain runs web/qdranttest/langchain_check.py:
// langchain-qdrant's QdrantVectorStore over the Qdrant port with
// langchain-openai's OpenAIEmbeddings over the main port's /v1. from_texts
// with metadata, a filtered search that returns only matching documents
// with the right one first, scores, a score threshold, maximal marginal
// relevance, get_by_ids, delete and count; then the documents POST
// /documents indexed, read as the collection "documents" (content_payload_key
// "text"), filtered by metadata, and refused add_texts.
func TestQdrantFrameworksLangChain(t *testing.T) {
	runFrameworkScript(t, "langchain_check.py")
}

// TestQdrantFrameworksLlamaIndex runs web/qdranttest/llamaindex_check.py:
// a VectorStoreIndex over llama-index-vector-stores-qdrant's
// QdrantVectorStore on the Qdrant port, embedded by OpenAIEmbedding on the
// main port's /v1. Retrievers (sync and async) with the right node first,
// MetadataFilters, delete_ref_doc, insert, get_nodes and delete_nodes; no
// LLM.
func TestQdrantFrameworksLlamaIndex(t *testing.T) {
	runFrameworkScript(t, "llamaindex_check.py")
}
