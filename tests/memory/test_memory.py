from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import pytest

import agentickit as ak
from agentickit.memory import InMemoryStore, trim_history
from agentickit.messages import Message, ToolCall
from agentickit.stores import CorruptRecordError

from ..stores.conftest import drop, make_store, unique_prefix


async def test_history_is_per_session_and_bounded_by_history_limit() -> None:
    model = ak.SimulatedModel(record=True, reply="ok")
    agent = ak.Agent("m", model, memory=ak.Memory(history_limit=4))
    for i in range(5):
        await agent.run(f"u{i}", session_id="alice")
    await agent.run("b0", session_id="bob")
    sent = model.requests[-1].messages
    assert [m.content for m in sent] == ["b0"]  # bob sees none of alice's conversation
    await agent.run("u5", session_id="alice")
    sent = model.requests[-1].messages
    assert [m.content for m in sent] == ["u3", "ok", "u4", "ok", "u5"]


async def test_run_history_limit_overrides_memory_default() -> None:
    model = ak.SimulatedModel(record=True, reply="ok")
    agent = ak.Agent("m", model, memory=ak.Memory(history_limit=10, session_id="default"))
    for i in range(3):
        await agent.run(f"u{i}")
    await agent.run("last", history_limit=2)
    assert [m.content for m in model.requests[-1].messages] == ["u2", "ok", "last"]
    await agent.run("none", history_limit=0)
    assert [m.content for m in model.requests[-1].messages] == ["none"]


async def test_without_session_runs_are_stateless() -> None:
    model = ak.SimulatedModel(record=True, reply="ok")
    agent = ak.Agent("m", model, memory=ak.Memory(history_limit=10))
    await agent.run("first")
    await agent.run("second")
    assert [m.content for m in model.requests[-1].messages] == ["second"]


async def test_tool_turns_are_remembered_and_never_start_orphaned() -> None:
    @ak.tool
    def lookup(city: str) -> str:
        return city.upper()

    model = ak.SimulatedModel(record=True)
    agent = ak.Agent("m", model, tools=[lookup], memory=ak.Memory(history_limit=2))
    await agent.run("Weather in Paris", session_id="s")
    await agent.run("again", session_id="s", tool_choice="none")
    sent = model.requests[-1].messages
    # the last two stored messages are [tool, assistant]; the orphaned tool result is dropped
    assert [m.role for m in sent] == ["assistant", "user"]


def test_trim_history_token_budget_keeps_newest() -> None:
    msgs = [Message.user("x" * 400), Message.assistant("y" * 40), Message.user("z" * 40)]
    kept = trim_history(msgs, limit=None, max_tokens=40)
    assert [m.content for m in kept] == ["y" * 40, "z" * 40]
    orphan = [Message.tool("c", "t", "r"), Message.assistant(None, (ToolCall("c", "t", "{}"),)), Message.user("u")]
    assert [m.role for m in trim_history(orphan, limit=None)] == ["assistant", "user"]


async def test_memory_token_budget_bounds_what_is_sent() -> None:
    model = ak.SimulatedModel(record=True, reply="ok")
    agent = ak.Agent("m", model, memory=ak.Memory(max_history_tokens=12))
    for i in range(10):
        await agent.run(f"message number {i}", session_id="s")
    assert len(model.requests[-1].messages) < 8


async def test_store_bounds_sessions_and_messages() -> None:
    store = InMemoryStore(max_messages=3, max_sessions=2)
    await store.append("a", [Message.user(str(i)) for i in range(5)])
    assert [m.content for m in await store.get("a")] == ["2", "3", "4"]
    await store.append("b", [Message.user("b")])
    await store.append("c", [Message.user("c")])
    assert len(store) == 2 and await store.get("a") == []
    await store.clear("b")
    assert await store.get("b") == []


async def test_memory_for_a_10000_turn_session_stays_flat() -> None:
    agent = ak.Agent("m", ak.SimulatedModel(reply="ok"), memory=ak.Memory(history_limit=10))
    for i in range(500):
        await agent.run(f"turn {i}", session_id="long")
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            await agent.run(f"turn {i}", session_id="long")
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # The store keeps at most 1,000 messages per session: 2,000 more turns add (almost) nothing.
    assert after - before < 200_000


async def test_concurrent_sessions_do_not_mix() -> None:
    agent = ak.Agent("m", ak.SimulatedModel(reply=lambda r: f"n={len(r.messages)}"), memory=ak.Memory())
    await asyncio.gather(*(agent.run(f"q{i}", session_id=f"s{i % 3}") for i in range(9)))
    assert agent.memory is not None
    for s in ("s0", "s1", "s2"):
        assert len(await agent.memory.store.get(s)) == 6


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
@pytest.mark.parametrize("history_weight", [0.0, 1.0])
async def test_history_and_retrieval_together_on_each_store(
    backend: str, history_weight: float, tmp_path: Path
) -> None:
    # The history and the retrieved context both reach the model, on every store and either weighting.
    store = make_store(backend, tmp_path, unique_prefix())
    try:
        memory = ak.Memory(store=store, history_weight=history_weight, rag_k=2)
        await memory.add_documents([ak.Document(text="Refunds are paid back within five working days.", id="refunds")])
        model = ak.SimulatedModel(record=True, reply="ok")
        agent = ak.Agent("m", model, system_prompt="be brief", memory=memory)
        await agent.run("hello there", session_id="s")
        result = await agent.run("how long do refunds take?", session_id="s")
        sent = [(m.role, m.content) for m in model.requests[-1].messages]
        assert sent[0] == ("system", "be brief")
        assert sent[1][0] == "system" and "[refunds#0]" in (sent[1][1] or "")
        assert sent[2:] == [("user", "hello there"), ("assistant", "ok"), ("user", "how long do refunds take?")]
        assert "refunds#0" in [s.id for s in result.sources]
        # A history that cannot be read fails the run with its own error and leaves no task behind.
        await store.append("session", "bad", [{"role": "nobody"}])
        with pytest.raises(CorruptRecordError, match="'bad' at position 0"):
            await agent.run("refunds?", session_id="bad")
        await asyncio.sleep(0)
        assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    finally:
        await drop(store)
        await store.aclose()
