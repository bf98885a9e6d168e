"""Backpressure (`buffer_size`) and delta coalescing (`flush_interval`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

import agentickit as ak
from agentickit.streaming import Chunk, ChunkType, Stream, StreamOptions
from agentickit.streaming._sink import ChunkSink

D = ChunkType.DELTA


@pytest.mark.parametrize("buffer_size", [1, 7, 100])
async def test_slow_consumer_slows_the_producer_and_nothing_is_dropped(
    probe: Callable[..., Any], buffer_size: int
) -> None:
    n = 400
    model = probe(reply=" ".join(f"w{i}" for i in range(n)))
    agent = ak.Agent("a", llm=model)
    stream = agent.run_stream("go", buffer_size=buffer_size)
    consumed = 0
    ahead = 0
    deltas: list[str] = []
    async with asyncio.timeout(5):
        async for chunk in stream:
            if chunk.type is D:
                consumed += 1
                deltas.append(chunk.delta or "")
            # Give the producer every chance to run ahead before checking how far it got.
            for _ in range(3):
                await asyncio.sleep(0)
            assert model.produced <= consumed + buffer_size
            ahead = max(ahead, model.produced - consumed)
    assert ahead == buffer_size  # it did run ahead, exactly as far as allowed
    assert consumed == n
    assert "".join(deltas) == (await stream.wait()).content


async def test_parallel_producers_block_and_resume_independently() -> None:
    # Several producer tasks share one channel (parallel tool calls, workflow branches): each waits on
    # its own future, so cancelling one does not wake or cancel the others.
    async def producer(sink: ChunkSink) -> int:
        async def branch(name: str) -> None:
            for i in range(50):
                w = sink.send(Chunk(D, f"{name}{i} ", step_name=name))
                if w is not None:
                    await w

        async with asyncio.TaskGroup() as tg:
            for name in "abc":
                tg.create_task(branch(name))
        return 150

    stream = Stream(producer, StreamOptions(buffer_size=4))
    async with asyncio.timeout(5):
        chunks = [c async for c in stream]
    per_step = {name: [c.delta for c in chunks if c.step_name == name] for name in "abc"}
    for name, deltas in per_step.items():
        assert deltas == [f"{name}{i} " for i in range(50)]
    assert await stream.wait() == 150


async def test_flush_interval_coalesces_deltas_and_keeps_the_text() -> None:
    interval = 0.05
    n = 200
    model = ak.SimulatedModel(reply=" ".join(f"w{i}" for i in range(n)), tokens_per_s=1000)
    agent = ak.Agent("a", llm=model)
    stream = agent.run_stream("go", flush_interval=interval)
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    deltas: list[str] = []
    async with asyncio.timeout(5):
        async for chunk in stream:
            if chunk.type is D:
                arrivals.append(loop.time())
                deltas.append(chunk.delta or "")
    result = await stream.wait()
    assert "".join(deltas) == result.content
    duration = arrivals[-1] - arrivals[0]
    # at most one per interval, plus the first token at once and the final flush
    assert len(deltas) <= duration / interval + 2
    assert len(deltas) < n / 5
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert all(g >= interval * 0.8 for g in gaps[:-1]), gaps


async def test_flush_interval_sends_the_first_token_at_once() -> None:
    model = ak.SimulatedModel(reply="a b c d", tokens_per_s=50)
    agent = ak.Agent("a", llm=model)
    stream = agent.run_stream("go", flush_interval=10.0, include_metadata=True)
    async with asyncio.timeout(5):
        chunks = [c async for c in stream]
    deltas = [c.delta for c in chunks if c.type is D]
    # a 10 s interval: the first token at once, the rest in the final flush when the turn ends
    assert deltas == ["a", " b c d"]


async def test_flush_interval_never_joins_deltas_of_different_steps() -> None:
    async def producer(sink: ChunkSink) -> None:
        for name in ("a", "a", "b", "b", "a"):
            w = sink.send(Chunk(D, name, step_name=name))
            if w is not None:
                await w

    stream = Stream(producer, StreamOptions(flush_interval=10.0))
    async with asyncio.timeout(5):
        chunks = [c async for c in stream]
    assert [(c.step_name, c.delta) for c in chunks if c.type is D] == [("a", "a"), ("a", "a"), ("b", "bb"), ("a", "a")]


async def test_flush_interval_flushes_before_tool_calls_keeping_order() -> None:
    from agentickit.providers.simulated import SimTurn, call

    def weather(city: str) -> str:
        """Weather."""
        return "sunny"

    model = ak.SimulatedModel(
        script=[SimTurn(text="one two three", tool_calls=call("weather", city="Oslo").tool_calls), "four five"]
    )
    agent = ak.Agent("a", llm=model, tools=[weather])
    async with asyncio.timeout(5):
        chunks = [c async for c in agent.run_stream("go", flush_interval=10.0)]
    seq = [(c.type, c.delta) for c in chunks if c.type in (D, ChunkType.TOOL_CALL)]
    # the flush before the tool call counts as the interval's DELTA, so the next turn waits for the end
    assert seq == [(D, "one"), (D, " two three"), (ChunkType.TOOL_CALL, None), (D, "four five")]


async def test_flush_interval_keeps_the_buffer_bounded_for_a_slow_consumer() -> None:
    n = 300
    model = ak.SimulatedModel(reply=" ".join(f"w{i}" for i in range(n)), tokens_per_s=3000)
    stream = ak.Agent("a", llm=model).run_stream("go", flush_interval=0.002, buffer_size=2)
    deltas: list[str] = []
    biggest = 0
    async with asyncio.timeout(5):
        async for chunk in stream:
            if chunk.type is D:
                deltas.append(chunk.delta or "")
            await asyncio.sleep(0.01)  # a slow reader: five flush intervals per chunk
            biggest = max(biggest, len(stream._ch.buf))
    # Timer flushes wait for room; only the flush forced by the end of the turn, the TEXT chunk and
    # DONE may go past the bound (without waiting for room it grew by one chunk per interval: ~40).
    assert biggest <= 2 + 3
    assert "".join(deltas) == (await stream.wait()).content
