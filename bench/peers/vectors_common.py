"""What vectors_hnswlib.py and vectors_faiss.py share: the command line, the data set that
bench/vectorbench wrote (vectors and held-out queries as .npy, the exact answers per filter as
JSON), the filters, the query loops and the memory reading, so both peers are measured exactly
as bench/vectorbench measures edgesearch.

Filters, as vectorbench: "none"; "50%" keeps points whose id is even (payload tag "t0");
"1%" keeps points with id % 100 == query number % 100 (payload group).
"""

import argparse
import json
import os
import statistics
import threading
import time

import numpy as np

FILTERS = ["none", "50%", "1%"]


def args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--threads", type=int, default=2, help="threads to build the index")
    ap.add_argument("--clients", type=int, default=2, help="concurrent query loops")
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=128)
    ap.add_argument("--ef", type=int, default=96)
    ap.add_argument("--batch", type=int, default=10000, help="rows handed to the index per add call")
    return ap.parse_args()


def load(a):
    """The vectors (memory-mapped: their pages count as RssFile, not RssAnon), the queries and
    the exact answers."""
    x = np.load(a.vectors, mmap_mode="r")
    q = np.ascontiguousarray(np.load(a.queries), dtype=np.float32)
    with open(a.truth) as f:
        truth = json.load(f)
    return x, q, truth


def keep(fi, qi, ident):
    """Whether point ident passes filter fi for query qi."""
    if fi == 1:
        return ident % 2 == 0
    if fi == 2:
        return ident % 100 == qi % 100
    return True


def recall(want, got):
    hit = total = 0
    for w, g in zip(want, got):
        s = set(int(i) for i in g)
        hit += sum(1 for i in w if i in s)
        total += len(w)
    return hit / total if total else 0.0


def pct(v, q):
    s = sorted(v)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))] if s else 0.0


def measure(nq, search, clients, truth):
    """Runs every filter: one client through all queries (latency, recall), then `clients`
    threads each through all queries (throughput). search(fi, qi) returns the ids found."""
    out = {}
    for fi, name in enumerate(FILTERS):
        got, lat = [], []
        for qi in range(nq):
            s = time.perf_counter()
            got.append(search(fi, qi))
            lat.append((time.perf_counter() - s) * 1000)
        clat = [[] for _ in range(clients)]

        def run(c):
            for j in range(nq):
                qi = (j + c * nq // clients) % nq
                s = time.perf_counter()
                search(fi, qi)
                clat[c].append((time.perf_counter() - s) * 1000)

        ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
        s = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - s
        allc = [x for c in clat for x in c]
        out[name] = {
            "recall_at_10": recall(truth["ids"][fi], got),
            "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99), "mean_ms": statistics.fmean(lat),
            "clients": clients,
            "clients_p50_ms": pct(allc, 0.5), "clients_p99_ms": pct(allc, 0.99),
            "clients_qps": len(allc) / wall,
        }
        print(f"  {name}: recall@10 {out[name]['recall_at_10']:.4f}, p50 {out[name]['p50_ms']:.3f} ms",
              file=__import__("sys").stderr)
    return out


def memory():
    """VmRSS, VmHWM, RssAnon and RssFile from /proc/self/status, in MiB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, v = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key + "_mib"] = int(v.split()[0]) / 1024
    except OSError:
        pass
    return out


def report(own):
    own["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(own, sort_keys=True))
