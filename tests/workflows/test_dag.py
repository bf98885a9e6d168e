from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.workflows import WorkflowContext


async def test_independent_branches_run_concurrently() -> None:
    # b and c each wait for the other: run one branch at a time, this deadlocks.
    b_ready, c_ready = asyncio.Event(), asyncio.Event()

    async def b(text: str) -> str:
        b_ready.set()
        await c_ready.wait()
        return f"b({text})"

    async def c(text: str) -> str:
        c_ready.set()
        await b_ready.wait()
        return f"c({text})"

    wf = ak.DAGWorkflow("d")
    wf.add_step("a", lambda t: f"a({t})")
    wf.add_step("b", b, depends_on=["a"]).add_step("c", c, depends_on=["a"])
    wf.add_step("join", lambda t: t, depends_on=["b", "c"])
    async with asyncio.timeout(5):
        result = await wf.run("x")
    # A step with several dependencies gets their outputs, labelled, in depends_on order.
    assert result.content == "[b]\nb(a(x))\n\n[c]\nc(a(x))"
    assert result.ok


async def test_a_step_starts_the_moment_its_own_dependencies_are_done() -> None:
    # `slow` only finishes after `after_fast` has run, so a level-by-level scheduler (which waits for
    # every step of a level before the next) would deadlock.
    after_fast_ran = asyncio.Event()

    async def slow(text: str) -> str:
        await after_fast_ran.wait()
        return "slow"

    async def after_fast(text: str) -> str:
        after_fast_ran.set()
        return f"after({text})"

    wf = ak.DAGWorkflow("d")
    wf.add_step("fast", lambda t: "fast").add_step("slow", slow)
    wf.add_step("after_fast", after_fast, depends_on=["fast"])
    wf.add_step("end", lambda t: t, depends_on=["after_fast", "slow"])
    async with asyncio.timeout(5):
        result = await wf.run("x")
    assert result.content == "[after_fast]\nafter(fast)\n\n[slow]\nslow"


async def test_roots_get_the_workflow_input_and_sinks_make_the_content() -> None:
    wf = ak.DAGWorkflow("d")
    wf.add_step("root", lambda t: t + "!")
    wf.add_step("left", lambda t: "L" + t, depends_on=["root"]).add_step(
        "right", lambda t: "R" + t, depends_on=["root"]
    )
    result = await wf.run("go")
    assert result.content == "[left]\nLgo!\n\n[right]\nRgo!"


async def test_transform_customises_the_combined_input() -> None:
    def combine(previous: str, ctx: WorkflowContext) -> str:
        return " + ".join(ctx.outputs[n] for n in ("x", "y"))

    wf = ak.DAGWorkflow("d").add_step("x", lambda t: "1").add_step("y", lambda t: "2")
    wf.add_step("sum", lambda t: t, depends_on=["x", "y"], transform=combine)
    assert (await wf.run("")).content == "1 + 2"


async def test_steps_downstream_of_a_failure_are_skipped_with_the_reason() -> None:
    async def bad(text: str) -> str:
        raise RuntimeError("no data")

    wf = ak.DAGWorkflow("d")
    wf.add_step("a", lambda t: "a").add_step("bad", bad, depends_on=["a"])
    wf.add_step("after_bad", lambda t: t, depends_on=["bad"])
    wf.add_step("after_after", lambda t: t, depends_on=["after_bad"])
    wf.add_step("other", lambda t: "other", depends_on=["a"])
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["bad"].status is ak.StepStatus.FAILED
    assert result.steps["after_bad"].status is ak.StepStatus.SKIPPED
    assert result.steps["after_bad"].reason == "upstream step 'bad' failed"
    assert result.steps["after_after"].status is ak.StepStatus.SKIPPED
    assert (
        result.steps["after_after"].reason is not None
        and "'after_bad' was skipped" in result.steps["after_after"].reason
    )
    assert result.steps["other"].status is ak.StepStatus.OK  # an independent branch still finishes
    assert result.content == "[other]\nother"
    assert result.stop_reason == "failed"


async def test_dag_of_simulated_agents() -> None:
    def agent(name: str) -> ak.Agent:
        return ak.Agent(name, llm=ak.SimulatedModel(reply=lambda r: f"{name} saw {len(r.last_user)} chars"))

    wf = ak.DAGWorkflow("research")
    wf.add_step("plan", agent("plan"))
    wf.add_step("search", agent("search"), depends_on=["plan"]).add_step("facts", agent("facts"), depends_on=["plan"])
    wf.add_step("write", agent("write"), depends_on=["search", "facts"])
    result = await wf.run("batteries")
    assert result.steps["plan"].output == "plan saw 9 chars"
    assert result.content.startswith("write saw")
    assert result.usage.requests == 4
