from __future__ import annotations

import threading

import agentickit as ak
from agentickit.workflows import WorkflowContext


async def test_sequential_passes_each_output_to_the_next_step() -> None:
    seen: list[str] = []

    async def upper(text: str) -> str:
        seen.append(text)
        return text.upper()

    def exclaim(text: str) -> str:  # a sync step
        seen.append(text)
        return text + "!"

    agent = ak.Agent("echo", llm=ak.SimulatedModel(reply="echo"))
    wf = ak.SequentialWorkflow("chain").add_step("echo", agent).add_step("upper", upper).add_step("exclaim", exclaim)
    result = await wf.run("hello world")

    assert seen == ["hello world", "HELLO WORLD"]
    assert result.content == "HELLO WORLD!"
    assert result.ok and result.error is None and result.stop_reason == "completed"
    assert list(result.steps) == ["echo", "upper", "exclaim"]
    assert all(s.status is ak.StepStatus.OK for s in result.steps.values())
    assert result.steps["echo"].output == "hello world"
    assert isinstance(result.steps["echo"].result, ak.Result)
    assert result.usage.requests == 1 and result.usage.output_tokens == result.steps["echo"].usage.output_tokens
    assert result.agent_name == "chain" and result.run_id


async def test_transform_builds_the_input_from_previous_output_and_context() -> None:
    async def first(text: str) -> str:
        return "draft"

    async def second(text: str) -> str:
        return f"<{text}>"

    def transform(previous: str, ctx: WorkflowContext) -> str:
        return f"{previous} for {ctx.input} ({ctx.outputs['first']})"

    wf = ak.SequentialWorkflow("t").add_step("first", first).add_step("second", second, transform=transform)
    result = await wf.run("topic")
    assert result.content == "<draft for topic (draft)>"


async def test_async_transform_is_awaited() -> None:
    async def transform(previous: str, ctx: WorkflowContext) -> str:
        return previous * 2

    wf = ak.SequentialWorkflow("t").add_step("a", lambda t: "ab").add_step("b", lambda t: t, transform=transform)
    assert (await wf.run("x")).content == "abab"


async def test_sync_function_steps_run_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def blocking(text: str) -> str:
        threads.append(threading.get_ident())
        return text

    wf = ak.SequentialWorkflow("sync").add_step("a", blocking)
    await wf.run("x")
    assert threads and threads[0] != loop_thread


async def test_a_failed_step_skips_the_rest_and_keeps_what_finished() -> None:
    async def boom(text: str) -> str:
        raise ValueError("bad input")

    wf = ak.SequentialWorkflow("f").add_step("a", lambda t: "A").add_step("b", boom).add_step("c", lambda t: t)
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["a"].status is ak.StepStatus.OK and result.steps["a"].output == "A"
    assert result.steps["b"].status is ak.StepStatus.FAILED
    assert isinstance(result.steps["b"].error, ValueError)
    assert result.steps["c"].status is ak.StepStatus.SKIPPED
    assert result.steps["c"].reason == "upstream step 'b' failed"
    assert isinstance(result.error, ak.errors.WorkflowError)
    assert "'b' failed" in str(result.error) and "bad input" in str(result.error)
    assert result.error.result is result
    assert result.stop_reason == "failed" and not result.ok
    try:
        result.raise_for_error()
    except ak.errors.WorkflowError as exc:
        assert exc is result.error
    else:
        raise AssertionError("raise_for_error() did not raise")


async def test_agent_failure_is_a_failed_step() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(max_retries=0))
    wf = ak.SequentialWorkflow("f").add_step("a", agent)
    result = await wf.run("please [[sim:401]]", raise_on_error=False)
    assert result.steps["a"].status is ak.StepStatus.FAILED
    assert isinstance(result.steps["a"].error, ak.errors.AuthenticationError)


async def test_step_objects_and_constructor_steps() -> None:
    wf = ak.SequentialWorkflow("s", steps=[ak.Step("a", lambda t: t + "1")])
    wf.add_step(ak.Step("b", lambda t: t + "2"))
    assert [s.name for s in wf.steps] == ["a", "b"]
    assert (await wf.run("x")).content == "x12"


def test_run_sync_outside_a_loop() -> None:
    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: t[::-1])
    assert wf.run_sync("abc").content == "cba"


async def test_run_sync_inside_a_loop_is_an_error() -> None:
    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: t)
    try:
        wf.run_sync("x")
    except ak.errors.UserError as exc:
        assert "await workflow.run" in str(exc)
    else:
        raise AssertionError("run_sync inside a loop did not raise")


async def test_a_lambda_returning_a_coroutine_is_awaited() -> None:
    agent = ak.Agent("echo", llm=ak.SimulatedModel(reply="echo"))
    wf = ak.SequentialWorkflow("s").add_step("a", lambda t: agent.run(t + "!"))
    assert (await wf.run("hi")).content == "hi!"


async def test_async_callable_objects_and_agent_likes_returning_text() -> None:
    class Shout:
        async def __call__(self, text: str) -> str:
            return text.upper()

    class Plain:
        name = "plain"

        async def run(self, query: str) -> str:
            return query + "?"

    wf = ak.SequentialWorkflow("s").add_step("shout", Shout()).add_step("plain", Plain())
    assert (await wf.run("hey")).content == "HEY?"


async def test_each_run_has_its_own_id_shared_by_its_context() -> None:
    ids: list[str] = []

    def record(text: str, ctx: ak.WorkflowContext) -> str:
        ids.append(ctx.run_id)
        return text

    wf = ak.SequentialWorkflow("s").add_step("a", record)
    first, second = await wf.run("x"), await wf.run("x")
    assert first.run_id.startswith("wf_") and first.run_id != second.run_id
    assert ids == [first.run_id, second.run_id]


async def test_non_text_returns_become_text_and_the_raw_value_is_kept() -> None:
    wf = ak.SequentialWorkflow("s").add_step("num", lambda t: 42).add_step("none", lambda t: None)
    result = await wf.run("x")
    assert result.steps["num"].output == "42" and result.steps["num"].result == 42
    assert result.steps["none"].output == "" and result.content == ""
    assert result.raise_for_error() is result
    assert result.steps_with(ak.StepStatus.OK) == ["num", "none"]
