"""`stream.batches()`: the batch-consuming API (text pieces as `str`, no Chunk per token), same guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import ProviderError, RunCancelledError, UserError
from agentickit.providers.simulated import call
from agentickit.simulator import SimulatorServer
from agentickit.testing import FunctionModel, SimRequest

T = ak.ChunkType
WORDS = " ".join(f"w{i}" for i in range(600))


def _split(batches: list[list[str | ak.Chunk]]) -> tuple[str, list[ak.Chunk]]:
    text = "".join(x for b in batches for x in b if isinstance(x, str))
    return text, [x for b in batches for x in b if isinstance(x, ak.Chunk)]


async def _all(stream: ak.Stream[Any]) -> list[list[str | ak.Chunk]]:
    async with asyncio.timeout(10):
        return [b async for b in stream.batches()]


async def test_text_comes_as_str_pieces_and_every_other_chunk_as_a_chunk_done_last() -> None:
    def weather(city: str) -> str:
        return f"sunny in {city}"

    model = ak.SimulatedModel(script=[call("weather", city="Lisbon"), "it is sunny in Lisbon"])
    agent = ak.Agent("a", llm=model, tools=[weather])
    stream = agent.run_stream("q")
    text, chunks = _split(await _all(stream))
    assert text == "it is sunny in Lisbon"
    kinds = [c.type for c in chunks]
    assert kinds == [T.TOOL_CALL, T.TOOL_RESULT, T.TEXT, T.DONE]
    assert (await stream.wait()).content == text
    assert stream.metadata["chunk_counts"]["delta"] == len("it is sunny in Lisbon".split())


async def test_the_same_text_as_the_per_chunk_api_and_the_buffer_bound_holds() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply=WORDS, tools_mode="never"))
    per_chunk = "".join([c.delta or "" async for c in agent.run_stream("q") if c.type is T.DELTA])
    stream = agent.run_stream("q", buffer_size=32)
    sizes: list[int] = []
    parts: list[str] = []
    async for batch in stream.batches():
        sizes.append(len(batch))
        parts.extend(x for x in batch if isinstance(x, str))
        await asyncio.sleep(0)  # a slow reader: the producer must wait, never run ahead
    assert "".join(parts) == per_chunk == WORDS
    assert max(sizes) <= 32 + 2  # the bound, plus the terminal chunks that go past it
    assert len(sizes) > 10


async def test_a_failed_run_ends_with_one_error_then_done_and_wait_raises() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(failures=["401"], tools_mode="never"))
    stream = agent.run_stream("q")
    _, chunks = _split(await _all(stream))
    assert [c.type for c in chunks] == [T.ERROR, T.DONE]
    with pytest.raises(ProviderError):
        await stream.wait()


async def test_leaving_early_cancels_the_run() -> None:
    started = asyncio.Event()

    async def forever(req: SimRequest) -> AsyncIterator[str]:
        started.set()
        while True:
            yield "x "
            await asyncio.sleep(0.001)

    agent = ak.Agent("a", llm=FunctionModel(stream_function=forever))
    stream = agent.run_stream("q")
    async for _ in stream.batches():
        break
    with pytest.raises(RunCancelledError):
        await asyncio.wait_for(stream.wait(), 5)
    assert started.is_set() and stream.done


async def test_filters_apply_and_thoughts_are_chunks() -> None:
    model = ak.SimulatedModel(reply="answer here", thoughts="let me think", tools_mode="never")
    agent = ak.Agent("a", llm=model)
    text, chunks = _split(await _all(agent.run_stream("q")))
    assert text == "answer here"
    assert "".join(c.delta or "" for c in chunks if c.type is T.THOUGHT) == "let me think"
    text, chunks = _split(await _all(agent.run_stream("q", include_thoughts=False)))
    assert text == "answer here" and T.THOUGHT not in {c.type for c in chunks}
    text, chunks = _split(await _all(agent.run_stream("q", text_only=True)))
    assert text == "answer here" and [c.type for c in chunks] == [T.DONE]


async def test_a_provider_without_batches_of_its_own_gives_str_pieces_too() -> None:
    async def words(req: SimRequest) -> AsyncIterator[str]:
        for w in ("one ", "two ", "three"):
            yield w

    agent = ak.Agent("a", llm=FunctionModel(stream_function=words))
    text, chunks = _split(await _all(agent.run_stream("q")))
    assert text == "one two three" and chunks[-1].type is T.DONE


async def test_over_http_with_the_aiohttp_transport() -> None:
    async with SimulatorServer(reply=WORDS) as srv:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=f"{srv.base_url}/v1", api_key="sk-test")
        async with ak.Agent("h", llm=llm) as agent:
            text, chunks = _split(await _all(agent.run_stream("q")))
    assert text == WORDS and chunks[-1].type is T.DONE


async def test_batches_is_a_way_to_consume_not_a_second_one() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="x"))
    stream = agent.run_stream("q")
    _ = [c async for c in stream]
    with pytest.raises(UserError):
        stream.batches()
    with pytest.raises(UserError, match="on_chunk"):
        agent.run_stream("q", on_chunk=lambda c: None).batches()
    started = agent.run_stream("q")
    await started.wait()
    with pytest.raises(UserError):
        started.batches()


async def test_structured_output_comes_through_batches_as_output_chunks() -> None:
    from dataclasses import dataclass

    @dataclass
    class City:
        name: str
        population: int

    model = ak.SimulatedModel(reply='{"name": "Lisbon", "population": 545000}', tools_mode="never")
    agent = ak.Agent("a", llm=model, output_type=City)
    stream = agent.run_stream("q")
    _, chunks = _split(await _all(stream))
    outputs = [c for c in chunks if c.type is T.OUTPUT]
    assert outputs and outputs[-1].output == City("Lisbon", 545000) and chunks[-1].type is T.DONE
    assert (await stream.wait()).output == City("Lisbon", 545000)
