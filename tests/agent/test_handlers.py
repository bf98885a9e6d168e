from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import (
    RateLimitError,
    RunTimeoutError,
    ToolArgumentsError,
    ToolError,
    UserError,
)
from agentickit.messages import Message
from agentickit.providers import SimulatedModel


async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def broken(x: str) -> str:
    """Always fails."""
    raise KeyError(x)


async def slow(x: str) -> str:
    """Never finishes in time."""
    await asyncio.Event().wait()
    return x


# -- early exit and the model --------------------------------------------------------------------


async def test_handler_can_answer_without_calling_the_model() -> None:
    model = SimulatedModel(reply="from the model", record=True)

    async def handler(input: str, caps: ak.Capabilities) -> str:
        if input == "ping":
            return "pong"  # the cheap path: no model call
        return await caps.llm(None, input)

    agent = ak.Agent("h", model, handler=handler)
    early = await agent.run("ping")
    assert early.content == "pong"
    assert len(model.requests) == 0
    assert early.usage.requests == 0
    late = await agent.run("question")
    assert late.content == "from the model"
    assert len(model.requests) == 1


async def test_caps_llm_usage_is_counted_and_system_prompt_defaults_to_the_agents() -> None:
    model = SimulatedModel(reply="one two three", record=True)

    async def handler(input: str, caps: ak.Capabilities) -> str:
        a = await caps.llm(None, input)
        b = await caps.llm("You are terse.", input)
        return f"{a} | {b}"

    agent = ak.Agent("h", model, system_prompt="agent prompt", handler=handler)
    result = await agent.run("q")
    assert result.content == "one two three | one two three"
    assert result.usage.requests == 2
    assert result.usage.output_tokens == 6
    first, second = model.requests
    assert first.messages[0] == Message("system", "agent prompt")
    assert second.messages[0] == Message("system", "You are terse.")
    assert result.metadata["handler"].endswith("handler")
    assert [m.role for m in result.messages] == ["user", "assistant"]


async def test_caps_llm_options_come_from_the_run_and_can_be_overridden() -> None:
    model = SimulatedModel(reply="a b c d e f", record=True)

    async def handler(input: str, caps: ak.Capabilities) -> str:
        default = await caps.llm(None, input)
        short = await caps.llm(None, input, max_tokens=2, temperature=0.0)
        return f"{default}|{short}"

    result = await ak.Agent("h", model, handler=handler).run("q", max_tokens=4)
    assert result.content == "a b c d|a b"
    assert model.requests[0].settings.max_tokens == 4
    assert model.requests[1].settings.temperature == 0.0


async def test_caps_llm_rejects_unknown_options() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        return await caps.llm(None, input, max_token=3)  # type: ignore[call-arg]  # a typo

    with pytest.raises(UserError, match="max_token.*valid options are: max_tokens"):
        await ak.Agent("h", handler=handler).run("q")


async def test_caps_llm_retries_like_the_default_loop() -> None:
    model = SimulatedModel(reply="ok", failures=["429", "500"])

    async def handler(input: str, caps: ak.Capabilities) -> str:
        return await caps.llm(None, input)

    assert (await ak.Agent("h", model, handler=handler).run("q")).content == "ok"


async def test_caps_run_id_and_options_are_the_runs() -> None:
    seen: dict[str, Any] = {}

    async def handler(input: str, caps: ak.Capabilities) -> str:
        seen["run_id"] = caps.run_id
        seen["max_tokens"] = caps.options.max_tokens
        seen["streaming"] = caps.streaming
        await caps.emit("ignored outside a stream")
        return "done"

    result = await ak.Agent("h", handler=handler).run("q", max_tokens=7)
    assert seen == {"run_id": result.run_id, "max_tokens": 7, "streaming": False}


# -- tools ---------------------------------------------------------------------------------------


async def test_caps_tools_call_validate_and_record() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        assert caps.tools.available() == ["add", "broken"]
        assert caps.tools.is_available("add") and not caps.tools.is_available("nope")
        total = await caps.tools.call("add", a=1, b="2")  # validated and coerced like a model's call
        return str(total)

    result = await ak.Agent("h", tools=[add, broken], handler=handler).run("q")
    assert result.content == "3"
    [record] = result.tool_calls
    assert (record.name, record.args, record.result, record.error) == ("add", {"a": 1, "b": 2}, 3, None)


@pytest.mark.parametrize(
    ("name", "args", "error", "match"),
    [
        ("nope", {}, ToolError, "has no tool 'nope'; available tools: add, broken, slow"),
        ("add", {"a": "x", "b": 1}, ToolArgumentsError, "invalid arguments for tool 'add'"),
        ("broken", {"x": "k"}, ToolError, "tool 'broken' failed: KeyError"),
        ("slow", {"x": "k"}, ToolError, "timed out after 0.05 s"),
    ],
)
async def test_caps_tools_call_errors_are_typed(
    name: str, args: dict[str, Any], error: type[Exception], match: str
) -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        return await caps.tools.call(name, **args)

    agent = ak.Agent("h", tools=[add, broken, slow], tool_timeout=0.05, handler=handler)
    with pytest.raises(error, match=match) as info:
        await agent.run("q")
    assert isinstance(info.value, ToolError) and info.value.tool_name == name
    if name == "broken":
        assert isinstance(info.value.__cause__, KeyError)


async def test_caps_tools_call_goes_through_the_tools_policies() -> None:
    attempts = {"n": 0}

    @ak.tool(retries=1, retry_backoff=0.0, cache_ttl=60)
    async def flaky(key: str) -> str:
        """Fails once, then answers."""
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("first call fails")
        return f"value of {key}"

    async def handler(input: str, caps: ak.Capabilities) -> str:
        first = await caps.tools.call("flaky", key=input)  # retried once
        second = await caps.tools.call("flaky", key=input)  # served from the cache
        return f"{first}|{second}"

    agent = ak.Agent("h", tools=[flaky], handler=handler)
    result = await agent.run("k")
    assert result.content == "value of k|value of k"
    assert attempts["n"] == 2
    assert [(c.attempts, c.cache_hit) for c in result.tool_calls] == [(2, False), (1, True)]
    metrics = agent.tool_metrics()
    assert metrics.calls == 2 and metrics.retries == 1


async def test_early_exit_does_not_build_tool_schemas() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        assert caps.tools.is_available("add") and caps.tools.available() == ["add"]
        return "early"

    agent = ak.Agent("h", tools=[add], handler=handler)
    assert (await agent.run("q")).content == "early"
    assert agent._tools_state is None  # nothing was resolved or compiled


# -- memory --------------------------------------------------------------------------------------


async def test_caps_memory_history_and_query() -> None:
    seen: list[list[str | None]] = []

    async def handler(input: str, caps: ak.Capabilities) -> str:
        assert caps.memory.enabled and caps.memory.session_id == "s1"
        seen.append([m.content for m in await caps.memory.history()])
        seen.append([m.content for m in await caps.memory.query(input, k=2)])
        return f"answer to {input}"

    agent = ak.Agent("h", memory=ak.Memory(session_id="s1"), handler=handler)
    await agent.run("weather in Paris")
    await agent.run("stocks today")
    await agent.run("Paris weather tomorrow")
    history, relevant = seen[-2], seen[-1]
    assert history == [
        "weather in Paris",
        "answer to weather in Paris",
        "stocks today",
        "answer to stocks today",
    ]
    assert relevant == ["weather in Paris", "answer to weather in Paris"]


async def test_caps_memory_works_without_a_memory() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        assert not caps.memory.enabled
        assert await caps.memory.history() == [] and await caps.memory.query(input) == []
        return "ok"

    assert (await ak.Agent("h", handler=handler).run("q")).content == "ok"


async def test_caps_memory_query_without_words_returns_the_most_recent() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        if input == "?!":
            return ",".join(m.content or "" for m in await caps.memory.query(input, k=2))
        return f"ans-{input}"

    agent = ak.Agent("h", memory=ak.Memory(), handler=handler)
    await agent.run("first", session_id="x")
    await agent.run("second", session_id="x")
    assert (await agent.run("?!", session_id="x")).content == "second,ans-second"


# -- errors --------------------------------------------------------------------------------------


async def test_handler_errors_propagate_with_their_type() -> None:
    async def value_error(input: str, caps: ak.Capabilities) -> str:
        raise ValueError("bad input")

    async def provider_error(input: str, caps: ak.Capabilities) -> str:
        raise RateLimitError("slow down", status=429)

    with pytest.raises(ValueError, match="bad input"):
        await ak.Agent("h", handler=value_error).run("q")
    with pytest.raises(RateLimitError):
        await ak.Agent("h", handler=provider_error).run("q")


async def test_handler_returning_a_non_string_is_a_typed_error() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        return 42  # type: ignore[return-value]

    with pytest.raises(UserError, match="returned int; it must return a str"):
        await ak.Agent("h", handler=handler).run("q")


async def test_run_timeout_bounds_a_handler() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        await asyncio.Event().wait()
        return "never"

    with pytest.raises(RunTimeoutError):
        await ak.Agent("h", handler=handler).run("q", timeout=0.05)


# -- build-time checks ---------------------------------------------------------------------------


def sync_handler(input: str, caps: ak.Capabilities) -> str:
    return input


async def one_arg(input: str) -> str:
    return input


async def three_args(input: str, caps: ak.Capabilities, extra: int) -> str:
    return input


@pytest.mark.parametrize(
    ("handler", "match"),
    [
        (sync_handler, "must be a coroutine function"),
        (lambda input, caps: input, "must be a coroutine function"),
        (one_arg, r"has the signature one_arg\(input: 'str'\) -> 'str'"),
        (three_args, "cannot take \\(input, caps\\)"),
        ("not a function", "handler must be a function"),
    ],
)
def test_bad_handlers_are_rejected_at_build_time_with_the_expected_signature(handler: Any, match: str) -> None:
    expected = "async def handler(input: str, caps: ak.Capabilities) -> str"
    with pytest.raises(UserError, match=match) as info:
        ak.Agent("h", handler=handler)
    assert expected in str(info.value)
    with pytest.raises(UserError, match=match):
        ak.Agent.builder("h").with_handler(handler)


def test_async_callables_and_partials_are_accepted() -> None:
    class Answerer:
        async def __call__(self, input: str, caps: ak.Capabilities) -> str:
            return input

    async def with_extra(prefix: str, input: str, caps: ak.Capabilities) -> str:
        return prefix + input

    async def with_default(input: str, caps: ak.Capabilities, tone: str = "calm") -> str:
        return input

    for handler in (Answerer(), functools.partial(with_extra, "> "), with_default):
        assert ak.Agent("h", handler=handler).handler is handler


async def test_builder_with_handler_builds_the_same_agent() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        return input.upper()

    agent = ak.Agent.builder("b").with_handler(handler).build()
    assert agent.handler is handler
    assert (await agent.run("hi")).content == "HI"


# -- streaming -----------------------------------------------------------------------------------


async def test_handler_in_run_stream_forwards_llm_stream_deltas_and_tool_chunks() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        await caps.tools.call("add", a=2, b=3)
        parts = [text async for text in caps.llm_stream(None, input)]
        return "".join(parts)

    agent = ak.Agent("h", SimulatedModel(reply="alpha beta gamma"), tools=[add], handler=handler)
    stream = agent.run_stream("q")
    chunks = [c async for c in stream]
    result = await stream.wait()
    deltas = [c.delta for c in chunks if c.type is ak.ChunkType.DELTA]
    assert deltas == ["alpha", " beta", " gamma"]
    assert "".join(d or "" for d in deltas) == result.content == "alpha beta gamma"
    types = [c.type for c in chunks]
    assert types.index(ak.ChunkType.TOOL_CALL) < types.index(ak.ChunkType.TOOL_RESULT) < types.index(ak.ChunkType.DELTA)
    assert types[-1] is ak.ChunkType.DONE and types.count(ak.ChunkType.DONE) == 1
    assert result.usage.requests == 1


async def test_handler_that_streams_nothing_still_delivers_its_answer_as_a_delta() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        await caps.emit(ak.Chunk(ak.ChunkType.METADATA, metadata={"progress": 0.5}))
        return "cached answer"

    stream = ak.Agent("h", handler=handler).run_stream("q", include_metadata=True)
    chunks = [c async for c in stream]
    assert [c.delta for c in chunks if c.type is ak.ChunkType.DELTA] == ["cached answer"]
    assert any(c.type is ak.ChunkType.METADATA and c.metadata == {"progress": 0.5} for c in chunks)
    assert (await stream.wait()).content == "cached answer"


async def test_handler_emitted_text_is_not_repeated() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        await caps.emit("part one, ")
        await caps.emit("part two")
        return "part one, part two"

    stream = ak.Agent("h", handler=handler).run_stream("q")
    deltas = [c.delta async for c in stream if c.type is ak.ChunkType.DELTA]
    assert deltas == ["part one, ", "part two"]


async def test_handler_error_in_a_stream_ends_with_error_and_done() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        raise ValueError("nope")

    stream = ak.Agent("h", handler=handler).run_stream("q")
    chunks = [c async for c in stream]
    assert [c.type for c in chunks][-2:] == [ak.ChunkType.ERROR, ak.ChunkType.DONE]
    with pytest.raises(ValueError, match="nope"):
        await stream.wait()


async def test_llm_stream_left_early_is_closed_when_the_handler_returns() -> None:
    streams: list[Any] = []

    async def handler(input: str, caps: ak.Capabilities) -> str:
        s = caps.llm_stream(None, input, forward=False)
        streams.append(s)
        async for text in s:
            return text  # leaves the stream open; the run closes it
        return ""

    result = await ak.Agent("h", SimulatedModel(reply="first second third"), handler=handler).run("q")
    assert result.content == "first"
    assert streams[0].response is None and streams[0].text == "first"
    with pytest.raises(StopAsyncIteration):
        await streams[0].__aiter__().__anext__()  # closed: nothing more comes


async def test_llm_stream_as_context_manager_collects_the_response() -> None:
    async def handler(input: str, caps: ak.Capabilities) -> str:
        async with caps.llm_stream(None, input) as s:
            async for _ in s:
                pass
        assert s.response is not None
        return s.text

    result = await ak.Agent("h", SimulatedModel(reply="x y"), handler=handler).run("q")
    assert result.content == "x y" and result.usage.requests == 1


# -- workflows -----------------------------------------------------------------------------------


async def test_handler_agent_as_a_workflow_step() -> None:
    async def shout(input: str, caps: ak.Capabilities) -> str:
        return input.upper() + "!"

    wf = ak.SequentialWorkflow("wf")
    wf.add_step("shout", ak.Agent("shouter", handler=shout))
    wf.add_step("echo", ak.Agent("echo", "simulated:echo"))
    result = await wf.run("hello")
    assert result.content == "HELLO!"
    assert result.steps["shout"].output == "HELLO!"
    assert result.steps["shout"].result.metadata["handler"].endswith("shout")
