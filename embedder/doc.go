// Package embedder turns texts into vectors by running the WebAssembly guest
// (package guest: our C BERT engine, compiled to wasm32-wasi) under wazero.
//
// A Pool owns one module instance per worker, each with its own copy of the
// model in its linear memory. Texts wait in two bounded queues, interactive
// (Embed) and bulk (EmbedBulk); a worker that comes free takes every text
// already waiting in one lane (up to Options.MaxBatch) and embeds them as one
// guest job, so concurrent requests share matrix multiplies without adding
// latency to a lone query. A job runs in steps of a few milliseconds (the Go
// runtime cannot stop a goroutine inside a guest call, so a long call would
// hold the collector and the core); between the steps of a bulk job the
// worker runs the interactive batches that wait.
//
// The guest's linear layers and attention products run either in the guest
// (its SIMD128 kernels, guest.Binary) or, by default where the CPU has AVX2
// or NEON, on the host (guest.HostBinary imports them; kernels.go serves
// them with package hostkernels and checks every range first); one query's
// products then use the cores no other worker is using. The runtime is
// wazero unless Options.Runtime names another (runtime.go).
//
// This is the only package that reads or writes guest memory; instance.go
// and kernels.go hold every such access.
package embedder
