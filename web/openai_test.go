package web_test

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/edgesearch/edgesearch/web"
)

type openAIList struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Object    string `json:"object"`
		Index     int    `json:"index"`
		Embedding any    `json:"embedding"`
	} `json:"data"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// floats reads a float-format embedding out of a decoded answer.
func floats(t *testing.T, v any) []float32 {
	t.Helper()
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("embedding is %T, want an array", v)
	}
	out := make([]float32, len(arr))
	for i, x := range arr {
		out[i] = float32(x.(float64))
	}
	return out
}

// fromBase64 decodes OpenAI's base64 format: little-endian float32 bytes.
func fromBase64(t *testing.T, v any) []float32 {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("embedding is %T, want a base64 string", v)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("embedding is not base64 of float32s: %v (%d bytes)", err, len(b))
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func TestOpenAIEmbeddingsFloatAndBase64AgreeWithThePool(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	texts := []string{"A dog runs in the park.", "Stock markets fell sharply."}
	want := direct(t, p, texts...)

	tests := []struct {
		name   string
		body   map[string]any
		decode func(*testing.T, any) []float32
		n      int
	}{
		{"string input, default format", map[string]any{"input": texts[0], "model": "text-embedding-3-small"}, floats, 1},
		{"array input, float", map[string]any{"input": texts, "model": "x", "encoding_format": "float"}, floats, 2},
		{"array input, base64", map[string]any{"input": texts, "encoding_format": "base64"}, fromBase64, 2},
		{"matching dimensions", map[string]any{"input": texts, "dimensions": 384, "user": "u1"}, floats, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", base+"/v1/embeddings", tt.body, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got openAIList
			r.decode(t, &got)
			if got.Object != "list" || got.Model != p.Info().Name || len(got.Data) != tt.n {
				t.Fatalf("object %q model %q data %d, want list %q %d", got.Object, got.Model, len(got.Data), p.Info().Name, tt.n)
			}
			tokens := 0
			for i, d := range got.Data {
				if d.Object != "embedding" || d.Index != i {
					t.Fatalf("data[%d]: object %q index %d", i, d.Object, d.Index)
				}
				sameVector(t, texts[i], tt.decode(t, d.Embedding), want[i].Vector)
				tokens += want[i].Tokens
			}
			if got.Usage.PromptTokens != tokens || got.Usage.TotalTokens != tokens {
				t.Fatalf("usage %+v, want %d tokens", got.Usage, tokens)
			}
		})
	}
}

func TestOpenAIEmbeddingsRefusesWhatItCannotDo(t *testing.T) {
	_, base := start(t, web.Config{MaxTexts: 2}, pool(t))
	tests := []struct {
		name string
		body string
		want string
	}{
		{"no input", `{"model":"m"}`, `missing "input"`},
		{"token ids", `{"input":[101,7592,102]}`, "token ids"},
		{"arrays of token ids", `{"input":[[101,7592,102]]}`, "token ids"},
		{"input a number", `{"input":5}`, "string or an array"},
		{"input an object", `{"input":{"a":1}}`, "string or an array"},
		{"empty string", `{"input":""}`, "empty"},
		{"empty array", `{"input":[]}`, "empty"},
		{"array with empty string", `{"input":["a",""]}`, `"input[1]" is empty`},
		{"array with null", `{"input":["a",null]}`, `"input[1]" must be a string`},
		{"too many", `{"input":["a","b","c"]}`, "too many"},
		{"unknown encoding", `{"input":"a","encoding_format":"int8"}`, "encoding_format"},
		{"other dimensions", `{"input":"a","dimensions":512}`, "dimensions 512"},
		{"dimensions not a number", `{"input":"a","dimensions":"384"}`, "dimensions"},
		{"invalid JSON", `{"input":"a"`, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call(t, "POST", base+"/v1/embeddings", tt.body, nil).wantError(t, http.StatusBadRequest, tt.want)
			embedOK(t, base, nil)
		})
	}
}

func TestOpenAIModelsListsTheLoadedModel(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	r := call(t, "GET", base+"/v1/models", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			OwnedBy string `json:"owned_by"`
			Created int64  `json:"created"`
		} `json:"data"`
	}
	r.decode(t, &got)
	if got.Object != "list" || len(got.Data) != 1 {
		t.Fatalf("answer %s", r.body)
	}
	m := got.Data[0]
	if m.ID != p.Info().Name || m.Object != "model" || m.OwnedBy != "edgesearch" || m.Created <= 0 {
		t.Fatalf("model %+v", m)
	}
}

// The official openai Python client (which asks for base64 by default) must
// work unchanged with base_url pointed at edgesearch.
func TestOfficialOpenAIPythonClient(t *testing.T) {
	_, base := start(t, web.Config{APIKey: "test-key"}, pool(t))
	script, err := filepath.Abs(filepath.Join("..", "testdata", "openai_client.py"))
	if err != nil {
		t.Fatal(err)
	}
	python := os.Getenv("PYTHON")
	if python == "" {
		python = "python3"
	}
	cmd := exec.Command(python, script, base+"/v1", "test-key")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\n(the script needs the openai package: pip install openai)", python, script, err, out)
	}
	t.Logf("%s", out)
}
