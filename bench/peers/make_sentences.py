#!/usr/bin/env python3
"""Write bench/sentences.txt: 1,000 varied sentences for the embedding benchmarks.

950 come from the SciFact corpus (the first sentence of an abstract, or the first two or three
so that lengths range from a few words to well past 128 word pieces) and 50 are short test
queries, one after every 19 corpus sentences, so a benchmark sees a realistic mix. Selection
is by a hash of the document id, so the output is the same on every run and every machine.

Usage: python3 bench/peers/make_sentences.py [SCIFACT_DIR] [OUT]
"""

import gzip
import hashlib
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SCIFACT = Path("/work/shared/eval/scifact")
N_CORPUS = 950
N_QUERIES = 50

# A sentence ends at . ! or ? followed by space and an upper-case letter or digit; good enough
# for abstracts, and what matters here is only that it is deterministic.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def rank(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def clean(text: str) -> str:
    return " ".join(text.split())


def corpus_sentences(path: Path) -> list[str]:
    docs = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            sentences = [s for s in SENTENCE_END.split(clean(doc.get("text", ""))) if s]
            if not sentences:
                continue
            docs.append((rank(doc["_id"]), sentences))
    docs.sort()
    out, seen = [], set()
    for i, (_, sentences) in enumerate(docs):
        # Cycle 1, 1, 2, 1, 3 sentences: mostly single sentences, some longer passages.
        take = (1, 1, 2, 1, 3)[i % 5]
        text = " ".join(sentences[:take])
        if len(text) < 20 or text in seen:
            continue
        seen.add(text)
        out.append(text)
        if len(out) == N_CORPUS:
            break
    return out


def queries(path: Path) -> list[str]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            text = clean(q["text"])
            if text:
                rows.append((len(text) > 80, rank(q["_id"]), text))
    # Prefer short queries (the interactive case), then hash order.
    rows.sort()
    return [text for _, _, text in rows[:N_QUERIES]]


def main() -> None:
    scifact = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SCIFACT
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "bench" / "sentences.txt"
    corpus = corpus_sentences(scifact / "corpus.jsonl.gz")
    qs = queries(scifact / "queries_test.jsonl")
    if len(corpus) != N_CORPUS or len(qs) != N_QUERIES:
        sys.exit(f"make_sentences: got {len(corpus)} corpus sentences and {len(qs)} queries")
    lines = []
    for i, text in enumerate(corpus):
        lines.append(text)
        if i % 19 == 18:
            lines.append(qs[i // 19])
    out_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {out_path}")


if __name__ == "__main__":
    main()
