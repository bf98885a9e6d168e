from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.workflows import WorkflowContext, WorkflowResult


def reviewer(approve_at: int):
    def review(text: str, ctx: WorkflowContext) -> str:
        return f"{text} APPROVED" if ctx.iteration >= approve_at else f"{text} revise"

    return review


async def test_loop_repeats_until_the_condition_holds() -> None:
    seen: list[WorkflowResult] = []

    def until(result: WorkflowResult) -> bool:
        seen.append(result)
        return "APPROVED" in result.content

    wf = ak.LoopWorkflow("refine", max_iterations=5, until=until)
    wf.add_step("draft", lambda t: f"draft({t[-6:]})").add_step("review", reviewer(approve_at=3))
    result = await wf.run("topic")
    assert result.iterations == 3 and len(seen) == 3
    assert result.stop_reason == "until"
    assert result.content.endswith("APPROVED")
    assert seen[0].content == "draft(topic) revise"
    # Each iteration works on the previous one's output.
    assert result.content == "draft(revise) APPROVED"
    assert result.ok


async def test_loop_stops_at_max_iterations() -> None:
    wf = ak.LoopWorkflow("refine", max_iterations=4, until=lambda r: False).add_step("grow", lambda t: t + "+")
    result = await wf.run("")
    assert result.iterations == 4 and result.content == "++++" and result.stop_reason == "max_iterations"


async def test_async_until_and_usage_adds_up_over_iterations() -> None:
    async def until(result: WorkflowResult) -> bool:
        return result.content.count("x") >= 2

    agent = ak.Agent("a", llm=ak.SimulatedModel(reply=lambda r: r.last_user + "x"))
    wf = ak.LoopWorkflow("l", until=until).add_step("a", agent)
    result = await wf.run("")
    assert result.iterations == 2 and result.usage.requests == 2 and result.stop_reason == "until"


async def test_loop_stops_on_failure() -> None:
    def fail_second(text: str, ctx: WorkflowContext) -> str:
        if ctx.iteration == 2:
            raise ValueError("second iteration broke")
        return text + "."

    wf = ak.LoopWorkflow("l", max_iterations=5).add_step("s", fail_second)
    result = await wf.run("", raise_on_error=False)
    assert result.iterations == 2 and result.stop_reason == "failed"
    assert result.steps["s"].status is ak.StepStatus.FAILED
    assert isinstance(result.error, ak.errors.WorkflowError)


async def test_loop_stops_on_stop() -> None:
    def step(text: str, ctx: WorkflowContext) -> object:
        return ak.stop("enough") if ctx.iteration == 2 else text

    wf = ak.LoopWorkflow("l", max_iterations=5).add_step("s", step)
    result = await wf.run("")
    assert result.iterations == 2 and result.stop_reason == "stopped" and result.content == "enough"


async def test_until_that_raises_fails_the_loop() -> None:
    def until(result: WorkflowResult) -> bool:
        raise RuntimeError("bad until")

    wf = ak.LoopWorkflow("l", until=until).add_step("s", lambda t: t)
    result = await wf.run("", raise_on_error=False)
    assert result.stop_reason == "failed" and result.iterations == 1
    assert isinstance(result.error, ak.errors.WorkflowError) and "bad until" in str(result.error)


async def test_loop_timeout_keeps_finished_iterations() -> None:
    async def step(text: str, ctx: WorkflowContext) -> str:
        if ctx.iteration == 3:
            await asyncio.Event().wait()
        return text + "."

    wf = ak.LoopWorkflow("l", max_iterations=10, timeout=0.05).add_step("s", step)
    async with asyncio.timeout(5):
        result = await wf.run("", raise_on_error=False)
    assert result.stop_reason == "timeout" and result.iterations == 3
    assert result.steps["s"].status is ak.StepStatus.TIMED_OUT
    assert isinstance(result.error, ak.errors.RunTimeoutError)


def test_loop_rejects_depends_on() -> None:
    wf = ak.LoopWorkflow("l")
    try:
        wf.add_step("a", lambda t: t, depends_on=["b"])
    except ak.errors.WorkflowError as exc:
        assert "depends_on is not allowed" in str(exc)
    else:
        raise AssertionError("depends_on accepted by a loop")
