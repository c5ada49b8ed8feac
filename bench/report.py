"""Write bench/RESULTS.md from the raw outputs bench/run.sh leaves in bench/out.

usage: python3 bench/report.py OUT_DIR MODEL_PATH > bench/RESULTS.md
"""
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path


def load(out, name):
    with open(out / name) as f:
        return json.loads(f.read().strip().splitlines()[-1])


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def fmt(v, digits=1):
    return "—" if v is None else f"{v:,.{digits}f}"


def ratio(a, b, higher_is_better=True):
    if not a or not b:
        return "—"
    return f"{(a / b if higher_is_better else b / a):.2f}×"


def main():
    out, model = Path(sys.argv[1]), sys.argv[2]
    es = load(out, "edgesearch.json")
    ll = load(out, "llamacpp.json")
    st = load(out, "sentence_transformers.json")
    serve_rss_kb = int((out / "edgesearch-serve-rss.txt").read_text().split()[-1])
    binary = Path("bin/edgesearch")
    p = print

    p("# Benchmark results\n")
    p(f"Produced by `make bench` (bench/run.sh) on {datetime.date.today()}, commit {git_commit()}, "
      f"{os.cpu_count()} cores ({cpu_model()}), {es['threads']} threads for every engine, "
      f"model `{Path(model).name}`. Raw outputs are in bench/out/.\n")
    p("## Embedding: edgesearch beside its peers\n")
    p("1,000 SciFact sentences (bench/sentences.txt). Ratios are edgesearch against the peer; "
      "above 1× means edgesearch is better.\n")
    p("| measure | edgesearch (wasm, wazero) | llama.cpp (native) | sentence-transformers (PyTorch) "
      "| vs llama.cpp | vs sentence-transformers |")
    p("|---|---|---|---|---|---|")
    rows = [
        ("throughput, texts/s", "throughput_texts_per_s", True),
        ("throughput, tokens/s", "throughput_tokens_per_s", True),
        ("one short query, p50 ms", "query_ms_p50", False),
        ("one short query, p90 ms", "query_ms_p90", False),
        ("process start to first vector, ms", "start_to_first_vector_ms", False),
        ("peak RSS during the run, MB", "peak_rss_mb", False),
    ]
    for label, key, hib in rows:
        a, b, c = es.get(key), ll.get(key), st.get(key)
        p(f"| {label} | {fmt(a)} | {fmt(b)} | {fmt(c)} | {ratio(a, b, hib)} | {ratio(a, c, hib)} |")
    p("")
    p("- edgesearch's start-to-first-vector is a whole `edgesearch embed \"hello world\"` process "
      "(exec, compile the guest from the cache, load the model, embed, print, exit), median of 7. "
      f"The peers measure from just before exec to their first vector ({ll.get('start_measured_from', '')}).")
    p(f"- Peak RSS of `edgesearch embed` over all 1,000 sentences (one process, "
      f"{es['threads']} workers): {serve_rss_kb / 1024:.0f} MB.")
    p(f"- llama.cpp {ll.get('llama_cpp_python', '')} built from the llama-cpp-python sdist for this "
      f"CPU; sentence-transformers {st.get('sentence_transformers', '')} on torch {st.get('torch', '')}.")
    p("")

    p("## Targets (shared/DESIGN.md)\n")
    p("| target | measured | met |")
    p("|---|---|---|")
    targets = [
        ("throughput parity with llama.cpp", f"{ratio(es['throughput_texts_per_s'], ll['throughput_texts_per_s'])} of llama.cpp",
         es["throughput_texts_per_s"] >= ll["throughput_texts_per_s"]),
        ("≥ 2× sentence-transformers", f"{ratio(es['throughput_texts_per_s'], st['throughput_texts_per_s'])}",
         es["throughput_texts_per_s"] >= 2 * st["throughput_texts_per_s"]),
        ("one short query ≤ 5 ms", f"{fmt(es['query_ms_p50'])} ms p50", es["query_ms_p50"] <= 5),
        ("process start to first vector ≤ 0.5 s", f"{fmt(es.get('start_to_first_vector_ms'))} ms",
         (es.get("start_to_first_vector_ms") or 1e9) <= 500),
        (".wasm ≤ 200 KB", f"{es['wasm_bytes'] / 1000:.0f} KB", es["wasm_bytes"] <= 200_000),
    ]
    if binary.exists():
        size = binary.stat().st_size
        targets.append(("binary ≤ 25 MB", f"{size / 1e6:.1f} MB", size <= 25_000_000))
    for name, measured, met in targets:
        p(f"| {name} | {measured} | {'yes' if met else 'no'} |")
    p("")

    for title, name in (("Search (go test -bench, search/)", "search.txt"),
                        ("Store (go test -bench, store/)", "store.txt")):
        path = out / name
        if not path.exists():
            continue
        lines = [l for l in path.read_text().splitlines() if l.startswith(("Benchmark", "goos", "cpu"))]
        p(f"## {title}\n")
        p("```")
        p("\n".join(lines))
        p("```\n")


if __name__ == "__main__":
    main()
