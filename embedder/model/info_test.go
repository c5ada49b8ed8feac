package model

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

func TestDescribeRefusesHyperparametersBeyondInt32(t *testing.T) {
	// As an int, 2^31 is negative on a 32-bit build and 2^32+384 is 384:
	// the summary would show a wrapped number, or a wrong but plausible
	// one. No model has such sizes, so on every build they are damage.
	cases := []struct {
		key   string
		value any
	}{
		{"bert.embedding_length", uint64(1 << 31)},
		{"bert.block_count", uint32(1 << 31)},
		{"bert.context_length", int64(1<<32 + 384)},
		{"edgesearch.max_seq_length", uint64(1<<32 + 256)},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.gguf")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := gguf.NewWriter(f)
			for _, kv := range []gguf.KV{{Key: "general.architecture", Value: "bert"}, {Key: c.key, Value: c.value}} {
				if err := w.AddKV(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.WriteHeader(); err != nil {
				t.Fatal(err)
			}
			if err := w.Finish(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			info, err := Describe(path, false)
			if !errors.Is(err, gguf.ErrCorrupt) {
				t.Fatalf("got %+v, %v; want gguf.ErrCorrupt", info, err)
			}
		})
	}
}
