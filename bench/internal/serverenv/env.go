// Package serverenv gives the bench programs the environment to start
// edgesearch with: this process's, less every variable edgesearch reads as
// configuration, so the shell that runs a benchmark cannot change what it
// measures. Settings go on the command line instead.
package serverenv

import (
	"os"
	"strings"
)

// seedNames are the original embedding server's variables edgesearch honours.
var seedNames = map[string]bool{
	"PORT": true, "MODEL_PATH": true, "threads": true, "ctx_size": true, "batch_size": true, "enable_log": true,
}

// Clean returns os.Environ() without EDGESEARCH_* and the seed's names.
func Clean() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "EDGESEARCH_") || seedNames[name] {
			continue
		}
		env = append(env, kv)
	}
	return env
}
