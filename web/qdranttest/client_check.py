"""Drives edgesearch's Qdrant-compatible API with the official Python client.

Usage: python3 client_check.py URL [API_KEY] [MODEL]

Exercises collections, an upsert of 1,000 points, search with a filter,
scroll, count, payload updates, delete by filter and by id, recommend, and
Documents (server-side inference: cloud_inference=True) upserted and
queried by text. Every answer is checked against numpy; the script exits
non-zero on the first mismatch.
"""

import sys
import warnings

import numpy as np
from qdrant_client import QdrantClient, models
from qdrant_client.common.version_check import is_compatible
from qdrant_client.http.exceptions import UnexpectedResponse
import importlib.metadata


def check(cond, what):
    if not cond:
        print(f"MISMATCH: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def expect_status(status, fn, what):
    try:
        fn()
    except UnexpectedResponse as e:
        check(e.status_code == status, f"{what}: HTTP {e.status_code} (want {status}): {e.content[:200]!r}")
        return
    check(False, f"{what}: no error, want HTTP {status}")


def main():
    url = sys.argv[1]
    api_key = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    model = sys.argv[3] if len(sys.argv) > 3 else "sentence-transformers/all-MiniLM-L6-v2"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = QdrantClient(url=url, api_key=api_key, https=False, cloud_inference=True,
                              check_compatibility=False, timeout=60)
    server = client.info()
    mine = importlib.metadata.version("qdrant-client")
    check(is_compatible(mine, server.version), f"client {mine} accepts server version {server.version}")

    name = "pycheck"
    if client.collection_exists(name):
        client.delete_collection(name)
    check(not client.collection_exists(name), "collection_exists is False before create")
    check(client.create_collection(name, vectors_config=models.VectorParams(size=8, distance=models.Distance.COSINE),
                                   hnsw_config=models.HnswConfigDiff(m=16)), "create_collection")
    expect_status(409, lambda: client.create_collection(name, vectors_config=models.VectorParams(
        size=8, distance=models.Distance.COSINE)), "create an existing collection")
    expect_status(404, lambda: client.get_collection("no-such-collection"), "get a missing collection")
    check(name in [c.name for c in client.get_collections().collections], "get_collections lists it")

    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(1000, 8)).astype(np.float32)
    points = [models.PointStruct(id=i, vector=vecs[i].tolist(),
                                 payload={"n": i, "group": "a" if i % 2 else "b", "tags": ["x", f"t{i % 10}"]})
              for i in range(1000)]
    res = client.upsert(name, points=points[:500], wait=True)
    check(res.status == models.UpdateStatus.COMPLETED, "upsert of 500 points completed")
    client.upload_points(name, points=points[500:], batch_size=128, wait=True)
    info = client.get_collection(name)
    check(info.points_count == 1000 and info.status == models.CollectionStatus.GREEN,
          f"get_collection: 1000 points, green ({info.points_count}, {info.status})")
    check(info.config.params.vectors.size == 8 and info.config.params.vectors.distance == models.Distance.COSINE,
          "get_collection: vectors size 8, Cosine")
    check(client.count(name, exact=True).count == 1000, "count 1000")
    group_a = models.Filter(must=[models.FieldCondition(key="group", match=models.MatchValue(value="a"))])
    check(client.count(name, count_filter=group_a).count == 500, "count with a filter: 500")

    # Search with a filter, checked against exact cosine over the odd ids.
    q = rng.normal(size=8).astype(np.float32)
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    cos = unit @ (q / np.linalg.norm(q))
    odd = [i for i in range(1000) if i % 2]
    want = sorted(odd, key=lambda i: -cos[i])[:10]
    hits = client.query_points(name, query=q.tolist(), query_filter=group_a, limit=10,
                               search_params=models.SearchParams(exact=True)).points
    # Equal up to the order of near ties (float32 sums differ in the last bits).
    check(set(h.id for h in hits) == set(want), f"query_points with a filter (exact) = numpy's top 10: {[h.id for h in hits]} vs {want}")
    check(all(a.score >= b.score for a, b in zip(hits, hits[1:])), "hits are in descending score order")
    # The engine keeps cosine vectors in float16 for the graph: scores are
    # within ~1e-3 of float32 cosine (Qdrant's are exact float32).
    check(all(abs(h.score - cos[h.id]) < 2e-3 for h in hits), f"scores are cosine similarities: {[(round(h.score, 5), round(float(cos[h.id]), 5)) for h in hits[:3]]}")
    check(all(h.payload["group"] == "a" for h in hits), "every hit passes the filter")
    hnsw = client.query_points(name, query=q.tolist(), query_filter=group_a, limit=10).points
    check(len(set(h.id for h in hnsw) & set(want)) >= 9, "query_points with a filter (graph): recall@10 >= 0.9")
    batch = client.query_batch_points(name, requests=[
        models.QueryRequest(query=q.tolist(), limit=3, filter=group_a),
        models.QueryRequest(query=models.NearestQuery(nearest=q.tolist()), limit=3, with_payload=True)])
    check(len(batch) == 2 and [p.id for p in batch[0].points] == [h.id for h in hits[:3]], "query_batch_points")
    by_id = client.query_points(name, query=5, limit=3).points
    check(5 not in [p.id for p in by_id] and len(by_id) == 3, "query by point id leaves that point out")
    rec = client.query_points(name, query=models.RecommendQuery(recommend=models.RecommendInput(
        positive=[1, 3], negative=[2])), limit=5).points
    check(len(rec) == 5 and not {1, 2, 3} & {p.id for p in rec}, "recommend leaves its examples out")

    # Scroll the whole collection in pages of 128.
    seen, offset = [], None
    while True:
        page, offset = client.scroll(name, limit=128, offset=offset, with_payload=False)
        seen += [p.id for p in page]
        if offset is None:
            break
    check(seen == list(range(1000)), "scroll pages through 1000 ids in order")
    page, _ = client.scroll(name, scroll_filter=models.Filter(must=[
        models.FieldCondition(key="n", range=models.Range(gte=990))]), limit=100, with_vectors=True)
    check([p.id for p in page] == list(range(990, 1000)) and len(page[0].vector) == 8, "scroll with a range filter and vectors")
    got = client.retrieve(name, ids=[3, 999, 5000], with_vectors=True)
    check(sorted(p.id for p in got) == [3, 999], "retrieve leaves out a missing id")
    check(np.allclose(got[0].vector if got[0].id == 3 else got[1].vector, vecs[3]), "retrieve returns the stored vector")

    # Payload operations.
    client.set_payload(name, payload={"city": "Oslo"}, points=[1, 2])
    client.overwrite_payload(name, payload={"only": True}, points=[2])
    client.delete_payload(name, keys=["tags"], points=models.FilterSelector(filter=models.Filter(
        must=[models.HasIdCondition(has_id=[3])])))
    client.clear_payload(name, points_selector=[4])
    p = {r.id: r.payload for r in client.retrieve(name, ids=[1, 2, 3, 4])}
    check(p[1]["city"] == "Oslo" and p[1]["n"] == 1, "set_payload merges")
    check(p[2] == {"only": True}, "overwrite_payload replaces")
    check("tags" not in p[3] and p[3]["n"] == 3, "delete_payload removes a key")
    check(p[4] == {}, "clear_payload empties")
    client.create_payload_index(name, field_name="group", field_schema=models.PayloadSchemaType.KEYWORD)

    # Delete by filter and by ids.
    client.delete(name, points_selector=models.FilterSelector(filter=group_a))
    check(client.count(name).count == 500, "delete by filter leaves 500")
    client.delete(name, points_selector=models.PointIdsList(points=[0, 2, 4]))
    check(client.count(name).count == 497, "delete by ids leaves 497")

    # Documents: the server embeds them (cloud_inference=True).
    docs = "pycheck-docs"
    if client.collection_exists(docs):
        client.delete_collection(docs)
    client.create_collection(docs, vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))
    texts = ["Bees make honey in the hive.", "The train leaves the station at noon.",
             "Tomatoes grow well in warm soil.", "Railway timetables list every platform."]
    client.upsert(docs, points=[models.PointStruct(id=i, vector=models.Document(text=t, model=model), payload={"text": t})
                                for i, t in enumerate(texts)])
    hits = client.query_points(docs, query=models.Document(text="when does my train depart", model=model), limit=2).points
    check(sorted(h.id for h in hits) == [1, 3], f"query by Document finds the train texts ({[h.id for h in hits]})")
    expect_status(400, lambda: client.query_points(docs, query=models.Document(text="x", model="BAAI/bge-base-en")),
                  "a Document for another model")

    check(client.delete_collection(name) and client.delete_collection(docs), "delete_collection")
    check(not client.collection_exists(name), "collection_exists is False after delete")
    compat = [w for w in caught if "incompatible" in str(w.message)]
    check(not compat, "no compatibility warning")
    print("all checks passed")


if __name__ == "__main__":
    main()
