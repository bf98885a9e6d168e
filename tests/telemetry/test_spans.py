"""The span tree of real runs: a DAG workflow with two parallel agent steps each calling a tool, errors, content."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agentickit as ak
from agentickit.testing import ScriptedModel, call

from .conftest import Traces, all_values, parent_of, span_id


def _research() -> ak.DAGWorkflow:
    started: set[str] = set()
    both = asyncio.Event()

    @ak.tool
    async def lookup(topic: str) -> str:
        """Look a topic up.

        Args:
            topic: what to look up.
        """
        # Each call waits until both are running: the branches overlap by construction, not by timing.
        started.add(topic)
        if len(started) == 2:
            both.set()
        async with asyncio.timeout(5):
            await both.wait()
        return f"facts about {topic}"

    web = ak.Agent("web", ScriptedModel([call("lookup", topic="web"), "web done"]), tools=[lookup])
    papers = ak.Agent("papers", ScriptedModel([call("lookup", topic="papers"), "papers done"]), tools=[lookup])
    wf = ak.DAGWorkflow("research")
    wf.add_step(ak.Step("plan", lambda text: f"plan for {text}"))
    wf.add_step(ak.Step("web", web, depends_on=["plan"]))
    wf.add_step(ak.Step("papers", papers, depends_on=["plan"]))
    wf.add_step(ak.Step("write", lambda text: "report", depends_on=["web", "papers"]))
    return wf


async def test_dag_workflow_span_tree(traces: Traces, flavour: str) -> None:
    assert traces.enable(semconv=flavour)
    result = await _research().run("small models")
    assert result.error is None
    spans = traces.spans()
    by_id = {span_id(s): s for s in spans}
    names = sorted(s.name for s in spans)
    assert names == sorted(
        [
            "invoke_workflow research",
            "step plan",
            "step web",
            "step papers",
            "step write",
            "invoke_agent web",
            "invoke_agent papers",
            "chat scripted",
            "chat scripted",
            "chat scripted",
            "chat scripted",
            "execute_tool lookup",
            "execute_tool lookup",
        ]
    )
    root = traces.named("invoke_workflow research")
    assert root.parent is None
    assert root.kind is SpanKind.INTERNAL
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["gen_ai.workflow.name"] == "research"
    trace_ids = {s.context.trace_id for s in spans if s.context is not None}
    assert len(trace_ids) == 1

    for step in ("plan", "web", "papers", "write"):
        s = traces.named(f"step {step}")
        assert parent_of(s) == span_id(root)
        assert s.attributes is not None and s.attributes["agentickit.workflow.step.status"] == "ok"

    for name in ("web", "papers"):
        agent_span = traces.named(f"invoke_agent {name}")
        assert parent_of(agent_span) == span_id(traces.named(f"step {name}"))
        assert agent_span.kind is SpanKind.INTERNAL
        attrs = agent_span.attributes or {}
        assert attrs["gen_ai.operation.name"] == "invoke_agent"
        assert attrs["gen_ai.agent.name"] == name
        assert attrs["gen_ai.provider.name"] == "simulated"
        assert str(attrs["agentickit.run.id"]).startswith("run_")
        children = [s for s in spans if parent_of(s) == span_id(agent_span)]
        assert sorted(c.name for c in children) == ["chat scripted", "chat scripted", "execute_tool lookup"]
        for c in children:
            if c.name.startswith("chat"):
                assert c.kind is SpanKind.CLIENT
                ca = c.attributes or {}
                assert ca["gen_ai.operation.name"] == "chat"
                assert ca["gen_ai.request.model"] == "scripted"
                assert ca["gen_ai.response.model"] == "scripted"
                assert ca["gen_ai.provider.name"] == "simulated"
                assert ("gen_ai.system" in ca) is (flavour == "default")
                assert int(str(ca["gen_ai.usage.output_tokens"])) > 0
                assert tuple(ca["gen_ai.response.finish_reasons"]) in (("tool_calls",), ("stop",))  # type: ignore[arg-type]
            else:
                assert c.kind is SpanKind.INTERNAL
                ta = c.attributes or {}
                assert ta["gen_ai.operation.name"] == "execute_tool"
                assert ta["gen_ai.tool.name"] == "lookup"
                assert str(ta["gen_ai.tool.call.id"]).startswith("call_lookup_")
                assert c.status.status_code is StatusCode.UNSET
        # The chat calls of one agent come one after another, the tool in between.
        chats = sorted((c for c in children if c.name.startswith("chat")), key=lambda c: c.start_time or 0)
        tool = next(c for c in children if c.name.startswith("execute_tool"))
        assert (chats[0].end_time or 0) <= (tool.start_time or 0) <= (tool.end_time or 0) <= (chats[1].start_time or 0)

    # The parallel branches overlap in the trace, and the DAG's order holds.
    web, papers = traces.named("step web"), traces.named("step papers")
    assert (web.start_time or 0) < (papers.end_time or 0) and (papers.start_time or 0) < (web.end_time or 0)
    plan, write = traces.named("step plan"), traces.named("step write")
    assert (plan.end_time or 0) <= min(web.start_time or 0, papers.start_time or 0)
    assert (write.start_time or 0) >= max(web.end_time or 0, papers.end_time or 0)
    for s in spans:
        assert s.parent is None or s.parent.span_id in by_id, s.name


async def test_disabled_emits_nothing(traces: Traces) -> None:
    traces.enable()
    ak.telemetry.disable()
    assert not ak.telemetry.enabled() and ak.telemetry.settings() is None
    await ak.Agent("a", "simulated:echo").run("hi")
    assert traces.spans() == []


async def test_failing_tool_sets_status_and_error_type(traces: Traces) -> None:
    @ak.tool
    async def broken(x: int) -> str:
        """Always fails.

        Args:
            x: anything.
        """
        raise ValueError("the disk is on fire")

    traces.enable()
    agent = ak.Agent("a", ScriptedModel([call("broken", x=1), "sorry"]), tools=[broken])
    result = await agent.run("go")
    assert result.tool_calls[0].error is not None
    span = traces.named("execute_tool broken")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "ValueError"
    assert any(e.name == "exception" for e in span.events)
    # The run itself went on and succeeded.
    assert traces.named("invoke_agent a").status.status_code is StatusCode.UNSET


async def test_failing_model_call_sets_status_and_error_type(traces: Traces) -> None:
    traces.enable()
    agent = ak.Agent("a", ak.SimulatedModel(reply="echo"))
    with pytest.raises(ak.errors.BadRequestError):
        await agent.run("please fail [[sim:400]]")
    chat = traces.named("chat simulated")
    assert chat.status.status_code is StatusCode.ERROR
    assert (chat.attributes or {})["error.type"] == "BadRequestError"
    run = traces.named("invoke_agent a")
    assert run.status.status_code is StatusCode.ERROR
    assert (run.attributes or {})["error.type"] == "BadRequestError"
    assert str((run.attributes or {})["agentickit.run.id"]).startswith("run_")  # a failed run keeps its id
    assert parent_of(chat) == span_id(run)


async def test_attributes_follow_a_changed_agent_and_model(traces: Traces) -> None:
    # What a span says about an agent and its model is built once per object; a change shows in the next run.
    traces.enable()
    model = ak.SimulatedModel(reply="ok", tools_mode="never")
    agent = ak.Agent("a", model)
    await agent.run("hi")
    model.model_name = "renamed"
    await agent.run("hi")
    chats = [s for s in traces.spans() if s.name.startswith("chat ")]
    assert [s.name for s in chats] == ["chat simulated", "chat renamed"]
    assert [(s.attributes or {})["gen_ai.request.model"] for s in chats] == ["simulated", "renamed"]
    runs = [s for s in traces.spans() if s.name == "invoke_agent a"]
    assert [(s.attributes or {})["gen_ai.request.model"] for s in runs] == ["simulated", "renamed"]
    durations = {p.attributes["gen_ai.request.model"] for p in traces.metric_points("gen_ai.client.operation.duration")}
    assert durations == {"simulated", "renamed"}


async def test_retries_are_events_on_the_chat_span(traces: Traces) -> None:
    traces.enable()
    model = ak.SimulatedModel(reply="fine", failures=["500", "429"])
    result = await ak.Agent("a", model).run("hello")
    assert result.content == "fine"
    chat = traces.named("chat simulated")
    retries = [e for e in chat.events if e.name == "retry"]
    assert [(e.attributes or {})["error.type"] for e in retries] == ["ServerError", "RateLimitError"]
    assert [(e.attributes or {})["agentickit.retry.attempt"] for e in retries] == [2, 3]
    assert chat.status.status_code is StatusCode.UNSET


async def test_failed_workflow_step_sets_status(traces: Traces) -> None:
    def boom(text: str) -> str:
        raise RuntimeError("no")

    traces.enable()
    wf = ak.SequentialWorkflow("wf")
    wf.add_step(ak.Step("a", boom))
    result = await wf.run("x", raise_on_error=False)
    assert result.error is not None
    step = traces.named("step a")
    assert step.status.status_code is StatusCode.ERROR
    assert (step.attributes or {})["error.type"] == "RuntimeError"
    assert (step.attributes or {})["agentickit.workflow.step.status"] == "failed"
    root = traces.named("invoke_workflow wf")
    assert root.status.status_code is StatusCode.ERROR
    assert (root.attributes or {})["error.type"] == type(result.error).__qualname__


async def test_no_content_unless_enabled(traces: Traces, flavour: str) -> None:
    secret_words = "my private question about payroll"

    @ak.tool
    def lookup(q: str) -> str:
        """Look up.

        Args:
            q: the query.
        """
        return "classified answer"

    model = ScriptedModel([call("lookup", q="payroll"), "the final answer"])
    traces.enable(semconv=flavour)
    await ak.Agent("a", model, tools=[lookup], system_prompt="be terse").run(secret_words)
    values = " ".join(all_values(traces.spans()))
    for text in (secret_words, "classified answer", "the final answer", "be terse", "payroll"):
        assert text not in values
    names = {k for s in traces.spans() for k in (s.attributes or {})} | {
        e.name for s in traces.spans() for e in s.events
    }
    for key in (
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.call.arguments",
        "gen_ai.content.prompt",
    ):
        assert key not in names

    traces.exporter.clear()
    traces.enable(semconv=flavour, capture_content=True, max_content_length=12)
    await ak.Agent("a", model, tools=[lookup], system_prompt="be terse").run(secret_words)
    spans = traces.spans()
    tool = next(s for s in spans if s.name == "execute_tool lookup")
    assert (tool.attributes or {})["gen_ai.tool.call.result"] == "classified a...[truncated]"
    assert str((tool.attributes or {})["gen_ai.tool.call.arguments"]).startswith('{"q":"payrol')
    chat = next(s for s in spans if s.name == "chat scripted")
    if flavour == "latest":
        attrs = chat.attributes or {}
        assert "my private q...[truncated]" in str(attrs["gen_ai.input.messages"])
        assert "be terse" in str(attrs["gen_ai.system_instructions"])
        assert not chat.events
    else:
        prompt = next(e for e in chat.events if e.name == "gen_ai.content.prompt")
        assert "my private q...[truncated]" in str((prompt.attributes or {})["gen_ai.prompt"])
        assert "gen_ai.input.messages" not in (chat.attributes or {})
    agent_span = next(s for s in spans if s.name == "invoke_agent a")
    assert "the final an" in " ".join(all_values([agent_span]))
