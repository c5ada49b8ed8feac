#!/usr/bin/env bash
# build.sh builds libwasmedge and the wasmedge CLI from source into a prefix
# outside the repo (default ~/.cache/edgesearch/wasmedge), with the LLVM-based
# AOT compiler on. Nothing it fetches or builds is committed: the repo holds
# only this script.
#
# It is idempotent: when the prefix already holds the same WasmEdge version
# built with the same flags, it prints so and exits 0. Every step prints what
# it does; a failing step prints the command that failed and where its log is.
#
# Environment (all optional):
#   WASMEDGE_VERSION  release tag to build (default 0.17.1)
#   WASMEDGE_SRC      an unpacked WasmEdge source tree of that tag; without it
#                     the script clones the tag from GitHub into the cache
#   WASMEDGE_PREFIX   install prefix (default $CACHE/wasmedge)
#   WASMEDGE_BUILD    build directory (default $CACHE/wasmedge-build)
#   FMT_SRC, SPDLOG_SRC  unpacked fmt 11.0.2 and spdlog v1.13.0 trees; without
#                     them cmake's FetchContent clones both from GitHub
#   LLVM_MAJOR        LLVM major version from Debian (default 16)
#   JOBS              parallel compile jobs (default 2; the build runs niced)
#
# Usage: bash embedder/wasmedge/build.sh
set -euo pipefail

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/edgesearch"
WASMEDGE_VERSION="${WASMEDGE_VERSION:-0.17.1}"
# The commit the 0.17.1 tag names in github.com/WasmEdge/WasmEdge, checked
# when the source comes from git so a moved tag is noticed.
WASMEDGE_COMMIT_0_17_1="0502c560d787d969c66f5676b9e11ac64bba3656"
PREFIX="${WASMEDGE_PREFIX:-$CACHE/wasmedge}"
BUILD="${WASMEDGE_BUILD:-$CACHE/wasmedge-build}"
LLVM_MAJOR="${LLVM_MAJOR:-16}"
JOBS="${JOBS:-2}"

step() { echo "==> $*"; }
fail() { echo "wasmedge build FAILED: $*" >&2; exit 1; }

# Every cmake flag, and why.
CMAKE_FLAGS=(
	-G Ninja
	-DCMAKE_BUILD_TYPE=Release               # optimised, no debug info: this is what we measure
	-DCMAKE_INSTALL_PREFIX="$PREFIX"         # outside the repo and outside /usr
	# clang of the same LLVM, as WasmEdge's own Ubuntu images build: WasmEdge
	# compiles with -Werror, and GCC 12 stops on false maybe-uninitialized
	# warnings in lib/loader/ast/component/component_type.cpp.
	-DCMAKE_C_COMPILER="clang-$LLVM_MAJOR"
	-DCMAKE_CXX_COMPILER="clang++-$LLVM_MAJOR"
	-DWASMEDGE_USE_LLVM=ON                   # the AOT compiler (wasmedge compile, WasmEdge_Compiler* in the C API)
	-DLLVM_DIR="/usr/lib/llvm-$LLVM_MAJOR/lib/cmake/llvm"  # pick one LLVM when several are installed
	-DLLD_DIR="/usr/lib/llvm-$LLVM_MAJOR/lib/cmake/lld"    # lld links the AOT output into a shared object
	-DWASMEDGE_BUILD_SHARED_LIB=ON           # libwasmedge.so for the cgo runtime
	-DWASMEDGE_BUILD_STATIC_LIB=OFF          # would need LLVM's static archives; not needed
	-DWASMEDGE_BUILD_TOOLS=ON                # the wasmedge CLI (run, compile)
	-DWASMEDGE_BUILD_TESTS=OFF               # its unit tests fetch googletest from GitHub and take long
	-DWASMEDGE_BUILD_PLUGINS=OFF             # no plugin is needed: the guest uses plain WASI
	-DWASMEDGE_PLUGIN_WASI_LOGGING=OFF       # on by default; a plugin we do not use
	-DWASMEDGE_BUILD_EXAMPLE=OFF
	-DWASMEDGE_LINK_LLVM_STATIC=OFF          # link Debian's libLLVM-$LLVM_MAJOR.so dynamically
	-DWASMEDGE_FORCE_DISABLE_LTO=ON          # LTO doubles a 2-core build's time; see docs/wasmedge.md
	# Debian 12's libfmt-dev is fmt 9, and WasmEdge 0.17.1's include/common/int128.h
	# does not compile against it (no operator~ for fmt::detail::uint128_fallback).
	# So never take the system spdlog/fmt: cmake/Helper.cmake then builds the
	# fmt 11.0.2 and spdlog v1.13.0 it pins, through FetchContent.
	-DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON
)
# The stamp records the version and flags (not where sources came from), so
# changing a flag here rebuilds instead of skipping.
stamp="$PREFIX/.edgesearch-build"
want_stamp="version=$WASMEDGE_VERSION llvm=$LLVM_MAJOR flags=$(printf '%s ' "${CMAKE_FLAGS[@]}" | sha256sum | cut -c1-16)"

# FetchContent takes a local tree instead of cloning when
# FETCHCONTENT_SOURCE_DIR_<NAME> is set (a stock cmake feature); this is how
# the build works on a machine that cannot reach GitHub.
if [ -n "${FMT_SRC:-}" ]; then CMAKE_FLAGS+=(-DFETCHCONTENT_SOURCE_DIR_FMT="$FMT_SRC"); fi
if [ -n "${SPDLOG_SRC:-}" ]; then CMAKE_FLAGS+=(-DFETCHCONTENT_SOURCE_DIR_SPDLOG="$SPDLOG_SRC"); fi

# Debian packages, and why each is needed. simdjson is needed only by
# plugins, which are off; spdlog and fmt are built from source (see above).
APT_PKGS=(
	cmake ninja-build git pkg-config       # the build itself
	"clang-$LLVM_MAJOR"                    # the C/C++ compiler (see CMAKE_CXX_COMPILER)
	"llvm-$LLVM_MAJOR-dev"                 # LLVMConfig.cmake and libLLVM for the AOT compiler
	"liblld-$LLVM_MAJOR-dev"               # lldELF/lldCommon: WasmEdge links AOT output in-process
	zlib1g-dev libzstd-dev libtinfo-dev    # what libLLVM's cmake exports ask the linker for
	libedit-dev libxml2-dev libffi-dev     # likewise (LLVMExports lists them on Debian)
)

if [ -x "$PREFIX/bin/wasmedge" ] && [ -f "$PREFIX/lib/libwasmedge.so" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want_stamp" ]; then
	step "WasmEdge $WASMEDGE_VERSION already installed in $PREFIX ($("$PREFIX/bin/wasmedge" --version 2>/dev/null | head -1)); nothing to do"
	exit 0
fi

step "Debian packages: ${APT_PKGS[*]}"
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	echo "    apt-get install ${missing[*]}"
	sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq || fail "apt-get update"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null ||
		fail "apt-get install ${missing[*]}"
fi
[ -f "/usr/lib/llvm-$LLVM_MAJOR/lib/cmake/llvm/LLVMConfig.cmake" ] || fail "no LLVMConfig.cmake under /usr/lib/llvm-$LLVM_MAJOR (llvm-$LLVM_MAJOR-dev)"
[ -f "/usr/lib/llvm-$LLVM_MAJOR/lib/cmake/lld/LLDConfig.cmake" ] || fail "no LLDConfig.cmake under /usr/lib/llvm-$LLVM_MAJOR (liblld-$LLVM_MAJOR-dev)"

if [ -n "${WASMEDGE_SRC:-}" ]; then
	src="$WASMEDGE_SRC"
	step "source: $src (given by WASMEDGE_SRC)"
else
	src="$CACHE/wasmedge-src-$WASMEDGE_VERSION"
	if [ ! -d "$src/.git" ]; then
		step "source: git clone --branch $WASMEDGE_VERSION https://github.com/WasmEdge/WasmEdge $src"
		git clone --quiet --depth 1 --branch "$WASMEDGE_VERSION" https://github.com/WasmEdge/WasmEdge "$src" ||
			fail "git clone of WasmEdge $WASMEDGE_VERSION (no network to GitHub? set WASMEDGE_SRC to an unpacked tree)"
	fi
	got=$(git -C "$src" rev-parse HEAD)
	if [ "$WASMEDGE_VERSION" = "0.17.1" ] && [ "$got" != "$WASMEDGE_COMMIT_0_17_1" ]; then
		fail "tag 0.17.1 is $got, want $WASMEDGE_COMMIT_0_17_1"
	fi
fi
[ -f "$src/CMakeLists.txt" ] && [ -f "$src/include/api/wasmedge/wasmedge.h" ] || fail "$src is not a WasmEdge source tree"

# WasmEdge derives its version from git describe, which an exported tree
# lacks; its CMakeLists reads a VERSION file then.
[ -d "$src/.git" ] || [ -f "$src/VERSION" ] || printf %s "$WASMEDGE_VERSION" >"$src/VERSION"

mkdir -p "$BUILD"
log="$BUILD/build.log"
step "configure: cmake -S $src -B $BUILD ${CMAKE_FLAGS[*]} (log: $log)"
cmake -S "$src" -B "$BUILD" "${CMAKE_FLAGS[@]}" >"$log" 2>&1 || { tail -30 "$log" >&2; fail "cmake configure (full log: $log)"; }
grep -q 'Downloading spdlog source -- done' "$log" || fail "cmake did not set up spdlog from source (log: $log)"

step "compile: nice -n 10 ninja -C $BUILD -j$JOBS (log: $log; 30-60 minutes on 2 cores)"
nice -n 10 ninja -C "$BUILD" -j"$JOBS" >>"$log" 2>&1 || { grep -n -B2 -A8 'error' "$log" | tail -40 >&2; fail "ninja (full log: $log)"; }

step "install into $PREFIX"
ninja -C "$BUILD" install >>"$log" 2>&1 || { tail -20 "$log" >&2; fail "ninja install (full log: $log)"; }
echo "$want_stamp" >"$stamp"
"$PREFIX/bin/wasmedge" --version || fail "$PREFIX/bin/wasmedge --version"
step "done: $PREFIX/lib/libwasmedge.so, $PREFIX/bin/wasmedge, headers in $PREFIX/include"
