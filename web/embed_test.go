package web_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/web"
)

type embedOne struct {
	NEmbedding int       `json:"n_embedding"`
	Embedding  []float32 `json:"embedding"`
	NTokens    int       `json:"n_tokens"`
	Truncated  bool      `json:"truncated"`
}

type embedMany struct {
	NEmbedding int         `json:"n_embedding"`
	Embeddings [][]float32 `json:"embeddings"`
	NTokens    []int       `json:"n_tokens"`
	Truncated  []bool      `json:"truncated"`
}

func norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// direct embeds texts with the pool itself, the reference the HTTP answers
// must match.
func direct(t *testing.T, p *embedder.Pool, texts ...string) []embedder.Embedding {
	t.Helper()
	embs, err := p.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return embs
}

// sameVector checks got equals want up to float32 rounding. JSON round-trips
// float32 exactly, but the pool may batch a text with different neighbours
// in two calls, which changes summation order in the last bit or so.
func sameVector(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d dims, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("%s: [%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestEmbedOneTextMatchesThePool(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	r := call(t, "POST", base+"/embed", map[string]any{"text": "Hello world"}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got embedOne
	r.decode(t, &got)
	want := direct(t, p, "Hello world")[0]
	if got.NEmbedding != 384 || got.NTokens != 4 || got.Truncated {
		t.Fatalf("n_embedding %d n_tokens %d truncated %v, want 384, 4 ([CLS] hello world [SEP]), false",
			got.NEmbedding, got.NTokens, got.Truncated)
	}
	sameVector(t, "embedding", got.Embedding, want.Vector)
	if n := norm(got.Embedding); math.Abs(n-1) > 1e-4 {
		t.Fatalf("norm %v, want 1", n)
	}
}

func TestEmbedManyTextsKeepsOrderAndReportsTruncation(t *testing.T) {
	p := pool(t)
	_, base := start(t, web.Config{}, p)
	long := strings.Repeat("edge search on a small board ", 200)
	texts := []string{"The cat sits on the mat.", "Quarterly revenue grew by 4%.", long}
	r := call(t, "POST", base+"/embed", map[string]any{"texts": texts}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var got embedMany
	r.decode(t, &got)
	if got.NEmbedding != 384 || len(got.Embeddings) != 3 || len(got.NTokens) != 3 || len(got.Truncated) != 3 {
		t.Fatalf("shape: %d dims, %d embeddings, %d n_tokens, %d truncated",
			got.NEmbedding, len(got.Embeddings), len(got.NTokens), len(got.Truncated))
	}
	want := direct(t, p, texts...)
	for i := range texts {
		sameVector(t, texts[i][:10], got.Embeddings[i], want[i].Vector)
		if got.NTokens[i] != want[i].Tokens || got.Truncated[i] != want[i].Truncated {
			t.Errorf("text %d: n_tokens %d truncated %v, want %d %v", i, got.NTokens[i], got.Truncated[i], want[i].Tokens, want[i].Truncated)
		}
	}
	if got.Truncated[0] || !got.Truncated[2] || got.NTokens[2] != p.Info().MaxTokens {
		t.Fatalf("truncated %v n_tokens %v, want only the long text truncated at %d", got.Truncated, got.NTokens, p.Info().MaxTokens)
	}
}

// The seed server's README example, run with the real curl, must keep working.
func TestSeedCurlExampleWorks(t *testing.T) {
	_, base := start(t, web.Config{}, pool(t))
	out, err := exec.Command("curl", "-sS", "-X", "POST", base+"/embed",
		"-H", "Content-Type: application/json", "-d", `{"text":"Hello world"}`).Output()
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	var got embedOne
	reply{status: 200, header: http.Header{"Content-Type": {"application/json"}}, body: out}.decode(t, &got)
	if got.NEmbedding != 384 || len(got.Embedding) != 384 {
		t.Fatalf("curl got %d/%d dims: %.200s", got.NEmbedding, len(got.Embedding), out)
	}
}

func TestEmbedRefusesBadRequestsAndKeepsServing(t *testing.T) {
	_, base := start(t, web.Config{MaxTexts: 3}, pool(t))
	tests := []struct {
		name string
		body string
		want string // in the error message
	}{
		{"empty body", "", "empty"},
		{"invalid JSON", `{"text":`, "invalid JSON"},
		{"not an object", `["hello"]`, "invalid JSON"},
		{"two values", `{"text":"a"} {"text":"b"}`, "more than one"},
		{"no text", `{}`, "missing"},
		{"null text", `{"text":null}`, "missing"},
		{"empty text", `{"text":""}`, "empty"},
		{"blank text", `{"text":"  \n\t"}`, "empty"},
		{"text not a string", `{"text":42}`, `"text" must be a string`},
		{"text as array", `{"text":["a"]}`, `"text" must be a string`},
		{"texts not an array", `{"texts":"a"}`, `"texts" must be an array`},
		{"texts item not a string", `{"texts":["a",7]}`, `"texts[1]" must be a string`},
		{"texts item empty", `{"texts":["a",""]}`, `"texts[1]" is empty`},
		{"texts empty", `{"texts":[]}`, `"texts" is empty`},
		{"both fields", `{"text":"a","texts":["b"]}`, "not both"},
		{"too many texts", `{"texts":["a","b","c","d"]}`, "too many texts"},
		{"invalid UTF-8", "{\"text\":\"caf\xe9\"}", "UTF-8"},
		{"invalid UTF-8 in texts", "{\"texts\":[\"ok\",\"\xff\xfe\"]}", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call(t, "POST", base+"/embed", tt.body, nil).wantError(t, http.StatusBadRequest, tt.want)
			embedOK(t, base, nil)
		})
	}
}

func TestBodyOverTheLimitIs413(t *testing.T) {
	_, base := start(t, web.Config{MaxBodyBytes: 1024}, pool(t))
	big := `{"text":"` + strings.Repeat("a", 2048) + `"}`

	// With Content-Length: refused before the body is read.
	call(t, "POST", base+"/embed", big, nil).wantError(t, http.StatusRequestEntityTooLarge, "too large")
	embedOK(t, base, nil)

	// Chunked, so the size is only known while reading.
	req, err := http.NewRequest("POST", base+"/v1/embeddings", struct{ *strings.Reader }{strings.NewReader(big)})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked body over the limit: status %d, want 413", resp.StatusCode)
	}
	embedOK(t, base, nil)

	// Just under the limit still works.
	ok := `{"text":"` + strings.Repeat("a ", 400) + `"}`
	if r := call(t, "POST", base+"/embed", ok, nil); r.status != http.StatusOK {
		t.Fatalf("body of %d bytes (limit 1024): %d %s", len(ok), r.status, r.body)
	}
}

func TestFullQueueIs503WithRetryAfter(t *testing.T) {
	// A pool of its own with room for two texts: three can never fit, so
	// the refusal is certain rather than a race.
	p, err := embedder.New(context.Background(), embedder.Options{ModelPath: modelPath(t), Workers: 1, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	_, base := start(t, web.Config{RetryAfter: 1500e6}, p)

	r := call(t, "POST", base+"/embed", map[string]any{"texts": []string{"a", "b", "c"}}, nil)
	r.wantError(t, http.StatusServiceUnavailable, "overloaded")
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2 (1.5s rounded up)", got)
	}
	r = call(t, "POST", base+"/v1/embeddings", map[string]any{"input": []string{"a", "b", "c"}}, nil)
	r.wantError(t, http.StatusServiceUnavailable, "overloaded")

	if r := call(t, "POST", base+"/embed", map[string]any{"texts": []string{"a", "b"}}, nil); r.status != http.StatusOK {
		t.Fatalf("two texts after the refusal: %d %s", r.status, r.body)
	}
	m := string(call(t, "GET", base+"/metrics", nil, nil).body)
	if !strings.Contains(m, "edgesearch_embed_rejections_total 2\n") {
		t.Fatalf("metrics do not count the 2 rejections:\n%s", m)
	}
}

// A request of several pieces finishes although queries keep coming in
// between them: a later piece the pool refuses because of them is tried
// again, not turned into a 503 after the work before it was done.
func TestEmbedLargeRequestOutlastsQueriesBetweenItsPieces(t *testing.T) {
	// One worker and a short MaxWait, so a piece finding a query in flight
	// is refused (the pool admits two texts per worker beside others).
	p, err := embedder.New(context.Background(), embedder.Options{ModelPath: modelPath(t), Workers: 1, MaxWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	_, base := start(t, web.Config{}, p)
	texts := make([]string, 400) // four pieces
	for i := range texts {
		texts[i] = fmt.Sprintf("line %d of the log", i)
	}
	answer := make(chan reply, 1)
	go func() { answer <- call(t, "POST", base+"/v1/embeddings", map[string]any{"input": texts}, nil) }()
	// The queries start once the first piece is in: a first piece refused
	// is a plain 503, which TestFullQueueIs503WithRetryAfter covers.
	for p.Inflight() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	var queries sync.WaitGroup
	for range 2 {
		queries.Go(func() {
			for {
				select {
				case <-done:
					return
				case <-time.After(time.Millisecond):
				}
				// 503s are expected while a piece runs; the point is the load.
				call(t, "POST", base+"/embed", map[string]any{"text": "a query"}, nil)
			}
		})
	}
	r := <-answer
	close(done)
	queries.Wait()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %.300s", r.status, r.body)
	}
	var got openAIList
	r.decode(t, &got)
	if len(got.Data) != len(texts) {
		t.Fatalf("%d embeddings, want %d", len(got.Data), len(texts))
	}
	t.Logf("pool refused %d texts meanwhile (queries and pieces tried again)", p.Stats().Rejected.Load())
}
