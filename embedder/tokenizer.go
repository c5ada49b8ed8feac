package embedder

import (
	"bytes"
	"context"
	"fmt"

	"github.com/edgesearch/edgesearch/embedder/gguf"
)

// Tokenizing has an instance of its own that holds the vocabulary and no
// weights (a few MB). Through the embedding queue, a Tokenize call waited
// behind every text queued before it: a bulk import, which tokenizes each
// document to chunk it while it embeds the chunks of earlier ones, starved
// its own chunking stage and ran at 0.76 of the embedder's throughput.

// vocabGGUF returns a GGUF with the model's metadata and no tensors: what
// es_load_vocab needs.
func vocabGGUF(m *modelFile) ([]byte, error) {
	f, err := gguf.NewReader(m.r, int64(m.size))
	if err != nil {
		return nil, fmt.Errorf("couldn't read model %s: %w", m.name, err)
	}
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	for _, kv := range f.Metadata {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			return nil, fmt.Errorf("model %s: %w", m.name, err)
		}
	}
	if err := w.WriteHeader(); err != nil {
		return nil, err
	}
	if err := w.Finish(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// newTokenizer starts an instance with only the vocabulary of vocab (from
// vocabGGUF) loaded.
func newTokenizer(ctx context.Context, rt guestRuntime, vocab []byte) (*instance, error) {
	in, err := instantiate(ctx, rt)
	if err != nil {
		return nil, err
	}
	ptr, err := in.alloc(ctx, len(vocab))
	if err != nil {
		in.close(ctx)
		return nil, fmt.Errorf("couldn't make room for the vocabulary: %w", err)
	}
	if !in.mem.Write(ptr, vocab) {
		in.close(ctx)
		return nil, fmt.Errorf("couldn't write the vocabulary into guest memory")
	}
	// es_load_vocab owns ptr from here on.
	rc, err := in.call1(ctx, in.loadVocab, uint64(ptr), uint64(len(vocab)))
	if err == nil && rc != 0 {
		err = fmt.Errorf("couldn't load the vocabulary: %s", in.errorText(ctx))
	}
	if err != nil {
		in.close(ctx)
		return nil, err
	}
	return in, nil
}
