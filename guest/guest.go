// Package guest holds the edgesearch WebAssembly engine: a GGUF reader, the
// BERT WordPiece tokenizer and a SIMD128 BERT forward pass, written in C
// (src/) and compiled by build.sh to edgesearch.wasm.
//
// The module is a WASI reactor whose exports (exports.txt, documented in
// src/edgesearch.h) are the whole contract with the host; embedder is the only
// package that instantiates it. It also exports _start, so the same file
// runs as a command-line embedder under any WASI runtime.
//
// The C lives in src/, outside this Go package, because the go tool refuses
// C files in a package that does not use cgo; build.sh, never cgo, builds
// them.
package guest

import _ "embed"

// Binary is the compiled guest module. Rebuild it with guest/build.sh; the
// build is deterministic, so CI can check it matches the C sources.
//
//go:embed edgesearch.wasm
var Binary []byte
