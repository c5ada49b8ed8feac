package embedder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/guest"
)

// worstBatch is the largest batch a worker embeds: 32 texts of the model's
// full 256 tokens (about 40 KB, under maxBatchBytes).
func worstBatch() []string {
	texts := make([]string, 32)
	for i := range texts {
		texts[i] = fmt.Sprintf("text %d: ", i) + strings.Repeat("edge devices search documents by meaning, offline. ", 30)
	}
	return texts
}

// BenchmarkWorstBatchGuestCalls times every guest call that embeds the
// worst batch: the steps of a job, and es_embed_batch as one call (what
// a worker made before jobs were stepped). The models are the test model
// and those in EDGESEARCH_CALL_MODELS (comma-separated GGUF paths).
//
//	go test ./embedder/ -run '^$' -bench WorstBatchGuestCalls -benchtime 3x
func BenchmarkWorstBatchGuestCalls(b *testing.B) {
	paths := []string{modelPath(b)}
	if extra := os.Getenv("EDGESEARCH_CALL_MODELS"); extra != "" {
		paths = append(paths, strings.Split(extra, ",")...)
	}
	ctx := context.Background()
	rt, err := newGuestRuntime(ctx, "", guest.Binary, "")
	if err != nil {
		b.Fatal(err)
	}
	defer rt.close(ctx)
	texts := worstBatch()
	for _, path := range paths {
		b.Run(filepath.Base(path), func(b *testing.B) {
			m, err := openModel(path)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			in, err := newInstance(ctx, rt, m, 0, true)
			if err != nil {
				b.Fatal(err)
			}
			defer in.close(ctx)
			var steps, whole []float64
			for b.Loop() {
				j, err := in.startJob(ctx, texts)
				if err != nil {
					b.Fatal(err)
				}
				for done := false; !done; {
					t := time.Now()
					if done, err = in.step(ctx, j); err != nil {
						b.Fatal(err)
					}
					steps = append(steps, float64(time.Since(t).Microseconds())/1000)
				}
				if _, err := in.finishJob(ctx, j); err != nil {
					b.Fatal(err)
				}
				t := time.Now()
				if _, err := in.embedOneCall(ctx, texts); err != nil {
					b.Fatal(err)
				}
				whole = append(whole, float64(time.Since(t).Microseconds())/1000)
			}
			sort.Float64s(steps)
			b.ReportMetric(float64(len(steps))/float64(len(whole)), "steps/batch")
			b.ReportMetric(steps[len(steps)/2], "step-p50-ms")
			b.ReportMetric(steps[(len(steps)*99+99)/100-1], "step-p99-ms")
			b.ReportMetric(slices.Max(steps), "step-max-ms")
			b.ReportMetric(slices.Max(whole), "onecall-max-ms")
			b.ReportMetric(slices.Min(whole), "onecall-min-ms")
		})
	}
}
