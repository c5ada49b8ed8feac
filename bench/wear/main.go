// Command wear measures the write amplification of `edgesearch import`: how
// many bytes the import writes to disk per megabyte of text it imports, which
// is what wears out an SD card. It makes folders of plain-text files from
// bench/sentences.txt (deterministic: the same flags give the same bytes),
// imports them with a built binary as a child process, and prints a Markdown
// table on stdout (progress goes to stderr).
//
// Two ways of importing the same text are measured, each into a fresh data
// directory: everything in one run, and the files split over -runs separate
// runs (one folder each), since every run opens the store, commits at least
// once and closes it.
//
// Bytes written are the child's from its rusage (ru_oublock × 512, the
// kernel's write_bytes for the process, as /proc/PID/io shows it): pages
// the process dirtied in the page cache of a block device, whether the
// kernel wrote them back during the run or after. On tmpfs the count is 0,
// so the work directory must be on a real disk; the program refuses a
// directory where an import wrote nothing.
//
// The store's transaction id after the last run counts its commits (bbolt
// numbers each committed write transaction), which says how much of what
// was written is per-commit cost (the meta and freelist pages, the branch
// pages above each changed leaf) rather than the data itself.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/edgesearch/edgesearch/bench/internal/serverenv"
)

// config is the run's settings, resolved once from the flags.
type config struct {
	bin, model, profile string
	files, fileSize     int
	runs                int
	sentences, work     string
	timeout             time.Duration
	env                 []string // KEY=VALUE added to the import's environment
}

func main() {
	var (
		bin       = flag.String("bin", "bin/edgesearch", "edgesearch binary to measure")
		profile   = flag.String("profile", "standard", "standard or small: import --profile")
		modelPath = flag.String("model", "", "GGUF model; default: the profile's in ~/.cache/edgesearch (f16 for standard, q8_0 for small)")
		files     = flag.Int("files", 100, "text files to import")
		fileSize  = flag.Int("file-size", 10<<10, "bytes of text per file (about; whole sentences)")
		runs      = flag.Int("runs", 10, "separate imports the files are split over in the second measure")
		sentences = flag.String("sentences", "bench/sentences.txt", "sentences the texts are made of, one a line")
		work      = flag.String("work", "", "work directory on a real disk (default: a new one under the current directory, removed)")
		timeout   = flag.Duration("timeout", 10*time.Minute, "bound on one import run")
		env       = flag.String("import-env", "", "space-separated KEY=VALUE settings for the import (e.g. EDGESEARCH_BULK_QUEUE=256); the rest of EDGESEARCH_* is not passed on")
	)
	flag.Parse()
	if *modelPath == "" {
		home, _ := os.UserHomeDir()
		name := "all-MiniLM-L6-v2-f16.gguf"
		if *profile == "small" {
			name = "all-MiniLM-L6-v2-q8_0.gguf"
		}
		*modelPath = filepath.Join(home, ".cache", "edgesearch", name)
	}
	cfg := config{bin: *bin, model: *modelPath, profile: *profile, files: *files, fileSize: *fileSize,
		runs: *runs, sentences: *sentences, work: *work, timeout: *timeout, env: strings.Fields(*env)}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "wear:", err)
		os.Exit(1)
	}
}

// measure is what one way of importing the text cost.
type measure struct {
	name      string
	runs      int
	textBytes int64
	chunks    int
	written   int64 // ru_oublock × 512, summed over the runs
	dirBytes  int64 // the data directory's files, after the last run
	storeSize int64 // edgesearch.db
	commits   int   // write transactions the store has committed, store.Open's own included
	elapsed   time.Duration
	maxRSS    int64 // the largest run's peak RSS, bytes
}

func run(cfg config) error {
	if cfg.files < 1 || cfg.fileSize < 1 || cfg.runs < 1 || cfg.runs > cfg.files {
		return errors.New("-files and -file-size must be at least 1, -runs between 1 and -files")
	}
	var err error
	if cfg.bin, err = filepath.Abs(cfg.bin); err != nil {
		return err
	}
	lines, err := readLines(cfg.sentences)
	if err != nil {
		return err
	}
	work := cfg.work
	if work == "" {
		// Not os.TempDir: /tmp is often tmpfs, where nothing reaches a disk.
		if work, err = os.MkdirTemp(".", "wear-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	} else if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	if work, err = filepath.Abs(work); err != nil {
		return err
	}

	// The same files, in -runs folders; one import of all folders at once is
	// the same text as the runs one folder each.
	folders := make([]string, cfg.runs)
	r := rand.New(rand.NewPCG(7, 11))
	var textBytes int64
	for i := range folders {
		folders[i] = filepath.Join(work, "text", fmt.Sprintf("part%02d", i))
		if err := os.MkdirAll(folders[i], 0o755); err != nil {
			return err
		}
	}
	for f := range cfg.files {
		text := makeText(r, lines, f, cfg.fileSize)
		textBytes += int64(len(text))
		path := filepath.Join(folders[f*cfg.runs/cfg.files], fmt.Sprintf("doc%04d.txt", f))
		if err := os.WriteFile(path, text, 0o644); err != nil {
			return err
		}
	}
	logf("%d files, %.2f MB of text, in %s", cfg.files, mb(textBytes), filepath.Join(work, "text"))

	once, err := importRuns(cfg, filepath.Join(work, "data-once"), [][]string{folders})
	if err != nil {
		return err
	}
	once.name, once.textBytes = "one import of everything", textBytes
	split := make([][]string, len(folders))
	for i, f := range folders {
		split[i] = []string{f}
	}
	apart, err := importRuns(cfg, filepath.Join(work, "data-runs"), split)
	if err != nil {
		return err
	}
	apart.name, apart.textBytes = fmt.Sprintf("%d imports of %d files each", cfg.runs, cfg.files/cfg.runs), textBytes

	envNote := ""
	if len(cfg.env) > 0 {
		envNote = fmt.Sprintf(" -import-env %q", strings.Join(cfg.env, " "))
	}
	fmt.Printf("`go run ./bench/wear -profile %s -files %d -file-size %d -runs %d%s` (model %s)\n\n",
		cfg.profile, cfg.files, cfg.fileSize, cfg.runs, envNote, filepath.Base(cfg.model))
	fmt.Println("| import | text MB | chunks | written MB | written MB per text MB | commits | written KB per commit | data dir MB | store file MB | time s | peak RSS MB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, m := range []measure{once, apart} {
		fmt.Printf("| %s | %.2f | %d | %.2f | %.1f | %d | %.1f | %.2f | %.2f | %.1f | %.0f |\n",
			m.name, mb(m.textBytes), m.chunks, mb(m.written), float64(m.written)/float64(m.textBytes),
			m.commits, float64(m.written)/1e3/float64(max(m.commits, 1)),
			mb(m.dirBytes), mb(m.storeSize), m.elapsed.Seconds(), mb(m.maxRSS))
	}
	return nil
}

// summaryLine is the part of import's summary that counts what it stored.
var summaryLine = regexp.MustCompile(`imported (\d+) files \((\d+) documents, (\d+) chunks\)`)

// importRuns imports each element of runs (a list of folders) in turn into
// data, one child process each, and adds up what they wrote.
func importRuns(cfg config, data string, runs [][]string) (measure, error) {
	m := measure{runs: len(runs)}
	for i, folders := range runs {
		args := append([]string{"import"}, folders...)
		args = append(args, "--data", data, "--model", cfg.model, "--profile", cfg.profile)
		cmd := exec.Command(cfg.bin, args...)
		cmd.Env = append(serverenv.Clean(), cfg.env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return m, fmt.Errorf("start %s: %w", cfg.bin, err)
		}
		timer := time.AfterFunc(cfg.timeout, func() { cmd.Process.Kill() })
		err := cmd.Wait()
		timer.Stop()
		m.elapsed += time.Since(start)
		if err != nil {
			return m, fmt.Errorf("import run %d into %s: %w\n%s", i+1, data, err, tail(out.String()))
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return m, errors.New("no rusage for the import (this measure needs Linux)")
		}
		written := int64(ru.Oublock) * 512 // int32 on 32-bit hosts
		if written == 0 {
			return m, fmt.Errorf("import run %d wrote 0 bytes by its rusage: is %s on tmpfs? give -work on a real disk", i+1, data)
		}
		m.written += written
		m.maxRSS = max(m.maxRSS, int64(ru.Maxrss)<<10)
		sum := summaryLine.FindStringSubmatch(out.String())
		if sum == nil {
			return m, fmt.Errorf("import run %d: no summary in its output:\n%s", i+1, tail(out.String()))
		}
		chunks, _ := strconv.Atoi(sum[3])
		m.chunks += chunks
		logf("%s: run %d/%d: %s chunks, %.1f MB written, %.1fs", filepath.Base(data), i+1, len(runs),
			sum[3], mb(written), time.Since(start).Seconds())
	}
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m.dirBytes += info.Size()
		if d.Name() == "edgesearch.db" {
			m.storeSize = info.Size()
		}
		return nil
	})
	if err != nil {
		return m, err
	}
	m.commits, err = commits(filepath.Join(data, "edgesearch.db"))
	return m, err
}

// commits returns how many write transactions the bbolt file at path has
// committed: the id a read transaction sees is the last committed one's.
func commits(path string) (int, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return 0, fmt.Errorf("open %s to count its commits: %w", path, err)
	}
	defer db.Close()
	var n int
	err = db.View(func(tx *bolt.Tx) error {
		n = tx.ID()
		return nil
	})
	return n, err
}

// makeText returns about size bytes of sentences drawn at random, one per
// line, under a first line naming file n, so no two files are the same
// document.
func makeText(r *rand.Rand, lines []string, n, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Notes, part %d\n\n", n+1)
	for b.Len() < size {
		b.WriteString(lines[r.IntN(len(lines))])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("sentences %s: no lines", path)
	}
	return lines, nil
}

// tail is the end of a child's output, for an error message.
func tail(s string) string {
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "wear: "+format+"\n", args...)
}
