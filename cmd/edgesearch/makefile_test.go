package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMakeRunListensWhereTheNewcomerSays: `PORT=18080 make run` and
// `EDGESEARCH_ADDR=… make run` reach serve's --addr (make -n prints the
// command without running it).
func TestMakeRunListensWhereTheNewcomerSays(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed: %v", err)
	}
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{nil, "--addr '127.0.0.1:8080'"},
		{[]string{"PORT=18080"}, "--addr '127.0.0.1:18080'"},
		{[]string{"EDGESEARCH_ADDR=0.0.0.0:9000", "PORT=1"}, "--addr '0.0.0.0:9000'"},
		{[]string{"ADDR=127.0.0.1:7", "EDGESEARCH_ADDR=0.0.0.0:9000"}, "--addr '127.0.0.1:7'"},
	} {
		cmd := exec.Command("make", "-s", "-n", "-C", "../..", "run")
		cmd.Env = append(withoutAddrs(os.Environ()), tc.env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("make -n run with %v: %v\n%s", tc.env, err, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("make -n run with %v:\n%s\nwant %s", tc.env, out, tc.want)
		}
	}
}

func withoutAddrs(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PORT=") && !strings.HasPrefix(kv, "ADDR=") && !strings.HasPrefix(kv, "EDGESEARCH_ADDR=") {
			out = append(out, kv)
		}
	}
	return out
}
