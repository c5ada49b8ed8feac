// Command reliability measures how a built edgesearch binary copes with
// hostile input and with being killed, and prints a Markdown section for
// bench/RESULTS.md on stdout (progress goes to stderr):
//
//  1. bad inputs: a table of malformed and hostile requests against every
//     route (badinputs.go), each classified by its answer, and a check that
//     the documents stored before them are unchanged;
//  2. hostile files: PDFs, Markdown, CSV, HTML and JSONL made to cost a
//     parser time or memory (hostile.go), uploaded to a server and imported
//     with the CLI, with wall time and peak RSS;
//  3. kill -9 rounds: concurrent writers, SIGKILL at a random moment, restart,
//     and every acknowledged write and delete read back (killrounds.go).
//
// It talks to the binary only (flags, HTTP on 127.0.0.1), not to the
// packages, so it measures whatever tree built the binary. Every loop is
// bounded in count and time, and -seconds bounds the whole run; the parts
// run in the order bad inputs, kill rounds, hostile files, and the hostile
// files get what time is left.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// config is the run's settings, resolved once from the flags.
type config struct {
	bin, model string
	rounds     int
	fileBound  time.Duration
	deadline   time.Time
	seed       uint64
	work       string
	parts      map[string]bool
}

// dir makes a folder for one part under the work directory and returns its
// data directory path (not created: the binary makes it) and a folder for logs.
func (c config) dir(name string) (data, logs string) {
	logs = filepath.Join(c.work, name)
	os.MkdirAll(logs, 0o755)
	return filepath.Join(logs, "data"), logs
}

func main() {
	var (
		bin      = flag.String("bin", "bin/edgesearch", "edgesearch binary to measure")
		model    = flag.String("model", os.Getenv("EDGESEARCH_MODEL"), "GGUF model (default $EDGESEARCH_MODEL, else ~/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf)")
		rounds   = flag.Int("rounds", 20, "kill -9 rounds")
		seconds  = flag.Int("seconds", 900, "bound on the whole run, in seconds")
		fileSecs = flag.Int("file-seconds", 90, "bound on one upload or import of a hostile file, in seconds (above the parsers' own 60 s timeout)")
		seed     = flag.Uint64("seed", 1, "seed of the kill moments and the writers' choices")
		parts    = flag.String("parts", "bad,files,kill", "parts to run: bad (bad inputs), files (hostile files), kill (kill rounds)")
		keep     = flag.Bool("keep", false, "keep the work directory (data directories and server logs) and print its path")
	)
	flag.Parse()
	if *model == "" {
		home, _ := os.UserHomeDir()
		*model = filepath.Join(home, ".cache", "edgesearch", "all-MiniLM-L6-v2-f16.gguf")
	}
	cfg := config{model: *model, rounds: *rounds, fileBound: time.Duration(*fileSecs) * time.Second,
		deadline: time.Now().Add(time.Duration(*seconds) * time.Second), seed: *seed, parts: map[string]bool{}}
	for _, p := range strings.Split(*parts, ",") {
		cfg.parts[strings.TrimSpace(p)] = true
	}
	var err error
	if cfg.bin, err = filepath.Abs(*bin); err == nil {
		cfg.model, err = filepath.Abs(cfg.model)
	}
	if err == nil {
		cfg.work, err = os.MkdirTemp("", "edgesearch-reliability")
	}
	if err != nil {
		fail(err)
	}
	if *keep {
		logf("work directory: %s", cfg.work)
	} else {
		defer os.RemoveAll(cfg.work)
	}
	if err := run(cfg, os.Stdout); err != nil {
		if !*keep {
			os.RemoveAll(cfg.work)
		}
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "reliability:", err)
	os.Exit(1)
}

func run(cfg config, out io.Writer) error {
	for _, f := range []string{cfg.bin, cfg.model} {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), cfg.deadline)
	defer cancel()
	start := time.Now()

	var (
		bad   *badReport
		kill  *killReport
		files *hostileReport
		err   error
	)
	if cfg.parts["bad"] {
		logf("bad inputs")
		if bad, err = runBadInputs(ctx, cfg); err != nil {
			return fmt.Errorf("bad inputs: %w", err)
		}
	}
	if cfg.parts["kill"] {
		logf("kill rounds")
		if kill, err = runKillRounds(ctx, cfg); err != nil {
			return fmt.Errorf("kill rounds: %w", err)
		}
	}
	if cfg.parts["files"] {
		logf("hostile files")
		if files, err = runHostile(ctx, cfg); err != nil {
			return fmt.Errorf("hostile files: %w", err)
		}
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "## Reliability\n\n")
	fmt.Fprintf(&b, "`%s` against %s (%s), on %s/%s with %d cores; %s, took %.0f s in all.\n\n",
		strings.Join(append([]string{"go run ./bench/reliability"}, os.Args[1:]...), " "), relPath(cfg.bin), binVersion(cfg.bin),
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), time.Since(start).Seconds())
	if bad != nil {
		bad.report(&b)
	}
	if files != nil {
		files.report(&b, cfg)
	}
	if kill != nil {
		kill.report(&b, cfg)
	}
	_, err = out.Write(b.Bytes())
	return err
}

// binVersion is the first line of `bin version`, or the binary's name.
func binVersion(bin string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "`" + filepath.Base(bin) + "`"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return "`" + line + "`"
}

// relPath is p relative to the working directory when it is below it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// jsonBody encodes v for a request body.
func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
