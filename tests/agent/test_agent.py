from __future__ import annotations

import asyncio
import pickle

import pytest

import agentickit as ak
from agentickit.errors import (
    RateLimitError,
    RunTimeoutError,
    ServerError,
    UnknownProviderError,
    UsageLimitExceeded,
    UserError,
)
from agentickit.testing import FunctionModel, ScriptedModel, SimRequest, call


@ak.tool
def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city's name.
    """
    return f"sunny in {city}"


@ak.tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_run_returns_result_with_everything() -> None:
    agent = ak.Agent("a", "simulated:echo", system_prompt="be brief")
    result = await agent.run("hello world", metadata={"user": "u1"})
    assert result.content == "hello world"
    assert result.usage.input_tokens > 0 and result.usage.output_tokens == 2 and result.usage.requests == 1
    assert result.duration > 0
    assert result.tool_calls == []
    assert [m.role for m in result.messages] == ["system", "user", "assistant"]
    assert result.metadata["user"] == "u1" and result.metadata["finish_reason"] == "stop"
    assert result.run_id.startswith("run_") and result.agent_name == "a"
    assert str(result) == "hello world"


async def test_run_ids_are_unique() -> None:
    agent = ak.Agent("a", "simulated:echo")
    ids = {(await agent.run("x")).run_id for _ in range(50)}
    assert len(ids) == 50


async def test_tool_call_round_trip_through_the_model() -> None:
    agent = ak.Agent("w", "simulated", tools=[get_weather])
    result = await agent.run("What is the weather in Paris?")
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    record = result.tool_calls[0]
    assert record.args == {"city": "Paris"} and record.result == "sunny in Paris" and record.error is None
    assert record.duration >= 0
    assert "sunny in Paris" in result.content
    roles = [m.role for m in result.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert result.usage.requests == 2


async def test_several_tool_calls_in_one_turn_run_concurrently() -> None:
    both_started = asyncio.Event()
    started = 0

    async def slow(tag: str) -> str:
        nonlocal started
        started += 1
        if started == 2:
            both_started.set()
        # Each call waits for the other to have started: sequential execution would deadlock.
        async with asyncio.timeout(5):
            await both_started.wait()
        return tag

    turn = ak.providers.SimTurn(
        tool_calls=(
            ak.ToolCall("c1", "slow", '{"tag": "a"}'),
            ak.ToolCall("c2", "slow", '{"tag": "b"}'),
        )
    )
    agent = ak.Agent("p", ScriptedModel([turn, "done"]), tools=[ak.Tool(slow)])
    result = await agent.run("go")
    assert [c.result for c in result.tool_calls] == ["a", "b"]
    assert result.content == "done"


async def test_sync_tool_runs_in_a_thread_without_blocking_the_loop(loop_lag: object) -> None:
    import threading
    import time

    threads: list[str] = []

    def blocking(x: int) -> int:
        threads.append(threading.current_thread().name)
        time.sleep(0.3)
        return x

    agent = ak.Agent("s", ScriptedModel([call("blocking", x=7), "ok"]), tools=[blocking])
    result = await agent.run("go")
    assert result.tool_calls[0].result == 7
    assert threads and threads[0] != threading.main_thread().name
    assert loop_lag.max_lag < 0.2  # type: ignore[attr-defined]


async def test_tool_exception_goes_back_to_the_model_and_is_recorded() -> None:
    def broken(x: int) -> int:
        raise ValueError("disk on fire")

    seen: list[str] = []

    def model(req: SimRequest) -> str | ak.providers.SimTurn:
        if not req.tool_results:
            return call("broken", x=1)
        seen.append(req.tool_results[0].content or "")
        return "recovered"

    agent = ak.Agent("e", FunctionModel(model), tools=[broken])
    result = await agent.run("go")
    assert result.content == "recovered"
    assert result.tool_calls[0].error is not None and "disk on fire" in result.tool_calls[0].error
    assert not result.tool_calls[0].ok
    assert "ValueError: disk on fire" in seen[0]


async def test_bad_tool_arguments_are_reported_to_the_model() -> None:
    agent = ak.Agent("v", ScriptedModel([call("add", a="not a number", b=2), "fixed"]), tools=[add])
    result = await agent.run("go")
    record = result.tool_calls[0]
    assert record.error is not None
    assert "invalid arguments for tool 'add'" in record.error and "a:" in record.error
    tool_message = result.messages[-2]
    assert tool_message.role == "tool" and tool_message.content is not None
    assert tool_message.content.startswith("Error: invalid arguments")


async def test_unknown_tool_names_the_available_ones() -> None:
    agent = ak.Agent("u", ScriptedModel([call("nope", x=1), "ok"]), tools=[add])
    result = await agent.run("go")
    assert result.tool_calls[0].error == "unknown tool 'nope'; available tools: add"


async def test_max_tool_rounds_is_enforced() -> None:
    agent = ak.Agent("loop", ScriptedModel([call("add", a=1, b=1)] * 10), tools=[add])
    with pytest.raises(UsageLimitExceeded, match="max_tool_rounds=2"):
        await agent.run("go", max_tool_rounds=2)


async def test_tool_choice_reaches_the_model_and_is_released_after_first_round() -> None:
    model = ak.SimulatedModel(record=True)
    agent = ak.Agent("tc", model, tools=[add, get_weather])
    result = await agent.run("weather in Rome please", tool_choice="get_weather")
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    choices = [r.settings.tool_choice for r in model.requests]
    assert choices == ["get_weather", "auto"]


async def test_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(UnknownProviderError, match="Did you mean 'openai'"):
        ak.Agent("x", "opneai:gpt-4o")
    with pytest.raises(UnknownProviderError, match="Known providers"):
        ak.LLMConfig(provider="nonsense", model="m")


async def test_wrong_llm_type_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="llm must be"):
        ak.Agent("x", 42)  # type: ignore[arg-type]


async def test_duplicate_tool_names_are_rejected_on_first_use() -> None:
    agent = ak.Agent("d", "simulated", tools=[add, ak.Tool(add.function)])
    with pytest.raises(UserError, match="two tools named 'add'"):
        await agent.run("x")


async def test_provider_failures_are_retried_then_succeed() -> None:
    model = ak.SimulatedModel(reply="finally", failures=["429", "500"])
    result = await ak.Agent("r", model).run("x")
    assert result.content == "finally"


async def test_provider_failures_surface_typed_after_retries() -> None:
    model = ak.SimulatedModel(max_retries=1)
    with pytest.raises(RateLimitError) as info:
        await ak.Agent("r", model).run("please [[sim:429]]")
    assert info.value.status == 429
    with pytest.raises(ServerError):
        await ak.Agent("r", model).run("please [[sim:500]]")


async def test_run_timeout_raises_typed_error() -> None:
    agent = ak.Agent("slow", ak.SimulatedModel(ttft=5.0))
    with pytest.raises(RunTimeoutError, match="timeout of 0.05 s"):
        await agent.run("x", timeout=0.05)


async def test_run_sync_works_outside_a_loop_and_refuses_inside() -> None:
    agent = ak.Agent("s", "simulated:echo")
    with pytest.raises(UserError, match="running event loop"):
        agent.run_sync("x")
    result = await asyncio.to_thread(agent.run_sync, "from a thread")
    assert result.content == "from a thread"


async def test_cleanup_is_idempotent_and_agent_runs_again() -> None:
    agent = ak.Agent("c", "simulated:echo")
    async with agent:
        assert (await agent.run("one")).content == "one"
    await agent.cleanup()
    await agent.cleanup()
    assert (await agent.run("two")).content == "two"


async def test_agent_pickles_and_runs_in_the_copy() -> None:
    agent = ak.Agent(
        "p",
        ak.LLMConfig(provider="simulated", model="echo"),
        system_prompt="sys",
        tools=[get_weather, add],
        memory=ak.Memory(history_limit=4),
        tool_timeout=3.0,
        options=ak.RunOptions(max_tokens=50),
    )
    await agent.run("warm up", session_id="s")  # live state must not travel
    copy = pickle.loads(pickle.dumps(agent))
    assert copy.name == "p" and copy.system_prompt == "sys" and copy.tool_timeout == 3.0
    assert [t.name for t in copy.tools] == ["get_weather", "add"]
    assert copy.options.max_tokens == 50
    assert copy.memory is not None and copy.memory.history_limit == 4
    result = await copy.run("What is the weather in Oslo?")
    assert result.content  # echo model with tools in auto mode calls the tool first
    assert result.tool_calls[0].result == "sunny in Oslo"


def test_builder_and_presets_produce_agents() -> None:
    agent = (
        ak.Agent.builder("b")
        .with_llm("simulated", "echo", temperature=0.0)
        .with_system_prompt("sys")
        .with_tools(add)
        .with_tool_timeout(5)
        .with_memory(history_limit=3)
        .with_options(max_tokens=10)
        .with_description("desc")
        .build()
    )
    assert isinstance(agent, ak.Agent)
    assert isinstance(agent.llm, ak.LLMConfig) and agent.llm.temperature == 0.0
    assert agent.tools == (add,) and agent.tool_timeout == 5 and agent.options.max_tokens == 10
    assert agent.memory is not None and agent.memory.history_limit == 3
    chat = ak.chat_agent("c")
    assert chat.memory is not None and chat.memory.history_limit == 20 and chat.options.temperature == 0.7
    research = ak.research_agent("r", tools=[get_weather])
    assert research.options.max_tool_rounds == 8 and research.tool_timeout == 30.0
    data = ak.data_agent("d", system_prompt="custom")
    assert data.options.temperature == 0.0 and data.system_prompt == "custom"


async def test_llm_config_defaults_are_not_lost_and_invalid_tool_timeout_rejected() -> None:
    with pytest.raises(UserError, match="tool_timeout"):
        ak.Agent("x", tool_timeout=0)
