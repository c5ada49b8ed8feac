package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/web"
)

// BenchmarkOpenAIEmbeddingsPeakRSS posts MaxTexts (2048) texts of about 256
// word pieces each to /v1/embeddings once per iteration and reports how far
// the process's resident set rose above where it was before the request
// (peak-MiB, from Linux's VmHWM after clear_refs), the client's reading of
// the answer included (it keeps none of it). It warms the pool first, so the workers' guest memory
// has already grown to a full batch of long texts. Run it with
//
//	go test ./web/ -run '^$' -bench OpenAIEmbeddingsPeakRSS -benchtime 1x
//
// EDGESEARCH_BENCH_MAX_TOKENS, when set, embeds only that many tokens of
// each text (the texts stay as long), so the run takes seconds, not minutes.
func BenchmarkOpenAIEmbeddingsPeakRSS(b *testing.B) {
	maxTokens, _ := strconv.Atoi(os.Getenv("EDGESEARCH_BENCH_MAX_TOKENS"))
	format := os.Getenv("EDGESEARCH_BENCH_FORMAT") // "" (float) or "base64"
	if format == "" {
		format = "float"
	}
	// A pool of its own whose queue holds every text, so a server that
	// hands the pool all the texts at once can be measured too.
	p, err := embedder.New(context.Background(), embedder.Options{
		ModelPath: modelPath(b), Workers: 2, QueueSize: 4096, MaxTokens: maxTokens, MaxWait: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	s, err := web.New(web.Config{MaxTexts: 2048, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	s.SetEmbedder(p)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	texts := longTexts(2048, 200)
	body := func(texts []string) []byte {
		b, _ := json.Marshal(map[string]any{"input": texts, "model": "m", "encoding_format": format})
		return b
	}
	post := func(body []byte) {
		resp, err := http.Post(srv.URL+"/v1/embeddings", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body) // the client keeps nothing
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		b.SetBytes(n)
	}
	post(body(texts[:128])) // warm-up: every worker embeds full batches once
	all := body(texts)      // made before the measure: the client's share is not the server's
	var peak float64
	for b.Loop() {
		runtime.GC()
		debug.FreeOSMemory()
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			b.Skipf("cannot reset the peak resident set: %v", err)
		}
		before := procStatusKB(b, "VmRSS")
		post(all)
		peak = max(peak, float64(procStatusKB(b, "VmHWM")-before)/1024)
	}
	b.ReportMetric(peak, "peak-MiB")
}

// longTexts makes n distinct texts of words common enough to be one word
// piece each, about words pieces long.
func longTexts(n, words int) []string {
	vocab := strings.Fields("the small board runs a search engine that reads every page and finds the parts people ask about " +
		"while the model turns each passage into numbers so similar meaning lands close together in the index")
	out := make([]string, n)
	var sb strings.Builder
	for i := range out {
		sb.Reset()
		fmt.Fprintf(&sb, "passage %d:", i)
		for w := range words {
			sb.WriteByte(' ')
			sb.WriteString(vocab[(i*7+w*w+w)%len(vocab)])
		}
		out[i] = sb.String()
	}
	return out
}

// procStatusKB reads one kB field of /proc/self/status.
func procStatusKB(b *testing.B, field string) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
