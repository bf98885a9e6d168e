"""Over real HTTP (the simulator on 127.0.0.1): ending a stream early reaches the server at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

import agentickit as ak
from agentickit.errors import RunCancelledError, RunTimeoutError
from agentickit.simulator import SimulatorServer

LONG = " ".join(f"word{i}" for i in range(400))


@pytest.fixture
async def srv() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(tokens_per_s=200) as server:
        yield server


def agent_for(srv: SimulatorServer) -> ak.Agent:
    llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="x")
    return ak.Agent("http", llm)


async def test_cancel_disconnects_from_the_server_within_100_ms(srv: SimulatorServer) -> None:
    async with agent_for(srv) as agent:
        stream = agent.run_stream(LONG)
        async with asyncio.timeout(5):
            async for chunk in stream:
                if chunk.type is ak.ChunkType.DELTA:
                    break
            # `break` alone cancels too; cancel() first to time it
            stream.cancel()
            start = time.perf_counter()
            await srv.wait_disconnect()
            elapsed = time.perf_counter() - start
            with pytest.raises(RunCancelledError):
                await stream.wait()
    assert elapsed < 0.1
    assert srv.disconnects == 1 and srv.completed == 0


async def test_breaking_out_disconnects(srv: SimulatorServer) -> None:
    async with agent_for(srv) as agent:
        async with asyncio.timeout(5):
            async for chunk in agent.run_stream(LONG):
                if chunk.type is ak.ChunkType.DELTA:
                    break
            await srv.wait_disconnect()
    assert srv.completed == 0


async def test_timeout_disconnects(srv: SimulatorServer) -> None:
    async with agent_for(srv) as agent:
        stream = agent.run_stream(LONG, timeout=0.1)
        async with asyncio.timeout(5):
            chunks = [c async for c in stream]
            await srv.wait_disconnect()
    assert [c.type for c in chunks[-2:]] == [ak.ChunkType.ERROR, ak.ChunkType.DONE]
    assert isinstance(chunks[-2].error, RunTimeoutError)
    assert srv.completed == 0


async def test_http_stream_text_matches_the_result(srv: SimulatorServer) -> None:
    srv.tokens_per_s = None
    async with agent_for(srv) as agent:
        stream = agent.run_stream("alpha beta gamma", buffer_size=2)
        async with asyncio.timeout(5):
            text = "".join([t async for t in stream.text()])
            result = await stream.wait()
    assert text == result.content == "alpha beta gamma"


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


async def test_thoughts_and_tool_rounds_stream_over_http() -> None:
    # reasoning_content arrives as THOUGHT; the tool loop streams on through the second request
    async with SimulatorServer(thoughts="let me think") as server:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=server.base_url + "/v1", api_key="x")
        async with ak.Agent("http", llm, tools=[weather]) as agent:
            stream = agent.run_stream("weather in Paris?")
            async with asyncio.timeout(5):
                chunks = [c async for c in stream]
                result = await stream.wait()
    types = [c.type for c in chunks]
    assert types.index(ak.ChunkType.THOUGHT) < types.index(ak.ChunkType.TOOL_CALL)
    assert types.index(ak.ChunkType.TOOL_CALL) < types.index(ak.ChunkType.TOOL_RESULT)
    last_result = max(i for i, t in enumerate(types) if t is ak.ChunkType.TOOL_RESULT)
    after = "".join(c.delta or "" for c in chunks[last_result:] if c.type is ak.ChunkType.DELTA)
    assert after == result.content and "sunny in Paris" in result.content
    assert "".join(c.delta or "" for c in chunks if c.type is ak.ChunkType.THOUGHT).startswith("let me think")
