"""PgVector on the real PostgreSQL on 127.0.0.1 (pgvector 0.8): HNSW recall measured against exact numpy search."""

from __future__ import annotations

import pickle
from collections.abc import AsyncIterator

import numpy as np
import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.memory import HashEmbedder
from agentickit.stores import PgVector, StoreConnectionError

from .conftest import PG_DSN, unique_prefix

pytestmark = pytest.mark.services


@pytest.fixture
async def index(postgres_dsn: str) -> AsyncIterator[PgVector]:
    ix = PgVector(postgres_dsn, prefix=unique_prefix())
    try:
        yield ix
    finally:
        for c in ("default", "rand", "lo", "hi"):
            await ix.clear(c)
        await ix.aclose()


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _exact_top(matrix: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    return [int(i) for i in np.argsort(-(matrix @ q), kind="stable")[:k]]


async def test_recall_at_10_against_exact_numpy(index: PgVector) -> None:
    n, dim = 2000, 48
    vecs = _unit(n, dim, 1)
    ids = [f"v{i}" for i in range(n)]
    await index.add("rand", ids, ids, [{} for _ in ids], vecs, "test-model")
    assert await index.count("rand") == n
    queries = _unit(40, dim, 2)
    hits = 0
    for q in queries:
        want = {ids[i] for i in _exact_top(vecs, q, 10)}
        exact = await index.search("rand", q, k=10, exact=True)
        # The index's own exact path (sequential scan) is the numpy answer, scores included.
        assert {s.id for s in exact} == want
        assert exact[0].score == pytest.approx(float(vecs[int(exact[0].id[1:])] @ q), abs=1e-5)
        got = await index.search("rand", q, k=10)
        assert [s.score for s in got] == sorted((s.score for s in got), reverse=True)
        hits += len(want & {s.id for s in got})
    recall = hits / (10 * len(queries))
    measured = await index.recall("rand", k=10, queries=queries)
    assert recall >= 0.9 and measured == pytest.approx(recall)


async def test_ef_search_trades_recall(postgres_dsn: str) -> None:
    prefix = unique_prefix()
    # A sparse graph (m=4) over hard data (uniform directions in 64 dimensions) makes the knob visible.
    low = PgVector(postgres_dsn, prefix=prefix, m=4, ef_construction=8, ef_search=10)
    high = PgVector(postgres_dsn, prefix=prefix, m=4, ef_construction=8, ef_search=400)
    try:
        vecs = _unit(3000, 64, 3)
        ids = [f"v{i}" for i in range(len(vecs))]
        await low.add("rand", ids, ids, [{} for _ in ids], vecs, "m")
        queries = _unit(30, 64, 4)
        r_low = await low.recall("rand", k=10, queries=queries)
        r_high = await high.recall("rand", k=10, queries=queries)
        assert r_high >= r_low + 0.2
        # The exact path stays exact after many index searches (a cached generic plan once made it
        # an index scan at the session's ef_search, and recall() compared the index with itself).
        for q in queries:
            got = await low.search("rand", q, k=10, exact=True)
            assert {s.id for s in got} == {ids[i] for i in _exact_top(vecs, q, 10)}
    finally:
        await low.clear("rand")
        await low.aclose()
        await high.aclose()


async def test_a_plain_search_is_one_statement_and_ef_search_still_follows_the_setting(index: PgVector) -> None:
    vecs = _unit(500, 16, 5)
    ids = [f"v{i}" for i in range(len(vecs))]
    await index.add("rand", ids, ids, [{"even": i % 2 == 0} for i in range(len(ids))], vecs, "m")
    assert index.ef_search == 400  # the default
    sent: list[str] = []
    pool = await index._get_pool()
    connections = [h._con for h in pool._holders if h._con is not None]
    for con in connections:
        con.add_query_logger(lambda record: sent.append(record.query))

    async def count(**kw: object) -> tuple[int, list[str]]:
        sent.clear()
        got = await index.search("rand", vecs[0], k=10, **kw)  # type: ignore[arg-type]
        assert len(got) == 10 and got[0].id == "v0"
        return len(sent), sent[:]

    # The session's ef_search, set when the connection opened: no BEGIN, SET LOCAL, COMMIT around it.
    assert (await count())[0] == 1
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW hnsw.ef_search") == "400"
    # A filter, an exact scan, or ef_search changed on the index afterwards: set for that query only.
    n, queries = await count(filter={"even": True})
    assert n > 1 and any("iterative_scan" in q for q in queries)
    n, queries = await count(exact=True)
    assert n == 1 and "OFFSET 0" in queries[0]  # a sequential scan whatever plan is cached
    index.ef_search = 40
    assert any("hnsw.ef_search = 40" in q for q in (await count())[1])


async def test_memory_with_pgvector_answers_and_filters(index: PgVector) -> None:
    memory = ak.Memory(store=ak.stores.InMemory(), vectors=index)
    # Nothing added yet: retrieval finds nothing and creates no table.
    assert await memory.retrieve("refunds", None, []) == []
    assert await index.count("default") == 0
    docs = [
        ak.Document(text="Refunds are paid back within five working days.", id="refunds", metadata={"lang": "en"}),
        ak.Document(text="Rückerstattungen dauern fünf Werktage.", id="de-refunds", metadata={"lang": "de"}),
        ak.Document(text="Shipping is free for orders over fifty euros.", id="shipping", metadata={"lang": "en"}),
    ]
    assert await memory.add_documents(docs) == ["refunds#0", "de-refunds#0", "shipping#0"]
    assert await memory.has_documents()
    top = await memory.query("how many days until refunds are paid", k=1)
    assert [s.id for s in top] == ["refunds#0"] and top[0].metadata == {"lang": "en", "doc_id": "refunds"}
    assert [s.id for s in await memory.query("refunds", k=3, filter={"lang": "de"})] == ["de-refunds#0"]
    assert {s.id for s in await memory.query("refunds", k=3, filter={"lang": ["de", "en"]})} == {
        "refunds#0",
        "de-refunds#0",
        "shipping#0",
    }
    # The run injects what the index found and says so in Result.sources.
    agent = ak.Agent("m", ak.SimulatedModel(record=True, reply="ok"), memory=memory)
    result = await agent.run("how long do refunds take?")
    assert "refunds#0" in [s.id for s in result.sources]
    # A run's retrieval is one statement to the index: the search (no count of the rows first).
    sent: list[str] = []
    pool = await index._get_pool()
    for con in [h._con for h in pool._holders if h._con is not None]:
        con.add_query_logger(lambda record: sent.append(record.query))
    await agent.run("how long do refunds take?")
    assert len(sent) == 1 and "ORDER BY d" in sent[0]
    # Re-adding a document id replaces its chunk instead of duplicating it.
    await memory.add_documents([ak.Document(text="Refunds take ten days now.", id="refunds")])
    assert await index.count("default") == 3
    assert (await memory.query("refunds ten days", k=1))[0].text == "Refunds take ten days now."


async def test_other_embedder_on_same_collection_is_refused(index: PgVector) -> None:
    await ak.Memory(vectors=index).add_documents(["a note about refunds"])
    with pytest.raises(UserError, match="dimensions"):
        await ak.Memory(vectors=index, embedder=HashEmbedder(64)).add_documents(["another"])
    with pytest.raises(UserError, match="hash-384"):
        await index.add("default", ["x"], ["x"], [{}], _unit(1, 384, 5), "other-model")


async def test_bad_settings_and_secrets(postgres_dsn: str) -> None:
    with pytest.raises(UserError, match=r"m must be.*ef_search must be"):
        PgVector(postgres_dsn, m=1, ef_search=0)
    with pytest.raises(UserError, match="vectors must be a vector index"):
        ak.Memory(vectors="pgvector")  # type: ignore[arg-type]
    secret = PgVector("postgresql://u:hunter2@127.0.0.1:1/db", connect_timeout=2)
    assert "hunter2" not in repr(secret)
    with pytest.raises(StoreConnectionError) as err:
        await secret.count("default")
    assert "hunter2" not in str(err.value) and "127.0.0.1:1" in str(err.value)
    copy = pickle.loads(pickle.dumps(PgVector(PG_DSN, prefix="zz", m=8, ef_construction=32, ef_search=77)))
    assert (copy.prefix, copy.m, copy.ef_construction, copy.ef_search) == ("zz", 8, 32, 77)
