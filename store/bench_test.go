package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkPut measures Put throughput into a growing store with documents
// of 8 chunks and 384-d vectors: batches of 64 as an importer writes them
// (one fsync per batch), and single documents as an HTTP client might.
func BenchmarkPut(b *testing.B) {
	const chunksPerDoc = 8
	for _, bc := range []struct {
		batchDocs int
		half      bool
	}{{64, false}, {64, true}, {1, false}} {
		batchDocs, half := bc.batchDocs, bc.half
		name := fmt.Sprintf("batch=%d/float32", batchDocs)
		if half {
			name = fmt.Sprintf("batch=%d/float16", batchDocs)
		}
		b.Run(name, func(b *testing.B) {
			s := openTest(b, filepath.Join(b.TempDir(), "bench.db"), Options{Model: testModel, Dims: testDims, Float16: half})
			// Build the documents once; only their ids change per batch.
			proto := make([]Document, batchDocs)
			for i := range proto {
				proto[i] = testDoc(fmt.Sprint(i), chunksPerDoc, testDims, uint64(i))
			}
			batch := make([]Document, batchDocs)
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				for i := range batch {
					batch[i] = proto[i]
					batch[i].ID = fmt.Sprintf("bench-%09d", n)
					batch[i].Chunks = append([]Chunk(nil), proto[i].Chunks...)
					n++
				}
				if err := s.Put(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(n)/sec, "docs/s")
			b.ReportMetric(float64(n*chunksPerDoc)/sec, "chunks/s")
		})
	}
}
