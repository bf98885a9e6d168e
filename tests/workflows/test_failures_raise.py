"""A failed, timed-out or too-deep workflow raises its typed error carrying the partial result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import RunTimeoutError, WorkflowDepthError, WorkflowError, WorkflowTimeoutError


def _boom(text: str) -> str:
    raise ValueError("bad input")


async def test_a_failed_step_raises_with_the_partial_result() -> None:
    wf = ak.SequentialWorkflow("w").add_step("a", lambda t: t + "!").add_step("b", _boom).add_step("c", str.upper)
    with pytest.raises(WorkflowError, match="step 'b' failed") as raised:
        await wf.run("x")
    result = raised.value.result
    assert isinstance(result, ak.WorkflowResult)
    assert result.steps["a"].output == "x!" and result.steps["b"].status is ak.StepStatus.FAILED
    assert result.steps["c"].status is ak.StepStatus.SKIPPED and not result.ok
    # The opt-out returns the same result object.
    kept = await wf.run("x", raise_on_error=False)
    assert kept.steps["a"].output == "x!" and isinstance(kept.error, WorkflowError)


async def test_a_timeout_raises_workflow_timeout_error() -> None:
    async def slow(text: str) -> str:
        await asyncio.Event().wait()
        return text

    wf = ak.SequentialWorkflow("w", timeout=0.05).add_step("fast", str.upper).add_step("slow", slow)
    with pytest.raises(WorkflowTimeoutError) as raised:
        await wf.run("x")
    assert isinstance(raised.value, RunTimeoutError)
    assert raised.value.result is not None and raised.value.result.steps["fast"].output == "X"


async def test_a_too_deep_workflow_raises_the_depth_error() -> None:
    wf = ak.SequentialWorkflow("self")
    wf.add_step("again", wf.as_agent(max_depth=3))
    with pytest.raises(WorkflowDepthError, match="max_depth=3") as raised:
        await wf.run("x")
    assert raised.value.result is not None and raised.value.result.stop_reason == "failed"


async def test_as_agent_stream_wait_and_run_batch_agree() -> None:
    wf = ak.SequentialWorkflow("w").add_step("b", _boom)
    with pytest.raises(WorkflowError, match="step 'b' failed"):
        await wf.as_agent().run("x")
    stream = wf.run_stream("x")
    chunks = [c async for c in stream]
    assert [c.type for c in chunks].count(ak.ChunkType.DONE) == 1
    with pytest.raises(WorkflowError, match="step 'b' failed"):
        await stream.wait()
    batch = await wf.run_batch(["x", "y"])
    assert all(isinstance(i.error, WorkflowError) and i.error.result is not None for i in batch)


def test_run_sync_raises_like_run() -> None:
    wf = ak.SequentialWorkflow("w").add_step("b", _boom)
    with pytest.raises(WorkflowError):
        wf.run_sync("x")
    assert wf.run_sync("x", raise_on_error=False).stop_reason == "failed"


async def test_a_loop_timing_out_inside_until_is_a_failure() -> None:
    async def slow_until(result: ak.WorkflowResult) -> bool:
        await asyncio.Event().wait()
        return True

    wf = ak.LoopWorkflow("loop", until=slow_until, timeout=0.05, max_iterations=3).add_step("s", str.upper)
    with pytest.raises(WorkflowTimeoutError, match="loop 'loop' did not finish within its timeout") as raised:
        await wf.run("x")
    result = raised.value.result
    assert result is not None and result.stop_reason == "timeout" and not result.ok
    assert result.steps["s"].output == "X"


def test_step_and_loop_callables_are_checked_when_built() -> None:
    # Typed as Any: these are the mistakes a caller without a type checker makes.
    one_arg: Any = lambda previous: previous  # noqa: E731
    no_arg: Any = lambda: True  # noqa: E731
    two_args: Any = lambda a, b: True  # noqa: E731
    with pytest.raises(
        WorkflowError, match=r"step 's': transform must be a function transform\(previous: str, context\)"
    ):
        ak.Step("s", str.upper, transform=one_arg)
    with pytest.raises(WorkflowError, match=r"step 's': condition must be a function condition\(context\) -> bool"):
        ak.Step("s", str.upper, condition=no_arg)
    with pytest.raises(WorkflowError, match=r"workflow 'l': until must be a function until\(result"):
        ak.LoopWorkflow("l", until=two_args)
    with pytest.raises(WorkflowError, match="condition must be a function"):
        ak.Step("s", str.upper, condition="yes")  # type: ignore[arg-type]
    # Right signatures (defaults and *args included) are accepted.
    ak.Step("s", str.upper, transform=lambda previous, ctx, extra=1: previous, condition=lambda *a: True)
