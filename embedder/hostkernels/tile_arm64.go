package hostkernels

// simd is whether the NEON kernels of tile_arm64.s run. Advanced SIMD is
// part of every arm64 CPU (the kernels use only ARMv8.0), so it is always
// true here; it stays a variable so that tests can compare both paths, as
// on amd64.
var simd = true
