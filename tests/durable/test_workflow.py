"""Durable workflows: step outputs journaled, resume after a failure, request_input, agent steps replayed."""

from __future__ import annotations

from typing import Any

import pytest

import agentickit as ak
from agentickit.durable import JournalMismatchError, RunFinishedError, RunNotFoundError
from agentickit.errors import WorkflowError
from agentickit.stores import Store
from agentickit.testing import FunctionModel, SimRequest, SimTurn, call


def _counting(log: list[str], name: str, fail: list[bool] | None = None) -> Any:
    def step(text: str) -> str:
        log.append(name)
        if fail and fail[0]:
            fail[0] = False
            raise RuntimeError(f"{name} broke")
        return f"{text}>{name}"

    return step


async def test_failed_step_resumes_without_rerunning_finished_ones(store: Store) -> None:
    log: list[str] = []
    fail = [True]
    wf = ak.DAGWorkflow("pipeline", store=store, durability="step")
    wf.add_step("a", _counting(log, "a"))
    wf.add_step("b", _counting(log, "b"), depends_on=["a"])
    wf.add_step("c", _counting(log, "c", fail), depends_on=["a"])
    wf.add_step("d", _counting(log, "d"), depends_on=["b", "c"])
    failed = await wf.run("in", raise_on_error=False)
    assert failed.error is not None and sorted(log) == ["a", "b", "c"]
    [info] = await wf.runs(status="failed")
    log.clear()
    result = await wf.resume(info.run_id)
    assert sorted(log) == ["c", "d"]  # a and b were replayed from the journal
    assert result.steps["a"].reason == "replayed from the journal"
    assert result.content == "[b]\nin>a>b\n\n[c]\nin>a>c>d"
    with pytest.raises(RunFinishedError, match=info.run_id):
        await wf.resume(info.run_id)


async def test_request_input_pauses_and_resumes(store: Store) -> None:
    log: list[str] = []

    async def ask(text: str, ctx: ak.WorkflowContext) -> str:
        log.append("ask")
        name = await ctx.request_input("Who signs?")
        return f"{text} signed by {name}"

    wf = ak.DAGWorkflow("sign", store=store)
    wf.add_step("draft", _counting(log, "draft"))
    wf.add_step("ask", ask, depends_on=["draft"])
    wf.add_step("side", _counting(log, "side"), depends_on=["draft"])  # another branch runs on
    wf.add_step("send", _counting(log, "send"), depends_on=["ask"])
    paused = await wf.run("doc", durability="exit")
    assert paused.status == "paused" and paused.stop_reason == "paused" and paused.error is None
    [req] = paused.pending
    assert (req.kind, req.tool, req.args) == ("input", "ask", {"question": "Who signs?"})
    assert sorted(log) == ["ask", "draft", "side"]
    assert [r.status for r in await wf.runs()] == ["paused"]
    log.clear()
    done = await wf.resume(paused.run_id, approvals={req.id: "Ada"})
    assert done.status == "finished"
    assert done.content == "[side]\ndoc>draft>side\n\n[send]\ndoc>draft signed by Ada>send"
    assert sorted(log) == ["ask", "send"]


async def test_a_cancelled_run_resumes_no_more(store: Store) -> None:
    async def ask(text: str, ctx: ak.WorkflowContext) -> str:
        return f"{text} by {await ctx.request_input('Who?')}"

    wf = ak.DAGWorkflow("sign", store=store)
    wf.add_step("ask", ask)
    paused = await wf.run("doc", durability="step")
    [req] = paused.pending
    await wf.cancel_run(paused.run_id, reason="nobody will sign")
    [info] = await wf.runs(status="cancelled")
    assert info.run_id == paused.run_id and info.pending == [] and info.error == "nobody will sign"
    with pytest.raises(RunFinishedError, match="was cancelled \\(nobody will sign\\)"):
        await wf.resume(paused.run_id, approvals={req.id: "Ada"})
    with pytest.raises(RunFinishedError, match="already cancelled"):
        await wf.cancel_run(paused.run_id)
    with pytest.raises(RunNotFoundError):
        await wf.cancel_run("run_nope")
    other = ak.DAGWorkflow("other", store=store)
    other.add_step("ask", ask)
    with pytest.raises(JournalMismatchError):
        await other.cancel_run(paused.run_id)


async def test_request_input_needs_durability() -> None:
    async def ask(text: str, ctx: ak.WorkflowContext) -> str:
        return await ctx.request_input("?")

    wf = ak.SequentialWorkflow("plain").add_step("ask", ask)
    with pytest.raises(WorkflowError, match="durability='exit' or 'step'"):
        await wf.run("x")


async def test_agent_steps_replay_model_and_tools(store: Store) -> None:
    tool_runs: list[int] = []
    asks: list[str] = []

    @ak.tool(requires_approval=True)
    def charge(cents: int) -> str:
        tool_runs.append(cents)
        return f"charged {cents}"

    def fn(req: SimRequest) -> str | SimTurn:
        asks.append(req.messages[-1].role)
        if req.messages[-1].role == "tool":
            return f"billed: {req.messages[-1].content}"
        return call("charge", cents=99)

    biller = ak.Agent("biller", FunctionModel(fn), tools=[charge])
    wf = ak.SequentialWorkflow("billing", store=store, durability="step")
    wf.add_step("prep", lambda t: t.upper())
    wf.add_step("bill", biller)
    paused = await wf.run("order")
    [req] = paused.pending
    assert req.kind == "approval" and req.id.startswith("bill#1#1/") and tool_runs == []
    assert asks == ["user"]
    stream = wf.resume_stream(paused.run_id, approvals={req.id: True})
    chunks = [c async for c in stream]
    result = await stream.wait()
    assert result.content == "billed: charged 99" and tool_runs == [99]
    assert asks == ["user", "tool"]  # the first model response was replayed, not asked again
    completes = [c.step_name for c in chunks if c.type is ak.ChunkType.AGENT_COMPLETE]
    assert completes == ["prep", "bill"]

    plain = ak.SequentialWorkflow("plain-billing").add_step("bill", biller)
    with pytest.raises(WorkflowError, match="not durable"):
        await plain.run("order")


async def test_loop_resumes_in_its_iteration(store: Store) -> None:
    log: list[str] = []
    fail = [False]

    def grow(text: str, ctx: ak.WorkflowContext) -> str:
        log.append(f"grow{ctx.iteration}")
        if ctx.iteration == 3 and not fail[0]:
            fail[0] = True
            raise RuntimeError("iteration 3 broke")
        return text + "+"

    wf = ak.LoopWorkflow("grower", max_iterations=4, store=store, durability="step").add_step("grow", grow)
    broken = await wf.run("x", raise_on_error=False)
    assert broken.error is not None and log == ["grow1", "grow2", "grow3"]
    log.clear()
    result = await wf.resume(broken.run_id)
    assert result.content == "x++++" and log == ["grow3", "grow4"]


async def test_a_changed_definition_is_refused(store: Store) -> None:
    def build(second: str) -> ak.SequentialWorkflow:
        wf = ak.SequentialWorkflow("versioned", store=store, durability="step")
        wf.add_step("one", lambda t: t)

        async def two(text: str, ctx: ak.WorkflowContext) -> str:
            return await ctx.request_input("ok?")

        return wf.add_step(second, two)

    paused = await build("two").run("x")
    with pytest.raises(JournalMismatchError, match=r"missing: \['two'\]; new: \['deux'\]"):
        await build("deux").resume(paused.run_id)
    with pytest.raises(RunNotFoundError, match="wf_unknown"):
        await build("two").resume("wf_unknown")
    with pytest.raises(ak.errors.UserError, match="durability"):
        ak.SequentialWorkflow("w", durability="sometimes")  # type: ignore[arg-type]
