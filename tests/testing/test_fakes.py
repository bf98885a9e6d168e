"""`agentickit.testing`: clear errors for bad scripts, streaming fakes, scripted 429s with Retry-After."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import RateLimitError, UserError
from agentickit.testing import (
    FunctionModel,
    ScriptedModel,
    SimFailure,
    SimRequest,
    SimulatedModel,
    ThoughtDelta,
    ToolCallDelta,
    call,
)


def test_a_wrong_script_entry_is_named() -> None:
    bad: Any = ["hello", {"text": "oops"}]
    with pytest.raises(UserError, match=r"script\[1\] is a dict"):
        ScriptedModel(bad)
    one: Any = "hello"
    with pytest.raises(UserError, match="takes a list of entries"):
        ScriptedModel(one)


async def test_stream_function_streams_text_thoughts_and_tool_calls_as_yielded() -> None:
    @ak.tool
    def weather(city: str) -> str:
        """Weather."""
        return f"rain in {city}"

    async def fake(req: SimRequest) -> AsyncIterator[str | ToolCallDelta | ThoughtDelta]:
        if req.tool_results:
            yield "It is "
            yield req.tool_results[0].content or ""
            return
        yield ThoughtDelta("let me check")
        # A tool call in pieces, as real providers stream them.
        yield ToolCallDelta(0, "c1", "weather", '{"ci')
        yield ToolCallDelta(0, arguments='ty": "Paris"}')

    agent = ak.Agent("t", FunctionModel(stream_function=fake), tools=[weather])
    chunks = [c async for c in agent.run_stream("q")]
    kinds = [c.type for c in chunks]
    assert ak.ChunkType.THOUGHT in kinds and ak.ChunkType.TOOL_CALL in kinds and kinds[-1] is ak.ChunkType.DONE
    text = "".join(c.delta or "" for c in chunks if c.type is ak.ChunkType.DELTA)
    assert text == "It is rain in Paris"
    # run() collects the same stream.
    assert (await agent.run("q")).content == "It is rain in Paris"


async def test_stream_function_sees_backpressure_and_cancel() -> None:
    produced: list[int] = []
    closed = asyncio.Event()

    async def endless(req: SimRequest) -> AsyncIterator[str]:
        try:
            for i in range(10_000):
                produced.append(i)
                yield f"t{i} "
        finally:
            closed.set()

    agent = ak.Agent("t", FunctionModel(stream_function=endless))
    stream = agent.run_stream("q", buffer_size=2)
    async with asyncio.timeout(5):
        async for chunk in stream:
            if chunk.type is ak.ChunkType.DELTA:
                break
        # A consumer that stopped reading holds the producer back (bounded buffer).
        await asyncio.sleep(0.05)
        assert len(produced) < 50
        stream.cancel()
        await closed.wait()  # the user's generator was closed: the "upstream request" ended


def test_function_model_needs_a_function_of_the_right_kind() -> None:
    with pytest.raises(UserError, match="needs function="):
        FunctionModel()

    def not_a_generator(req: SimRequest) -> str:
        return "x"

    wrong: Any = not_a_generator
    with pytest.raises(UserError, match="async generator function"):
        FunctionModel(stream_function=wrong)


async def test_a_scripted_429_carries_retry_after() -> None:
    no_retry = ak.Agent("t", SimulatedModel(failures=[SimFailure("429", retry_after=1.5)], max_retries=0))
    with pytest.raises(RateLimitError) as raised:
        await no_retry.run("q")
    assert raised.value.retry_after == 1.5

    model = SimulatedModel(failures=[SimFailure("429", retry_after=0.3)], max_retries=1, reply="ok")
    start = time.perf_counter()
    assert (await ak.Agent("t", model).run("q")).content == "ok"
    # Not a performance figure: the retry waited the time the 429 asked for (the first backoff alone
    # is at most 0.25 s).
    assert time.perf_counter() - start >= 0.3
    with pytest.raises(ValueError, match="only for a 429 or 500"):
        SimFailure("401", retry_after=1.0)


def test_scripted_model_still_plays_a_script() -> None:
    model = ScriptedModel([call("weather", city="Paris"), "done"])
    assert len(model.script) == 2
