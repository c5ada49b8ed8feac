package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// embed in a pipeline answers each line before the next one is written:
// a caller that writes a text and waits for its vector must not wait
// forever for a block of 64 lines to fill.
func TestEmbedStreamsOneLineAtATime(t *testing.T) {
	cmd := exec.Command(binary, "embed", "--model", modelPath(t))
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	// The bound only turns a hang into a failure; a healthy run answers
	// in milliseconds, loading the model included.
	const hang = 2 * time.Minute
	for i := range 3 {
		if _, err := fmt.Fprintf(stdin, "text number %d\n", i+1); err != nil {
			t.Fatal(err)
		}
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before the answer to line %d; stderr %q", i+1, stderr.String())
			}
			seedLines(t, line)
		case <-time.After(hang):
			t.Fatalf("no answer to line %d while stdin stays open: embed waits for more input", i+1)
		}
	}
	stdin.Close()
	if _, ok := <-lines; ok {
		t.Fatal("more output than lines written")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("embed: %v; stderr %q", err, stderr.String())
	}
}

// Lines written all at once, longer ones among them, come back one vector
// each and in order, whatever batches embed forms; a line past maxLine is
// an error that names where it happened.
func TestEmbedStdinBatchesAndLongLines(t *testing.T) {
	m := modelPath(t)
	var in strings.Builder
	var texts []string
	for i := range 150 {
		t := fmt.Sprintf("line %d of the batch", i)
		if i%50 == 7 {
			t += strings.Repeat(" filler", 20000) // over bufio's 64 KiB buffer
		}
		texts = append(texts, t)
		in.WriteString(t + "\n")
	}
	r := runBinary(t, in.String(), nil, "embed", "--model", m)
	if r.code != 0 {
		t.Fatalf("exit %d: %.300s", r.code, r.stderr)
	}
	got := seedLines(t, r.stdout)
	if len(got) != len(texts) {
		t.Fatalf("%d lines for %d texts", len(got), len(texts))
	}
	// Spot-check order: the same text as an argument gives the same vector.
	for _, i := range []int{0, 64, 149} {
		one := runBinary(t, "", nil, "embed", "--model", m, texts[i])
		if want := seedLines(t, one.stdout)[0]; fmt.Sprint(want) != fmt.Sprint(got[i]) {
			t.Fatalf("line %d of the output is not text %d's vector", i+1, i+1)
		}
	}

	r = runBinary(t, "short\n"+strings.Repeat("x", maxLine+1)+"\n", nil, "embed", "--model", m)
	if r.code != 1 || !strings.Contains(r.stderr, "line 2") {
		t.Fatalf("over-long line: exit %d, stderr %q", r.code, r.stderr)
	}
}
