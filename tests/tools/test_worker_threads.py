"""The sync-tool worker pool (`agentickit/_threads.py`): timed-out calls never start, hung calls are counted
and bounded per tool, so one tool that hangs cannot starve the others."""

from __future__ import annotations

import asyncio
import threading

import pytest

import agentickit as ak
from agentickit import _threads
from agentickit._threads import HUNG_LIMIT, MAX_THREADS, run_in_worker
from agentickit.errors import ToolError
from agentickit.providers.simulated import call
from tests.conftest import wait_until


async def test_a_call_that_timed_out_before_a_thread_took_it_never_starts() -> None:
    release = threading.Event()
    busy: list[asyncio.Future[object]] = []
    # Fill every worker thread of the process with a call that waits, so the next one queues.
    workers = _threads._workers
    while not (workers._threads >= MAX_THREADS and workers._idle == 0):
        busy.append(run_in_worker(release.wait, {"timeout": 30}))
    await asyncio.sleep(0.05)
    ran = threading.Event()

    @ak.tool(timeout=0.2)
    def queued() -> str:
        ran.set()
        return "ran"

    agent = ak.Agent("a", llm=ak.SimulatedModel(script=[call("queued"), "done"]), tools=[queued])
    try:
        result = await agent.run("go")
        assert result.tool_calls[0].error is not None and "timed out" in result.tool_calls[0].error
    finally:
        release.set()
    await asyncio.gather(*busy)
    await asyncio.sleep(0.2)  # the freed workers drain the queue: the abandoned call is skipped
    assert not ran.is_set()
    assert agent.tool_metrics().hung == 0  # it never ran, so it never hung either


async def test_hung_calls_are_counted_in_tool_metrics_until_they_return() -> None:
    release = threading.Event()

    @ak.tool(timeout=0.1)
    def stuck() -> str:
        release.wait(30)
        return "late"

    agent = ak.Agent("a", llm=ak.SimulatedModel(script=[call("stuck"), "moved on"]), tools=[stuck])
    try:
        result = await agent.run("go")
        assert result.content == "moved on"
        m = agent.tool_metrics()
        assert m.timeouts == 1 and m.hung == 1 and m.by_tool["stuck"].hung == 1
    finally:
        release.set()
    await wait_until(lambda: agent.tool_metrics().hung == 0)
    assert agent.tool_metrics().hung == 0 and stuck.hung_calls == 0


async def test_a_tool_with_too_many_hung_calls_is_refused_and_others_still_run() -> None:
    release = threading.Event()

    @ak.tool(timeout=0.05)
    def stuck() -> str:
        release.wait(30)
        return "late"

    @ak.tool
    def fine() -> str:
        return "fine"

    try:
        for _ in range(HUNG_LIMIT):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(stuck.call({}), 0.05)
        await wait_until(lambda: stuck.hung_calls == HUNG_LIMIT)
        assert stuck.hung_calls == HUNG_LIMIT
        with pytest.raises(ToolError, match="calls still running in worker threads") as info:
            await stuck.call({})
        assert info.value.tool_name == "stuck"
        # Another tool (of any agent) is not starved: the pool has threads left for it.
        assert await fine.call({}) == "fine"
        agent = ak.Agent("b", llm=ak.SimulatedModel(script=[call("stuck"), "gave up"]), tools=[stuck])
        result = await agent.run("go")
        assert result.tool_calls[0].error is not None and "still running" in result.tool_calls[0].error
    finally:
        release.set()
    await wait_until(lambda: stuck.hung_calls == 0)
    assert await asyncio.wait_for(stuck.call({}), 5) == "late"  # accepted again once they returned


async def test_the_hand_off_carries_contextvars_and_exceptions() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("v", default="unset")
    var.set("caller")

    def read() -> str:
        return var.get()

    def boom() -> None:
        raise ValueError("in the worker")

    assert await run_in_worker(read, {}) == "caller"
    with pytest.raises(ValueError, match="in the worker"):
        await run_in_worker(boom, {})
    assert threading.current_thread() is threading.main_thread()
