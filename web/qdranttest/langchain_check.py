"""Drives edgesearch with LangChain: QdrantVectorStore over its Qdrant API,
OpenAIEmbeddings over its /v1.

Usage: python3 langchain_check.py QDRANT_URL OPENAI_BASE_URL API_KEY MODEL

Builds a store with from_texts (texts with metadata), searches it with a
Qdrant filter on a metadata key, with scores, a score threshold and
maximal marginal relevance, then deletes by id and counts; then reads the
documents edgesearch indexed (POST /documents) as the collection
"documents". Nothing leaves 127.0.0.1: both URLs are edgesearch's. Exits
non-zero on the first mismatch.
"""

import importlib.metadata
import json
import sys
import time
import urllib.request
import warnings

from langchain_openai import OpenAIEmbeddings
from langchain_qdrant import QdrantVectorStore
from qdrant_client import QdrantClient, models


def check(cond, what):
    if not cond:
        print(f"MISMATCH: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


TEXTS = [
    ("Honey bees store nectar in wax combs inside the hive.", {"topic": "bees", "n": 1}),
    ("Varroa mites are parasites that weaken bee colonies.", {"topic": "bees", "n": 2}),
    ("The night train to Vienna leaves from platform nine.", {"topic": "trains", "n": 3}),
    ("Freight trains carry coal across the mountains.", {"topic": "trains", "n": 4}),
    ("Tomatoes ripen faster in warm, sunny soil.", {"topic": "garden", "n": 5}),
    ("Water the basil in the morning, not at noon.", {"topic": "garden", "n": 6}),
]


def main():
    qdrant_url, openai_url, api_key, model = sys.argv[1:5]
    # The key goes over plain http to 127.0.0.1 on purpose.
    warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
    versions = {p: importlib.metadata.version(p) for p in
                ("langchain-qdrant", "langchain-openai", "langchain-core", "qdrant-client")}
    print("versions:", ", ".join(f"{p} {v}" for p, v in versions.items()))
    start = time.monotonic()

    # check_embedding_ctx_length=False sends the texts themselves: with it
    # on, the class sends tiktoken ids of OpenAI's tokenizer, which mean
    # nothing to another model.
    emb = OpenAIEmbeddings(base_url=openai_url, api_key=api_key, model=model,
                           check_embedding_ctx_length=False, timeout=60, max_retries=1)
    one = emb.embed_query("hello")
    check(len(one) == 384, f"OpenAIEmbeddings over edgesearch's /v1: {len(one)} dimensions")

    name = "langchain"
    store = QdrantVectorStore.from_texts(
        [t for t, _ in TEXTS], emb, metadatas=[m for _, m in TEXTS], url=qdrant_url, api_key=api_key,
        https=False, collection_name=name, timeout=60, force_recreate=True)
    client = QdrantClient(url=qdrant_url, api_key=api_key, https=False, timeout=60)
    check(client.count(name).count == len(TEXTS), "from_texts stored every text")

    # A reopened store validates the collection's config against the
    # embeddings (the unnamed vector's size and distance).
    store = QdrantVectorStore.from_existing_collection(
        name, emb, url=qdrant_url, api_key=api_key, https=False, timeout=60)

    docs = store.similarity_search("which insects make honey", k=2)
    check(docs[0].page_content == TEXTS[0][0], f"similarity_search ranks the honey text first: {docs[0].page_content!r}")
    check(docs[0].metadata["topic"] == "bees" and docs[0].metadata["n"] == 1, f"metadata comes back: {docs[0].metadata}")

    trains = models.Filter(must=[models.FieldCondition(key="metadata.topic", match=models.MatchValue(value="trains"))])
    docs = store.similarity_search("a train to the capital at night", k=4, filter=trains)
    check(len(docs) == 2 and all(d.metadata["topic"] == "trains" for d in docs),
          f"a filter on metadata.topic returns only its documents: {[d.metadata['n'] for d in docs]}")
    check(docs[0].metadata["n"] == 3, f"the night train first under the filter: {docs[0].page_content!r}")
    docs = store.similarity_search("bee parasites", k=3,
                                   filter=models.Filter(must=[models.FieldCondition(
                                       key="metadata.n", range=models.Range(gte=2, lte=5))]))
    check([d.metadata["n"] for d in docs][:1] == [2] and all(2 <= d.metadata["n"] <= 5 for d in docs),
          f"a range filter on metadata.n: {[d.metadata['n'] for d in docs]}")

    scored = store.similarity_search_with_score("how to look after tomato plants", k=3)
    scores = [s for _, s in scored]
    check(scored[0][0].metadata["n"] == 5, f"similarity_search_with_score: tomatoes first ({scored[0][0].page_content!r})")
    check(all(-1.0 <= s <= 1.0 for s in scores) and scores == sorted(scores, reverse=True),
          f"cosine scores, best first: {[round(s, 4) for s in scores]}")
    vec = emb.embed_query("how to look after tomato plants")
    by_vec = store.similarity_search_with_score_by_vector(vec, k=1)
    check(abs(by_vec[0][1] - scores[0]) < 1e-3, "by vector scores as by text")

    docs = store.as_retriever(search_kwargs={"k": 4, "score_threshold": 0.3}).invoke("how to look after tomato plants")
    check([d.metadata["n"] for d in docs] == [5], f"a retriever with score_threshold 0.3: {[d.metadata['n'] for d in docs]}")
    relevance = store.similarity_search_with_relevance_scores("coal freight", k=1)
    check(relevance[0][0].metadata["n"] == 4 and 0.0 <= relevance[0][1] <= 1.0,
          f"relevance scores: {relevance[0][0].metadata['n']} at {relevance[0][1]:.4f}")

    # Maximal marginal relevance runs in the server (query.mmr). langchain
    # passes lambda_mult as Qdrant's diversity: 0 keeps the plain order, 1
    # picks after the nearest the candidate least like it.
    plain = [d.metadata["n"] for d in store.similarity_search("honey bees", k=3)]
    mmr = [d.metadata["n"] for d in store.max_marginal_relevance_search("honey bees", k=3, fetch_k=6, lambda_mult=0.0)]
    check(mmr == plain, f"mmr with diversity 0 is the plain order: {mmr}")
    check(plain[:2] == [1, 2], f"the two bee texts are nearest: {plain}")
    mmr = [d.metadata["n"] for d in store.max_marginal_relevance_search("honey bees", k=3, fetch_k=6, lambda_mult=1.0)]
    check(mmr[0] == 1 and 2 not in mmr and len(set(mmr)) == 3, f"mmr with diversity 1 leaves out the second bee text: {mmr}")
    mmr = store.max_marginal_relevance_search("honey bees", k=2, fetch_k=6, lambda_mult=0.5,
                                             filter=models.Filter(must_not=[models.FieldCondition(
                                                 key="metadata.topic", match=models.MatchValue(value="bees"))]))
    check(len(mmr) == 2 and all(d.metadata["topic"] != "bees" for d in mmr),
          f"mmr with a filter: {[d.metadata['n'] for d in mmr]}")

    # ids are the uuid4 hex strings langchain generated; Qdrant answers them
    # in the canonical dashed form.
    honey = store.similarity_search("which insects make honey", k=1)[0].metadata["_id"]
    got = store.get_by_ids([honey])
    check(len(got) == 1 and got[0].page_content == TEXTS[0][0], f"get_by_ids({honey})")
    check(store.delete([honey]) is True, "delete(ids) answers True")
    check(client.count(name).count == len(TEXTS) - 1, "count after delete is one less")
    check(client.retrieve(name, [honey]) == [], "the deleted id is gone")
    check(store.similarity_search("which insects make honey", k=1)[0].metadata["_id"] != honey,
          "search no longer finds the deleted text")

    ids = store.add_texts(["Queen bees lay up to two thousand eggs a day."], metadatas=[{"topic": "bees", "n": 7}],
                          ids=[7])
    check(ids == [7] and client.count(name, count_filter=models.Filter(must=[models.FieldCondition(
        key="metadata.topic", match=models.MatchValue(value="bees"))])).count == 2, "add_texts with an integer id")

    client.delete_collection(name)

    # The documents edgesearch indexed itself (POST /documents on the main
    # port) are the collection "documents": a LangChain store reads them
    # with the chunk's text as page content.
    main_url = openai_url.removesuffix("/v1")
    body = json.dumps([
        {"id": "hive", "title": "Hive care", "text": "Inspect the brood frames for varroa mites every spring.",
         "metadata": {"lang": "en"}},
        {"id": "zug", "title": "Nachtzug", "text": "Der Nachtzug nach Wien fährt um zehn Uhr abends.",
         "metadata": {"lang": "de"}},
    ]).encode()
    req = urllib.request.Request(main_url + "/documents", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + api_key})
    with urllib.request.urlopen(req, timeout=60) as r:
        check(r.status == 201, "POST /documents on the main port")
    docs_store = QdrantVectorStore(client=client, collection_name="documents", embedding=emb,
                                   content_payload_key="text", metadata_payload_key="metadata")
    docs = docs_store.similarity_search("mites in the beehive", k=1)
    check(docs and "varroa" in docs[0].page_content,
          f"the documents collection answers with the chunk's text: {docs[0].page_content if docs else None!r}")
    de = models.Filter(must=[models.FieldCondition(key="metadata.lang", match=models.MatchValue(value="de"))])
    docs = docs_store.similarity_search("mites in the beehive", k=2, filter=de)
    check(len(docs) == 1 and "Wien" in docs[0].page_content, "a filter on the documents' metadata")
    try:
        docs_store.add_texts(["not through here"])
        check(False, "add_texts into the documents collection is refused")
    except Exception as e:  # qdrant_client's UnexpectedResponse
        check("POST /documents" in str(e), f"add_texts into the documents collection is refused: {str(e)[:80]}")
    print(f"langchain: {time.monotonic() - start:.2f} s")


if __name__ == "__main__":
    main()
