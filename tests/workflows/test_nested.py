from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.executors import BatchRunnable
from agentickit.workflows import WorkflowAgent


async def test_workflow_as_agent_nests_in_a_step() -> None:
    inner = ak.ParallelWorkflow("analysis").add_step("pros", lambda t: "pros of " + t)
    inner.add_step("cons", lambda t: "cons of " + t)
    outer = ak.SequentialWorkflow("report")
    outer.add_step("topic", lambda t: t.strip()).add_step("analysis", inner.as_agent("analysis"))
    outer.add_step("summary", lambda t: f"summary: {t.count('of')} points")
    result = await outer.run("  tea ")
    assert result.content == "summary: 2 points"
    nested = result.steps["analysis"].result
    assert isinstance(nested, ak.WorkflowResult)
    assert nested.outputs == {"pros": "pros of tea", "cons": "cons of tea"}


async def test_a_workflow_is_a_step_directly_and_in_a_dag() -> None:
    inner = ak.SequentialWorkflow("inner").add_step("x", lambda t: t + "x").add_step("y", lambda t: t + "y")
    outer = ak.DAGWorkflow("outer").add_step("a", inner).add_step("b", inner, depends_on=["a"])
    assert (await outer.run("")).content == "xyxy"


async def test_as_agent_raises_on_failure_with_the_partial_result() -> None:
    async def bad(text: str) -> str:
        raise RuntimeError("inner broke")

    inner = ak.SequentialWorkflow("inner").add_step("ok", lambda t: "fine").add_step("bad", bad)
    agent = inner.as_agent("helper")
    try:
        await agent.run("x")
    except ak.errors.WorkflowError as exc:
        assert "workflow 'inner': step 'bad' failed" in str(exc) and "inner broke" in str(exc)
        assert isinstance(exc.result, ak.WorkflowResult) and exc.result.steps["ok"].output == "fine"
    else:
        raise AssertionError("as_agent().run did not raise")

    outer = ak.SequentialWorkflow("outer").add_step("sub", agent)
    result = await outer.run("x", raise_on_error=False)
    assert result.steps["sub"].status is ak.StepStatus.FAILED
    assert "inner broke" in str(result.steps["sub"].error)


async def test_a_subworkflow_timeout_is_a_timed_out_step() -> None:
    async def hang(text: str) -> str:
        await asyncio.Event().wait()
        return "never"

    inner = ak.SequentialWorkflow("inner", timeout=0.01).add_step("hang", hang)
    outer = ak.SequentialWorkflow("outer").add_step("sub", inner)
    async with asyncio.timeout(5):
        result = await outer.run("x", raise_on_error=False)
    error = result.steps["sub"].error
    assert result.steps["sub"].status is ak.StepStatus.TIMED_OUT
    assert isinstance(error, ak.errors.WorkflowTimeoutError)
    assert error.result.steps["hang"].status is ak.StepStatus.TIMED_OUT


async def test_max_depth_is_enforced_at_run_time() -> None:
    level3 = ak.SequentialWorkflow("level3").add_step("leaf", lambda t: "leaf")
    level2 = ak.SequentialWorkflow("level2").add_step("sub", level3.as_agent(max_depth=2))
    level1 = ak.SequentialWorkflow("level1").add_step("sub", level2)
    with pytest.raises(ak.errors.WorkflowDepthError) as raised:
        await level1.run("x")
    result = raised.value.result
    assert isinstance(result, ak.WorkflowResult) and result.stop_reason == "failed"
    error = result.steps["sub"].error
    assert isinstance(error, ak.errors.WorkflowDepthError)
    assert "3 workflows deep (level1 > level2 > level3)" in str(error) and "max_depth=2" in str(error)
    inner = error.result
    assert isinstance(inner, ak.WorkflowResult) and inner.steps["sub"].status is ak.StepStatus.FAILED

    # The same workflow run at a shallower depth is fine.
    assert (await level2.run("x")).content == "leaf"


async def test_a_workflow_that_contains_itself_fails_clearly() -> None:
    wf = ak.SequentialWorkflow("recursive")
    wf.add_step("again", wf.as_agent(max_depth=4))
    async with asyncio.timeout(5):
        result = await wf.run("x", raise_on_error=False)
    assert result.stop_reason == "failed"
    assert "max_depth=4" in str(result.error) and isinstance(result.error, ak.errors.WorkflowDepthError)


async def test_workflows_are_batch_runnable() -> None:
    wf = ak.SequentialWorkflow("s").add_step("upper", lambda t: t.upper())
    assert isinstance(wf, BatchRunnable) and isinstance(wf.as_agent(), BatchRunnable)
    batch = await wf.run_batch(["a", "b", "c"], concurrency=2)
    assert [i.content for i in batch] == ["A", "B", "C"] and batch.ok


async def test_run_batch_reports_failed_runs_per_item() -> None:
    def maybe_fail(text: str) -> str:
        if text == "bad":
            raise ValueError("bad item")
        return text

    wf = ak.SequentialWorkflow("s").add_step("s", maybe_fail)
    batch = await wf.run_batch(["ok", "bad", "fine"], concurrency=3)
    assert [i.ok for i in batch] == [True, False, True]
    error = batch[1].error
    assert isinstance(error, ak.errors.WorkflowError) and error.result.steps["s"].status is ak.StepStatus.FAILED


async def test_workflow_result_is_a_result() -> None:
    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: t)
    agent = wf.as_agent("named")
    assert isinstance(agent, WorkflowAgent) and agent.name == "named"
    result = await agent.run("hi")
    assert isinstance(result, ak.Result) and str(result) == "hi"


async def test_cleanup_reaches_every_agent_once() -> None:
    closed: list[str] = []

    class Closable:
        def __init__(self, name: str) -> None:
            self.name = name

        async def run(self, query: str) -> ak.Result:
            return ak.Result(content=query)

        async def cleanup(self) -> None:
            closed.append(self.name)

    shared = Closable("shared")
    inner = ak.SequentialWorkflow("inner").add_step("x", shared).add_step("y", Closable("inner-only"))
    outer = ak.DAGWorkflow("outer").add_step("a", shared).add_step("sub", inner.as_agent(), depends_on=["a"])
    outer.add_step("self", outer.as_agent(), depends_on=["a"])
    async with outer:
        pass
    assert sorted(closed) == ["inner-only", "shared"]
    async with ak.SequentialWorkflow("agents").add_step("a", ak.Agent("a")).as_agent() as agent:
        assert "hi" in (await agent.run("hi")).content


async def test_workflow_metrics_count_runs_errors_and_tokens() -> None:
    async def maybe_fail(text: str) -> str:
        if text == "fail":
            raise ValueError("no")
        return text

    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="echo"))
    wf = ak.SequentialWorkflow("m").add_step("check", maybe_fail).add_step("a", agent)
    await wf.run("one two", raise_on_error=False)
    await wf.run("fail", raise_on_error=False)
    snap = wf.as_agent().metrics(reset=True)
    assert snap.name == "m" and snap.runs == 2 and snap.errors == 1
    assert snap.errors_by_type == {"WorkflowError": 1}
    assert snap.tokens_out == 2 and snap.unpriced_models == ()
    assert wf.metrics().runs == 0
