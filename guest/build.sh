#!/bin/sh
# Builds the guest: every guest/src/*.c into wasm32-wasi reactor modules
# with SIMD128, twice:
#   edgesearch.wasm       standalone: imports only WASI, runs its own kernels
#   edgesearch-host.wasm  -DES_HOST_KERNELS: its linear layers call the
#                         host's es_host_matmul (import module "edgesearch")
# Usage: guest/build.sh [OUTPUT [HOST_OUTPUT]]
#   no argument: both, into guest/; OUTPUT alone: only the standalone one.
# The output is deterministic: no debug info, no paths, no timestamps, so a
# rebuild with the same compiler is byte-identical to the committed files.
set -eu
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
if [ $# -eq 0 ]; then
  out=$here/edgesearch.wasm host=$here/edgesearch-host.wasm
else
  out=$(abs "$1") host=
  if [ $# -gt 1 ]; then host=$(abs "$2"); fi
fi
cd "$here"

CC=${CC:-clang-16}
TARGET="--target=wasm32-wasi --sysroot=/usr -isystem /usr/include/wasm32-wasi"

obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT

# build OUTPUT [CFLAGS...]
build() {
  dst=$1
  shift
  rm -f "$obj"/*.o
  # Compile and link are separate steps because the clang driver, when
  # given -O at link time, runs whatever wasm-opt is on PATH (and Debian's
  # binaryen rejects SIMD unless told otherwise); the output must not
  # depend on that.
  #   -msimd128        the kernels are written for SIMD128
  #   -g0 -fno-ident   no debug info, no compiler banner
  for c in src/*.c; do
    o=$(basename "$c" .c)
    $CC $TARGET -std=c11 -D_GNU_SOURCE -O3 -msimd128 "$@" \
      -Wall -Wextra -g0 -fno-ident -c "$c" -o "$obj/$o.o"
  done
  # -mexec-model=reactor   _initialize runs the constructors; cli.c exports _start
  # --strip-all            drop names and custom sections
  # -z stack-size=1MiB     large buffers are on the heap; this is headroom
  # Exports come only from export_name attributes in the sources.
  $CC $TARGET -L/usr/lib/wasm32-wasi -mexec-model=reactor \
    -Wl,--strip-all -Wl,-z,stack-size=1048576 \
    -o "$dst" "$obj"/*.o -lm
  echo "wrote $dst ($(wc -c <"$dst") bytes)"
}

build "$out"
if [ -n "$host" ]; then build "$host" -DES_HOST_KERNELS; fi
