package embedder

import "slices"

// Runtimes lists, sorted, the names Options.Runtime accepts in this build:
// "wazero" always, others (WasmEdge's) only in builds with their tags.
func Runtimes() []string {
	names := make([]string, 0, len(runtimes))
	for n := range runtimes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
