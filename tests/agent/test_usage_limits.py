"""Usage limits: per agent, per run, from the builder, in handlers, across a workflow, over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import UsageLimitExceeded, UserError, WorkflowError
from agentickit.metrics import PRICES, set_price
from agentickit.providers.simulated import call
from agentickit.simulator import SimulatorServer


def loops(n: int = 20) -> ak.SimulatedModel:
    """A model that asks for `ping` `n` times, then answers."""
    return ak.SimulatedModel(script=[*(call("ping") for _ in range(n)), "done"])


async def ping() -> str:
    return "pong"


async def test_request_limit_stops_before_the_request_that_would_break_it() -> None:
    model = loops()
    async with ak.Agent("a", llm=model, tools=[ping], usage_limits=ak.UsageLimits(request_limit=3)) as agent:
        with pytest.raises(UsageLimitExceeded, match="request_limit=3") as info:
            await agent.run("go", max_tool_rounds=50)
    exc = info.value
    assert exc.limit == "request_limit" and exc.value == 4
    partial = exc.result
    assert isinstance(partial, ak.Result)
    assert partial.usage.requests == 3 and len(partial.tool_calls) == 3
    assert partial.metadata["partial"] is True and partial.agent_name == "a"
    assert [m.role for m in partial.messages].count("assistant") == 3


async def test_a_run_option_replaces_the_agents_limits() -> None:
    async with ak.Agent("a", llm=loops(), tools=[ping], usage_limits=ak.UsageLimits(request_limit=2)) as agent:
        result = await agent.run("go", usage_limits=ak.UsageLimits(request_limit=30), max_tool_rounds=50)
        assert result.content == "done" and result.usage.requests == 21
        with pytest.raises(UsageLimitExceeded, match="request_limit=2"):
            await agent.run("go", max_tool_rounds=50)
        with pytest.raises(UsageLimitExceeded, match="request_limit=5"):
            await agent.run("go", options=ak.RunOptions(usage_limits=ak.UsageLimits(request_limit=5)))


async def test_tool_calls_limit_is_checked_when_the_model_asks() -> None:
    ran: list[int] = []

    async def count() -> str:
        ran.append(1)
        return "ok"

    model = ak.SimulatedModel(script=[call("count"), call("count"), call("count"), "done"])
    agent = ak.Agent.builder("a").with_llm(model).with_tools(count).with_usage_limits(tool_calls_limit=2).build()
    with pytest.raises(UsageLimitExceeded, match="tool_calls_limit=2") as info:
        await agent.run("go")
    assert info.value.value == 3
    assert len(ran) == 2  # the third call was refused before it ran
    assert len(info.value.result.tool_calls) == 2


@pytest.mark.parametrize(
    ("limit", "field"),
    [
        (ak.UsageLimits(input_tokens_limit=3), "input_tokens_limit"),
        (ak.UsageLimits(output_tokens_limit=2), "output_tokens_limit"),
        (ak.UsageLimits(total_tokens_limit=5), "total_tokens_limit"),
    ],
)
async def test_token_limits_are_checked_after_each_response(limit: ak.UsageLimits, field: str) -> None:
    agent = ak.Agent("a", llm="simulated:echo", usage_limits=limit)
    with pytest.raises(UsageLimitExceeded, match=field) as info:
        await agent.run("one two three four five six")
    exc = info.value
    assert exc.limit == field
    assert exc.result.content == "one two three four five six"  # the response that broke it is kept
    assert exc.result.usage.output_tokens == 6
    # Under the limit the same run succeeds.
    roomy = ak.UsageLimits(**{field: 1000})
    assert (await agent.run("one two three four five six", usage_limits=roomy)).content.startswith("one")


async def test_cost_limit_prices_the_answering_model() -> None:
    set_price("limits-test-model", input_per_mtok=1_000_000.0, output_per_mtok=1_000_000.0)  # $1 a token
    try:
        model = ak.SimulatedModel(reply="echo", model_name="limits-test-model")
        agent = ak.Agent("a", llm=model, usage_limits=ak.UsageLimits(cost_limit=5.0))
        assert (await agent.run("hi")).content == "hi"
        with pytest.raises(UsageLimitExceeded, match="cost_limit=5") as info:
            await agent.run("a b c d e f")
        assert info.value.limit == "cost_limit" and info.value.value is not None and info.value.value > 5
    finally:
        PRICES.pop("limits-test-model", None)
    unpriced = ak.Agent(
        "u", llm=ak.SimulatedModel(model_name="no-price-xyz"), usage_limits=ak.UsageLimits(cost_limit=1)
    )
    with pytest.raises(UsageLimitExceeded, match="set_price"):
        await unpriced.run("hi")


async def test_limits_apply_in_streamed_runs() -> None:
    agent = ak.Agent("a", llm=loops(), tools=[ping], usage_limits=ak.UsageLimits(request_limit=2))
    stream = agent.run_stream("go")
    async for _ in stream:
        pass
    with pytest.raises(UsageLimitExceeded, match="request_limit"):
        await stream.wait()


async def test_handlers_caps_llm_draws_on_the_budget() -> None:
    async def handler(text: str, caps: ak.Capabilities) -> str:
        out = ""
        for _ in range(5):
            out = await caps.llm(None, text)
        return out

    agent = ak.Agent("h", handler=handler, usage_limits=ak.UsageLimits(request_limit=3))
    with pytest.raises(UsageLimitExceeded, match="request_limit=3") as info:
        await agent.run("q")
    assert info.value.result.usage.requests == 3


async def test_a_workflow_spends_one_budget_across_its_steps() -> None:
    wf = ak.SequentialWorkflow("wf")
    for i in range(4):
        wf.add_step(f"s{i}", ak.Agent(f"s{i}", llm="simulated:echo"))
    done = await wf.run("x", usage_limits=ak.UsageLimits(request_limit=4))
    assert done.error is None
    with pytest.raises(WorkflowError) as info:
        await wf.run("x", usage_limits=ak.UsageLimits(request_limit=3))
    assert "UsageLimitExceeded" in str(info.value)
    steps: Any = info.value.result.steps
    assert [s.status for s in steps.values()].count(ak.StepStatus.OK) == 3
    cause = steps["s3"].error
    assert isinstance(cause, UsageLimitExceeded), cause
    assert cause.limit == "request_limit" and "workflow 'wf'" in str(cause)
    # The same limit in `options` applies to each step's run on its own: one request each is fine.
    assert (await wf.run("x", options=ak.RunOptions(usage_limits=ak.UsageLimits(request_limit=1)))).error is None


async def test_a_parallel_workflows_steps_share_the_budget() -> None:
    wf = ak.ParallelWorkflow("p")
    for i in range(3):
        wf.add_step(f"s{i}", ak.Agent(f"s{i}", llm="simulated:echo"))
    with pytest.raises(WorkflowError) as info:
        await wf.run("one two", usage_limits=ak.UsageLimits(output_tokens_limit=5))
    errors = [s.error for s in info.value.result.steps.values() if s.error is not None]
    assert errors and all(isinstance(e, UsageLimitExceeded) for e in errors)
    assert {e.limit for e in errors} == {"output_tokens_limit"}
    stream = wf.run_stream("one two", usage_limits=ak.UsageLimits(output_tokens_limit=5))
    async for _ in stream:
        pass
    with pytest.raises(WorkflowError):
        await stream.wait()


def test_wrong_values_are_rejected() -> None:
    with pytest.raises(UserError, match="usage_limits"):
        ak.Agent("a", usage_limits={"request_limit": 1})  # type: ignore[arg-type]
    with pytest.raises(UserError, match="usage_limits must be an ak.UsageLimits"):
        ak.RunOptions(usage_limits=3)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="not both"):
        ak.Agent.builder("a").with_usage_limits(ak.UsageLimits(), request_limit=1)
    with pytest.raises(UserError, match="request_limit"):
        ak.UsageLimits(request_limit=-1)


async def test_request_limit_over_http() -> None:
    script = [*(call("ping") for _ in range(5)), "done"]
    async with SimulatorServer(script=script) as srv:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="k")
        async with ak.Agent("a", llm=llm, tools=[ping], usage_limits=ak.UsageLimits(request_limit=2)) as agent:
            with pytest.raises(UsageLimitExceeded, match="request_limit=2") as info:
                await agent.run("go")
        assert len(srv.requests) == 2  # the third request never left the process
        assert info.value.result.usage.requests == 2
        async with ak.Agent("b", llm=llm, usage_limits=ak.UsageLimits(total_tokens_limit=3)) as agent:
            with pytest.raises(UsageLimitExceeded, match="total_tokens_limit") as info:
                await agent.run("several words in this prompt")
        assert info.value.result.usage.input_tokens > 0
