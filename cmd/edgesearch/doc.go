// Command edgesearch is the offline semantic search appliance's one binary:
// `edgesearch serve` runs the HTTP API, `edgesearch embed` prints vectors,
// `edgesearch model` fetches, converts and describes models.
//
// This package stays thin: it parses flags, resolves the configuration once
// (flags, then EDGESEARCH_* environment, then the seed server's variable
// names, then defaults) into a config struct, and wires packages together.
// Behaviour lives in the packages, where tests call it directly.
//
// Exit status: 0 on success, 1 when the work failed, 2 for bad usage (unknown
// flags, bad flag or environment values).
package main
