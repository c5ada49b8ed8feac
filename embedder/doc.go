// Package embedder turns texts into vectors by running the WebAssembly guest
// (package guest: our C BERT engine, compiled to wasm32-wasi) under wazero.
//
// A Pool owns one module instance per worker, each with its own copy of the
// model in its linear memory. Texts wait in one bounded queue; a worker that
// comes free takes every text already waiting (up to Options.MaxBatch) and
// embeds them in one guest call, so concurrent requests share matrix
// multiplies without adding latency to a lone query.
//
// This is the only package that reads or writes guest memory; instance.go
// holds every such access.
package embedder
