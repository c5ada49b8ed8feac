package embedder

// A GGUF made by llama.cpp's own convert_hf_to_gguf.py must load in
// edgesearch and give the same vectors. CI has neither torch nor llama.cpp,
// so the test rebuilds llama.cpp's file instead of running its converter:
// testdata/fixtures/llamacpp_gguf.json records every metadata entry, every
// tensor and the sha256 of the files llama.cpp wrote. Our converter writes
// tensor data identical to llama.cpp's but describes the model differently
// (name, datasets, our edgesearch.max_seq_length), so the test takes the
// tensors from our file, the metadata from the manifest, writes them with
// gguf.Writer in llama.cpp's order, and requires the manifest's sha256. A
// file with that hash is llama.cpp's output, whoever wrote it.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/gguf"
	"github.com/edgesearch/edgesearch/embedder/model"
)

// llamaGGUF is one file of llamacpp_gguf.json, as make_fixtures.py's
// gguf_manifest writes it.
type llamaGGUF struct {
	SHA256        string                 `json:"sha256"`
	Size          int64                  `json:"size"`
	Version       uint32                 `json:"version"`
	Alignment     uint64                 `json:"alignment"`
	MetadataOrder []string               `json:"metadata_order"`
	Metadata      map[string]llamaGGUFKV `json:"metadata"`
	Tensors       []struct {
		Name   string   `json:"name"`
		Type   string   `json:"type"`
		Shape  []uint64 `json:"shape"` // ggml order, row length first
		Offset int64    `json:"offset"`
		NBytes uint64   `json:"n_bytes"`
		SHA256 string   `json:"sha256"`
	} `json:"tensors"`
}

// llamaGGUFKV is a metadata entry: Value is spelled out for scalars and
// short arrays; long arrays (the vocabulary) carry only their length and
// SHA256Lines, the sha256 of every element's text followed by "\n".
type llamaGGUFKV struct {
	Type        string          `json:"type"`
	ElementType string          `json:"element_type"`
	Length      int             `json:"length"`
	Value       json.RawMessage `json:"value"`
	SHA256Lines string          `json:"sha256_lines"`
}

// llamaVectorSet is one set of llamacpp_vectors.json: llama.cpp's own
// embeddings, through llama-cpp-python, of the file with hash GGUFSHA256.
type llamaVectorSet struct {
	GGUFSHA256 string `json:"gguf_sha256"`
	Texts      []struct {
		Name       string    `json:"name"`
		Vector     []float32 `json:"vector"`
		SameTokens bool      `json:"token_ids_match_st"`
	} `json:"texts"`
}

func TestLlamaCppConverterOutputRebuiltByteForByteEmbedsLikeSentenceTransformers(t *testing.T) {
	var manifest struct {
		Files map[string]llamaGGUF `json:"files"`
	}
	readFixture(t, "llamacpp_gguf.json", &manifest)
	var vectors struct {
		Sets map[string]llamaVectorSet `json:"sets"`
	}
	readFixture(t, "llamacpp_vectors.json", &vectors)

	for _, tc := range []struct {
		typ      model.WeightType
		minCosST float64
		llamaSet string // llama.cpp's vectors on its own file; none was made for f32
		// minCosLlama is lower for q8_0: both engines round activations
		// to 8-bit blocks for Q8_0 weights (ggml's vec_dot_type Q8_0, our
		// integer kernel), but not identically (measured 0.99938 at
		// worst); llama.cpp's q8_0 is itself 0.9984 from
		// sentence-transformers on the empty text.
		minCosLlama float64
	}{
		{model.F16, 0.999, "llamacpp_f16", 0.999},
		{model.Q8_0, 0.99, "llamacpp_q8_0", 0.998},
		{model.F32, 0.999, "", 0},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			want, ok := manifest.Files[tc.typ.String()]
			if !ok {
				t.Fatalf("llamacpp_gguf.json has no %s file (regenerate with testdata/oracle/make_fixtures.py --only gguf)", tc.typ)
			}
			dir := t.TempDir()
			ours := filepath.Join(dir, "ours.gguf")
			if err := model.Convert(context.Background(), hfDir(t), ours, tc.typ); err != nil {
				t.Fatal(err)
			}
			rebuilt := filepath.Join(dir, "llamacpp.gguf")
			rebuildLlamaGGUF(t, ours, rebuilt, want)

			// llama.cpp's file has no edgesearch.max_seq_length, so the
			// engine would fall back to the 512 positions of
			// bert.context_length. sentence-transformers cuts at 256 (its
			// max_seq_length), and so did the inputs llama.cpp embedded for
			// the fixture; a user who wants that parity sets MaxTokens, and
			// so does this test, which keeps long_truncated in the
			// comparison instead of skipping it.
			for _, kernels := range allKernels {
				t.Run(kernels, func(t *testing.T) {
					p, err := New(context.Background(), Options{ModelPath: rebuilt, Workers: 1, MaxTokens: 256, Kernels: kernels})
					if err != nil {
						t.Fatalf("llama.cpp's %s GGUF does not load: %v", tc.typ, err)
					}
					defer p.Close()
					info := p.Info()
					if info.Name != "MiniLM L6 H384 Uncased" || info.MaxTokens != 256 {
						t.Errorf("loaded model %q with max %d tokens, want llama.cpp's name %q and 256",
							info.Name, info.MaxTokens, "MiniLM L6 H384 Uncased")
					}
					checkAgainstOracles(t, p, tc.minCosST, vectors.Sets, tc.llamaSet, want.SHA256, tc.minCosLlama)
				})
			}
		})
	}
}

// rebuildLlamaGGUF writes to out the file llama.cpp's converter wrote,
// described by want: metadata from the manifest (the vocabulary, recorded
// only as hashes, from our converted file at ours once it hashes the same),
// tensors from ours once each hashes the same. It fails unless the result
// has llama.cpp's sha256 and size.
func rebuildLlamaGGUF(t *testing.T, ours, out string, want llamaGGUF) {
	t.Helper()
	if want.Version != gguf.Version || want.Alignment != gguf.DefaultAlignment {
		t.Fatalf("llama.cpp wrote GGUF v%d aligned to %d; gguf.Writer writes v%d aligned to %d",
			want.Version, want.Alignment, gguf.Version, gguf.DefaultAlignment)
	}
	if len(want.MetadataOrder) != len(want.Metadata) || len(want.Tensors) == 0 {
		t.Fatalf("manifest has %d metadata keys in order, %d described, %d tensors",
			len(want.MetadataOrder), len(want.Metadata), len(want.Tensors))
	}
	src, err := gguf.Open(ours)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fileHash := sha256.New()
	w := gguf.NewWriter(io.MultiWriter(f, fileHash))

	for _, key := range want.MetadataOrder {
		kv, ok := want.Metadata[key]
		if !ok {
			t.Fatalf("manifest lists metadata %q in its order but does not describe it", key)
		}
		v, err := llamaKVValue(key, kv, src)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.AddKV(key, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, tw := range want.Tensors {
		typ, ok := tensorTypeNamed(tw.Type)
		if !ok {
			t.Fatalf("tensor %s: unknown type %s in manifest", tw.Name, tw.Type)
		}
		ti, ok := src.Tensor(tw.Name)
		if !ok {
			t.Fatalf("tensor %s: in llama.cpp's file, not in ours", tw.Name)
		}
		if ti.Type != typ || !slices.Equal(ti.Shape, tw.Shape) || ti.Size != tw.NBytes {
			t.Fatalf("tensor %s: ours is %v %v (%d bytes), llama.cpp's %s %v (%d bytes)",
				tw.Name, ti.Type, ti.Shape, ti.Size, tw.Type, tw.Shape, tw.NBytes)
		}
		if err := w.AddTensor(tw.Name, typ, tw.Shape); err != nil {
			t.Fatal(err)
		}
	}
	if len(src.Tensors) != len(want.Tensors) {
		t.Errorf("our file has %d tensors, llama.cpp's %d", len(src.Tensors), len(want.Tensors))
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, tw := range want.Tensors {
		ti, _ := src.Tensor(tw.Name)
		h := sha256.New()
		if _, err := io.Copy(w, io.TeeReader(src.TensorData(ti), h)); err != nil {
			t.Fatalf("tensor %s: %v", tw.Name, err)
		}
		if got := hexSum(h); got != tw.SHA256 {
			t.Errorf("tensor %s: our data has sha256 %s, llama.cpp's %s", tw.Name, got, tw.SHA256)
		}
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	// Offsets say where a mismatch starts: a header of another length moves
	// every tensor, a wrong tensor size moves those after it.
	back, err := gguf.Open(out)
	if err != nil {
		t.Fatalf("rebuilt file: %v", err)
	}
	defer back.Close()
	for i, tw := range want.Tensors {
		if i < len(back.Tensors) {
			if got := back.DataOffset + int64(back.Tensors[i].Offset); got != tw.Offset {
				t.Errorf("tensor %s starts at byte %d of the rebuilt file, at %d in llama.cpp's", tw.Name, got, tw.Offset)
				break
			}
		}
	}
	if got := hexSum(fileHash); got != want.SHA256 || back.Size != want.Size {
		t.Fatalf("rebuilt file: sha256 %s, %d bytes; llama.cpp's file: sha256 %s, %d bytes",
			got, back.Size, want.SHA256, want.Size)
	}
	t.Logf("rebuilt llama.cpp's file: sha256 %s, %d bytes", want.SHA256, want.Size)
}

// llamaKVValue turns a manifest entry into the Go value gguf.Writer encodes
// with the same GGUF type. Arrays recorded only by hash are taken from our
// converted file src, after checking their element type, length and hash.
func llamaKVValue(key string, kv llamaGGUFKV, src *gguf.File) (any, error) {
	if kv.Type != "ARRAY" {
		return decodeScalar(kv.Type, kv.Value)
	}
	if kv.Value != nil {
		return decodeArray(kv.ElementType, kv.Value)
	}
	if kv.SHA256Lines == "" {
		return nil, fmt.Errorf("metadata %s: array with neither value nor sha256_lines in manifest", key)
	}
	v, ok := src.Get(key)
	if !ok {
		return nil, fmt.Errorf("metadata %s: llama.cpp's file has it, ours does not", key)
	}
	var n int
	var sum string
	switch x := v.(type) {
	case []string:
		n, sum = len(x), linesSHA256(x, func(s string) string { return s })
		if kv.ElementType != "STRING" {
			return nil, fmt.Errorf("metadata %s: ours is an array of strings, llama.cpp's of %s", key, kv.ElementType)
		}
	case []int32:
		n, sum = len(x), linesSHA256(x, func(i int32) string { return strconv.Itoa(int(i)) })
		if kv.ElementType != "INT32" {
			return nil, fmt.Errorf("metadata %s: ours is an array of int32, llama.cpp's of %s", key, kv.ElementType)
		}
	default:
		return nil, fmt.Errorf("metadata %s: ours is %T, not an array the manifest hashes", key, v)
	}
	if n != kv.Length || sum != kv.SHA256Lines {
		return nil, fmt.Errorf("metadata %s: ours has %d elements hashing to %s, llama.cpp's %d hashing to %s",
			key, n, sum, kv.Length, kv.SHA256Lines)
	}
	return v, nil
}

// linesSHA256 is make_fixtures.py's lines_sha256: each element's text, then "\n".
func linesSHA256[T any](s []T, text func(T) string) string {
	h := sha256.New()
	for _, e := range s {
		io.WriteString(h, text(e))
		io.WriteString(h, "\n")
	}
	return hexSum(h)
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// decodeScalar decodes raw as the Go type gguf.Writer maps to the GGUF type
// named typ (gguf-py's GGUFValueType names).
func decodeScalar(typ string, raw json.RawMessage) (any, error) {
	switch typ {
	case "UINT8":
		return decodeAs[uint8](raw)
	case "INT8":
		return decodeAs[int8](raw)
	case "UINT16":
		return decodeAs[uint16](raw)
	case "INT16":
		return decodeAs[int16](raw)
	case "UINT32":
		return decodeAs[uint32](raw)
	case "INT32":
		return decodeAs[int32](raw)
	case "UINT64":
		return decodeAs[uint64](raw)
	case "INT64":
		return decodeAs[int64](raw)
	case "FLOAT32":
		// The manifest prints the float32 widened to float64, so narrowing
		// it back is exact.
		f, err := decodeAs[float64](raw)
		return float32(f), err
	case "FLOAT64":
		return decodeAs[float64](raw)
	case "BOOL":
		return decodeAs[bool](raw)
	case "STRING":
		return decodeAs[string](raw)
	}
	return nil, fmt.Errorf("manifest value type %q not understood", typ)
}

func decodeArray(elem string, raw json.RawMessage) (any, error) {
	switch elem {
	case "UINT32":
		return decodeAs[[]uint32](raw)
	case "INT32":
		return decodeAs[[]int32](raw)
	case "FLOAT32":
		return decodeAs[[]float32](raw)
	case "BOOL":
		return decodeAs[[]bool](raw)
	case "STRING":
		return decodeAs[[]string](raw)
	}
	return nil, fmt.Errorf("manifest array of %q not understood", elem)
}

func decodeAs[T any](raw json.RawMessage) (T, error) {
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("manifest value %s: %w", raw, err)
	}
	return v, nil
}

func tensorTypeNamed(name string) (gguf.TensorType, bool) {
	for _, typ := range []gguf.TensorType{gguf.F32, gguf.F16, gguf.BF16, gguf.Q8_0} {
		if typ.String() == name {
			return typ, true
		}
	}
	return 0, false
}

// checkAgainstOracles embeds the st_vectors.json texts once with p and
// compares the vectors with sentence-transformers' and, when set is not "",
// with llama.cpp's from llamacpp_vectors.json, which must have been made
// from the file with sha256 fileSHA.
func checkAgainstOracles(t *testing.T, p *Pool, minCosST float64, sets map[string]llamaVectorSet, set, fileSHA string, minCosLlama float64) {
	t.Helper()
	embs := checkAgainstST(t, p, minCosST)
	if set == "" {
		return
	}
	llama, ok := sets[set]
	if !ok {
		t.Fatalf("llamacpp_vectors.json: no set %s", set)
	}
	if llama.GGUFSHA256 != fileSHA {
		t.Fatalf("llamacpp_vectors.json: set %s was embedded from a GGUF with sha256 %s, not llama.cpp's converter output %s (regenerate the fixtures together)",
			set, llama.GGUFSHA256, fileSHA)
	}
	checkAgainstLlama(t, embs, set, llama, minCosLlama)
}
