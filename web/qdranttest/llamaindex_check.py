"""Drives edgesearch with LlamaIndex: a VectorStoreIndex over
llama-index-vector-stores-qdrant's QdrantVectorStore on its Qdrant API,
embedded by llama-index-embeddings-openai's OpenAIEmbedding on its /v1.

Usage: python3 llamaindex_check.py QDRANT_URL OPENAI_BASE_URL API_KEY MODEL

Builds an index from a few Documents with metadata, retrieves with
similarity_top_k (sync and async), with MetadataFilters, deletes a
document by its ref_doc_id, inserts one, and lists and deletes nodes with
the store's get_nodes and delete_nodes. No LLM: Settings.llm is the mock
one and only retrievers run. Exits non-zero on the first mismatch.
"""

import asyncio
import importlib.metadata
import sys
import time
import warnings

import numpy as np
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.embeddings.openai import OpenAIEmbedding
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient, models


def check(cond, what):
    if not cond:
        print(f"MISMATCH: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


DOCS = [
    ("bees", "Honey bees store nectar in wax combs inside the hive.", {"topic": "bees", "year": 2021}),
    ("mites", "Varroa mites are parasites that weaken bee colonies.", {"topic": "bees", "year": 2023}),
    ("night-train", "The night train to Vienna leaves from platform nine.", {"topic": "trains", "year": 2022}),
    ("freight", "Freight trains carry coal across the mountains.", {"topic": "trains", "year": 2019}),
    ("tomatoes", "Tomatoes ripen faster in warm, sunny soil.", {"topic": "garden", "year": 2020}),
    ("basil", "Water the basil in the morning, not at noon.", {"topic": "garden", "year": 2024}),
]


def main():
    qdrant_url, openai_url, api_key, model = sys.argv[1:5]
    # The key goes over plain http to 127.0.0.1 on purpose.
    warnings.filterwarnings("ignore", message="Api key is used with an insecure connection")
    versions = {p: importlib.metadata.version(p) for p in
                ("llama-index-core", "llama-index-vector-stores-qdrant", "llama-index-embeddings-openai",
                 "qdrant-client")}
    print("versions:", ", ".join(f"{p} {v}" for p, v in versions.items()))
    start = time.monotonic()

    # No LLM: retrievers only, and the mock LLM stands in should anything ask.
    Settings.llm = None
    # model_name, not model: model is checked against OpenAI's own names;
    # model_name is sent as is.
    Settings.embed_model = OpenAIEmbedding(model_name=model, api_base=openai_url, api_key=api_key,
                                           timeout=60, max_retries=1, embed_batch_size=16)
    check(len(Settings.embed_model.get_query_embedding("hello")) == 384, "OpenAIEmbedding over edgesearch's /v1")

    name = "llamaindex"
    client = QdrantClient(url=qdrant_url, api_key=api_key, https=False, timeout=60)
    aclient = AsyncQdrantClient(url=qdrant_url, api_key=api_key, https=False, timeout=60)
    if client.collection_exists(name):
        client.delete_collection(name)
    store = QdrantVectorStore(collection_name=name, client=client, aclient=aclient)
    documents = [Document(text=text, metadata=meta, id_=doc_id) for doc_id, text, meta in DOCS]
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store))
    check(client.count(name).count == len(DOCS), f"VectorStoreIndex stored {len(DOCS)} nodes")

    # LlamaIndex embeds each node's metadata with its text ("topic: bees\n
    # year: 2021\n\nHoney bees…"), which the queries are chosen to outweigh.
    nodes = index.as_retriever(similarity_top_k=3).retrieve("where do bees keep nectar")
    check(len(nodes) == 3, f"retriever returns similarity_top_k nodes: {len(nodes)}")
    check(nodes[0].node.ref_doc_id == "bees", f"the nectar text first: {nodes[0].node.get_content()!r}")
    check(nodes[0].node.metadata == {"topic": "bees", "year": 2021}, f"metadata comes back: {nodes[0].node.metadata}")
    scores = [n.score for n in nodes]
    check(scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores),
          f"cosine scores, best first: {[round(s, 4) for s in scores]}")

    # The whole ranking is cosine over the stored vectors, as numpy has it.
    query = "how to look after tomato plants"
    nodes = index.as_retriever(similarity_top_k=len(DOCS)).retrieve(query)
    points, _ = client.scroll(name, limit=len(DOCS), with_vectors=True, with_payload=["doc_id"])
    vecs = np.array([p.vector for p in points])
    q = np.array(Settings.embed_model.get_query_embedding(query))
    cos = vecs @ q / np.linalg.norm(vecs, axis=1) / np.linalg.norm(q)
    want = [points[i].payload["doc_id"] for i in np.argsort(-cos)]
    check([n.node.ref_doc_id for n in nodes] == want, f"the retriever's order is numpy's cosine order: {want}")
    check(max(abs(n.score - c) for n, c in zip(nodes, sorted(cos, reverse=True))) < 2e-3,
          "scores within 2e-3 of numpy's cosine")

    trains = MetadataFilters(filters=[MetadataFilter(key="topic", value="trains")])
    nodes = index.as_retriever(similarity_top_k=4, filters=trains).retrieve("a train to the capital at night")
    check([n.node.ref_doc_id for n in nodes] == ["night-train", "freight"],
          f"MetadataFilters topic == trains: {[n.node.ref_doc_id for n in nodes]}")
    recent = MetadataFilters(filters=[MetadataFilter(key="year", value=2022, operator=FilterOperator.GTE),
                                      MetadataFilter(key="topic", value=["bees", "garden"], operator=FilterOperator.IN)])
    nodes = index.as_retriever(similarity_top_k=4, filters=recent).retrieve("bee parasites")
    check([n.node.ref_doc_id for n in nodes] == ["mites", "basil"],
          f"year >= 2022 and topic in [bees, garden]: {[n.node.ref_doc_id for n in nodes]}")

    nodes = asyncio.run(index.as_retriever(similarity_top_k=1).aretrieve("how to look after tomato plants"))
    check(nodes[0].node.ref_doc_id == "tomatoes", f"aretrieve (AsyncQdrantClient): {nodes[0].node.ref_doc_id}")

    index.delete_ref_doc("bees")
    check(client.count(name).count == len(DOCS) - 1, "delete_ref_doc removes its node")
    nodes = index.as_retriever(similarity_top_k=1).retrieve("where do bees keep nectar")
    check(nodes[0].node.ref_doc_id != "bees", f"the deleted document is not retrieved: {nodes[0].node.ref_doc_id}")

    index.insert(Document(text="Queen bees lay up to two thousand eggs a day.", metadata={"topic": "bees", "year": 2025},
                          id_="queen"))
    check(client.count(name, count_filter=models.Filter(must=[models.FieldCondition(
        key="topic", match=models.MatchValue(value="bees"))])).count == 2, "insert adds to the stored index")

    # The store's own node verbs: scroll by filter or by ids, delete by ids.
    garden = MetadataFilters(filters=[MetadataFilter(key="topic", value="garden")])
    nodes = store.get_nodes(filters=garden)
    check(sorted(n.ref_doc_id for n in nodes) == ["basil", "tomatoes"] and all(n.embedding for n in nodes),
          f"get_nodes(filters) with embeddings: {sorted(n.ref_doc_id for n in nodes)}")
    check(len(store.get_nodes()) == len(DOCS), "get_nodes() lists every node")
    basil = next(n.node_id for n in nodes if n.ref_doc_id == "basil")
    check([n.ref_doc_id for n in store.get_nodes(node_ids=[basil])] == ["basil"], "get_nodes(node_ids)")
    store.delete_nodes(node_ids=[basil])
    check(client.count(name).count == len(DOCS) - 1 and store.get_nodes(node_ids=[basil]) == [],
          "delete_nodes(node_ids) removes just that node")

    client.delete_collection(name)
    asyncio.run(aclient.close())
    print(f"llamaindex: {time.monotonic() - start:.2f} s")


if __name__ == "__main__":
    main()
