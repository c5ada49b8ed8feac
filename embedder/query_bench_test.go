package embedder

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkEmbedQuery times one short query, as a search box sends it, on
// each kernels with one and two workers (the host's kernels use both cores
// for one query):
//
//	go test ./embedder/ -run '^$' -bench EmbedQuery
func BenchmarkEmbedQuery(b *testing.B) {
	const query = "how do vaccines train the immune system"
	ctx := context.Background()
	for _, kernels := range allKernels {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", kernels, workers), func(b *testing.B) {
				p, err := New(ctx, Options{ModelPath: modelPath(b), Workers: workers, Kernels: kernels, MaxWait: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				for range 5 { // warm caches
					if _, err := p.Embed(ctx, []string{query}); err != nil {
						b.Fatal(err)
					}
				}
				for b.Loop() {
					if _, err := p.Embed(ctx, []string{query}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEmbedBatch times a batch of 32 sentences of about 20 tokens on
// each kernels with one worker: throughput without the pool's fan-out.
func BenchmarkEmbedBatch(b *testing.B) {
	ctx := context.Background()
	texts := make([]string, 32)
	for i := range texts {
		texts[i] = fmt.Sprintf("sentence %d says that edge devices search their documents by meaning, offline and fast", i)
	}
	for _, kernels := range allKernels {
		b.Run(kernels, func(b *testing.B) {
			p, err := New(ctx, Options{ModelPath: modelPath(b), Workers: 1, Kernels: kernels, MaxWait: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			tokens := 0
			for b.Loop() {
				embs, err := p.Embed(ctx, texts)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range embs {
					tokens += e.Tokens
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
