// Package guest holds the edgesearch WebAssembly engine: a GGUF reader, the
// BERT WordPiece tokenizer and a SIMD128 BERT forward pass, written in C
// (src/) and compiled by build.sh to two modules from the same sources.
//
// Binary (edgesearch.wasm) is a WASI reactor whose exports (exports.txt,
// documented in src/edgesearch.h) are the whole contract with the host;
// embedder is the only package that instantiates it. It imports nothing
// but WASI and also exports _start, so the same file runs as a
// command-line embedder under any WASI runtime.
//
// HostBinary (edgesearch-host.wasm) is the same module built with
// ES_HOST_KERNELS: its linear layers call es_host_matmul, imported from the
// module "edgesearch" (src/edgesearch.h), which embedder serves with native
// vector code. It runs only under a host that provides that import.
//
// The C lives in src/, outside this Go package, because the go tool refuses
// C files in a package that does not use cgo; build.sh, never cgo, builds
// them.
package guest

import _ "embed"

// Binary is the standalone guest module. Rebuild both modules with
// guest/build.sh; the build is deterministic, so CI can check they match
// the C sources.
//
//go:embed edgesearch.wasm
var Binary []byte

// HostBinary is the guest module whose matrix products the host serves.
//
//go:embed edgesearch-host.wasm
var HostBinary []byte
