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

// checkAgainstST embeds the fixture texts with p and compares each vector
// with sentence-transformers' by cosine.
func checkAgainstST(t *testing.T, p *Pool, minCos float64) {
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
	t.Logf("%d texts, worst cosine %.6f", len(texts), worst)
}

func TestF16VectorsMatchSentenceTransformers(t *testing.T) {
	checkAgainstST(t, pool(t), 0.999)
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
			p, err := New(context.Background(), Options{ModelPath: path, Workers: 1})
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
}

func TestF16VectorsMatchLlamaCpp(t *testing.T) {
	var fx struct {
		Sets map[string]struct {
			Texts []struct {
				Name   string    `json:"name"`
				Vector []float32 `json:"vector"`
				// SameTokens: llama.cpp's own WordPiece tokenizer gave the
				// ids sentence-transformers did. Where it did not (it does
				// not split Hangul into jamo, for one), its vector is not a
				// reference for ours.
				SameTokens bool `json:"token_ids_match_st"`
			} `json:"texts"`
		} `json:"sets"`
	}
	readFixture(t, "llamacpp_vectors.json", &fx)
	texts := stFixture(t)
	in := make([]string, len(texts))
	for i, tx := range texts {
		in[i] = tx.Text
	}
	embs, err := pool(t).Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// llamacpp_f16 is llama.cpp on its own converter's GGUF, ours_f16 is
	// llama.cpp on the GGUF our converter writes.
	for _, set := range []string{"llamacpp_f16", "ours_f16"} {
		s, ok := fx.Sets[set]
		if !ok || len(s.Texts) != len(texts) {
			t.Fatalf("llamacpp_vectors.json: set %s missing or of the wrong length", set)
		}
		compared := 0
		for i, lt := range s.Texts {
			if lt.Name != texts[i].Name {
				t.Fatalf("%s: text %d is %q, want %q", set, i, lt.Name, texts[i].Name)
			}
			if !lt.SameTokens {
				t.Logf("%s %s: llama.cpp tokenizes differently from the tokenizers package; not compared", set, lt.Name)
				continue
			}
			compared++
			if c := cosine(embs[i].Vector, lt.Vector); c < 0.999 {
				t.Errorf("%s %s: cosine %.6f against llama.cpp, want ≥ 0.999", set, lt.Name, c)
			}
		}
		if compared < len(texts)*3/4 {
			t.Errorf("%s: only %d of %d texts comparable", set, compared, len(texts))
		}
	}
}
