package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// Info summarises a GGUF model file. It marshals to JSON as is and prints as
// aligned text with String.
type Info struct {
	Path         string         `json:"path"`
	Size         int64          `json:"size"`
	SHA256       string         `json:"sha256,omitempty"`
	GGUFVersion  uint32         `json:"gguf_version"`
	Architecture string         `json:"architecture"`
	Name         string         `json:"name"`
	FileType     string         `json:"file_type"`
	Dims         int            `json:"dims"`
	Layers       int            `json:"layers"`
	Heads        int            `json:"heads"`
	FeedForward  int            `json:"feed_forward"`
	Context      int            `json:"context"`
	MaxSeqLength int            `json:"max_seq_length,omitempty"`
	VocabSize    int            `json:"vocab_size"`
	Pooling      string         `json:"pooling"`
	Tokenizer    string         `json:"tokenizer"`
	MetadataKeys int            `json:"metadata_keys"`
	TensorCount  int            `json:"tensor_count"`
	TensorTypes  map[string]int `json:"tensor_types"` // type name → tensors of that type
	Parameters   uint64         `json:"parameters"`
}

var fileTypeNames = map[uint64]string{0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0",
	9: "Q5_1", 10: "Q2_K", 12: "Q3_K_M", 15: "Q4_K_M", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16"}

var poolingNames = map[uint64]string{0: "none", 1: "mean", 2: "cls", 3: "last", 4: "rank"}

// Describe reads the header of the GGUF file at path (not its tensor data)
// and summarises it. With checksum it also hashes the whole file. It fails
// with an error wrapping gguf.ErrNotGGUF or gguf.ErrCorrupt for a file that
// is not a sound GGUF.
func Describe(path string, checksum bool) (Info, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("describe model: %w", err)
	}
	defer f.Close()
	arch := f.String("general.architecture")
	// A size beyond an int32 is no model's; as an int it would show
	// wrapped (negative, or 2^32+384 as 384) on a 32-bit build, so on
	// every build it is reported as damage.
	var bad error
	num := func(key string) int {
		n, _ := f.Uint(key)
		if n > math.MaxInt32 && bad == nil {
			bad = fmt.Errorf("describe model %s: %s is %d, beyond any model's: %w", path, key, n, gguf.ErrCorrupt)
		}
		return int(min(n, math.MaxInt32))
	}
	info := Info{
		Path: path, Size: f.Size, GGUFVersion: f.Version,
		Architecture: arch, Name: f.String("general.name"),
		Dims: num(arch + ".embedding_length"), Layers: num(arch + ".block_count"), Heads: num(arch + ".attention.head_count"),
		FeedForward: num(arch + ".feed_forward_length"), Context: num(arch + ".context_length"),
		Tokenizer:    f.String("tokenizer.ggml.model"),
		MetadataKeys: len(f.Metadata), TensorCount: len(f.Tensors), TensorTypes: map[string]int{},
	}
	info.MaxSeqLength = num("edgesearch.max_seq_length")
	if bad != nil {
		return Info{}, bad
	}
	if v, ok := f.Get("tokenizer.ggml.tokens"); ok {
		if toks, ok := v.([]string); ok {
			info.VocabSize = len(toks)
		}
	}
	info.Pooling = "unset"
	if n, ok := f.Uint(arch + ".pooling_type"); ok {
		info.Pooling = poolingNames[n]
	}
	info.FileType = "unset"
	if n, ok := f.Uint("general.file_type"); ok {
		info.FileType = fileTypeNames[n]
		if info.FileType == "" {
			info.FileType = fmt.Sprintf("type %d", n)
		}
	}
	for _, t := range f.Tensors {
		info.TensorTypes[t.Type.String()]++
		info.Parameters += t.Elements()
	}
	if checksum {
		sum, err := fileSHA256(path)
		if err != nil {
			return Info{}, fmt.Errorf("describe model %s: %w", path, err)
		}
		info.SHA256 = sum
	}
	return info, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// String renders the summary as "key: value" lines.
func (i Info) String() string {
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%-15s %v\n", k+":", v) }
	line("path", i.Path)
	line("size", fmt.Sprintf("%d bytes (%.1f MB)", i.Size, float64(i.Size)/1e6))
	if i.SHA256 != "" {
		line("sha256", i.SHA256)
	}
	line("gguf version", i.GGUFVersion)
	line("architecture", i.Architecture)
	line("name", i.Name)
	line("file type", i.FileType)
	line("dims", i.Dims)
	line("layers", i.Layers)
	line("heads", i.Heads)
	line("feed forward", i.FeedForward)
	line("context", i.Context)
	if i.MaxSeqLength > 0 {
		line("max seq length", i.MaxSeqLength)
	}
	line("vocab size", i.VocabSize)
	line("tokenizer", i.Tokenizer)
	line("pooling", i.Pooling)
	line("parameters", i.Parameters)
	types := make([]string, 0, len(i.TensorTypes))
	for t, n := range i.TensorTypes {
		types = append(types, fmt.Sprintf("%s×%d", t, n))
	}
	sort.Strings(types)
	line("tensors", fmt.Sprintf("%d (%s)", i.TensorCount, strings.Join(types, ", ")))
	return b.String()
}
