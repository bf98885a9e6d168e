from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import RateLimitError, UserError


async def test_run_batch_is_ordered_and_bounded_by_concurrency() -> None:
    active = 0
    peak = 0
    gate = asyncio.Event()

    async def reply(req: ak.providers.SimRequest) -> str:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if peak == 4:
            gate.set()
        async with asyncio.timeout(5):
            await gate.wait()
        active -= 1
        return req.last_user.upper()

    from agentickit.testing import FunctionModel

    agent = ak.Agent("b", FunctionModel(reply))
    batch = await agent.run_batch([f"q{i}" for i in range(20)], concurrency=4)
    assert [item.content for item in batch] == [f"Q{i}" for i in range(20)]
    assert peak == 4
    assert batch.ok and len(batch.results) == 20 and batch.errors == {}


async def test_failed_items_are_reported_and_others_finish() -> None:
    agent = ak.Agent("b", ak.SimulatedModel(reply="fine", max_retries=0))
    queries = ["a", "b [[sim:429]]", "c", "d [[sim:400]]", "e"]
    batch = await agent.run_batch(queries, concurrency=2)
    assert [i.ok for i in batch] == [True, False, True, False, True]
    assert isinstance(batch[1].error, RateLimitError)
    assert set(batch.errors) == {1, 3} and batch[1].content is None
    with pytest.raises(ExceptionGroup, match="2 of 5 batch items failed"):
        batch.raise_on_error()
    summary = batch.summary()
    assert summary["items"] == 5 and summary["failed"] == 2 and summary["p50"] >= 0


async def test_progress_callback_sync_and_async() -> None:
    agent = ak.Agent("b", "simulated:echo")
    seen: list[tuple[int, int]] = []
    await agent.run_batch(["a", "b", "c"], concurrency=2, on_progress=lambda d, t, i: seen.append((d, t)))
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    seen_async: list[int] = []

    async def progress(done: int, total: int, item: ak.BatchItem) -> None:
        seen_async.append(item.index)

    await agent.run_batch(["a", "b"], concurrency=1, on_progress=progress)
    assert seen_async == [0, 1]


async def test_batch_options_reach_every_run() -> None:
    model = ak.SimulatedModel(record=True)
    agent = ak.Agent("b", model)
    await agent.run_batch(["a", "b"], concurrency=2, temperature=0.0, max_tokens=5)
    assert all(r.settings.temperature == 0.0 and r.settings.max_tokens == 5 for r in model.requests)


async def test_custom_executor_is_used() -> None:
    calls: list[int] = []

    class Recording(ak.LocalExecutor):
        async def run_batch(self, runnable, inputs, *, concurrency, options=None, on_progress=None):
            calls.append(len(inputs))
            return await super().run_batch(
                runnable, inputs, concurrency=concurrency, options=options, on_progress=on_progress
            )

    batch = await ak.Agent("b", "simulated:echo").run_batch(["x"], executor=Recording())
    assert calls == [1] and batch[0].content == "x"
    assert isinstance(Recording(), ak.Executor)


async def test_bad_concurrency_is_rejected() -> None:
    with pytest.raises(UserError, match="concurrency must be >= 1"):
        await ak.Agent("b", "simulated").run_batch(["x"], concurrency=0)


async def test_empty_batch() -> None:
    batch = await ak.Agent("b", "simulated").run_batch([])
    assert len(batch) == 0 and batch.ok
