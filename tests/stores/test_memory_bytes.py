"""The in-process store is bounded by size, evicting the sessions written least recently (issue 11, item 17)."""

from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.stores import InMemory
from agentickit.stores._memory import DEFAULT_MAX_BYTES

MB = 1_000_000


async def test_300_sessions_with_a_1_mb_answer_stay_within_max_bytes() -> None:
    store = InMemory(max_bytes=20 * MB)
    answer = "x" * MB
    model = ak.SimulatedModel(script=[answer] * 300)
    async with ak.Agent("a", llm=model, memory=ak.Memory(store=store)) as agent:
        for i in range(300):
            await agent.run(f"q{i}", session_id=f"s{i}")
        assert store.size <= 20 * MB
        # The newest sessions are kept whole, the oldest went first.
        newest = await agent.memory.load("s299")  # type: ignore[union-attr]
        assert [m.content for m in newest][-1] == answer
        assert await agent.memory.load("s0") == []  # type: ignore[union-attr]
        kept = [i for i in range(300) if await agent.memory.load(f"s{i}")]  # type: ignore[union-attr]
    assert kept == list(range(300 - len(kept), 300)) and 15 <= len(kept) <= 20


async def test_one_stream_bigger_than_the_bound_loses_its_oldest_records() -> None:
    store = InMemory(max_bytes=1000)
    for i in range(10):
        await store.append("ns", "one", [{"text": str(i) * 300}])
    assert store.size <= 1000
    records = await store.read("ns", "one")
    assert [r.data["text"][0] for r in records] == ["7", "8", "9"]  # ~311 characters each
    info = await store.info("ns", "one")
    assert info is not None and info.first_seq == 7 and info.next_seq == 10


async def test_deleting_and_sweeping_give_the_bytes_back() -> None:
    store = InMemory(max_bytes=10_000)
    await store.append("ns", "a", [{"t": "y" * 100}])
    await store.append("ns", "b", [{"t": "y" * 100}], ttl=0.001)
    assert store.size > 200
    await store.delete("ns", "a")
    await asyncio.sleep(0.01)
    await store.sweep()
    assert store.size == 0


def test_max_bytes_default_and_validation() -> None:
    assert InMemory().max_bytes == DEFAULT_MAX_BYTES == 256 * 1024 * 1024
    assert InMemory(max_bytes=None).max_bytes is None
    for bad in (0, -1, 1.5, True):
        with pytest.raises(UserError, match="max_bytes"):
            InMemory(max_bytes=bad)  # type: ignore[arg-type]
