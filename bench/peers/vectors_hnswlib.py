#!/usr/bin/env python3
"""Benchmark hnswlib on the data set bench/vectorbench wrote, as vectorbench measures edgesearch.

    python3 bench/peers/vectors_hnswlib.py --vectors V.npy --queries Q.npy --truth T.json \
        [--threads 2] [--clients 2] [--m 16] [--ef-construction 128] [--ef 96]

Builds an index in hnswlib's cosine space with the same M, efConstruction and ef (add_items on
--threads threads, --batch rows a call), then measures search: recall@10, p50/p99 of one client
querying one vector at a time on one thread, and --clients Python threads doing the same
(knn_query releases the GIL). Filters use hnswlib's filter function, called for every node the
walk meets (a Python callable, so each call takes the GIL). Prints one JSON line.
"""

import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
import vectors_common as vc


def main():
    a = vc.args()
    import hnswlib
    import numpy as np

    x, q, truth = vc.load(a)
    n, dims = x.shape
    index = hnswlib.Index(space="cosine", dim=dims)
    index.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=1)
    s = time.perf_counter()
    for lo in range(0, n, a.batch):
        hi = min(lo + a.batch, n)
        index.add_items(np.ascontiguousarray(x[lo:hi]), np.arange(lo, hi), num_threads=a.threads)
    build = time.perf_counter() - s
    print(f"hnswlib: built {n} in {build:.1f} s", file=sys.stderr)
    index.set_ef(a.ef)

    nq = len(q)
    half = lambda i: i % 2 == 0
    groups = [(lambda g: (lambda i: i % 100 == g))(g) for g in range(100)]

    def search(fi, qi):
        f = None if fi == 0 else half if fi == 1 else groups[qi % 100]
        labels, _ = index.knn_query(q[qi:qi + 1], k=10, num_threads=1, filter=f)
        return labels[0]

    res = vc.measure(nq, search, a.clients, truth)
    vc.report({
        "peer": "hnswlib", "version": getattr(hnswlib, "__version__", "0.8.0"),
        "threads": a.threads, "m": a.m, "ef_construction": a.ef_construction, "ef": a.ef,
        "n": n, "build_s": build, "points_per_s": n / build,
        "search": res, "mem": vc.memory(),
        "filter_how": "inside the walk: hnswlib's filter function (a Python callable per node)",
    })


if __name__ == "__main__":
    main()
