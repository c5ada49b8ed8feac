package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Both spellings print one line: the version, the Go version, GOOS/GOARCH.
func TestVersionFlagMatchesVersionCommand(t *testing.T) {
	want := []string{"edgesearch dev", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH}
	var lines []string
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := runBinary(t, "", nil, args...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
		for _, w := range want {
			if !strings.Contains(r.stdout, w) {
				t.Fatalf("%v: stdout %q does not say %q", args, r.stdout, w)
			}
		}
		lines = append(lines, r.stdout)
	}
	if lines[0] != lines[1] {
		t.Fatalf("--version printed %q, version printed %q", lines[0], lines[1])
	}
}

// The Makefile stamps the version with -ldflags -X main.version=…; a
// binary built that way must report it.
func TestVersionFlagReportsTheLinkedVersion(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "edgesearch")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "edgesearch v9.8.7-test ") {
		t.Fatalf("--version: %v, stdout %q", err, out)
	}
}
