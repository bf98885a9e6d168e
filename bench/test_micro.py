"""pytest-benchmark micro suites (marked `benchmark`; bench/ is outside `testpaths`, so `make test` skips them).

    .venv/bin/pytest bench -m benchmark -p no:cacheprovider --benchmark-json bench/results/partial/micro.json

`python -m bench` runs these too (see `bench/__main__.py`) and puts their medians in the report.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import agentickit as ak
from agentickit.messages import Message, ToolCall
from agentickit.metrics import Metrics, record_result
from agentickit.options import ModelSettings
from agentickit.providers.simulated import SimulatedModel
from agentickit.tools._call import execute_tool_calls

pytestmark = pytest.mark.benchmark


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


async def aadd(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # Our own loop, driven synchronously: pytest-benchmark times plain callables.
    lp = asyncio.new_event_loop()
    try:
        yield lp
    finally:
        lp.close()


def test_build_agent_with_one_tool(benchmark: Any) -> None:
    agent = benchmark(lambda: ak.Agent("assistant", llm="simulated", tools=[weather]))
    assert agent.name == "assistant"


def test_model_request_direct(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    model = SimulatedModel(reply="ok", tools_mode="never")
    messages = [Message("user", "hello")]
    settings = ModelSettings()
    out = benchmark(lambda: loop.run_until_complete(model.request(messages, (), settings)))
    assert out.content == "ok"


def test_run_in_process(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    agent = ak.Agent("a", llm=SimulatedModel(reply="ok", tools_mode="never"))
    result = benchmark(lambda: loop.run_until_complete(agent.run("hello")))
    assert result.content == "ok"


def test_metrics_record_one_run(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    agent = ak.Agent("a", llm=SimulatedModel(reply="ok", tools_mode="never"))
    result = loop.run_until_complete(agent.run("hello"))
    agent._metrics = Metrics("a")  # pyright: ignore[reportPrivateUsage]
    benchmark(lambda: record_result(agent, result))
    assert agent.metrics().runs > 0


def test_async_tool_dispatch(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    agent = ak.Agent("t", tools=[aadd])
    tools = loop.run_until_complete(agent.resolve_tools())
    calls = [ToolCall("c1", "aadd", '{"a": 1, "b": 2}')]
    out = benchmark(lambda: loop.run_until_complete(execute_tool_calls(calls, tools, None, None)))
    assert out[0][0].content == "3"


def test_stream_1000_tokens_in_process(benchmark: Any, loop: asyncio.AbstractEventLoop) -> None:
    agent = ak.Agent("s", llm=SimulatedModel(reply=" ".join(["tok"] * 1000), tools_mode="never"))

    async def drain() -> int:
        n = 0
        async for _ in agent.run_stream("go", flush_interval=None):
            n += 1
        return n

    n = benchmark(lambda: loop.run_until_complete(drain()))
    assert n >= 1000
