#!/usr/bin/env bash
# standalone.sh runs guest/edgesearch.wasm, unchanged, as a WASI command
# under the wasmedge CLI, interpreted and compiled ahead of time
# (`wasmedge compile`), and checks each vector against `edgesearch embed`
# (wazero) by cosine ≥ 0.9999. It prints the worst cosine and the time of
# each run, and exits 1 when a vector differs. Needs `make wasmedge` first.
#
#   bash embedder/wasmedge/standalone.sh [TEXT...]
set -euo pipefail
cd "$(dirname "$0")/../.."
. embedder/wasmedge/env.sh
if ! command -v wasmedge >/dev/null; then
	echo "standalone: no wasmedge command: $WASMEDGE_MISSING" >&2
	exit 1
fi
MODEL=${EDGESEARCH_MODEL:-$HOME/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf}
[ -f "$MODEL" ] || { echo "standalone: no model at $MODEL (make model)" >&2; exit 1; }
if [ $# -eq 0 ]; then
	set -- "hello world" "how do I reset my router" "Ünïcödé, emoji 🙂 and CJK 日本語 in one text" \
		"$(printf 'A longer passage about search engines and embeddings. %.0s' 1 2 3 4 5 6 7 8)"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "==> wazero: edgesearch embed (the default, CGO_ENABLED=0 build)"
CGO_ENABLED=0 go build -o "$tmp/edgesearch" ./cmd/edgesearch
"$tmp/edgesearch" embed --model "$MODEL" --threads 1 "$@" > "$tmp/wazero.jsonl"

# run MODE MODULE TEXT...: the guest under the wasmedge CLI, the model's
# directory mapped to /model. The run mode must be given: without
# --run-mode aot, wasmedge 0.17 interprets the wasm embedded in a shared
# object, as slowly as the .wasm itself.
run() {
	local name=$1 module=$2 start
	shift 2
	echo "==> wasmedge --run-mode $name --dir /model:$(dirname "$MODEL") $module /model/$(basename "$MODEL") TEXT..."
	start=$(date +%s%N)
	wasmedge --run-mode "$name" --dir "/model:$(dirname "$MODEL")" "$module" "/model/$(basename "$MODEL")" "$@" > "$tmp/$name.jsonl"
	echo "    $(( ($(date +%s%N) - start) / 1000000 )) ms for $# texts"
}
run interpreter guest/edgesearch.wasm "$@"
run jit guest/edgesearch.wasm "$@"
echo "==> wasmedge compile guest/edgesearch.wasm edgesearch.so"
start=$(date +%s%N)
wasmedge compile guest/edgesearch.wasm "$tmp/edgesearch.so" > /dev/null
echo "    $(( ($(date +%s%N) - start) / 1000000 )) ms"
run aot "$tmp/edgesearch.so" "$@"

python3 - "$tmp" <<'PY'
import json, math, sys
d = sys.argv[1]
def vecs(name):
    # wasmedge's JIT logs its compile steps on standard output too.
    return [json.loads(l)["embedding"] for l in open(f"{d}/{name}.jsonl") if l.startswith("{")]
def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
ref = vecs("wazero")
bad = False
for name in ("interpreter", "jit", "aot"):
    got = vecs(name)
    if len(got) != len(ref):
        print(f"{name}: {len(got)} vectors, wazero {len(ref)}"); bad = True; continue
    worst = min(cos(a, b) for a, b in zip(got, ref))
    ok = worst >= 0.9999
    bad |= not ok
    print(f"{name}: {len(got)} vectors of {len(got[0])}, worst cosine against wazero {worst:.7f} ({'ok' if ok else 'FAIL: want >= 0.9999'})")
sys.exit(1 if bad else 0)
PY
