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


async def _statements(store: Postgres, op: Callable[[], Awaitable[Any]]) -> int:
    """How many statements (BEGIN, COMMIT and the pool's reset included) `op` sends, once warm."""
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    for _ in range(4):  # connect, and prepare the statements on each pooled connection
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
    assert [r.seq for r in await pg.read("session", "a")] == [12, 13, 14]  # 5 + 10 appended, 3 kept


async def test_a_run_with_a_session_is_three_statements(pg: Postgres) -> None:
    # The history read, the knowledge base's freshness check, then one append of both messages.
    agent = ak.Agent("m", llm=SimulatedModel(reply="ok", tools_mode="never"), memory=ak.Memory(store=pg))
    try:
        assert await _statements(pg, lambda: agent.run("question", session_id="s")) == 3
    finally:
        await agent.cleanup()
    assert [r.data["content"] for r in await pg.read("session", "s")] == ["question", "ok"] * 5
