from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.workflows import WorkflowContext, current_context


async def test_condition_false_skips_the_step_and_its_input_passes_through() -> None:
    ran: list[str] = []

    async def never(text: str) -> str:
        ran.append(text)
        return "never"

    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: "A")
    wf.add_step("maybe", never, condition=lambda ctx: ctx.input == "go")
    wf.add_step("c", lambda t: t + "C")
    result = await wf.run("stop")
    assert ran == []
    assert result.steps["maybe"].status is ak.StepStatus.SKIPPED
    assert result.steps["maybe"].reason == "its condition was false"
    assert result.content == "AC"
    assert result.ok  # a condition skip is not a failure

    result = await wf.run("go")
    assert result.steps["maybe"].status is ak.StepStatus.OK and result.content == "neverC"


async def test_async_condition_reads_finished_outputs() -> None:
    async def only_if_long(ctx: WorkflowContext) -> bool:
        return len(ctx.outputs["a"]) > 3

    wf = ak.DAGWorkflow("d").add_step("a", lambda t: t)
    wf.add_step("b", lambda t: "B", depends_on=["a"], condition=only_if_long)
    assert (await wf.run("abcdef")).steps["b"].status is ak.StepStatus.OK
    assert (await wf.run("ab")).steps["b"].status is ak.StepStatus.SKIPPED


async def test_a_failing_condition_fails_the_step() -> None:
    def condition(ctx: WorkflowContext) -> bool:
        raise KeyError("missing")

    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: t, condition=condition)
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["a"].status is ak.StepStatus.FAILED and isinstance(result.steps["a"].error, KeyError)


async def test_transform_must_return_text() -> None:
    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: t, transform=lambda p, c: 42)
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["a"].status is ak.StepStatus.FAILED
    assert "transform must return a str" in str(result.steps["a"].error)


async def test_shared_context_input_outputs_and_state() -> None:
    seen: dict[str, object] = {}

    def write(text: str, ctx: WorkflowContext) -> str:
        ctx.set("count", ctx.get("count", 0) + 1)
        ctx.state["note"] = "from write"
        return "written"

    async def read(text: str, ctx: WorkflowContext) -> str:
        seen["input"] = ctx.input
        seen["outputs"] = dict(ctx.outputs)
        seen["note"] = ctx.state["note"]
        seen["results"] = ctx.results["write"].status
        assert current_context() is ctx
        return "read"

    wf = ak.SequentialWorkflow("s").add_step("write", write).add_step("read", read)
    state = {"count": 41}
    result = await wf.run("the input", state=state)
    assert result.ok
    assert state["count"] == 42
    assert seen == {
        "input": "the input",
        "outputs": {"write": "written"},
        "note": "from write",
        "results": ak.StepStatus.OK,
    }
    assert current_context() is None


async def test_step_timeout_cancels_the_step() -> None:
    cancelled = asyncio.Event()

    async def hang(text: str) -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: "A").add_step("hang", hang, timeout=0.01)
    wf.add_step("after", lambda t: t)
    async with asyncio.timeout(5):
        result = await wf.run("x", raise_on_error=False)
    assert cancelled.is_set()
    assert result.steps["a"].output == "A"
    hung = result.steps["hang"]
    assert hung.status is ak.StepStatus.TIMED_OUT
    assert isinstance(hung.error, ak.errors.RunTimeoutError) and "timeout of 0.01 s" in str(hung.error)
    assert result.steps["after"].status is ak.StepStatus.SKIPPED
    assert result.steps["after"].reason == "upstream step 'hang' timed out"


async def test_workflow_timeout_returns_partial_results() -> None:
    fast_done = asyncio.Event()

    async def fast(text: str) -> str:
        fast_done.set()
        return "fast"

    async def hang(text: str) -> str:
        await fast_done.wait()
        await asyncio.Event().wait()
        return "never"

    wf = ak.DAGWorkflow("d", timeout=0.05)
    wf.add_step("fast", fast).add_step("hang", hang).add_step("after", lambda t: t, depends_on=["hang"])
    wf.add_step("after_fast", lambda t: t + "!", depends_on=["fast"])
    async with asyncio.timeout(5):
        result = await wf.run("x", raise_on_error=False)
    assert result.steps["fast"].status is ak.StepStatus.OK and result.steps["fast"].output == "fast"
    assert result.steps["after_fast"].output == "fast!"
    assert result.steps["hang"].status is ak.StepStatus.TIMED_OUT
    assert result.steps["after"].status is ak.StepStatus.SKIPPED
    assert result.stop_reason == "timeout"
    assert isinstance(result.error, ak.errors.WorkflowTimeoutError)
    assert isinstance(result.error, ak.errors.RunTimeoutError) and result.error.result is result
    message = str(result.error)
    assert "finished: fast, after_fast" in message and "timed out: hang" in message and "not started: after" in message


async def test_retries_run_the_step_again() -> None:
    attempts = 0

    async def flaky(text: str) -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("flaky")
        return "ok"

    wf = ak.SequentialWorkflow("s").add_step("flaky", flaky, retries=2)
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["flaky"].status is ak.StepStatus.OK
    assert result.steps["flaky"].attempts == 3

    attempts = -10
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["flaky"].status is ak.StepStatus.FAILED and result.steps["flaky"].attempts == 3


async def test_retries_cover_timeouts() -> None:
    calls = 0

    async def slow_once(text: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.Event().wait()
        return "second try"

    wf = ak.SequentialWorkflow("s").add_step("s", slow_once, timeout=0.01, retries=1, retry_delay=0.001)
    async with asyncio.timeout(5):
        result = await wf.run("x")
    assert result.content == "second try" and result.steps["s"].attempts == 2


async def test_stop_raised_by_a_step_ends_the_workflow() -> None:
    async def triage(text: str) -> str:
        raise ak.stop("cached answer")

    wf = ak.SequentialWorkflow("s").add_step("triage", triage).add_step("expensive", lambda t: "expensive")
    result = await wf.run("x")
    assert result.content == "cached answer"
    assert result.stop_reason == "stopped" and result.ok
    assert result.metadata["stopped_by"] == "triage"
    assert result.steps["triage"].status is ak.StepStatus.OK
    assert result.steps["expensive"].status is ak.StepStatus.SKIPPED
    assert result.steps["expensive"].reason == "not started: step 'triage' stopped the workflow early"


async def test_stop_returned_by_a_step_cancels_running_siblings() -> None:
    sibling_started = asyncio.Event()

    async def sibling(text: str) -> str:
        sibling_started.set()
        await asyncio.Event().wait()
        return "never"

    async def decider(text: str) -> ak.workflows.StopWorkflow:
        await sibling_started.wait()
        return ak.stop(ak.Result(content="final"))

    wf = ak.DAGWorkflow("d").add_step("sibling", sibling).add_step("decider", decider)
    wf.add_step("after", lambda t: t, depends_on=["decider"])
    async with asyncio.timeout(5):
        result = await wf.run("x")
    assert result.content == "final"
    assert result.steps["sibling"].status is ak.StepStatus.CANCELLED
    assert result.steps["after"].status is ak.StepStatus.SKIPPED
    assert result.error is None


async def test_stop_from_a_transform() -> None:
    ran: list[str] = []

    def short_circuit(previous: str, ctx: WorkflowContext) -> object:
        return ak.stop(f"done early with {previous}")

    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: "A")
    wf.add_step("b", lambda t: ran.append(t) or t, transform=short_circuit)
    result = await wf.run("x")
    assert result.content == "done early with A" and ran == []
    assert result.metadata["stopped_by"] == "b"


async def test_run_options_reach_agent_steps() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="one two three four five"))
    wf = ak.SequentialWorkflow("s").add_step("a", agent)
    result = await wf.run("x", options=ak.RunOptions(max_tokens=2))
    assert result.content == "one two"


async def test_an_agent_handler_can_stop_the_workflow() -> None:
    async def handler(text: str, caps: ak.Capabilities) -> str:
        if "cached" in text:
            raise ak.stop("answer from the handler")
        return text

    agent = ak.Agent("h", llm=ak.SimulatedModel(), handler=handler)
    wf = ak.SequentialWorkflow("s").add_step("h", agent).add_step("next", lambda t: t + "!")
    result = await wf.run("cached please")
    assert result.content == "answer from the handler" and result.stop_reason == "stopped"
    assert result.steps["next"].status is ak.StepStatus.SKIPPED
    assert (await wf.run("fresh")).content == "fresh!"
