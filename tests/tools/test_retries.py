from __future__ import annotations

import asyncio
import time

import agentickit as ak
from agentickit.providers.simulated import call


class Flaky(Exception):
    pass


async def test_retryable_failures_are_retried_with_backoff_and_attempts_recorded() -> None:
    attempts: list[float] = []

    @ak.tool(retries=3, retry_backoff=0.01, retry_on=(Flaky,))
    async def fetch(url: str) -> str:
        attempts.append(time.perf_counter())
        if len(attempts) < 3:
            raise Flaky("connection reset")
        return f"body of {url}"

    model = ak.SimulatedModel(script=[call("fetch", url="u"), "ok"])
    async with ak.Agent("a", llm=model, tools=[fetch]) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.ok and record.result == "body of u"
    assert record.attempts == 3
    # exponential backoff: 0.01 s, then 0.02 s (sleeps never end early, so lower bounds are safe)
    assert attempts[1] - attempts[0] >= 0.01
    assert attempts[2] - attempts[1] >= 0.02
    assert agent.tool_metrics().retries == 2


async def test_exceptions_not_marked_retryable_fail_at_once() -> None:
    count = 0

    @ak.tool(retries=3, retry_backoff=0, retry_on=(Flaky,))
    async def strict() -> str:
        nonlocal count
        count += 1
        raise ValueError("bad input")

    async with ak.Agent("a", llm=ak.SimulatedModel(script=[call("strict"), "ok"]), tools=[strict]) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert count == 1 and record.attempts == 1
    assert record.error == "tool 'strict' failed: ValueError: bad input"


async def test_retries_run_out_and_the_last_error_is_reported() -> None:
    @ak.tool(retries=2, retry_backoff=0)
    async def down() -> str:
        raise ConnectionError("refused")

    async with ak.Agent("a", llm=ak.SimulatedModel(script=[call("down"), "ok"]), tools=[down]) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.attempts == 3
    assert record.error is not None and "ConnectionError: refused" in record.error
    assert agent.tool_metrics().errors == 1


async def test_a_timed_out_attempt_is_retried_when_timeouts_are_retryable() -> None:
    calls_seen = 0

    @ak.tool(timeout=0.03, retries=1, retry_backoff=0, retry_on=(TimeoutError,))
    async def sometimes_slow() -> str:
        nonlocal calls_seen
        calls_seen += 1
        if calls_seen == 1:
            await asyncio.Event().wait()
        return "fast this time"

    model = ak.SimulatedModel(script=[call("sometimes_slow"), "ok"])
    async with ak.Agent("a", llm=model, tools=[sometimes_slow]) as agent:
        async with asyncio.timeout(5):
            result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.ok and record.result == "fast this time" and record.attempts == 2


async def test_sync_tools_are_retried_too() -> None:
    count = 0

    @ak.tool(retries=1, retry_backoff=0)
    def once_broken() -> int:
        nonlocal count
        count += 1
        if count == 1:
            raise OSError("disk busy")
        return count

    model = ak.SimulatedModel(script=[call("once_broken"), "ok"])
    async with ak.Agent("a", llm=model, tools=[once_broken]) as agent:
        result = await agent.run("go")
    assert result.tool_calls[0].result == 2 and result.tool_calls[0].attempts == 2
