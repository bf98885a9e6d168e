"""The session API of `ak.Memory` on every store: list (paged, newest first), load, delete, export/import, fork."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.stores import Store

from ..stores.conftest import drop, make_store, unique_prefix

BACKENDS = ("memory", "sqlite", "postgres", "redis")


@pytest.fixture(params=BACKENDS)
async def backend_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    store = make_store(request.param, tmp_path, unique_prefix())
    try:
        yield store
    finally:
        await drop(store)
        await store.aclose()


def _agent(memory: ak.Memory, model: ak.SimulatedModel | None = None) -> ak.Agent:
    return ak.Agent("m", model or ak.SimulatedModel(reply="ok"), memory=memory)


async def test_sessions_list_newest_first_in_pages_and_load_and_delete(backend_store: Store) -> None:
    memory = ak.Memory(store=backend_store)
    agent = _agent(memory)
    for sid in ("a", "b", "c"):
        await agent.run(f"hello {sid}", session_id=sid)
        await asyncio.sleep(0.01)  # distinct activity times, so "newest first" has one answer
    await agent.run("again", session_id="a")  # `a` is now the most recently active

    first = await memory.sessions(limit=2)
    assert [s.id for s in first.items] == ["a", "c"]
    assert first.next_cursor is not None
    second = await memory.sessions(limit=2, cursor=first.next_cursor)
    assert [s.id for s in second.items] == ["b"]
    assert second.next_cursor is None

    loaded = await memory.load("a")
    assert [(m.role, m.content) for m in loaded] == [
        ("user", "hello a"),
        ("assistant", "ok"),
        ("user", "again"),
        ("assistant", "ok"),
    ]
    assert await memory.delete("a") is True
    assert await memory.delete("a") is False
    assert await memory.load("a") == []
    assert [s.id for s in (await memory.sessions()).items] == ["c", "b"]


async def test_export_then_import_into_another_store_keeps_messages_tool_calls_and_meta(
    backend_store: Store, tmp_path: Path
) -> None:
    @ak.tool
    def price(item: str) -> str:
        """The price of an item."""
        return f"{item}: 3 EUR"

    memory = ak.Memory(store=backend_store)
    model = ak.SimulatedModel(reply="it costs 3 EUR")
    agent = ak.Agent("m", model, tools=[price], memory=memory)
    await agent.run("what does tea cost?", session_id="shop")  # the model calls `price`, then answers
    await backend_store.put_meta("session", "shop", {"user": "ann"})
    original = await memory.load("shop")
    assert any(m.tool_calls for m in original), "the session holds a tool turn"

    text = await memory.export_session("shop")
    doc = orjson.loads(text)
    assert (doc["format"], doc["version"], doc["id"], doc["meta"]) == ("agentickit.session", 1, "shop", {"user": "ann"})

    # Into a SQLite file of its own (a different store), under a new id.
    (tmp_path / "other").mkdir()
    other = ak.stores.SQLite(tmp_path / "other" / "copy.db")
    try:
        copy = ak.Memory(store=other)
        assert await copy.import_session(text, session_id="shop-copy") == "shop-copy"
        assert await copy.load("shop-copy") == original
        info = await other.info("session", "shop-copy")
        assert info is not None and info.meta == {"user": "ann"}
        # The copy is a live session: the next run sends the imported history.
        recorder = ak.SimulatedModel(record=True, reply="ok")
        await _agent(copy, recorder).run("and coffee?", session_id="shop-copy")
        sent = recorder.requests[-1].messages
        assert list(sent[: len(original)]) == original
        assert (sent[-1].role, sent[-1].content) == ("user", "and coffee?")
    finally:
        await other.aclose()

    # Back into the same store under the exported id (a dict is accepted as well as text).
    assert await memory.delete("shop") is True
    assert await memory.import_session(doc) == "shop"
    assert await memory.load("shop") == original


@pytest.mark.parametrize(
    "bad",
    ["not json", '{"format": "something else", "messages": []}', '{"format": "agentickit.session"}', b"[1, 2]"],
)
async def test_import_of_what_is_not_an_export_is_a_user_error(bad: str | bytes) -> None:
    memory = ak.Memory(store=ak.stores.InMemory())
    with pytest.raises(UserError, match="cannot import session"):
        await memory.import_session(bad)
    assert (await memory.sessions()).items == []


async def test_fork_at_a_message_copies_what_came_before_and_leaves_the_original(backend_store: Store) -> None:
    memory = ak.Memory(store=backend_store)
    agent = _agent(memory)
    for q in ("one", "two", "three"):
        await agent.run(q, session_id="main")
    original = await memory.load("main")
    assert len(original) == 6

    assert await memory.fork("main", "branch", at=2) == "branch"
    assert await memory.load("branch") == original[:2]
    assert await memory.fork("main", "whole") == "whole"
    assert await memory.load("whole") == original

    # The fork goes its own way; the original does not see it.
    recorder = ak.SimulatedModel(record=True, reply="ok")
    await _agent(memory, recorder).run("other two", session_id="branch")
    assert [m.content for m in recorder.requests[-1].messages] == ["one", "ok", "other two"]
    assert await memory.load("main") == original
    assert len(await memory.load("branch")) == 4

    with pytest.raises(UserError, match="'branch'.*exists"):
        await memory.fork("main", "branch", at=1)
    assert len(await memory.load("branch")) == 4


async def test_session_api_without_a_store_says_what_to_set() -> None:
    from agentickit.memory import InMemoryStore

    memory = ak.Memory(store=InMemoryStore())  # a history-only MemoryStore, not an ak.stores store
    for call in (memory.sessions(), memory.delete("s"), memory.export_session("s"), memory.fork("s", "t")):
        with pytest.raises(UserError, match=r"ak\.stores store"):
            await call
