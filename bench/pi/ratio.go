package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// target is one binary to time and how to run it.
type target struct {
	name   string // for the table: the platform and how it runs here
	engine string // what wazero does with the guest on that platform
	qemu   string // the qemu-user program, "" to run natively
	bin    string
}

// workload is a list of texts embedded by one process.
type workload struct {
	name  string
	texts []string
}

// cost is what one `edgesearch embed` process took.
type cost struct {
	cpu  time.Duration // user + system, of the process and its threads
	wall time.Duration
}

// speed is a target's result on one workload: the start (process, wazero
// and model load, one text) and the cost of each further text.
type speed struct {
	start   cost
	perText cost
}

func runRatio(args []string) error {
	fs := flag.NewFlagSet("ratio", flag.ContinueOnError)
	var (
		arm64     = fs.String("arm64", "bin/edgesearch-linux-arm64", "linux/arm64 binary (wazero compiles)")
		armv7     = fs.String("armv7", "bin/edgesearch-linux-armv7", "linux/arm GOARM=7 binary (wazero interprets)")
		amd64     = fs.String("amd64", "bin/edgesearch", "native binary for reference; empty skips it")
		qemuArm64 = fs.String("qemu-arm64", "qemu-aarch64-static", "qemu-user program for arm64")
		qemuArm   = fs.String("qemu-arm", "qemu-arm-static", "qemu-user program for 32-bit arm")
		modelPath = fs.String("model", os.Getenv("EDGESEARCH_MODEL"), "GGUF model, the same for every binary")
		sentences = fs.String("sentences", "bench/sentences.txt", "one text a line")
		n         = fs.Int("n", 50, "texts taken from the top of -sentences")
		query     = fs.String("query", "how do I keep bees healthy", "a short query, embedded -repeat times")
		repeat    = fs.Int("repeat", 20, "how many times the query is embedded")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" {
		return errors.New("ratio: give -model or set EDGESEARCH_MODEL")
	}
	if *n < 2 || *repeat < 2 {
		return fmt.Errorf("ratio: -n %d, -repeat %d: want at least 2 each (one text is the start to subtract)", *n, *repeat)
	}
	texts, err := firstLines(*sentences, *n)
	if err != nil {
		return err
	}
	q := make([]string, *repeat)
	for i := range q {
		q[i] = *query
	}
	loads := []workload{{fmt.Sprintf("%d sentences", len(texts)), texts}, {fmt.Sprintf("query ×%d", *repeat), q}}

	targets := []target{
		{"linux/arm64 under qemu", "compiler", *qemuArm64, *arm64},
		{"linux/arm GOARM=7 under qemu", "interpreter", *qemuArm, *armv7},
	}
	if *amd64 != "" {
		targets = append(targets, target{"linux/amd64, native", "compiler", "", *amd64})
	}
	results := make([][]speed, len(targets))
	for i, t := range targets {
		if t.engine == "compiler" {
			// The first run fills wazero's compilation cache; the timed
			// runs should all find it full.
			if _, err := embedTimed(t, *modelPath, texts[:1]); err != nil {
				return err
			}
		}
		for _, w := range loads {
			fmt.Fprintf(os.Stderr, "pi: %s: %s\n", t.name, w.name)
			one, err := embedTimed(t, *modelPath, w.texts[:1])
			if err != nil {
				return err
			}
			all, err := embedTimed(t, *modelPath, w.texts)
			if err != nil {
				return err
			}
			k := time.Duration(len(w.texts) - 1)
			results[i] = append(results[i], speed{start: one, perText: cost{(all.cpu - one.cpu) / k, (all.wall - one.wall) / k}})
		}
	}
	printTable(os.Stdout, targets, loads, results, *modelPath, strings.Join(os.Args[1:], " "), *qemuArm64)
	return nil
}

// embedTimed runs `edgesearch embed` on texts (stdin, one a line) with one
// worker, checks it printed one vector per text, and returns its cost.
func embedTimed(t target, modelPath string, texts []string) (cost, error) {
	args := []string{"embed", "--model", modelPath, "--threads", "1", "--profile", "standard"}
	name := t.bin
	if t.qemu != "" {
		name, args = t.qemu, append([]string{t.bin}, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(strings.Join(texts, "\n") + "\n")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return cost{}, fmt.Errorf("%s: %w\n%s", t.name, err, stderr.String())
	}
	if got := bytes.Count(out.Bytes(), []byte("\n")); got != len(texts) {
		return cost{}, fmt.Errorf("%s: %d vectors for %d texts\n%s", t.name, got, len(texts), stderr.String())
	}
	st := cmd.ProcessState
	return cost{cpu: st.UserTime() + st.SystemTime(), wall: wall}, nil
}

// firstLines returns the first n non-blank lines of path, as embed would
// read them.
func firstLines(path string, n int) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < n {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) < n {
		return nil, fmt.Errorf("%s: %d texts, want %d", path, len(out), n)
	}
	return out, nil
}

// printTable writes the markdown for bench/RESULTS.md: texts per second of
// CPU time (the machine may be shared; CPU time is what one core of the
// emulated board would spend, give or take the emulation), wall time in
// brackets, then the armv7/arm64 ratio.
func printTable(w *os.File, targets []target, loads []workload, res [][]speed, modelPath, cmdline, qemu string) {
	fmt.Fprintf(w, "Command: `go run ./bench/pi %s`  \n", cmdline)
	fmt.Fprintf(w, "CPU: %s; %s; model %s; `--threads 1 --profile standard` for every binary.\n\n", cpuName(), qemuVersion(qemu), filepath.Base(modelPath))
	fmt.Fprint(w, "| binary | wazero | start, model load, 1 text (s CPU) |")
	for _, l := range loads {
		fmt.Fprintf(w, " %s: texts/s (CPU; wall) |", l.name)
	}
	fmt.Fprint(w, "\n|---|---|---|")
	for range loads {
		fmt.Fprint(w, "---|")
	}
	fmt.Fprintln(w)
	for i, t := range targets {
		fmt.Fprintf(w, "| %s | %s | %.1f |", t.name, t.engine, res[i][0].start.cpu.Seconds())
		for _, s := range res[i] {
			fmt.Fprintf(w, " %s (%s) |", rate(s.perText.cpu), rate(s.perText.wall))
		}
		fmt.Fprintln(w)
	}
	// targets[0] is arm64, targets[1] armv7.
	fmt.Fprintf(w, "| **armv7 / arm64** | | %.1f× the time |", res[1][0].start.cpu.Seconds()/res[0][0].start.cpu.Seconds())
	for j := range loads {
		fmt.Fprintf(w, " **%.3f** (%.3f) |", res[0][j].perText.cpu.Seconds()/res[1][j].perText.cpu.Seconds(), res[0][j].perText.wall.Seconds()/res[1][j].perText.wall.Seconds())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "\nA text's cost is (the run of all texts − the run of the first alone) / (texts − 1), so process start and model load drop out;")
	fmt.Fprintln(w, "the start column is that one-text run. Both arm binaries run emulated on the same host, so their ratio estimates the")
	fmt.Fprintln(w, "interpreter's cost against the compiler's on a real board only roughly: qemu's translation overhead differs between the two.")
}

// rate is texts per second for a per-text duration, to three significant
// digits or so, or "-" when the subtraction left nothing to divide by.
func rate(perText time.Duration) string {
	if perText <= 0 {
		return "-"
	}
	r := 1 / perText.Seconds()
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	case r >= 1:
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.3f", r)
}

func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func qemuVersion(qemu string) string {
	out, err := exec.Command(qemu, "--version").Output()
	if err != nil {
		return qemu + " (version unknown)"
	}
	l, _, _ := strings.Cut(string(out), "\n")
	return l
}
