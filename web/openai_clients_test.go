package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/web"
)

// openAIClientsRequirements pins the clients testdata/openai_clients.py
// drives; `make test-deps` installs them.
var openAIClientsRequirements = filepath.Join("..", "testdata", "openai_clients_requirements.txt")

// The clients people point at an OpenAI-compatible server, with their
// defaults, against one server with an API key: LangChain's
// OpenAIEmbeddings (token ids from tiktoken, 1,000 texts in one request),
// chromadb's OpenAIEmbeddingFunction adding 300 documents, and the openai
// client's models.retrieve, error messages and the truncation report. It
// fails, never skips, when the pinned packages are missing.
func TestOpenAIClients(t *testing.T) {
	python := requirePinned(t, openAIClientsRequirements)
	script, err := filepath.Abs(filepath.Join("..", "testdata", "openai_clients.py"))
	if err != nil {
		t.Fatal(err)
	}
	const key = "clients-key"
	_, base := start(t, web.Config{APIKey: key}, pool(t))
	for _, check := range []string{"langchain", "chroma", "openai"} {
		t.Run(check, func(t *testing.T) {
			// A bound on a hung script; the clients have their own timeouts.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, script, check, base+"/v1", key)
			cmd.Dir = t.TempDir()
			cmd.Env = clientEnv()
			start := time.Now()
			out, err := cmd.CombinedOutput()
			t.Logf("%s (%.1f s):\n%s", check, time.Since(start).Seconds(), out)
			if err != nil {
				t.Fatalf("openai_clients.py %s: %v", check, err)
			}
		})
	}
}

// clientEnv is the environment without the OpenAI client settings a
// developer may have exported (the scripts name the server themselves, and
// chromadb reads OPENAI_API_KEY even when empty), and with telemetry off,
// so nothing reaches a host but the test server.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENAI_") && !strings.HasPrefix(kv, "TIKTOKEN_") {
			env = append(env, kv)
		}
	}
	return append(env, "ANONYMIZED_TELEMETRY=False", "LANGCHAIN_TRACING_V2=false", "LANGSMITH_TRACING=false",
		"TOKENIZERS_PARALLELISM=false")
}
