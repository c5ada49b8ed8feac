package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgesearch/edgesearch/embedder"
	"github.com/edgesearch/edgesearch/indexer"
	"github.com/edgesearch/edgesearch/store"
)

// errReindexFailures makes the exit status 1 after a summary that lists
// the documents that could not be re-embedded.
var errReindexFailures = errors.New("some documents could not be re-embedded (listed above)")

func newReindexCmd(getenv func(string) string) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Re-chunk and re-embed the stored documents, e.g. with another model",
		Long: `Re-chunk and re-embed the documents in the data directory with the model given
by --model (or EDGESEARCH_MODEL, or the default model).

When the store was built with another model, its vectors are dropped first and
every document is re-embedded; the documents themselves (text, title, source,
metadata) are kept. Otherwise only documents without chunks are done, such as
those an interrupted reindex had not reached: running reindex again after
Ctrl-C or a crash finishes the rest. --all redoes every document even with the
same model, for instance after an upgrade that chunks text differently.

Until it finishes, searches find only the documents already re-embedded.
The store must not be in use by a server: stop it first.`,
		Example: `  edgesearch reindex --data ~/edgesearch --model ~/models/bge-small-q8.gguf
  edgesearch reindex --all`,
		Args: maxArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := resolveConfig(cmd.Flags(), getenv)
			if err != nil {
				return err
			}
			// Stop between batches on Ctrl-C, so the summary says how far
			// it got; a harder kill loses at most the batch in flight.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, pool, note, err := openForReindex(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			defer pool.Close()
			if note != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "reindex: "+note)
			}
			sum, err := indexer.Reindex(ctx, indexer.ReindexOptions{Store: st, Embedder: pool, All: all, Progress: cmd.ErrOrStderr()})
			sum.Write(cmd.OutOrStdout())
			if err != nil {
				if ctx.Err() != nil && all {
					return fmt.Errorf("interrupted after %d of %d documents; the others keep their chunks; run %s with --all again to redo them all",
						sum.Documents, sum.Pending, reindexCommand(cfg))
				}
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted after %d of %d documents; run %s again to finish the rest",
						sum.Documents, sum.Pending, reindexCommand(cfg))
				}
				return err
			}
			if len(sum.Failures) > 0 {
				return errReindexFailures
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "re-chunk and re-embed every document, not only those without chunks")
	return cmd
}

// openForReindex opens the store in the data directory and loads the
// model, then reopens the store for that model, dropping the vectors of
// another model or of other weights (store.Options.Reembed). It returns a
// note for the user saying what was dropped, or that the store had not
// recorded its weights (they are recorded now), or "" when the store
// already held this model. The store stays open while the model loads so
// that no server can take it in between.
func openForReindex(ctx context.Context, cfg config) (*store.Store, *embedder.Pool, string, error) {
	if err := checkModel(cfg.ModelPath); err != nil {
		return nil, nil, "", err
	}
	path := indexer.StorePath(cfg.DataDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil, "", fmt.Errorf("no documents in %s to reindex: import some with `edgesearch import PATH --data %s`",
			cfg.DataDir, shellQuote(cfg.DataDir))
	}
	locked := fmt.Errorf("a server is using %s; stop it, then run reindex again (it needs the store to itself)", cfg.DataDir)
	st, err := store.Open(path, store.Options{LockTimeout: time.Second})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, "", locked
	}
	if err != nil {
		return nil, nil, "", err
	}
	pool, err := embedder.New(ctx, poolOptions(cfg))
	if err != nil {
		st.Close()
		return nil, nil, "", fmt.Errorf("couldn't load the model: %w", err)
	}
	info := pool.Info()
	if st.Weights() == info.WeightType && indexer.HoldsModel(st, info) {
		return st, pool, "", nil
	}
	note := fmt.Sprintf("the store held vectors of %s; dropped them to re-embed every document with %s",
		store.DescribeModel(st.Model(), st.Weights(), st.Dims()), store.DescribeModel(info.Name, info.WeightType, info.Dims))
	if indexer.HoldsModel(st, info) {
		// A store written before the weights were recorded: which ones
		// made its vectors is unknown, so these are recorded (reopening
		// does) and nothing is dropped.
		note = fmt.Sprintf("the store did not record which weights of %q made its vectors (an older edgesearch wrote it); recorded %s. "+
			"If they were made with other weights, run %s with --all to re-embed every document",
			info.Name, info.WeightType, reindexCommand(cfg))
	}
	st.Close()
	st, err = store.Open(path, storeOptions(info, store.Options{Reembed: true, LockTimeout: time.Second}))
	if err != nil {
		pool.Close()
		if errors.Is(err, store.ErrLocked) {
			return nil, nil, "", locked
		}
		return nil, nil, "", err
	}
	return st, pool, note, nil
}

// reindexAdvice turns the store's model mismatch into a message that names
// the command which fixes it; other errors pass through. want is the model
// the command loaded.
func reindexAdvice(err error, cfg config, want embedder.ModelInfo) error {
	if !errors.Is(err, store.ErrModelMismatch) {
		return err
	}
	held := "another model"
	// The store was closed when Open failed; a second look names the model.
	if st, oerr := store.Open(indexer.StorePath(cfg.DataDir), store.Options{LockTimeout: 200 * time.Millisecond}); oerr == nil {
		held = store.DescribeModel(st.Model(), st.Weights(), st.Dims())
		st.Close()
	}
	return fmt.Errorf("the documents in %s were embedded with %s, not with %s from %s: %w; "+
		"re-embed them with this model by running %s, or use the model that built them",
		cfg.DataDir, held, store.DescribeModel(want.Name, want.WeightType, want.Dims), cfg.ModelPath, store.ErrModelMismatch, reindexCommand(cfg))
}

// storeOptions is opts for a store of the loaded model's vectors: its
// name, weights and dims are the identity the store records and checks.
func storeOptions(info embedder.ModelInfo, opts store.Options) store.Options {
	opts.Model, opts.Weights, opts.Dims = info.Name, info.WeightType, info.Dims
	return opts
}

// reindexCommand is the command line that re-embeds cfg's data directory
// with cfg's model, ready to paste into a shell.
func reindexCommand(cfg config) string {
	return fmt.Sprintf("`edgesearch reindex --data %s --model %s`", shellQuote(cfg.DataDir), shellQuote(cfg.ModelPath))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}()<>|&;!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
