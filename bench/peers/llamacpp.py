#!/usr/bin/env python3
"""Benchmark llama.cpp's CPU embedding (through llama-cpp-python) on a GGUF file.

    python3 bench/peers/llamacpp.py GGUF_PATH THREADS [--t0 EPOCH] [--sentences FILE]

Prints one JSON line: process start to first vector, one short query's latency (median of 50
after one warm-up), throughput over bench/sentences.txt embedded as one list (llama-cpp-python
packs as many sequences into each n_batch-token batch as fit), and peak RSS. Sequences are cut
at n_batch tokens by llama-cpp-python, not at 256 like sentence-transformers and edgesearch;
the JSON reports how many tokens were processed (no line of
bench/sentences.txt reaches 256, so the two agree there).
"""

import argparse
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
from peerclock import process_start, report

QUERY = "how do I reset my router"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("threads", type=int)
    ap.add_argument("--t0", help="epoch seconds taken just before exec (date +%%s.%%N)")
    ap.add_argument("--sentences", default=str(Path(__file__).resolve().parents[1] / "sentences.txt"))
    ap.add_argument("--batch", type=int, default=512, help="n_ctx = n_batch = n_ubatch")
    args = ap.parse_args()
    t0, t0_how = process_start(args.t0)

    t_import = time.time()
    import llama_cpp

    t_load = time.time()
    llm = llama_cpp.Llama(model_path=args.gguf, embedding=True,
                          pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                          n_ctx=args.batch, n_batch=args.batch, n_ubatch=args.batch,
                          n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
    t_first = time.time()
    llm.embed(QUERY, normalize=True)
    t_done = time.time()

    lat = []
    llm.embed(QUERY, normalize=True)
    for _ in range(50):
        s = time.perf_counter()
        llm.embed(QUERY, normalize=True)
        lat.append(time.perf_counter() - s)

    sentences = Path(args.sentences).read_text(encoding="utf-8").splitlines()
    s = time.perf_counter()
    vecs, n_tokens = llm.embed(sentences, normalize=True, return_count=True)
    elapsed = time.perf_counter() - s
    assert len(vecs) == len(sentences)

    report({
        "peer": "llama.cpp",
        "llama_cpp_python": llama_cpp.__version__,
        "gguf": Path(args.gguf).name,
        "threads": args.threads,
        "n_batch": args.batch,
    }, t0, t0_how, t_import, t_load, t_first, t_done, lat, len(sentences), n_tokens, elapsed)


if __name__ == "__main__":
    main()
