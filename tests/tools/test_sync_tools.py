from __future__ import annotations

import contextvars
import threading

import agentickit as ak
from agentickit.providers.simulated import call
from tests.tools._tool_helpers import calls

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


def test_run_sync_returns_at_the_timeout_while_a_stuck_sync_tool_still_runs() -> None:
    entered = threading.Event()
    release = threading.Event()
    finished = threading.Event()

    @ak.tool(timeout=0.2)
    def stuck() -> str:
        entered.set()
        release.wait(30)
        finished.set()
        return "late"

    agent = ak.Agent("a", llm=ak.SimulatedModel(script=[call("stuck"), "moved on"]), tools=[stuck])
    try:
        result = agent.run_sync("go")
        # run_sync's loop is closed and it returned, yet the tool's thread is still inside the
        # function: nothing waited for it (asyncio.to_thread would have held asyncio.run here).
        assert entered.is_set() and not finished.is_set()
        assert result.content == "moved on"
        assert result.tool_calls[0].error is not None and "timed out after 0.2 s" in result.tool_calls[0].error
    finally:
        release.set()
    assert finished.wait(5)  # the thread ends on its own; its late result goes nowhere


async def test_sync_tools_run_in_worker_threads_with_the_callers_context() -> None:
    seen: list[tuple[str, int]] = []

    @ak.tool
    def where(i: int) -> int:
        seen.append((request_id.get(), threading.get_ident()))
        return i

    request_id.set("req-42")
    model = ak.SimulatedModel(script=[calls(*(("where", {"i": i}) for i in range(4))), "ok"])
    async with ak.Agent("a", llm=model, tools=[where]) as agent:
        result = await agent.run("go")
    assert [r.result for r in result.tool_calls] == [0, 1, 2, 3]
    assert {ctx for ctx, _ in seen} == {"req-42"}
    assert threading.get_ident() not in {ident for _, ident in seen}


async def test_sync_tool_exceptions_reach_the_record() -> None:
    @ak.tool
    def broken() -> None:
        raise KeyError("missing")

    @ak.tool
    def odd() -> None:
        raise StopIteration

    model = ak.SimulatedModel(script=[calls(("broken", {}), ("odd", {})), "ok"])
    async with ak.Agent("a", llm=model, tools=[broken, odd]) as agent:
        result = await agent.run("go")
    first, second = result.tool_calls
    assert first.error == "tool 'broken' failed: KeyError: 'missing'"
    assert second.error is not None and "StopIteration" in second.error
