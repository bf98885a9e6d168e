"""A stream whose reader gives up stops its run and closes upstream at once, not at GC (issue 11, item 2)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

import agentickit as ak
from tests.hostile import HostileServer


@pytest.fixture
def no_gc() -> Iterator[None]:
    # The bug hid behind the cycle collector: with it off, only deterministic cleanup counts.
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("on_chunk", [False, True])
async def test_a_reader_that_times_out_stops_the_run_while_its_exception_is_kept(
    hostile: HostileServer, no_gc: None, on_chunk: bool
) -> None:
    llm = ak.LLMConfig(provider="openai", model="m", api_key="k", base_url=hostile.base_url("endless"))

    async def seen(chunk: ak.Chunk) -> None:
        return None

    async with ak.Agent("a", llm=llm) as agent:

        async def consume() -> None:
            stream = agent.run_stream("go", buffer_size=4, on_chunk=seen if on_chunk else None)
            async with asyncio.timeout(0.3):
                async for _ in stream:
                    pass  # faster than the server: the deadline finds the reader waiting for a chunk

        results = await asyncio.gather(consume(), consume(), return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results), results
        async with asyncio.timeout(5):
            await hostile.wait_idle()  # the server saw both clients go, with the exceptions still referenced
        assert hostile.disconnects == 2
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for _ in range(20):
            if not others:
                break
            await asyncio.sleep(0.01)
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert not others, others
        del results
