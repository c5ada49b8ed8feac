# env.sh, sourced by the WasmEdge scripts and make targets: finds the
# libwasmedge that build.sh installed and exports what cgo needs to link
# against it. It sets WASMEDGE_PREFIX and, when the library is missing,
# WASMEDGE_MISSING to a sentence saying so and what to run.
#
#   . embedder/wasmedge/env.sh && go test -tags wasmedge ./embedder/
WASMEDGE_PREFIX="${WASMEDGE_PREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/edgesearch/wasmedge}"
WASMEDGE_MISSING=""
if [ ! -f "$WASMEDGE_PREFIX/lib/libwasmedge.so" ] || [ ! -f "$WASMEDGE_PREFIX/include/wasmedge/wasmedge.h" ]; then
	WASMEDGE_MISSING="no libwasmedge in $WASMEDGE_PREFIX (run \`make wasmedge\`, or set WASMEDGE_PREFIX)"
fi
export WASMEDGE_PREFIX WASMEDGE_MISSING
export CGO_ENABLED=1
export CGO_CFLAGS="-I$WASMEDGE_PREFIX/include ${CGO_CFLAGS:-}"
# rpath: the binary finds the library where build.sh put it, without
# LD_LIBRARY_PATH.
export CGO_LDFLAGS="-L$WASMEDGE_PREFIX/lib -Wl,-rpath,$WASMEDGE_PREFIX/lib ${CGO_LDFLAGS:-}"
export PATH="$WASMEDGE_PREFIX/bin:$PATH"
