package embedder

import (
	"errors"
	"time"
)

// Options configure a Pool. The zero value of every field means its default.
type Options struct {
	// ModelPath is the GGUF file to load. Required.
	ModelPath string
	// Workers is the most module instances, each with its own copy of the
	// model (about 70 MB for all-MiniLM-L6-v2 f16); default
	// runtime.NumCPU().
	Workers int
	// MinWorkers is how many instances stay up when there is nothing to do;
	// default (and at most) Workers. Above it, an instance starts when texts
	// wait and no worker is free, and stops after IdleTimeout without work:
	// a server that mostly answers queries then holds one model copy, and
	// still uses every core for a bulk upload.
	MinWorkers int
	// IdleTimeout is how long an instance above MinWorkers waits for work
	// before it stops; default 30s.
	IdleTimeout time.Duration
	// QueueSize bounds the interactive texts (Embed) waiting for a worker;
	// default 1024. Embed returns ErrOverloaded when the queue is full.
	QueueSize int
	// BulkQueueSize bounds the bulk texts (EmbedBulk) waiting for a worker;
	// default 256: two of the indexer's 128-text calls, and about 40 s of
	// work for 2 workers (1,600 tokens/s) when every text is a full
	// 256-token chunk. EmbedBulk returns ErrOverloaded when it is full, so
	// bulk writes are admitted at the rate the workers sustain; a call with
	// more texts than this never fits.
	BulkQueueSize int
	// MaxWait bounds how long queries wait under load: Embed takes at
	// most as many texts at once as the workers get through in MaxWait at
	// their recent time per text (never fewer than two per worker), and
	// returns ErrOverloaded at once for more. Default 200ms, negative
	// admits everything.
	MaxWait time.Duration
	// MaxBulkWait is the longest the oldest waiting bulk text may have
	// waited for AdmitBulk to admit new bulk work; default 2s, negative
	// admits everything.
	MaxBulkWait time.Duration
	// BulkShare is the share of a worker's time a running bulk batch keeps
	// while interactive texts wait: after an interactive batch that took t,
	// the bulk batch runs t×BulkShare/(1−BulkShare) of steps before it
	// yields again. Default 0.2 (between 0 and 1, exclusive).
	BulkShare float64
	// MaxBatch is the most texts one guest call embeds; default 32.
	MaxBatch int
	// BatchWait is how long a worker waits for more texts to fill a batch
	// after the first arrives; default 2ms.
	BatchWait time.Duration
	// MaxTokens overrides the model's sequence limit ([CLS]/[SEP] included);
	// default: the model's own (256 for all-MiniLM-L6-v2).
	MaxTokens int
	// Kernels chooses who runs the linear layers' matrix products: "host"
	// (native AVX2 or NEON code in this process, served to the guest as
	// an import; one query's products use the cores no other worker is
	// using) or "guest" (the guest's own SIMD128, the module that also
	// runs standalone). Default "host" where the CPU has those
	// instructions (or wazero interprets the guest), else "guest".
	Kernels string
	// Runtime names the WebAssembly runtime that runs the guest: "" or
	// "wazero" (the default, pure Go), or another this build registers;
	// New returns an error listing them for an unknown name.
	Runtime string
	// CacheDir holds wazero's compilation cache; default
	// $XDG_CACHE_HOME/edgesearch/wazero (or ~/.cache/...). "-" disables it.
	CacheDir string
	// KeepFirstStack skips the check, at instance start, of where wazero put
	// the embedding call's native stack (see stack.go; it is made only for
	// the guest's kernels). Only benchmarks showing what the check avoids
	// want it.
	KeepFirstStack bool

	// beforeStep, when set (by tests), is called by a worker before each
	// guest step, with whether the step is of a bulk batch.
	beforeStep func(bulk bool)
}

// Embedding is one text's vector.
type Embedding struct {
	Vector    []float32 // L2-normalised, length ModelInfo.Dims
	Tokens    int       // tokens embedded, [CLS] and [SEP] included
	Truncated bool      // the text had more tokens than the model's limit
}

// Token is one word piece of a text.
type Token struct {
	ID         int32
	Start, End int // byte offsets [Start, End) into the text
}

// ModelInfo describes the loaded model.
type ModelInfo struct {
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	Dims         int    `json:"n_embedding"`
	Layers       int    `json:"n_layer"`
	Heads        int    `json:"n_head"`
	FeedForward  int    `json:"n_ff"`
	Vocab        int    `json:"n_vocab"`
	Context      int    `json:"n_ctx"`
	MaxTokens    int    `json:"max_tokens"`
	Pooling      string `json:"pooling"`
	WeightType   string `json:"weight_type"`
}

// Sentinel errors, compared with errors.Is.
var (
	// ErrOverloaded: the queue (of Embed's lane or EmbedBulk's) is full;
	// retry later (HTTP 503).
	ErrOverloaded = errors.New("embedder: queue full")
	// ErrClosed: the pool was closed.
	ErrClosed = errors.New("embedder: closed")
	// ErrInvalidText: a text is not valid UTF-8.
	ErrInvalidText = errors.New("embedder: text is not valid UTF-8")
)

// The Pool's methods (implemented in pool.go):
//
//	func New(ctx context.Context, opts Options) (*Pool, error)
//	func (p *Pool) Embed(ctx context.Context, texts []string) ([]Embedding, error)
//	func (p *Pool) EmbedBulk(ctx context.Context, texts []string) ([]Embedding, error)
//	func (p *Pool) Tokenize(ctx context.Context, text string) ([]Token, error)
//	func (p *Pool) Info() ModelInfo
//	func (p *Pool) Close() error
