package embedder

// Fuzz targets that drive the guest through the host, as the server does: a
// corrupt, truncated or hostile GGUF and any text must give an error value or
// a result, never a trap. `go test` runs the seeds; `make fuzz` explores.

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// tinyBERT writes a one-layer BERT GGUF with 32-wide embeddings and random
// weights in llama.cpp's layout: small enough for a fuzzer to mutate, real
// enough that the guest loads it and embeds with it.
func tinyBERT(t testing.TB, typ gguf.TensorType) []byte {
	t.Helper()
	const (
		dim, ff, ctx, types = 32, 64, 16, 2 // Q8_0 rows need multiples of 32
	)
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
		"\u2581hello", "\u2581world", "\u2581the", "lo", "\u2581edge", "s", "\u2581,", "\u2581!", "\u2581東"}
	tokTypes := make([]int32, len(vocab))
	for i := range tokTypes {
		tokTypes[i] = 1 // normal
		if strings.HasPrefix(vocab[i], "[") {
			tokTypes[i] = 3 // control
		}
	}
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	for _, kv := range []struct {
		k string
		v any
	}{
		{"general.architecture", "bert"}, {"general.name", "tiny"},
		{"bert.context_length", uint32(ctx)}, {"bert.embedding_length", uint32(dim)},
		{"bert.feed_forward_length", uint32(ff)}, {"bert.block_count", uint32(1)},
		{"bert.attention.head_count", uint32(2)}, {"bert.attention.layer_norm_epsilon", float32(1e-12)},
		{"bert.attention.causal", false}, {"bert.pooling_type", uint32(1)},
		{"tokenizer.ggml.model", "bert"}, {"tokenizer.ggml.tokens", vocab},
		{"tokenizer.ggml.token_type", tokTypes}, {"tokenizer.ggml.token_type_count", uint32(types)},
		{"tokenizer.ggml.bos_token_id", uint32(2)}, {"tokenizer.ggml.seperator_token_id", uint32(3)},
		{"tokenizer.ggml.unknown_token_id", uint32(1)}, {"tokenizer.ggml.padding_token_id", uint32(0)},
		{"edgesearch.max_seq_length", uint32(12)},
	} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	type tensor struct {
		name  string
		shape []uint64
		typ   gguf.TensorType
	}
	mat := func(name string, in, out uint64) tensor { return tensor{name, []uint64{in, out}, typ} }
	vec := func(name string, n uint64) tensor { return tensor{name, []uint64{n}, gguf.F32} }
	tensors := []tensor{
		mat("token_embd.weight", dim, uint64(len(vocab))),
		{"token_types.weight", []uint64{dim, types}, gguf.F32},
		{"position_embd.weight", []uint64{dim, ctx}, gguf.F32},
		vec("token_embd_norm.weight", dim), vec("token_embd_norm.bias", dim),
	}
	for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
		tensors = append(tensors, mat("blk.0."+n+".weight", dim, dim), vec("blk.0."+n+".bias", dim))
	}
	tensors = append(tensors,
		vec("blk.0.attn_output_norm.weight", dim), vec("blk.0.attn_output_norm.bias", dim),
		mat("blk.0.ffn_up.weight", dim, ff), vec("blk.0.ffn_up.bias", ff),
		mat("blk.0.ffn_down.weight", ff, dim), vec("blk.0.ffn_down.bias", dim),
		vec("blk.0.layer_output_norm.weight", dim), vec("blk.0.layer_output_norm.bias", dim),
	)
	for _, tn := range tensors {
		if err := w.AddTensor(tn.name, tn.typ, tn.shape); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tn := range tensors {
		n := 1
		for _, d := range tn.shape {
			n *= int(d)
		}
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * 0.3)
			if strings.HasSuffix(tn.name, "norm.weight") {
				vals[i] = 1
			}
		}
		var data []byte
		switch tn.typ {
		case gguf.F16:
			data = gguf.AppendF16(nil, vals)
		case gguf.Q8_0:
			var err error
			if data, err = gguf.AppendQ8_0(nil, vals); err != nil {
				t.Fatal(err)
			}
		default:
			data = gguf.AppendF32(nil, vals)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fuzzRuntimes are the runtimes of every fuzz iteration, one per
// Options.Kernels, made once.
var fuzzRuntimes sync.Map // kernels → func() (guestRuntime, error)

// fuzzInstance is a fresh guest instance of the standalone module (guest
// kernels) with no model, from a runtime shared by all fuzz iterations.
func fuzzInstance(t testing.TB) *instance { return fuzzInstanceOf(t, KernelsGuest) }

// fuzzRuntimeOf is the shared runtime of the module of Options.Kernels
// kernels.
func fuzzRuntimeOf(t testing.TB, kernels string) guestRuntime {
	t.Helper()
	once, _ := fuzzRuntimes.LoadOrStore(kernels, sync.OnceValues(func() (guestRuntime, error) {
		wasm, err := guestBinary(kernels)
		if err != nil {
			return nil, err
		}
		return newGuestRuntime(context.Background(), "", wasm, "")
	}))
	rt, err := once.(func() (guestRuntime, error))()
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// fuzzInstanceOf is fuzzInstance for the module of Options.Kernels kernels.
func fuzzInstanceOf(t testing.TB, kernels string) *instance {
	t.Helper()
	in, err := instantiate(context.Background(), fuzzRuntimeOf(t, kernels))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.close(context.Background()) })
	return in
}

// allKernels are the values of Options.Kernels every oracle test runs:
// both on wazero, the guest's alone on another runtime (testRuntime),
// which serves no host kernels.
var allKernels = func() []string {
	if testRuntime != "" && testRuntime != "wazero" {
		return []string{KernelsGuest}
	}
	return []string{KernelsHost, KernelsGuest}
}()

// testRuntime is the runtime pool(t) and the oracle tests run the guest on:
// $EDGESEARCH_RUNTIME, else wazero (make test-wasmedge sets it).
var testRuntime = os.Getenv("EDGESEARCH_RUNTIME")

func TestTinyBERTLoadsAndEmbeds(t *testing.T) {
	for _, kernels := range allKernels {
		for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0} {
			in := fuzzInstanceOf(t, kernels)
			if err := in.loadModel(context.Background(), modelBytes(tinyBERT(t, typ))); err != nil {
				t.Fatalf("%s %s: %v", kernels, typ, err)
			}
			in.dims = 32
			embs, err := in.embed(context.Background(), []string{"hello world", "", strings.Repeat("edges ", 20)})
			if err != nil {
				t.Fatalf("%s %s: %v", kernels, typ, err)
			}
			if embs[0].Tokens != 4 || embs[1].Tokens != 2 || !embs[2].Truncated || embs[2].Tokens != 12 {
				t.Errorf("%s %s: tokens %d, %d, %d (truncated %v); want 4, 2, 12 (true)",
					kernels, typ, embs[0].Tokens, embs[1].Tokens, embs[2].Tokens, embs[2].Truncated)
			}
		}
	}
}

func TestCorruptGGUFGivesAnErrorNotATrap(t *testing.T) {
	good := tinyBERT(t, gguf.F16)
	cases := map[string][]byte{
		"empty":          {},
		"not gguf":       []byte("GGML this is not a model at all"),
		"header only":    good[:24],
		"half":           good[:len(good)/2],
		"one byte short": good[:len(good)-1],
	}
	huge := bytes.Clone(good)
	binary.LittleEndian.PutUint64(huge[8:], 1<<60) // tensor count
	cases["huge tensor count"] = huge
	kvs := bytes.Clone(good)
	binary.LittleEndian.PutUint64(kvs[16:], 1<<40) // metadata count
	cases["huge metadata count"] = kvs
	version := bytes.Clone(good)
	binary.LittleEndian.PutUint32(version[4:], 99)
	cases["unknown version"] = version
	for _, kernels := range allKernels {
		for name, data := range cases {
			err := fuzzInstanceOf(t, kernels).loadModel(context.Background(), modelBytes(data))
			if err == nil {
				t.Errorf("%s %s: loaded without error", kernels, name)
				continue
			}
			if isTrap(err) {
				t.Errorf("%s %s: guest trapped: %v", kernels, name, err)
			}
			if strings.TrimSpace(strings.TrimPrefix(err.Error(), "couldn't load the model:")) == "" {
				t.Errorf("%s %s: empty error message", kernels, name)
			}
		}
	}
}

func FuzzLoad(f *testing.F) {
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0} {
		good := tinyBERT(f, typ)
		f.Add(good)
		f.Add(good[:len(good)*2/3])
	}
	f.Add([]byte("GGUF"))
	// Both modules: the host-kernel one packs weights its own way.
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kernels := range allKernels {
			in := fuzzInstanceOf(t, kernels)
			err := in.loadModel(context.Background(), modelBytes(data))
			if isTrap(err) {
				t.Fatalf("%s: guest trapped on a %d-byte file: %v", kernels, len(data), err)
			}
			if err != nil {
				continue
			}
			// Whatever loaded must also embed and tokenize without trapping.
			d, err := in.call1(context.Background(), in.nEmbd)
			if err != nil {
				t.Fatal(err)
			}
			in.dims = int(d)
			if _, err := in.embed(context.Background(), []string{"hello world", ""}); isTrap(err) {
				t.Fatalf("%s: embed trapped after a successful load: %v", kernels, err)
			}
			if _, err := in.info(context.Background()); isTrap(err) {
				t.Fatalf("%s: model info trapped: %v", kernels, err)
			}
		}
	})
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "hello world", "Héllo, wörld!", "東京タワー", "🙂👍🏽", "a\x00b\tc",
		strings.Repeat("x", 150), "[CLS] [SEP] a[MASK]b", "\u0130stanbul Σίσυφος", "e\u0301\u0302\u0303"} {
		f.Add([]byte(s))
	}
	f.Add([]byte{0xff, 0xfe, 0x80, 'a', 0xc3})
	// One instance with the tiny model serves every iteration: the
	// tokenizer keeps no state between calls.
	in := fuzzInstance(f)
	if err := in.loadModel(context.Background(), modelBytes(tinyBERT(f, gguf.F32))); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		toks, err := in.tokenizeText(context.Background(), string(text))
		if err != nil {
			t.Fatalf("tokenize %q: %v", text, err)
		}
		prev := 0
		for i, tk := range toks {
			if tk.Start < prev || tk.End < tk.Start || tk.End > len(text) {
				t.Fatalf("tokenize %q: piece %d span [%d,%d) out of order or bounds", text, i, tk.Start, tk.End)
			}
			if tk.ID < 0 || int(tk.ID) >= 14 {
				t.Fatalf("tokenize %q: id %d outside the vocabulary", text, tk.ID)
			}
			prev = tk.Start
		}
		if utf8.Valid(text) && strings.TrimSpace(string(text)) != "" && len(toks) == 0 && bytes.ContainsAny(text, "abcdefghijklmnopqrstuvwxyz") {
			t.Fatalf("tokenize %q: letters but no pieces", text)
		}
	})
}
