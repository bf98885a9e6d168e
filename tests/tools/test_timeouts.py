from __future__ import annotations

import asyncio
import threading

import agentickit as ak
from agentickit.providers.simulated import call
from tests.conftest import LoopLag
from tests.tools._tool_helpers import tool_messages


async def test_hanging_async_tool_is_cancelled_at_its_timeout_and_the_run_goes_on() -> None:
    cancelled = asyncio.Event()

    @ak.tool(timeout=0.05)
    async def stuck(city: str) -> str:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return "never"

    model = ak.SimulatedModel(script=[call("stuck", city="Paris"), "went on"], record=True)
    async with ak.Agent("a", llm=model, tools=[stuck]) as agent:
        async with asyncio.timeout(5):
            result = await agent.run("weather?")
    assert result.content == "went on"
    assert cancelled.is_set()
    (record,) = result.tool_calls
    assert record.error is not None and "'stuck'" in record.error and "0.05 s" in record.error
    assert not record.ok
    (seen,) = tool_messages(model)
    assert seen.startswith("Error: ") and "stuck" in seen and "0.05 s" in seen
    metrics = agent.tool_metrics()
    assert metrics.calls == 1 and metrics.timeouts == 1 and metrics.errors == 1


async def test_agent_tool_timeout_is_the_default_and_a_tool_timeout_wins() -> None:
    @ak.tool
    async def slow_default() -> str:
        await asyncio.Event().wait()
        return "never"

    @ak.tool(timeout=0.02)
    async def own_limit() -> str:
        await asyncio.Event().wait()
        return "never"

    model = ak.SimulatedModel(script=[call("slow_default"), call("own_limit"), "ok"])
    async with ak.Agent("a", llm=model, tools=[slow_default, own_limit], tool_timeout=0.03) as agent:
        async with asyncio.timeout(5):
            result = await agent.run("go")
    first, second = result.tool_calls
    assert first.error is not None and "0.03 s" in first.error
    assert second.error is not None and "0.02 s" in second.error


async def test_a_tool_raising_timeouterror_itself_is_an_error_not_a_timeout() -> None:
    @ak.tool(timeout=5)
    async def upstream() -> str:
        raise TimeoutError("the API timed out")

    async with ak.Agent("a", llm=ak.SimulatedModel(script=[call("upstream"), "ok"]), tools=[upstream]) as agent:
        result = await agent.run("go")
    (record,) = result.tool_calls
    assert record.error == "tool 'upstream' failed: TimeoutError: the API timed out"
    assert agent.tool_metrics().timeouts == 0


async def test_hanging_sync_tool_does_not_block_the_loop(loop_lag: LoopLag) -> None:
    release = threading.Event()

    @ak.tool(timeout=0.3)
    def blocking(x: int) -> int:
        release.wait(10)  # a sync call that would freeze every other run if it ran on the loop
        return x

    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    model = ak.SimulatedModel(script=[call("blocking", x=1), "done"])
    try:
        async with ak.Agent("a", llm=model, tools=[blocking]) as agent, asyncio.TaskGroup() as tg:
            beat = tg.create_task(heartbeat())
            async with asyncio.timeout(5):
                result = await agent.run("go")
            beat.cancel()
    finally:
        release.set()
    (record,) = result.tool_calls
    assert record.error is not None and "timed out after 0.3 s" in record.error and "worker thread" in record.error
    assert result.content == "done"
    assert ticks >= 3  # the loop kept running while the tool's thread was stuck
    assert loop_lag.max_lag < 0.2  # generous: the test machine is shared; a blocked loop would lag 0.3 s
