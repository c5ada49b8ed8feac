package embedder

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgesearch/edgesearch/guest"
)

// modelPath is the f16 all-MiniLM-L6-v2 GGUF that `make model` pulls.
func modelPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("EDGESEARCH_MODEL")
	if p == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		p = filepath.Join(dir, "edgesearch", "all-MiniLM-L6-v2-f16.gguf")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("model %s is missing (run `make model`): %v", p, err)
	}
	return p
}

var (
	sharedMu    sync.Mutex
	sharedPools = map[string]*Pool{}
)

// pool returns one Pool on the real model with the default kernels, shared
// by the tests that only embed (loading the model per test would dominate
// the run time).
func pool(t testing.TB) *Pool { return poolOf(t, "") }

// poolOf is pool with Options.Kernels kernels.
func poolOf(t testing.TB, kernels string) *Pool {
	t.Helper()
	path := modelPath(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if p, ok := sharedPools[kernels]; ok {
		return p
	}
	p, err := New(context.Background(), Options{ModelPath: path, Workers: 2, MaxWait: -1, Kernels: kernels, Runtime: testRuntime})
	if err != nil {
		t.Fatal(err)
	}
	sharedPools[kernels] = p
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, p := range sharedPools {
		p.Close()
	}
	os.Exit(code)
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func TestInfoDescribesMiniLM(t *testing.T) {
	info := pool(t).Info()
	if info.Dims != 384 || info.Layers != 6 || info.Heads != 12 || info.Vocab != 30522 {
		t.Fatalf("info = %+v, want 384 dims, 6 layers, 12 heads, 30522 tokens", info)
	}
	if info.MaxTokens != 256 {
		t.Errorf("max tokens = %d, want 256 (sentence-transformers' max_seq_length)", info.MaxTokens)
	}
	if info.Pooling != "mean" {
		t.Errorf("pooling = %q, want mean", info.Pooling)
	}
}

func TestEmbedReturnsUnitVectorsInOrder(t *testing.T) {
	p := pool(t)
	texts := []string{"The cat sits on the mat.", "", "Quantum chromodynamics", "a cat is sitting on a rug"}
	embs, err := p.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(embs) != len(texts) {
		t.Fatalf("got %d embeddings for %d texts", len(embs), len(texts))
	}
	for i, e := range embs {
		if len(e.Vector) != 384 {
			t.Fatalf("text %d: %d dims", i, len(e.Vector))
		}
		var n float64
		for _, v := range e.Vector {
			n += float64(v) * float64(v)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Errorf("text %d: |v|² = %v, want 1", i, n)
		}
	}
	if embs[1].Tokens != 2 {
		t.Errorf("empty text: %d tokens, want 2 ([CLS] [SEP])", embs[1].Tokens)
	}
	near := cosine(embs[0].Vector, embs[3].Vector)
	far := cosine(embs[0].Vector, embs[2].Vector)
	if near <= far+0.3 {
		t.Errorf("cat/cat cosine %.3f should be well above cat/physics %.3f", near, far)
	}
}

func TestBatchedEqualsOneByOne(t *testing.T) {
	p := pool(t)
	texts := []string{
		"short",
		"A somewhat longer sentence about Raspberry Pi boards and offline search.",
		strings.Repeat("tokens of varied length make padding matter ", 8),
		"café naïve 東京 🙂",
	}
	batch, err := p.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		one, err := p.Embed(context.Background(), []string{text})
		if err != nil {
			t.Fatal(err)
		}
		if c := cosine(one[0].Vector, batch[i].Vector); c < 0.99999 {
			t.Errorf("text %d: batched vs alone cosine %.7f", i, c)
		}
		if one[0].Tokens != batch[i].Tokens {
			t.Errorf("text %d: tokens %d alone, %d batched", i, one[0].Tokens, batch[i].Tokens)
		}
	}
}

func TestLongTextIsTruncatedNotRejected(t *testing.T) {
	long := strings.Repeat("edge devices search documents by meaning. ", 100)
	embs, err := pool(t).Embed(context.Background(), []string{long, "short text"})
	if err != nil {
		t.Fatal(err)
	}
	if !embs[0].Truncated || embs[0].Tokens != 256 {
		t.Errorf("long text: truncated=%v tokens=%d, want true and 256", embs[0].Truncated, embs[0].Tokens)
	}
	if embs[1].Truncated {
		t.Errorf("short text reported truncated")
	}
}

func TestConcurrentCallersGetTheirOwnVectors(t *testing.T) {
	p := pool(t)
	texts := make([]string, 40)
	for i := range texts {
		texts[i] = strings.Repeat("word ", i%7+1) + string(rune('a'+i%26)) + " sentence number " + strings.Repeat("x", i)
	}
	want, err := p.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(texts))
	for i := range texts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := p.Embed(context.Background(), []string{texts[i]})
			if err != nil {
				errs <- err
				return
			}
			if c := cosine(got[0].Vector, want[i].Vector); c < 0.99999 {
				errs <- errors.New("a concurrent caller got another text's vector")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if b, n := p.Stats().Batches.Load(), p.Stats().Texts.Load(); b >= n {
		t.Logf("no batching observed (%d batches for %d texts)", b, n)
	}
}

func TestInvalidUTF8IsRejected(t *testing.T) {
	_, err := pool(t).Embed(context.Background(), []string{"fine", "bad \xff\xfe"})
	if !errors.Is(err, ErrInvalidText) {
		t.Fatalf("err = %v, want ErrInvalidText", err)
	}
}

func TestCancelledContextReturnsItsError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := pool(t).Embed(ctx, []string{"anything"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	// The pool still works afterwards.
	if _, err := pool(t).Embed(context.Background(), []string{"still here"}); err != nil {
		t.Fatal(err)
	}
}

func TestFullQueueSaysOverloaded(t *testing.T) {
	p, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 1, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Embed(context.Background(), []string{"1", "2", "3", "4", "5"})
	if !errors.Is(err, ErrOverloaded) {
		t.Fatalf("5 texts into a queue of 4: err = %v, want ErrOverloaded", err)
	}
	var wg sync.WaitGroup
	var overloaded, ok int
	var mu sync.Mutex
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Embed(context.Background(), []string{"a", "b", "c"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrOverloaded):
				overloaded++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok == 0 {
		t.Errorf("no request succeeded (%d overloaded)", overloaded)
	}
	if _, err := p.Embed(context.Background(), []string{"after the flood"}); err != nil {
		t.Fatalf("pool broken after overload: %v", err)
	}
}

func TestClosedPoolSaysClosed(t *testing.T) {
	p, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.Embed(context.Background(), []string{"x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestMissingOrBadModelFailsClearly(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.gguf")
	os.WriteFile(bad, []byte("GGUF not really"), 0o644)
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nope.gguf"), "corrupt": bad} {
		_, err := New(context.Background(), Options{ModelPath: path, Workers: 1, CacheDir: "-"})
		if err == nil {
			t.Errorf("%s model: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), filepath.Base(path)) {
			t.Errorf("%s model: error %q does not name the file", name, err)
		}
	}
}

func TestTokenizeOffsetsCoverTheText(t *testing.T) {
	text := "Héllo, wörld! 東京 is big. unaffable"
	toks, err := pool(t).Tokenize(context.Background(), text)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) == 0 {
		t.Fatal("no tokens")
	}
	prev := 0
	for i, tk := range toks {
		if tk.Start < prev || tk.End < tk.Start || tk.End > len(text) {
			t.Fatalf("token %d: span [%d,%d) out of order or bounds", i, tk.Start, tk.End)
		}
		prev = tk.Start
	}
}

func TestExtraWorkersStartUnderLoadAndStopWhenIdle(t *testing.T) {
	p, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 2, MinWorkers: 1, IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if n := p.Stats().Instances.Load(); n != 1 {
		t.Fatalf("%d instances after New, want MinWorkers = 1", n)
	}
	want, err := p.Embed(context.Background(), []string{"a reference text"})
	if err != nil {
		t.Fatal(err)
	}
	// Keep the queue busy until the second instance is up; its vectors
	// must equal the first one's.
	texts := make([]string, 64)
	for i := range texts {
		texts[i] = "a reference text"
	}
	deadline := time.Now().Add(30 * time.Second)
	for p.Stats().Instances.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no second instance while texts kept waiting")
		}
		embs, err := p.Embed(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range embs {
			if !slices.Equal(e.Vector, want[0].Vector) {
				t.Fatal("a worker returned a different vector for the same text")
			}
		}
	}
	for p.Stats().Instances.Load() > 1 {
		if time.Now().After(deadline) {
			t.Fatal("the extra instance did not stop after IdleTimeout without work")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The pool still works with its one instance, and grows again.
	if _, err := p.Embed(context.Background(), texts); err != nil {
		t.Fatal(err)
	}
}

func TestTokenizeDoesNotWaitBehindQueuedEmbeddings(t *testing.T) {
	p, err := New(context.Background(), Options{ModelPath: modelPath(t), Workers: 1, MaxBatch: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	long := make([]string, 24)
	for i := range long {
		long[i] = strings.Repeat("a sentence that takes the worker a while to embed. ", 12)
	}
	embedded := make(chan error, 1)
	go func() {
		_, err := p.Embed(context.Background(), long)
		embedded <- err
	}()
	for p.QueueLen() == 0 { // the texts are queued behind the one worker
		select {
		case err := <-embedded:
			t.Fatalf("the embedding finished before it was seen queued: %v", err)
		default:
		}
		time.Sleep(time.Millisecond)
	}
	toks, err := p.Tokenize(context.Background(), "hello world")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-embedded:
		t.Fatalf("Tokenize returned only after the queued embeddings (err %v)", err)
	default:
	}
	if len(toks) != 2 || toks[1].Start != 6 {
		t.Errorf("tokens %+v, want hello, world", toks)
	}
	if err := <-embedded; err != nil {
		t.Fatal(err)
	}
}

func TestVocabularyOnlyInstanceRefusesToEmbed(t *testing.T) {
	m, err := openModel(modelPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	vocab, err := vocabGGUF(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(vocab) > m.size/10 {
		t.Errorf("vocabulary GGUF is %d bytes of a %d-byte model", len(vocab), m.size)
	}
	ctx := context.Background()
	rt, err := newGuestRuntime(ctx, "", guest.Binary, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close(ctx)
	in, err := newTokenizer(ctx, rt, vocab)
	if err != nil {
		t.Fatal(err)
	}
	in.dims = 384
	if _, err := in.embed(ctx, []string{"hello"}); err == nil || !strings.Contains(err.Error(), "only a vocabulary") {
		t.Errorf("embed on a vocabulary-only instance: %v", err)
	}
	if toks, err := in.tokenizeText(ctx, "hello"); err != nil || len(toks) != 1 {
		t.Errorf("tokenize: %v %v", toks, err)
	}
}
