#!/usr/bin/env python3
"""Check edgesearch's /v1/embeddings with the official openai Python client.

Usage: openai_client.py BASE_URL [API_KEY]   (BASE_URL like http://127.0.0.1:8080/v1)

Run by web's TestOfficialOpenAIPythonClient. The client asks for base64 by
default and decodes it itself, so this also checks our base64 encoding. Exits
non-zero with a message on the first failed check.
"""
import math
import struct
import sys

from openai import OpenAI


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def main():
    base_url = sys.argv[1]
    api_key = sys.argv[2] if len(sys.argv) > 2 else "unused"
    client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)

    models = client.models.list()
    ids = [m.id for m in models.data]
    check(len(ids) == 1, f"models.list gave {ids}, want one model")

    texts = [
        "A man is playing a guitar.",
        "Someone strums a guitar on stage.",
        "The central bank raised interest rates.",
    ]
    resp = client.embeddings.create(model="text-embedding-3-small", input=texts)
    check(resp.model == ids[0], f"model {resp.model!r}, want {ids[0]!r}")
    check(len(resp.data) == 3, f"{len(resp.data)} embeddings, want 3")
    vecs = [d.embedding for d in sorted(resp.data, key=lambda d: d.index)]
    for i, v in enumerate(vecs):
        check(len(v) == 384, f"embedding {i} has {len(v)} dims, want 384")
        n = math.sqrt(sum(x * x for x in v))
        check(abs(n - 1) < 1e-3, f"embedding {i} has norm {n}, want 1")
    similar, unrelated = cosine(vecs[0], vecs[1]), cosine(vecs[0], vecs[2])
    check(similar > unrelated + 0.2,
          f"similar pair cosine {similar:.3f} not clearly above unrelated {unrelated:.3f}")
    check(resp.usage.prompt_tokens > 0 and resp.usage.total_tokens == resp.usage.prompt_tokens,
          f"usage {resp.usage}")

    # Explicit float format must give the same float32s as the default base64
    # (JSON decimals parse as float64, so round them to float32 first; the
    # server may batch the text differently the second time, which can move
    # the last bit, hence the tolerance).
    flt = client.embeddings.create(model="any", input=texts[0], encoding_format="float")
    diff = max(abs(f32(a) - b) for a, b in zip(flt.data[0].embedding, vecs[0]))
    check(diff < 1e-6, f"float and base64 answers differ by {diff}")

    # Errors surface as the client's exceptions, with our message.
    try:
        client.embeddings.create(model="any", input="hi", dimensions=512)
    except Exception as e:  # openai.BadRequestError
        check(getattr(e, "status_code", None) == 400, f"dimensions=512 raised {e!r}, want a 400")
    else:
        check(False, "dimensions=512 was accepted")

    print(f"ok: similar {similar:.3f} > unrelated {unrelated:.3f}; "
          f"{resp.usage.prompt_tokens} prompt tokens")


if __name__ == "__main__":
    main()
