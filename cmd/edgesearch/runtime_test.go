//go:build !wasmedge

package main

import (
	"strings"
	"testing"
)

func TestRuntimeDefaultsToWazero(t *testing.T) {
	for _, args := range [][]string{nil, {"--runtime", " Wazero "}} {
		cfg, err := resolveConfig(serveFlags(t, args...), envOf(map[string]string{"EDGESEARCH_MODEL": "/m.gguf", "EDGESEARCH_DATA": "/d"}))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Runtime != "wazero" || poolOptions(cfg).Runtime != "wazero" {
			t.Errorf("%q: runtime %q, pool runtime %q, want wazero", args, cfg.Runtime, poolOptions(cfg).Runtime)
		}
	}
}

// A binary built without the wasmedge tag has no WasmEdge: asking for it,
// by flag or environment, fails at start with how to build one that has.
func TestRuntimeWasmEdgeInADefaultBuildSaysHowToGetIt(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		from string
	}{
		{[]string{"--runtime", "wasmedge"}, nil, "--runtime"},
		{nil, map[string]string{"EDGESEARCH_RUNTIME": "wasmedge-interp"}, "EDGESEARCH_RUNTIME"},
	} {
		err := resolveBad(t, tc.args, tc.env)
		if msg := err.Error(); !strings.Contains(msg, tc.from) || !strings.Contains(msg, "built without WasmEdge") || !strings.Contains(msg, "make build-wasmedge") {
			t.Errorf("error %q should name %s, say WasmEdge is missing and how to build it", msg, tc.from)
		}
	}
	if err := resolveBad(t, []string{"--runtime", "v8"}, nil); !strings.Contains(err.Error(), "wazero") {
		t.Errorf("error %q should list the runtimes this binary has", err)
	}
	r := runBinary(t, "", nil, "embed", "--runtime", "wasmedge", "hello")
	if r.code != 2 || !strings.Contains(r.stderr, "make build-wasmedge") {
		t.Errorf("embed --runtime wasmedge: exit %d, stderr %q; want 2 and how to build with WasmEdge", r.code, r.stderr)
	}
}
