package model

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// WeightType is the element type of a converted model's weight matrices.
type WeightType int

// Weight types Convert can write. Norms, biases, position and token-type
// embeddings stay F32 whatever the type, as in llama.cpp.
const (
	F32  WeightType = iota // llama.cpp file type 0
	F16                    // llama.cpp file type 1 (MOSTLY_F16)
	Q8_0                   // llama.cpp file type 7 (MOSTLY_Q8_0)
)

func (t WeightType) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q8_0:
		return "q8_0"
	}
	return fmt.Sprintf("WeightType(%d)", int(t))
}

// ParseWeightType parses "f32", "f16" or "q8_0" (case-insensitive).
func ParseWeightType(s string) (WeightType, error) {
	switch strings.ToLower(s) {
	case "f32":
		return F32, nil
	case "f16":
		return F16, nil
	case "q8_0", "q8":
		return Q8_0, nil
	}
	return 0, fmt.Errorf("weight type %q: want f32, f16 or q8_0", s)
}

func (t WeightType) fileType() uint32 {
	return [...]uint32{0, 1, 7}[t]
}

func (t WeightType) tensorType() gguf.TensorType {
	return [...]gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0}[t]
}

// ConvertOptions tune Convert. The zero value converts to F16 and names the
// model after its folder.
type ConvertOptions struct {
	// Type of the weight matrices.
	Type WeightType
	// Name is written to general.name; default: the folder's name, or the
	// last part of config.json's _name_or_path for a folder named "model".
	Name string
}

// tensorPlan maps one safetensors tensor to its GGUF tensor.
type tensorPlan struct {
	src  stTensor
	name string
	typ  gguf.TensorType
	ne   []uint64 // ggml order
}

var layerRe = regexp.MustCompile(`^encoder\.layer\.(\d+)\.(.+)$`)

var layerNames = map[string]string{
	"attention.self.query":       "attn_q",
	"attention.self.key":         "attn_k",
	"attention.self.value":       "attn_v",
	"attention.output.dense":     "attn_output",
	"attention.output.LayerNorm": "attn_output_norm",
	"intermediate.dense":         "ffn_up",
	"output.dense":               "ffn_down",
	"output.LayerNorm":           "layer_output_norm",
}

var embeddingNames = map[string]string{
	"embeddings.word_embeddings":       "token_embd",
	"embeddings.token_type_embeddings": "token_types",
	"embeddings.position_embeddings":   "position_embd",
	"embeddings.LayerNorm":             "token_embd_norm",
}

// ggufName maps a Hugging Face BERT tensor name to llama.cpp's; skip is true
// for tensors llama.cpp drops (position ids, pooler, masked-LM heads).
func ggufName(hf string, layers int) (name string, skip bool, err error) {
	n := strings.TrimPrefix(hf, "bert.")
	if s, ok := strings.CutSuffix(n, ".gamma"); ok {
		n = s + ".weight"
	} else if s, ok := strings.CutSuffix(n, ".beta"); ok {
		n = s + ".bias"
	}
	if n == "embeddings.position_ids" || strings.HasPrefix(n, "pooler.") || strings.HasPrefix(n, "cls.") {
		return "", true, nil
	}
	dot := strings.LastIndexByte(n, '.')
	if dot < 0 {
		return "", false, fmt.Errorf("%w: cannot map tensor %s", ErrUnsupported, hf)
	}
	base, suffix := n[:dot], n[dot:]
	if suffix != ".weight" && suffix != ".bias" {
		return "", false, fmt.Errorf("%w: cannot map tensor %s", ErrUnsupported, hf)
	}
	if g, ok := embeddingNames[base]; ok {
		return g + suffix, false, nil
	}
	if m := layerRe.FindStringSubmatch(base); m != nil {
		bid, err := strconv.Atoi(m[1])
		if g, ok := layerNames[m[2]]; ok && err == nil && bid < layers {
			return fmt.Sprintf("blk.%d.%s%s", bid, g, suffix), false, nil
		}
	}
	return "", false, fmt.Errorf("%w: cannot map tensor %s", ErrUnsupported, hf)
}

// wantShapes lists every tensor a BERT of this config must have, with its
// PyTorch shape (outermost first).
func wantShapes(c *bertConfig) map[string][]uint64 {
	h, ff := uint64(c.HiddenSize), uint64(c.IntermediateSize)
	w := map[string][]uint64{
		"token_embd.weight":      {uint64(c.VocabSize), h},
		"token_types.weight":     {uint64(c.typeVocab()), h},
		"position_embd.weight":   {uint64(c.MaxPositionEmbeddings), h},
		"token_embd_norm.weight": {h}, "token_embd_norm.bias": {h},
	}
	for i := range c.NumHiddenLayers {
		p := fmt.Sprintf("blk.%d.", i)
		for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
			w[p+n+".weight"], w[p+n+".bias"] = []uint64{h, h}, []uint64{h}
		}
		w[p+"ffn_up.weight"], w[p+"ffn_up.bias"] = []uint64{ff, h}, []uint64{ff}
		w[p+"ffn_down.weight"], w[p+"ffn_down.bias"] = []uint64{h, ff}, []uint64{h}
		for _, n := range []string{"attn_output_norm", "layer_output_norm"} {
			w[p+n+".weight"], w[p+n+".bias"] = []uint64{h}, []uint64{h}
		}
	}
	return w
}

// tensorType chooses the stored type as llama.cpp's prepare_tensors does:
// vectors, norms, position and token-type tables stay F32, and Q8_0 falls
// back to F16 for rows that are not whole blocks.
func tensorType(name string, dims int, t WeightType, rowLen uint64) gguf.TensorType {
	if dims <= 1 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight") ||
		name == "position_embd.weight" || name == "token_types.weight" {
		return gguf.F32
	}
	if t == Q8_0 && rowLen%gguf.Q8_0Block != 0 {
		return gguf.F16
	}
	return t.tensorType()
}

// Convert writes the BERT model in the Hugging Face folder hfDir to outPath
// as GGUF with weights of type typ. See ConvertWith.
func Convert(ctx context.Context, hfDir, outPath string, typ WeightType) error {
	return ConvertWith(ctx, hfDir, outPath, ConvertOptions{Type: typ})
}

// ConvertWith reads config.json, tokenizer.json or vocab.txt,
// model.safetensors and the sentence-transformers pooling and
// max_seq_length files from hfDir and writes outPath atomically. It fails,
// leaving outPath untouched, for a folder that is not a BERT-family encoder,
// weights that disagree with config.json (the error names the file and
// tensor), pytorch_model.bin-only folders, or a cancelled ctx.
func ConvertWith(ctx context.Context, hfDir, outPath string, opt ConvertOptions) error {
	if opt.Type < F32 || opt.Type > Q8_0 {
		return fmt.Errorf("convert %s: %w: weight type %v", hfDir, ErrUnsupported, opt.Type)
	}
	cfg, err := loadConfig(hfDir)
	if err != nil {
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	vocab, err := loadVocab(hfDir, cfg)
	if err != nil {
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	pooling, err := poolingType(hfDir)
	if err != nil {
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	maxSeq, err := maxSeqLength(hfDir, cfg)
	if err != nil {
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	stPath := filepath.Join(hfDir, "model.safetensors")
	if _, err := os.Stat(stPath); err != nil {
		if _, binErr := os.Stat(filepath.Join(hfDir, "pytorch_model.bin")); binErr == nil {
			return fmt.Errorf("convert %s: %w: only pytorch_model.bin found; save the model as model.safetensors first", hfDir, ErrUnsupported)
		}
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	st, err := openSafetensors(stPath)
	if err != nil {
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	defer st.Close()

	plan, params, err := planTensors(st, cfg, opt.Type)
	if err != nil {
		return fmt.Errorf("convert %s: %w", hfDir, err)
	}
	name := opt.Name
	if name == "" {
		name = defaultName(hfDir, cfg)
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: "bert"},
		{Key: "general.type", Value: "model"},
		{Key: "general.name", Value: name},
		{Key: "general.size_label", Value: sizeLabel(params)},
		{Key: "bert.block_count", Value: uint32(cfg.NumHiddenLayers)},
		{Key: "bert.context_length", Value: uint32(cfg.MaxPositionEmbeddings)},
		{Key: "bert.embedding_length", Value: uint32(cfg.HiddenSize)},
		{Key: "bert.feed_forward_length", Value: uint32(cfg.IntermediateSize)},
		{Key: "bert.attention.head_count", Value: uint32(cfg.NumAttentionHeads)},
		{Key: "bert.attention.layer_norm_epsilon", Value: float32(*cfg.LayerNormEps)},
		{Key: "general.file_type", Value: opt.Type.fileType()},
		{Key: "bert.attention.causal", Value: false},
	}
	if pooling != 0 {
		kvs = append(kvs, gguf.KV{Key: "bert.pooling_type", Value: pooling})
	}
	kvs = append(kvs,
		gguf.KV{Key: "general.quantization_version", Value: uint32(2)},
		gguf.KV{Key: "tokenizer.ggml.token_type_count", Value: uint32(cfg.typeVocab())},
		gguf.KV{Key: "tokenizer.ggml.model", Value: "bert"},
		// llama.cpp names the pre-tokenizer by hashing a tokenisation of a
		// test string; every uncased BERT WordPiece vocabulary hashes to
		// this name, and llama.cpp's WPM tokenizer does not use it.
		gguf.KV{Key: "tokenizer.ggml.pre", Value: "jina-v2-en"},
		gguf.KV{Key: "tokenizer.ggml.tokens", Value: vocab.tokens},
		gguf.KV{Key: "tokenizer.ggml.token_type", Value: vocab.types},
	)
	for _, s := range vocab.special {
		kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml." + s.key + "_token_id", Value: s.id})
	}
	for _, b := range []struct {
		key string
		v   *bool
	}{{"tokenizer.ggml.add_bos_token", vocab.addBOS}, {"tokenizer.ggml.add_eos_token", vocab.addEOS},
		{"tokenizer.ggml.add_sep_token", vocab.addSEP}, {"tokenizer.ggml.normalizer.lowercase", vocab.lowercase}} {
		if b.v != nil {
			kvs = append(kvs, gguf.KV{Key: b.key, Value: *b.v})
		}
	}
	kvs = append(kvs, gguf.KV{Key: "edgesearch.max_seq_length", Value: maxSeq})

	err = writeAtomic(outPath, func(f *os.File) error {
		return writeModel(ctx, f, st, kvs, plan)
	})
	if err != nil {
		return fmt.Errorf("convert %s to %s: %w", hfDir, outPath, err)
	}
	return nil
}

func planTensors(st *safetensors, cfg *bertConfig, typ WeightType) ([]tensorPlan, uint64, error) {
	want := wantShapes(cfg)
	var plan []tensorPlan
	var params uint64
	for _, t := range st.tensors {
		name, skip, err := ggufName(t.Name, cfg.NumHiddenLayers)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", st.path, err)
		}
		if skip {
			continue
		}
		shape, ok := want[name]
		if !ok {
			return nil, 0, fmt.Errorf("%s: tensor %s (%s): %w: not expected for this config or seen twice", st.path, t.Name, name, ErrBadConfig)
		}
		delete(want, name)
		if fmt.Sprint(shape) != fmt.Sprint(t.Shape) {
			return nil, 0, fmt.Errorf("%s: tensor %s (%s) has shape %v, config.json implies %v", st.path, t.Name, name, t.Shape, shape)
		}
		if t.DType != "F32" && t.DType != "F16" && t.DType != "BF16" {
			return nil, 0, fmt.Errorf("%s: tensor %s: %w: dtype %s (want F32, F16 or BF16)", st.path, t.Name, ErrUnsupported, t.DType)
		}
		ne := make([]uint64, len(shape))
		n := uint64(1)
		for i, d := range shape {
			ne[len(shape)-1-i] = d
			n *= d
		}
		params += n
		plan = append(plan, tensorPlan{src: t, name: name, ne: ne, typ: tensorType(name, len(shape), typ, ne[0])})
	}
	for name := range want {
		return nil, 0, fmt.Errorf("%s: %w: tensor %s is missing", st.path, ErrBadConfig, name)
	}
	return plan, params, nil
}

// slabValues bounds how many values are converted at once.
const slabValues = 1 << 18

func writeModel(ctx context.Context, f *os.File, st *safetensors, kvs []gguf.KV, plan []tensorPlan) error {
	w := gguf.NewWriter(f)
	for _, kv := range kvs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	for _, p := range plan {
		if err := w.AddTensor(p.name, p.typ, p.ne); err != nil {
			return err
		}
	}
	if err := w.WriteHeader(); err != nil {
		return err
	}
	vals := make([]float32, 0, slabValues)
	raw := make([]byte, slabValues*4)
	out := make([]byte, 0, slabValues*4)
	for _, p := range plan {
		total := int64(p.src.End-p.src.Begin) / int64(dtypeSize(p.src.DType))
		row := int64(p.ne[0])
		step := max(row, slabValues/row*row) // whole rows, so Q8_0 blocks never straddle slabs
		for from := int64(0); from < total; from += step {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(step, total-from)
			if int64(cap(vals)) < n {
				vals, raw = make([]float32, 0, n), make([]byte, n*4)
			}
			vals = vals[:n]
			if err := st.readFloats(p.src, from, vals, raw); err != nil {
				return err
			}
			var err error
			switch p.typ {
			case gguf.F32:
				out = gguf.AppendF32(out[:0], vals)
			case gguf.F16:
				out = gguf.AppendF16(out[:0], vals)
			case gguf.Q8_0:
				out, err = gguf.AppendQ8_0(out[:0], vals)
			}
			if err != nil {
				return fmt.Errorf("tensor %s: %w", p.src.Name, err)
			}
			if _, err := w.Write(out); err != nil {
				return err
			}
		}
	}
	return w.Finish()
}

// writeAtomic writes path through a temporary file in the same directory,
// synced and renamed into place only when write succeeds.
func writeAtomic(path string, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err // the writer's errors already say what failed
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	return nil
}

func defaultName(dir string, c *bertConfig) string {
	base := filepath.Base(filepath.Clean(dir))
	if base == "model" || base == "." || base == "/" {
		if p := c.NameOrPath; p != "" {
			return filepath.Base(p)
		}
	}
	return base
}

// sizeLabel is llama.cpp's rounded parameter count, e.g. "23M".
func sizeLabel(n uint64) string {
	f, suffix := float64(n)*1e-3, "K"
	switch {
	case n > 1e12:
		f, suffix = float64(n)*1e-12, "T"
	case n > 1e9:
		f, suffix = float64(n)*1e-9, "B"
	case n > 1e6:
		f, suffix = float64(n)*1e-6, "M"
	}
	digits := len(strings.TrimLeft(strconv.FormatFloat(math.RoundToEven(f), 'f', 0, 64), "0"))
	return strconv.FormatFloat(f, 'f', max(2-digits, 0), 64) + suffix
}
