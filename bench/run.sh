#!/usr/bin/env bash
# make bench: measures edgesearch's embedder beside llama.cpp (llama-cpp-python,
# built from its sdist, on the same GGUF and threads) and sentence-transformers
# (PyTorch CPU) and ONNX Runtime (CPU provider, the same model exported to ONNX by
# bench/peers/export_onnx.py), plus the search and store benchmarks, and writes
# bench/RESULTS.md and the charts bench/chart-*.svg (bench/charts). Raw
# outputs go to bench/out/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${EDGESEARCH_MODEL:-$HOME/.cache/edgesearch/all-MiniLM-L6-v2-f16.gguf}
THREADS=${THREADS:-2}
OUT=bench/out
mkdir -p "$OUT"

# The embedding comparisons (edgesearch, llama.cpp, sentence-transformers, ONNX
# Runtime; f16 with THREADS and 1 thread, and q8_0): bench/embed.sh, which
# make bench-embed runs alone.
OUT="$OUT" THREADS="$THREADS" EDGESEARCH_MODEL="$MODEL" bash bench/embed.sh

echo "==> WasmEdge beside wazero (skipped without make wasmedge)"
bash bench/wasmedge/run.sh || echo "    skipped: run make wasmedge first"

echo "==> web UI in headless Chromium: keystroke to results, first load"
go test -count=1 -run TestUIInBrowser ./web/ > /dev/null
python3 -m json.tool --compact web/uitest/out/ui-bench.json > "$OUT/ui.json"

echo "==> Go benchmarks: search and store"
go test -run '^$' -bench 'Search100k|Recall100k|CoderHNSW' -benchtime 2s -timeout 60m ./search/ > "$OUT/search.txt"
go test -run '^$' -bench 'Put' -benchtime 2s ./store/ > "$OUT/store.txt"

echo "==> search quality and bulk import on SciFact (BEIR test split; ~20 min on 2 cores), the documents local and in 1- and 3-node Weaviate clusters"
make -s weaviate
rm -rf "$OUT/scifact-data"
go run ./bench/scifact -dataset "${SCIFACT:-../shared/eval/scifact}" -model "$MODEL" -threads "$THREADS" \
  -keep "$OUT/scifact-data" -weaviate 1,3 > "$OUT/scifact.json"

echo "==> search at 100k chunks: latency, recall, serve RSS"
go run ./bench/searchbench -model "$MODEL" -threads "$THREADS" -cli bin/edgesearch > "$OUT/searchbench.json"

echo "==> vector store: collections beside hnswlib and faiss-cpu, 100k and 1M points (~45 min on 2 cores)"
if ! python3 -c 'import hnswlib, faiss' 2>/dev/null; then
  python3 -m pip install -q -r bench/peers/vectors_requirements.txt
fi
for n in 100000 1000000; do
  go run ./bench/vectorbench -n "$n" -threads "$THREADS" -clients "$THREADS" -peers -scan-row \
    -md "$OUT/vectors-$n.md" > "$OUT/vectors-$n.json"
done

echo "==> reliability: bad inputs, hostile files, kill -9 rounds"
go run ./bench/reliability -bin bin/edgesearch -model "$MODEL" > "$OUT/reliability.md"

echo "==> load: 64 clients of mixed traffic, twice"
go run ./bench/loadtest -bin bin/edgesearch -model "$MODEL" -out "$OUT/loadtest.md" > /dev/null

echo "==> fuzzing every target for ${FUZZTIME:-30s}"
bash bench/fuzz.sh > "$OUT/fuzz.md"

echo "==> writing bench/RESULTS.md"
python3 bench/report.py "$OUT" "$MODEL" > bench/RESULTS.md

echo "==> drawing the comparisons with the peers: bench/chart-*.svg"
go run ./bench/charts -in "$OUT" -out bench
cat bench/RESULTS.md
