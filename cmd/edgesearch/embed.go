package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder"
)

// stdinBatch is the most texts embedded per call: enough to fill the
// workers' batches, few enough that memory stays flat however long the
// input is. Stdin lines are batched only while they are already buffered,
// so a pipeline that feeds one line at a time gets each answer at once.
const stdinBatch = 64

// maxLine bounds one stdin line, so a binary file piped in by mistake fails
// with a message instead of exhausting memory.
const maxLine = 16 << 20

func newEmbedCmd(getenv func(string) string) *cobra.Command {
	return &cobra.Command{
		Use:   "embed [TEXT...]",
		Short: "Print the embedding of each text as one JSON line",
		Long: `Print one JSON object a line, {"n_embedding":384,"embedding":[...]}, for each TEXT
in order, as the original WASM CLI did.

With no TEXT, read texts from standard input, one per line, and print one line
per text. Blank lines are skipped (an empty text has no meaning to embed), so
number your inputs if you need to match lines up. An empty TEXT argument is an
error. Texts over the model's token limit are truncated, with a warning on
standard error.`,
		Example: `  edgesearch embed "Hello world"
  cut -f2 notes.tsv | edgesearch embed > vectors.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			for i, a := range args {
				if strings.TrimSpace(a) == "" {
					return usageError{fmt.Errorf("text %d is empty", i+1)}
				}
			}
			if err := checkModel(cfg.ModelPath); err != nil {
				return err
			}
			pool, err := embedder.New(cmd.Context(), poolOptions(cfg))
			if err != nil {
				return fmt.Errorf("couldn't load the model: %w", err)
			}
			defer pool.Close()
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			p := printer{pool: pool, out: out, warn: cmd.ErrOrStderr(), chunk: stdinBatch}
			if cfg.Queue > 0 && cfg.Queue < p.chunk {
				p.chunk = cfg.Queue // a bigger call could never fit the queue
			}
			if len(args) > 0 {
				for len(args) > 0 {
					n := min(p.chunk, len(args))
					if err := p.embed(cmd.Context(), args[:n]); err != nil {
						return err
					}
					args = args[n:]
				}
				return nil
			}
			return p.embedLines(cmd.Context(), cmd.InOrStdin())
		},
	}
}

// printer embeds texts and writes them in the seed CLI's format.
type printer struct {
	pool  *embedder.Pool
	out   *bufio.Writer
	warn  io.Writer
	chunk int // most texts per Embed call
	n     int // texts printed so far, for warnings
}

// seedLine is the original CLI's output object; field order matters to
// people diffing outputs, and encoding/json keeps struct order.
type seedLine struct {
	NEmbedding int       `json:"n_embedding"`
	Embedding  []float32 `json:"embedding"`
}

func (p *printer) embed(ctx context.Context, texts []string) error {
	embs, err := p.pool.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("couldn't embed texts %d-%d: %w", p.n+1, p.n+len(texts), err)
	}
	enc := json.NewEncoder(p.out)
	for _, e := range embs {
		p.n++
		if e.Truncated {
			fmt.Fprintf(p.warn, "edgesearch: warning: text %d truncated to %d tokens\n", p.n, e.Tokens)
		}
		if err := enc.Encode(seedLine{NEmbedding: len(e.Vector), Embedding: e.Vector}); err != nil {
			return fmt.Errorf("couldn't write embedding %d: %w", p.n, err)
		}
	}
	return nil
}

// embedLines embeds standard input a line at a time as far as the reader
// can tell: it waits for one line, takes the complete lines already
// buffered behind it (up to p.chunk), embeds them as one batch and flushes.
// Input that arrives quickly is batched for the workers; a caller that
// writes a line and waits for its vector gets it without closing stdin.
func (p *printer) embedLines(ctx context.Context, in io.Reader) error {
	r := bufio.NewReaderSize(in, 64<<10)
	batch := make([]string, 0, p.chunk)
	line := 0
	for {
		t, err := readLine(r)
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return fmt.Errorf("reading standard input, line %d: %w", line, err)
		}
		if t = strings.TrimSuffix(t, "\r"); strings.TrimSpace(t) != "" {
			batch = append(batch, t)
		}
		if len(batch) < p.chunk && lineBuffered(r) {
			continue
		}
		if len(batch) > 0 {
			if err := p.embed(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		if err := p.out.Flush(); err != nil {
			return err
		}
	}
	if len(batch) > 0 {
		return p.embed(ctx, batch)
	}
	return nil
}

// errLongLine is a stdin line over maxLine bytes.
var errLongLine = fmt.Errorf("over %d MiB; embed reads one text a line", maxLine>>20)

// readLine returns the next line without its "\n", the last line even
// without one, io.EOF after it, and errLongLine for a line over maxLine.
func readLine(r *bufio.Reader) (string, error) {
	var long []byte // a line longer than r's buffer
	for {
		b, err := r.ReadSlice('\n')
		switch err {
		case nil:
			b = b[:len(b)-1]
		case bufio.ErrBufferFull:
			if long = append(long, b...); len(long) > maxLine {
				return "", errLongLine
			}
			continue
		case io.EOF:
			if len(long)+len(b) == 0 {
				return "", io.EOF
			}
		default:
			return "", err
		}
		if len(long)+len(b) > maxLine {
			return "", errLongLine
		}
		return string(append(long, b...)), nil
	}
}

// lineBuffered reports whether r already holds a complete line, which
// the next readLine returns without waiting for input.
func lineBuffered(r *bufio.Reader) bool {
	b, _ := r.Peek(r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}
