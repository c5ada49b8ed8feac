#!/usr/bin/env python3
"""Benchmark faiss-cpu's IndexHNSWFlat on the data set bench/vectorbench wrote, as vectorbench
measures edgesearch.

    python3 bench/peers/vectors_faiss.py --vectors V.npy --queries Q.npy --truth T.json \
        [--threads 2] [--clients 2] [--m 16] [--ef-construction 128] [--ef 96]

Inner product over the unit vectors (cosine), the same M (2M links on layer 0, as hnswlib and
edgesearch), efConstruction and efSearch; the index is built with --threads OpenMP threads,
--batch rows an add call. Searches run one vector at a time on one OpenMP thread, one client,
then --clients Python threads (faiss releases the GIL in search). Filters are an IDSelectorBitmap
in SearchParametersHNSW, which faiss tests inside the walk (not a post-filter). Prints one JSON
line.
"""

import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the checkout
import vectors_common as vc


def main():
    a = vc.args()
    import faiss
    import numpy as np

    x, q, truth = vc.load(a)
    n, dims = x.shape
    faiss.omp_set_num_threads(a.threads)
    index = faiss.IndexHNSWFlat(dims, a.m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = a.ef_construction
    s = time.perf_counter()
    for lo in range(0, n, a.batch):
        chunk = np.array(x[lo:min(lo + a.batch, n)], dtype=np.float32)
        faiss.normalize_L2(chunk)
        index.add(chunk)
    build = time.perf_counter() - s
    print(f"faiss: built {n} in {build:.1f} s", file=sys.stderr)
    faiss.omp_set_num_threads(1)
    qn = q.copy()
    faiss.normalize_L2(qn)

    ids = np.arange(n)
    bitmaps = [np.packbits(ids % 2 == 0, bitorder="little")]
    bitmaps += [np.packbits(ids % 100 == g, bitorder="little") for g in range(100)]
    sels = [faiss.IDSelectorBitmap(n, faiss.swig_ptr(b)) for b in bitmaps]
    plain = faiss.SearchParametersHNSW(efSearch=a.ef)
    params = [faiss.SearchParametersHNSW(sel=s, efSearch=a.ef) for s in sels]

    def search(fi, qi):
        p = plain if fi == 0 else params[0] if fi == 1 else params[1 + qi % 100]
        _, labels = index.search(qn[qi:qi + 1], 10, params=p)
        return [i for i in labels[0] if i >= 0]

    res = vc.measure(len(q), search, a.clients, truth)
    vc.report({
        "peer": "faiss", "version": faiss.__version__,
        "threads": a.threads, "m": a.m, "ef_construction": a.ef_construction, "ef": a.ef,
        "n": n, "build_s": build, "points_per_s": n / build,
        "search": res, "mem": vc.memory(),
        "filter_how": "inside the walk: IDSelectorBitmap in SearchParametersHNSW",
    })


if __name__ == "__main__":
    main()
