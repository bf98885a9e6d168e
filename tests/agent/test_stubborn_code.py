"""Deadlines hold against user code that swallows CancelledError (issue 11, item 1)."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import agentickit as ak
from agentickit import _cancel
from agentickit.errors import RunTimeoutError
from agentickit.providers.simulated import call


def _stubborn(seconds: float) -> ak.Tool:
    """A tool that catches every cancellation and keeps going for `seconds` (then returns)."""

    @ak.tool(name="stubborn")
    async def stubborn() -> str:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                await asyncio.sleep(end - time.monotonic())
            except asyncio.CancelledError:
                pass  # the bug this guards against: swallowed
        return "finished anyway"

    return stubborn


async def test_run_timeout_holds_against_a_tool_that_swallows_cancellation(caplog: pytest.LogCaptureFixture) -> None:
    model = ak.SimulatedModel(script=[call("stubborn"), "never reached"])
    async with ak.Agent("a", llm=model, tools=[_stubborn(3.0)]) as agent:
        t0 = time.perf_counter()
        with caplog.at_level(logging.WARNING, "agentickit"), pytest.raises(RunTimeoutError) as info:
            await agent.run("go", timeout=0.3)
        took = time.perf_counter() - t0
    assert took < 0.3 + _cancel.CANCEL_GRACE + 0.4, took
    partial = info.value.result
    assert isinstance(partial, ak.Result)
    assert partial.metadata["partial"] is True
    # The model's request for the tool is kept: the run got that far.
    assert any(m.role == "assistant" and m.tool_calls for m in partial.messages)
    detached = [r for r in caplog.records if "ignored its cancellation" in r.getMessage()]
    assert len(detached) == 1 and "'stubborn'" in detached[0].getMessage()
    assert _cancel.detached_count() >= 1


async def test_a_tool_timeout_holds_against_a_tool_that_swallows_cancellation() -> None:
    stubborn = _stubborn(3.0)
    model = ak.SimulatedModel(script=[call("stubborn"), "went on"])
    async with ak.Agent("a", llm=model, tools=[stubborn], tool_timeout=0.2) as agent:
        t0 = time.perf_counter()
        result = await agent.run("go", timeout=5)
        took = time.perf_counter() - t0
    assert result.content == "went on"
    assert took < 0.2 + _cancel.CANCEL_GRACE + 0.5, took
    (record,) = result.tool_calls
    assert record.error is not None and "timed out" in record.error


async def test_an_outside_cancel_holds_against_a_tool_that_swallows_cancellation() -> None:
    model = ak.SimulatedModel(script=[call("stubborn"), "never reached"])
    async with ak.Agent("a", llm=model, tools=[_stubborn(3.0)]) as agent:
        started = asyncio.get_running_loop().create_future()

        async def go() -> ak.Result:
            started.set_result(None)
            return await agent.run("go")

        task = asyncio.create_task(go())
        await started
        await asyncio.sleep(0.1)
        t0 = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - t0 < _cancel.CANCEL_GRACE + 0.4


async def test_a_stream_timeout_holds_against_a_tool_that_swallows_cancellation() -> None:
    model = ak.SimulatedModel(script=[call("stubborn"), "never reached"])
    async with ak.Agent("a", llm=model, tools=[_stubborn(3.0)]) as agent:
        t0 = time.perf_counter()
        stream = agent.run_stream("go", timeout=0.3)
        chunks = [c async for c in stream]
        assert time.perf_counter() - t0 < 0.3 + _cancel.CANCEL_GRACE + 0.4
    assert chunks[-1].type is ak.ChunkType.DONE
    assert isinstance(chunks[-2].error, RunTimeoutError)


async def test_a_well_behaved_tool_finishes_its_cleanup_before_the_run_ends() -> None:
    cleaned = asyncio.Event()

    @ak.tool
    async def tidy() -> str:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0)  # an await in cleanup, well inside the grace period
            cleaned.set()
        return "x"

    model = ak.SimulatedModel(script=[call("tidy"), "never"])
    async with ak.Agent("a", llm=model, tools=[tidy]) as agent:
        with pytest.raises(RunTimeoutError):
            await agent.run("go", timeout=0.2)
    assert cleaned.is_set()


def test_asyncio_run_exits_although_a_tool_never_stops(tmp_path: Path) -> None:
    script = tmp_path / "stuck.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            import agentickit as ak
            from agentickit.providers.simulated import call

            @ak.tool
            async def forever() -> str:
                while True:
                    try:
                        await asyncio.sleep(3600)
                    except asyncio.CancelledError:
                        pass

            async def main() -> None:
                model = ak.SimulatedModel(script=[call("forever"), "never"])
                async with ak.Agent("a", llm=model, tools=[forever]) as agent:
                    try:
                        await agent.run("go", timeout=0.3)
                    except ak.errors.RunTimeoutError as exc:
                        print("timed out", type(exc.result).__name__, flush=True)

            asyncio.run(main())
            print("exited", flush=True)
            """
        )
    )
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["timed", "out", "Result", "exited"]
    assert "forever" in done.stderr and "ignored its cancellation" in done.stderr
    assert "Task was destroyed" not in done.stderr
    assert time.perf_counter() - t0 < 20


async def _swallow(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            await asyncio.sleep(end - time.monotonic())
        except asyncio.CancelledError:
            pass


async def test_a_step_timeout_and_a_workflow_timeout_hold_against_a_step_that_swallows_cancellation() -> None:
    async def stubborn(text: str) -> str:
        await _swallow(3.0)
        return "finished anyway"

    wf = ak.SequentialWorkflow("s").add_step("hang", stubborn, timeout=0.2)
    t0 = time.perf_counter()
    result = await wf.run("x", raise_on_error=False)
    assert time.perf_counter() - t0 < 0.2 + _cancel.CANCEL_GRACE + 0.4
    assert result.steps["hang"].status is ak.StepStatus.TIMED_OUT

    wf2 = ak.DAGWorkflow("d", timeout=0.2).add_step("hang", stubborn)
    t0 = time.perf_counter()
    result = await wf2.run("x", raise_on_error=False)
    assert time.perf_counter() - t0 < 0.2 + _cancel.CANCEL_GRACE + 0.4
    assert result.stop_reason == "timeout"


async def test_a_stream_timeout_holds_against_an_on_chunk_that_swallows_cancellation() -> None:
    async def on_chunk(chunk: ak.Chunk) -> None:
        await _swallow(3.0)

    async with ak.Agent("a", llm=ak.SimulatedModel(script=["word " * 500])) as agent:
        t0 = time.perf_counter()
        stream = agent.run_stream("go", timeout=0.3, on_chunk=on_chunk, buffer_size=1)
        with pytest.raises(RunTimeoutError):
            await stream.wait()
        assert time.perf_counter() - t0 < 0.3 + _cancel.CANCEL_GRACE + 0.4


async def test_an_outside_cancel_holds_against_an_on_chunk_that_swallows_cancellation() -> None:
    async def on_chunk(chunk: ak.Chunk) -> None:
        await _swallow(3.0)

    async with ak.Agent("a", llm=ak.SimulatedModel(script=["hello there"])) as agent:

        async def read() -> None:
            async for _ in agent.run_stream("go", on_chunk=on_chunk):
                pass

        task = asyncio.create_task(read())
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.perf_counter() - t0 < _cancel.CANCEL_GRACE + 0.4


async def test_a_tool_whose_own_timeout_unwinds_slowly_is_not_taken_for_one_that_swallows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # guarded runs the tool in its caller's task, so the tool's own timeout cancels that task too;
    # unwinding for longer than the grace period under it is the tool's business, not a swallow.
    @ak.tool
    async def patient() -> str:
        try:
            async with asyncio.timeout(0.05):
                try:
                    await asyncio.sleep(10)
                finally:
                    await asyncio.sleep(_cancel.CANCEL_GRACE * 3)  # slow cleanup under its own timeout
        except TimeoutError:
            return "recovered"
        return "not reached"

    @ak.tool
    async def fan_out() -> str:
        async def fails() -> None:
            await asyncio.sleep(0.02)
            raise ValueError("boom")

        async def slow_to_stop() -> None:
            try:
                await asyncio.sleep(10)
            finally:
                await asyncio.sleep(_cancel.CANCEL_GRACE * 3)

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fails())
                tg.create_task(slow_to_stop())
        except ExceptionGroup:
            return "group failed"
        return "not reached"

    model = ak.SimulatedModel(script=[call("patient"), call("fan_out"), "done"])
    async with ak.Agent("a", llm=model, tools=[patient, fan_out]) as agent:
        with caplog.at_level(logging.WARNING, "agentickit"):
            result = await agent.run("go", timeout=5)
    assert result.content == "done"
    assert [r.result for r in result.tool_calls] == ["recovered", "group failed"]
    assert not [r for r in caplog.records if "ignored its cancellation" in r.getMessage()]


async def test_a_guarded_tool_keeps_its_context_variables_to_itself() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    @ak.tool
    async def setter() -> str:
        var.set("inner")
        await asyncio.sleep(0)
        return var.get()

    model = ak.SimulatedModel(script=[call("setter"), "done"])
    async with ak.Agent("a", llm=model, tools=[setter]) as agent:
        result = await agent.run("go")
    assert result.tool_calls[0].result == "inner"
    assert var.get() == "outer"


def test_a_stream_timeout_holds_against_a_blocking_sync_on_chunk() -> None:
    # A sync on_chunk ran through asyncio.to_thread with no deadline: blocked 8 s per batch, it
    # held a 0.3 s stream for 32 s, and asyncio.run waited for its thread at exit as well.
    import threading

    release = threading.Event()
    seen: list[str] = []

    def on_chunk(chunk: ak.Chunk) -> None:
        seen.append(threading.current_thread().name)
        release.wait(10)

    async def main() -> None:
        async with ak.Agent("a", llm=ak.SimulatedModel(script=["word " * 50])) as agent:
            stream = agent.run_stream("go", timeout=0.3, on_chunk=on_chunk, buffer_size=1)
            with pytest.raises(RunTimeoutError):
                await stream.wait()

    t0 = time.perf_counter()
    try:
        asyncio.run(main())
        elapsed = time.perf_counter() - t0
    finally:
        release.set()
    assert elapsed < 2.0
    assert seen and set(seen) == {"agentickit-tool"}  # the worker pool's threads, called for one batch only
    assert len(seen) == 1
