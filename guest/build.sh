#!/bin/sh
# Builds the guest: every guest/src/*.c into one wasm32-wasi reactor module with
# SIMD128. Usage: guest/build.sh [OUTPUT]   (default guest/edgesearch.wasm)
# The output is deterministic: no debug info, no paths, no timestamps, so a
# rebuild with the same compiler is byte-identical to the committed file.
set -eu
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/edgesearch.wasm}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$here"

CC=${CC:-clang-16}
TARGET="--target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi"

# Compile and link are separate steps because the clang driver, when given
# -O at link time, runs whatever wasm-opt is on PATH (and Debian's binaryen
# rejects SIMD unless told otherwise); the output must not depend on that.
#   -msimd128        the kernels are written for SIMD128
#   -g0 -fno-ident   no debug info, no compiler banner
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT
for c in src/*.c; do
  o=$(basename "$c" .c)
  $CC $TARGET -std=c11 -D_GNU_SOURCE -O3 -msimd128 \
    -Wall -Wextra -g0 -fno-ident -c "$c" -o "$obj/$o.o"
done

# -mexec-model=reactor   _initialize runs the constructors; cli.c exports _start
# --strip-all            drop names and custom sections
# -z stack-size=1MiB     large buffers are on the heap; this is headroom
# Exports come only from export_name attributes in the sources.
$CC $TARGET -L/usr/lib/wasm32-wasi -mexec-model=reactor \
  -Wl,--strip-all -Wl,-z,stack-size=1048576 \
  -o "$out" "$obj"/*.o -lm
echo "wrote $out ($(wc -c <"$out") bytes)"
