"""The PostgreSQL store's round trips: what an append, a read and a run cost in statements sent to the server.

A round trip is most of what an operation costs beyond the server's commit, so the count is the
regression test (the latencies are in bench/stores.py and bench/durable.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import agentickit as ak
from agentickit.providers.simulated import SimulatedModel
from agentickit.stores._postgres import Postgres

from .conftest import drop, make_store, unique_prefix


@pytest.fixture
async def pg(tmp_path: Path) -> AsyncIterator[Postgres]:
    store = make_store("postgres", tmp_path, unique_prefix())
    assert isinstance(store, Postgres)
    try:
        yield store
    finally:
        await drop(store)
        await store.aclose()


async def _statements(store: Postgres, op: Callable[[], Awaitable[Any]], *, warm: int = 4) -> int:
    """How many statements (BEGIN, COMMIT and the pool's reset included) `op` sends, once warm."""
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    for _ in range(warm):  # connect, and prepare the statements on each pooled connection
        await op()
    pool: Any = await store._get_pool()
    connections = [h._con for h in pool._holders if h._con is not None]
    for con in connections:
        con.add_query_logger(log)
    try:
        await op()
    finally:
        for con in connections:
            con.remove_query_logger(log)
    return len(sent)


async def test_each_hot_operation_is_one_statement(pg: Postgres) -> None:
    rec = {"role": "user", "content": "hi"}
    assert await _statements(pg, lambda: pg.append("session", "a", [rec])) == 1
    assert await _statements(pg, lambda: pg.append("session", "a", [rec, rec], ttl=60, max_records=3)) == 1
    assert await _statements(pg, lambda: pg.read("session", "a", last=2)) == 1
    assert await _statements(pg, lambda: pg.put_meta("run", "r", {"status": "running"})) == 1
    assert await _statements(pg, lambda: pg.read_and_info("session", "a", ("run", "r"), last=2)) == 1
    assert [r.seq for r in await pg.read("session", "a")] == [12, 13, 14]  # 5 + 10 appended, 3 kept


async def test_a_run_with_a_session_is_two_statements(pg: Postgres) -> None:
    # The history read together with the knowledge base's freshness check, then one append of both messages.
    agent = ak.Agent("m", llm=SimulatedModel(reply="ok", tools_mode="never"), memory=ak.Memory(store=pg))
    try:
        assert await _statements(pg, lambda: agent.run("question", session_id="s")) == 2
    finally:
        await agent.cleanup()
    assert [r.data["content"] for r in await pg.read("session", "s")] == ["question", "ok"] * 5


async def test_documents_added_elsewhere_cost_one_read_and_are_found_by_the_next_run(pg: Postgres) -> None:
    model = SimulatedModel(reply="ok", tools_mode="never", record=True)
    memory = ak.Memory(store=pg, rag_k=2)
    await memory.add_documents([ak.Document(text="Refunds are paid back within five working days.", id="refunds")])
    agent = ak.Agent("m", llm=model, memory=memory)
    # Another process's memory on the same tables (its own pool and its own matrix).
    other = Postgres(pg.dsn, prefix=pg.prefix)
    try:
        ask = lambda: agent.run("how do refunds and parcels work?", session_id="s")  # noqa: E731
        # Unchanged documents: still the two statements of a run without any.
        assert await _statements(pg, ask) == 2
        await ak.Memory(store=other).add_documents([ak.Document(text="Parcels ship in two days.", id="parcels")])
        # New documents: one more statement, the new chunk's record, and the very next run finds it.
        assert await _statements(pg, ask, warm=0) == 3
        injected = model.requests[-1].messages[0].content or ""
        assert "[refunds#0]" in injected and "[parcels#0]" in injected
        assert await _statements(pg, ask) == 2
    finally:
        await other.aclose()
        await agent.cleanup()
