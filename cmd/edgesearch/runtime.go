package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/edgesearch/edgesearch/embedder"
)

// runtimeHelp is --runtime's help text.
const runtimeHelp = "`NAME` of the WebAssembly runtime that runs the model: wazero (pure Go, the default); wasmedge (compiled ahead of time, cached) or wasmedge-interp in a binary built with make build-wasmedge"

// checkRuntime resolves --runtime: "" is wazero, and a name this binary
// does not have is an error that says how to get one that does.
func checkRuntime(name string) (string, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		name = "wazero"
	}
	have := embedder.Runtimes()
	if slices.Contains(have, name) {
		return name, nil
	}
	if strings.HasPrefix(name, "wasmedge") {
		return "", fmt.Errorf("%q: this binary was built without WasmEdge; build with `make build-wasmedge` (after `make wasmedge` builds the library), or use wazero", name)
	}
	return "", fmt.Errorf("%q: want one of %s", name, strings.Join(have, ", "))
}
