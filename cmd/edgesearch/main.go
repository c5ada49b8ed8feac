package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// usageError marks errors in how the command was called (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

// run executes the command line and returns the exit status. Its inputs are
// parameters so the whole CLI runs the same way in tests and for real.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRootCmd(getenv)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "edgesearch: %v\n", err)
	if _, ok := errors.AsType[usageError](err); ok {
		fmt.Fprintln(stderr, "Run 'edgesearch --help' for usage.")
		return 2
	}
	return 1
}

func newRootCmd(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "edgesearch",
		Short: "Offline semantic document search in one binary",
		Long: `edgesearch embeds and searches documents offline, on a Raspberry Pi or a laptop.

Configuration is resolved once at start, first match wins:
  1. command-line flags
  2. EDGESEARCH_* environment variables (EDGESEARCH_ADDR, EDGESEARCH_DATA,
     EDGESEARCH_MODEL, EDGESEARCH_API_KEY, EDGESEARCH_THREADS,
     EDGESEARCH_CORS_ORIGINS, EDGESEARCH_MAX_BODY, EDGESEARCH_MAX_TEXTS,
     EDGESEARCH_MAX_TOKENS, EDGESEARCH_MAX_BATCH, EDGESEARCH_QUEUE,
     EDGESEARCH_LOG_LEVEL, EDGESEARCH_LOG_FORMAT)
  3. the original WasmEdge server's names: PORT (listen on :PORT),
     MODEL_PATH, threads, ctx_size (max tokens), batch_size (max batch),
     enable_log (debug logging)
  4. defaults`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Cobra adds --version (and -v) when Version is set; the template
	// makes its output the same line as `edgesearch version`.
	root.Version = versionLine()
	root.SetVersionTemplate("edgesearch {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	addCommonFlags(root.PersistentFlags())
	help := root.HelpFunc()
	root.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		showSharedFlags(root, cmd)
		help(cmd, args)
	})
	root.AddCommand(newServeCmd(getenv), newSearchCmd(getenv), newEmbedCmd(getenv), newModelCmd(getenv), newVersionCmd(), newImportCmd(getenv), newReindexCmd(getenv))
	root.AddCommand(newBackupCmd(getenv))
	root.AddCommand(newMigrateCmd(getenv))
	return root
}
