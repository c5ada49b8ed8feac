package indexer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/store"
)

// BenchmarkImportVsEmbed imports a folder of 20 text files (about 60
// chunks) into a fresh store, then embeds the very same chunk texts with
// raw Embed calls, and reports both rates and their ratio; the design's
// target is import ≥ 90% of raw embedding.
func BenchmarkImportVsEmbed(b *testing.B) {
	ctx := context.Background()
	p := testPool(b)
	dir := b.TempDir()
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc%02d.txt", i)), []byte(longText(300+10*i)), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var importTime, embedTime time.Duration
	chunks := 0
	for b.Loop() {
		st := testStore(b, b.TempDir())
		start := time.Now()
		sum, err := Import(ctx, []string{dir}, ImportOptions{Store: st, Embedder: p})
		if err != nil || len(sum.Failures) > 0 {
			b.Fatal(err, sum.Failures)
		}
		importTime += time.Since(start)
		chunks += sum.Chunks

		var texts []string
		if _, err := st.ForEachChunk(ctx, func(c store.Chunk) error { texts = append(texts, c.Text); return nil }); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		var wg sync.WaitGroup
		for lo := 0; lo < len(texts); lo += embedCall {
			wg.Go(func() {
				if _, err := p.Embed(ctx, texts[lo:min(lo+embedCall, len(texts))]); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		embedTime += time.Since(start)
	}
	imp := float64(chunks) / importTime.Seconds()
	raw := float64(chunks) / embedTime.Seconds()
	b.ReportMetric(imp, "import-chunks/s")
	b.ReportMetric(raw, "embed-chunks/s")
	b.ReportMetric(imp/raw, "import/embed")
}
