package web_test

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
		{"token id past cl100k_base", `{"input":[32,100256]}`, `"input[1]" is token id 100256`},
		{"special token id", `{"input":[[32],[32,5679,100257]]}`, `"input[1][2]" is token id 100257`},
		{"negative token id", `{"input":[[-1]]}`, `"input[0][0]" is token id -1`},
		{"token id not an integer", `{"input":[[32,1.5]]}`, `"input[0]" must be an array of token ids`},
		{"token ids then a string", `{"input":[[32],"a"]}`, `"input[1]" must be an array of token ids`},
		{"strings then token ids", `{"input":["a",[32]]}`, `"input[1]" must be a string`},
		{"token ids of no text", `{"input":[[32],[]]}`, `"input[1]" is empty`},
		{"too many arrays of token ids", `{"input":[[32],[32],[32]]}`, "too many texts"},
		{"input a number", `{"input":5}`, "must be a string, an array of strings, an array of token ids"},
		{"input an object", `{"input":{"a":1}}`, "must be a string, an array of strings, an array of token ids"},
		{"empty string", `{"input":""}`, "empty"},
		{"empty array", `{"input":[]}`, "empty"},
		{"array with empty string", `{"input":["a",""]}`, `"input[1]" is empty`},
		{"array with null", `{"input":["a",null]}`, `"input[1]" must be a string`},
		{"too many", `{"input":["a","b","c"]}`, "too many"},
		{"unknown encoding", `{"input":"a","encoding_format":"int8"}`, "encoding_format"},
		{"other dimensions", `{"input":"a","dimensions":512}`, "has 384 dimensions and cannot shorten them"},
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

// Token ids of tiktoken's cl100k_base, as LangChain's OpenAIEmbeddings
// sends by default; made with tiktoken 0.14 (encoding.encode(text)).
var cl100kIDs = map[string][]int{
	"A dog runs in the park.":     {32, 5679, 8640, 304, 279, 6246, 13},
	"Stock markets fell sharply.": {19931, 11987, 11299, 46473, 13},
}

func TestOpenAIEmbeddingsTokenIDsEmbedTheTextTheyStandFor(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	texts := []string{"A dog runs in the park.", "Stock markets fell sharply."}
	want := direct(t, p, texts...)

	tests := []struct {
		name  string
		input any
		texts []int // indexes into texts
	}{
		{"one array of token ids", cl100kIDs[texts[0]], []int{0}},
		{"arrays of token ids", [][]int{cl100kIDs[texts[0]], cl100kIDs[texts[1]]}, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", base+"/v1/embeddings", map[string]any{"input": tt.input, "model": "text-embedding-3-small"}, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got openAIList
			r.decode(t, &got)
			if len(got.Data) != len(tt.texts) {
				t.Fatalf("%d embeddings, want %d", len(got.Data), len(tt.texts))
			}
			tokens := 0
			for i, k := range tt.texts {
				sameVector(t, texts[k], floats(t, got.Data[i].Embedding), want[k].Vector)
				tokens += want[k].Tokens
			}
			// Usage counts what the model read: its own word pieces.
			if got.Usage.PromptTokens != tokens {
				t.Fatalf("usage %+v, want %d prompt tokens", got.Usage, tokens)
			}
		})
	}
}

// Clients cut long token lists wherever the length falls, so one piece may
// end inside a character: "café ☕ naïve" cut inside ☕, which cl100k_base
// spells as two ids.
func TestOpenAIEmbeddingsTokenIDsCutInsideACharacterAreEmbedded(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	r := call(t, "POST", base+"/v1/embeddings", map[string]any{"input": [][]int{{936, 59958, 26182}, {243, 95980, 588}}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got openAIList
	r.decode(t, &got)
	// The broken character's bytes stand as U+FFFD, as tiktoken decodes them.
	want := direct(t, p, "café \uFFFD", "\uFFFD naïve")
	for i := range want {
		sameVector(t, fmt.Sprint("piece ", i), floats(t, got.Data[i].Embedding), want[i].Vector)
	}
}

func TestOpenAIEmbeddingsRefusesMoreTokenIDsThanTheCap(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	half := make([]int, web.MaxTokenIDs/2)
	for i := range half {
		half[i] = 32
	}
	body := map[string]any{"input": [][]int{half, half, {32}}}
	call(t, "POST", base+"/v1/embeddings", body, nil).wantError(t, http.StatusBadRequest, fmt.Sprintf("more than %d", web.MaxTokenIDs))
}

// OpenAI's limit of 2,048 inputs per request is the default, and a request
// that large is embedded whole although the pool's queue holds 1,024 texts.
func TestOpenAIEmbeddings2048TextsInOneRequest(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	texts := make([]string, 2048)
	for i := range texts {
		texts[i] = fmt.Sprintf("note %d", i)
	}
	r := call(t, "POST", base+"/v1/embeddings", map[string]any{"input": texts, "encoding_format": "base64"}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %.300s", r.status, r.body)
	}
	var got openAIList
	r.decode(t, &got)
	if len(got.Data) != len(texts) {
		t.Fatalf("%d embeddings, want %d", len(got.Data), len(texts))
	}
	for _, i := range []int{0, 1023, 1024, 2047} { // in order across the pieces
		if got.Data[i].Index != i {
			t.Fatalf("data[%d].index = %d", i, got.Data[i].Index)
		}
		sameVector(t, texts[i], fromBase64(t, got.Data[i].Embedding), direct(t, p, texts[i])[0].Vector)
	}
	call(t, "POST", base+"/v1/embeddings", map[string]any{"input": append(texts, "one more")}, nil).
		wantError(t, http.StatusBadRequest, "too many texts")
}

func TestOpenAIEmbeddingsSayWhichInputsWereTruncated(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	long := strings.Repeat("edge search on a small board ", 200)
	r := call(t, "POST", base+"/v1/embeddings", map[string]any{"input": []string{"short", long, "short", long}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got struct {
		openAIList
		TruncatedInputs []int `json:"truncated_inputs"`
	}
	r.decode(t, &got)
	if h := r.header.Get("X-Edgesearch-Truncated"); h != "2" || !slices.Equal(got.TruncatedInputs, []int{1, 3}) {
		t.Fatalf("X-Edgesearch-Truncated %q truncated_inputs %v, want 2 and [1 3]", h, got.TruncatedInputs)
	}
	if want := 2*p.Info().MaxTokens + 2*direct(t, p, "short")[0].Tokens; got.Usage.PromptTokens != want {
		t.Fatalf("prompt_tokens %d, want %d (the tokens embedded)", got.Usage.PromptTokens, want)
	}

	r = call(t, "POST", base+"/v1/embeddings", map[string]any{"input": "short"}, nil)
	if h := r.header.Get("X-Edgesearch-Truncated"); r.status != http.StatusOK || h != "0" || strings.Contains(string(r.body), "truncated_inputs") {
		t.Fatalf("nothing truncated: status %d header %q body %s", r.status, h, r.body)
	}
}

func TestOpenAIModelsRetrieveTheLoadedModelOnly(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	name := p.Info().Name
	r := call(t, "GET", base+"/v1/models/"+url.PathEscape(name), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var m struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		OwnedBy string `json:"owned_by"`
		Created int64  `json:"created"`
	}
	r.decode(t, &m)
	if m.ID != name || m.Object != "model" || m.OwnedBy != "edgesearch" || m.Created <= 0 {
		t.Fatalf("model %+v", m)
	}
	for _, id := range []string{"text-embedding-3-small", "sentence-transformers%2F" + name, strings.ToUpper(name)} {
		call(t, "GET", base+"/v1/models/"+id, nil, nil).wantOpenAIError(t, http.StatusNotFound, "model_not_found", name)
	}
}
