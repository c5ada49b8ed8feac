package search

// simd is whether the NEON kernels of vector_arm64.s run. Advanced SIMD is
// part of every arm64 CPU (the kernels use only ARMv8.0, what the Pi 4's
// Cortex-A72 has), so it is always true here; it stays a variable so that
// tests can compare both paths, as on amd64.
var simd = true
