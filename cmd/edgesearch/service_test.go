package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// unitFile reads docs/edgesearch.service into its Key=Value lines (the
// last of a key wins, as systemd reads them, except Environment, which
// adds up).
func unitFile(t *testing.T) (map[string]string, []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "edgesearch.service"))
	if err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]string)
	var env []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("unit line %q is not Key=Value", line)
		}
		if k == "Environment" {
			env = append(env, strings.Fields(v)...)
			continue
		}
		keys[k] = v
	}
	return keys, env
}

// TestServiceUnitServesFromItsStateDirectory runs the service's ExecStart
// as systemd would (its Environment, the directories it creates under
// /var/lib and /var/cache moved to a temp dir) and checks the flags parse,
// the documents go to StateDirectory, and SIGTERM ends it cleanly.
func TestServiceUnitServesFromItsStateDirectory(t *testing.T) {
	keys, env := unitFile(t)
	args := strings.Fields(keys["ExecStart"])
	if len(args) < 2 || args[0] != "/usr/local/bin/edgesearch" || args[1] != "serve" {
		t.Fatalf("ExecStart = %q, want /usr/local/bin/edgesearch serve ...", keys["ExecStart"])
	}
	if keys["StateDirectory"] != "edgesearch" || keys["CacheDirectory"] != "edgesearch" || keys["KillSignal"] != "SIGTERM" {
		t.Fatalf("unit: StateDirectory %q, CacheDirectory %q, KillSignal %q", keys["StateDirectory"], keys["CacheDirectory"], keys["KillSignal"])
	}
	root := t.TempDir()
	for i, e := range env {
		// /var/lib → root/var/lib: the unit's paths, inside the test.
		k, v, _ := strings.Cut(e, "=")
		env[i] = k + "=" + filepath.Join(root, v)
	}
	cmd := exec.Command(binary, args[1:]...)
	cmd.Env = append(env, "HOME=/nonexistent", "EDGESEARCH_MODEL="+modelPath(t), "EDGESEARCH_ADDR=127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := bufio.NewScanner(stderr)
	var seen []string
	ready := false
	for !ready && logs.Scan() {
		seen = append(seen, logs.Text())
		ready = strings.Contains(logs.Text(), `"msg":"documents loaded"`)
	}
	if !ready {
		t.Fatalf("serve as the unit runs it never got ready:\n%s", strings.Join(seen, "\n"))
	}
	go func() {
		for logs.Scan() {
		}
	}()
	state := filepath.Join(root, "var", "lib", "edgesearch")
	if _, err := os.Stat(filepath.Join(state, "edgesearch.db")); err != nil {
		t.Errorf("the store is not in StateDirectory: %v", err)
	}
	if m := regexp.MustCompile(`"data":"([^"]+)"`).FindStringSubmatch(strings.Join(seen, "\n")); m == nil || m[1] != state {
		t.Errorf("serve logged data dir %v, want %s", m, state)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0", err)
	}
}
