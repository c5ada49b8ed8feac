"""Shared measuring helpers for the peer benchmarks: when the process started, and peak RSS.

Both peers report "start to first vector" from the moment the OS created the process, so the
Python interpreter's own start-up and the imports count, just as the Go binary's start-up does
for edgesearch. On Linux that moment is read from /proc (10 ms resolution); elsewhere the clock
starts when this module is imported, which leaves out interpreter start-up, and the JSON says so.
A caller that wants the exact moment can pass --t0 with `date +%s.%N` taken just before exec.
"""

import json
import os
import resource
import statistics
import sys
import time

_IMPORTED = time.time()


def process_start(t0_arg=None):
    """Returns (epoch seconds when the process started, how that was measured)."""
    if t0_arg is not None:
        return float(t0_arg), "--t0 timestamp passed by the caller before exec"
    try:
        # Age from /proc/uptime and the process's start tick (both 10 ms steps); /proc/stat's
        # btime is whole seconds, too coarse for a sub-second measure.
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        now = time.time()
        with open(f"/proc/{os.getpid()}/stat") as f:
            # Field 22 (starttime, clock ticks after boot) follows the ")" that ends comm.
            fields = f.read().rsplit(")", 1)[1].split()
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return now - age, "process creation time from /proc (10 ms steps)"
    except (OSError, ValueError, IndexError):
        return _IMPORTED, "import of the benchmark script (interpreter start-up not included)"


def peak_rss_mb():
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kilobytes, macOS bytes.
    return round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1)


def ms(seconds):
    return round(seconds * 1000, 2)


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def machine():
    """What else was running, so a reader can tell a clean run from a contended one. OpenMP
    builds of llama.cpp spin while waiting, which collapses on a busy machine; the wait policy
    is reported because OMP_WAIT_POLICY=passive changes that."""
    return {
        "cpu_count": os.cpu_count(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }


def report(own, t0, t0_how, t_import, t_load, t_first, t_done, lat, n_texts, n_tokens, elapsed):
    """Prints the JSON line both peers share: their own fields (name, versions, settings) plus
    the timings, in the field names bench/report.py and bench/embedbench use."""
    print(json.dumps({
        **own,
        "start_to_first_vector_ms": ms(t_done - t0),
        "start_measured_from": t0_how,
        "interpreter_start_ms": ms(t_import - t0),
        "import_ms": ms(t_load - t_import),
        "load_ms": ms(t_first - t_load),
        "first_vector_ms": ms(t_done - t_first),
        "query_ms_p50": ms(statistics.median(lat)),
        "query_ms_p90": ms(percentile(lat, 0.9)),
        "n_texts": n_texts,
        "n_tokens": n_tokens,
        "throughput_texts_per_s": round(n_texts / elapsed, 1),
        "throughput_tokens_per_s": round(n_tokens / elapsed, 1),
        "peak_rss_mb": peak_rss_mb(),
        **machine(),
    }, sort_keys=True))
