package embedder

// Tests against outside oracles: the fixtures in testdata/fixtures were
// written by testdata/oracle/make_fixtures.py from the tokenizers package,
// sentence-transformers and llama.cpp (llama-cpp-python).

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/model"
)

func readFixture(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

type stText struct {
	Name               string    `json:"name"`
	Text               string    `json:"text"`
	IDs                []int32   `json:"ids"`
	NTokens            int       `json:"n_tokens"`
	NTokensUntruncated int       `json:"n_tokens_untruncated"`
	Truncated          bool      `json:"truncated"`
	Vector             []float32 `json:"vector"`
}

func stFixture(t *testing.T) []stText {
	var fx struct {
		Texts []stText `json:"texts"`
	}
	readFixture(t, "st_vectors.json", &fx)
	if len(fx.Texts) == 0 {
		t.Fatal("st_vectors.json has no texts")
	}
	return fx.Texts
}

func TestTokenIDsMatchTokenizersPackage(t *testing.T) {
	var fx struct {
		Cases []struct {
			Text        string   `json:"text"`
			IDs         []int32  `json:"ids"`
			ByteOffsets [][2]int `json:"byte_offsets"`
		} `json:"cases"`
	}
	readFixture(t, "tokens.json", &fx)
	if len(fx.Cases) < 50 {
		t.Fatalf("only %d tokenizer cases", len(fx.Cases))
	}
	p := pool(t)
	for i, c := range fx.Cases {
		toks, err := p.Tokenize(context.Background(), c.Text)
		if err != nil {
			t.Fatalf("case %d %q: %v", i, c.Text, err)
		}
		ids := make([]int32, len(toks))
		offs := make([][2]int, len(toks))
		for j, tk := range toks {
			ids[j] = tk.ID
			offs[j] = [2]int{tk.Start, tk.End}
		}
		if !slices.Equal(ids, c.IDs) {
			t.Errorf("case %d %q:\n got ids %v\nwant ids %v", i, c.Text, ids, c.IDs)
			continue
		}
		if !slices.Equal(offs, c.ByteOffsets) {
			t.Errorf("case %d %q:\n got offsets %v\nwant offsets %v", i, c.Text, offs, c.ByteOffsets)
		}
	}
}

// checkAgainstST embeds the fixture texts with p, compares each vector with
// sentence-transformers' by cosine and each token count, and returns the
// embeddings in fixture order.
func checkAgainstST(t *testing.T, p *Pool, minCos float64) []Embedding {
	t.Helper()
	texts := stFixture(t)
	in := make([]string, len(texts))
	for i, tx := range texts {
		in[i] = tx.Text
	}
	embs, err := p.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	worst := 1.0
	for i, tx := range texts {
		c := cosine(embs[i].Vector, tx.Vector)
		worst = min(worst, c)
		if c < minCos {
			t.Errorf("%s: cosine %.6f against sentence-transformers, want ≥ %v", tx.Name, c, minCos)
		}
		if embs[i].Tokens != tx.NTokens || embs[i].Truncated != tx.Truncated {
			t.Errorf("%s: %d tokens (truncated %v), sentence-transformers %d (truncated %v)",
				tx.Name, embs[i].Tokens, embs[i].Truncated, tx.NTokens, tx.Truncated)
		}
	}
	t.Logf("%d texts, worst cosine %.6f against sentence-transformers", len(texts), worst)
	return embs
}

// checkAgainstLlama compares embs, the embeddings of the st_vectors.json
// texts in order, with llama.cpp's vectors in set. Only texts llama.cpp
// tokenised as the tokenizers package did are compared: its WordPiece
// differs on some scripts (it does not split Hangul into jamo, for one), and
// then its vector is no reference for ours.
func checkAgainstLlama(t *testing.T, embs []Embedding, name string, set llamaVectorSet, minCos float64) {
	t.Helper()
	texts := stFixture(t)
	if len(set.Texts) != len(texts) || len(embs) != len(texts) {
		t.Fatalf("llamacpp_vectors.json: set %s has %d vectors for %d texts", name, len(set.Texts), len(texts))
	}
	worst, compared := 1.0, 0
	for i, lt := range set.Texts {
		if lt.Name != texts[i].Name {
			t.Fatalf("%s: text %d is %q, st_vectors.json has %q", name, i, lt.Name, texts[i].Name)
		}
		if !lt.SameTokens {
			continue
		}
		compared++
		c := cosine(embs[i].Vector, lt.Vector)
		worst = min(worst, c)
		if c < minCos {
			t.Errorf("%s %s: cosine %.6f against llama.cpp, want ≥ %v", name, lt.Name, c, minCos)
		}
	}
	if compared < len(texts)*3/4 {
		t.Errorf("%s: only %d of %d texts tokenised alike by llama.cpp", name, compared, len(texts))
	}
	t.Logf("%s: %d of %d texts compared, worst cosine %.6f against llama.cpp", name, compared, len(texts), worst)
}

func TestF16VectorsMatchSentenceTransformers(t *testing.T) {
	for _, kernels := range allKernels {
		t.Run(kernels, func(t *testing.T) { checkAgainstST(t, poolOf(t, kernels), 0.999) })
	}
}

// hfDir is the Hugging Face folder `edgesearch model pull --source` unpacks.
func hfDir(t *testing.T) string {
	dir := filepath.Join(model.CacheDir(), "hf", model.DefaultModelName)
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatalf("need the Hugging Face files of all-MiniLM-L6-v2 (run `make model`): %v", err)
	}
	return dir
}

func TestOtherWeightTypesMatchSentenceTransformers(t *testing.T) {
	for _, tc := range []struct {
		typ    model.WeightType
		minCos float64
	}{{model.F32, 0.999}, {model.Q8_0, 0.99}} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "minilm.gguf")
			if err := model.Convert(context.Background(), hfDir(t), path, tc.typ); err != nil {
				t.Fatal(err)
			}
			for _, kernels := range allKernels {
				t.Run(kernels, func(t *testing.T) {
					p, err := New(context.Background(), Options{ModelPath: path, Workers: 1, Kernels: kernels, Runtime: testRuntime})
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					if got := p.Info().WeightType; !strings.EqualFold(got, tc.typ.String()) {
						t.Errorf("guest reports weight type %q, want %s", got, tc.typ)
					}
					checkAgainstST(t, p, tc.minCos)
				})
			}
		})
	}
}

func TestF16VectorsMatchLlamaCpp(t *testing.T) {
	var fx struct {
		Sets map[string]llamaVectorSet `json:"sets"`
	}
	readFixture(t, "llamacpp_vectors.json", &fx)
	for _, kernels := range allKernels {
		t.Run(kernels, func(t *testing.T) {
			embs := checkAgainstST(t, poolOf(t, kernels), 0.999)
			// llamacpp_f16 is llama.cpp on its own converter's GGUF,
			// ours_f16 is llama.cpp on the GGUF our converter writes.
			for _, name := range []string{"llamacpp_f16", "ours_f16"} {
				set, ok := fx.Sets[name]
				if !ok {
					t.Fatalf("llamacpp_vectors.json: no set %s", name)
				}
				checkAgainstLlama(t, embs, name, set, 0.999)
			}
		})
	}
}
