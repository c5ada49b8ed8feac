#!/usr/bin/env bash
# bench/wasmedge/run.sh: the same guest, model and threads on wazero,
# WasmEdge AOT and WasmEdge's interpreter (bench/wasmedge, one process), and
# llama.cpp beside them (bench/peers/llamacpp.py). Writes
# bench/out/wasmedge.jsonl and prints a table. Needs `make wasmedge` first.
#
#   THREADS=2 INTERP_THREADS=1 bash bench/wasmedge/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. embedder/wasmedge/env.sh
if [ -n "$WASMEDGE_MISSING" ]; then
	echo "bench/wasmedge: skipped: $WASMEDGE_MISSING" >&2
	exit 1
fi

MODEL=${EDGESEARCH_MODEL:-$HOME/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf}
THREADS=${THREADS:-2}
INTERP_THREADS=${INTERP_THREADS:-1}
INTERP_SENTENCES=${INTERP_SENTENCES:-40}
OUT=bench/out
mkdir -p "$OUT"
out="$OUT/wasmedge.jsonl"

echo "==> wazero, WasmEdge AOT, WasmEdge interpreter (threads=$THREADS, interpreter $INTERP_THREADS on $INTERP_SENTENCES sentences)"
go build -tags wasmedge -o "$OUT/wasmedge-bench" ./bench/wasmedge
"$OUT/wasmedge-bench" -model "$MODEL" -threads "$THREADS" \
	-interp-threads "$INTERP_THREADS" -interp-sentences "$INTERP_SENTENCES" > "$out"

echo "==> llama.cpp (threads=$THREADS)"
if python3 -c 'import llama_cpp' 2>/dev/null; then
	python3 bench/peers/llamacpp.py "$MODEL" "$THREADS" --t0 "$(date +%s.%N)" >> "$out"
else
	echo "    skipped: llama-cpp-python is not installed (make bench installs it)" >&2
fi

python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'runtime':<22}{'threads':>8}{'texts':>7}{'tokens/s':>11}{'query p50 ms':>14}{'load ms':>10}{'load ms (cached)':>18}")
for r in rows:
    name = r.get("runtime") or r["peer"]
    print(f"{name:<22}{r['threads']:>8}{r.get('n_texts', 0):>7}{r['throughput_tokens_per_s']:>11.1f}"
          f"{r['query_ms_p50']:>14.2f}{r.get('load_ms', 0):>10.0f}{r.get('load_ms_cached', 0) or '':>18}")
PY
