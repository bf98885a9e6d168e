from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import ToolArgumentsError, UserError
from agentickit.providers.simulated import call
from agentickit.streaming import ChunkType
from agentickit.tools import ToolOutput
from tests.tools._tool_helpers import calls, run_with_sink


async def test_every_call_is_a_record_and_a_tool_call_and_tool_result_chunk() -> None:
    @ak.tool(cache_ttl=60)
    async def add(a: int, b: int) -> int:
        return a + b

    @ak.tool(timeout=0.02)
    async def hang() -> None:
        await asyncio.Event().wait()

    script = [
        calls(("add", {"a": 1, "b": 2}), ("hang", {}), ("nope", {}), ("add", {"a": "x", "b": 1})),
        call("add", a=1, b=2),
        "ok",
    ]
    model = ak.SimulatedModel(script=script)
    async with ak.Agent("a", llm=model, tools=[add, hang]) as agent:
        async with asyncio.timeout(5):
            result, chunks = await run_with_sink(agent, "go")
    assert [r.name for r in result.tool_calls] == ["add", "hang", "nope", "add", "add"]
    ok, hung, unknown, invalid, cached = result.tool_calls
    assert ok.ok and ok.result == 3 and ok.attempts == 1 and not ok.cache_hit and ok.duration > 0
    assert hung.error is not None and "timed out" in hung.error
    assert unknown.error == "unknown tool 'nope'; available tools: add, hang"
    assert invalid.error is not None and "invalid arguments for tool 'add'" in invalid.error
    assert cached.cache_hit and cached.result == 3

    started = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    finished = [c for c in chunks if c.type is ChunkType.TOOL_RESULT]
    assert len(started) == len(finished) == 5
    assert {c.tool_call_id for c in started} == {c.tool_call_id for c in finished}
    by_id = {c.tool_call_id: c for c in finished}
    for record in result.tool_calls:
        meta = by_id[record.id].metadata
        assert meta is not None
        assert meta["duration"] == record.duration
        assert meta["error"] == record.error
        assert meta["attempts"] == record.attempts
        assert meta["cache_hit"] == record.cache_hit
    assert by_id[hung.id].metadata["timed_out"] is True  # type: ignore[index]
    assert by_id[ok.id].tool_result == 3


async def test_tool_metrics_count_calls_errors_timeouts_cache_and_percentiles() -> None:
    @ak.tool(cache_ttl=60)
    async def fast(x: int) -> int:
        return x

    @ak.tool(timeout=0.01)
    async def slow() -> None:
        await asyncio.Event().wait()

    script = [calls(("fast", {"x": 1}), ("fast", {"x": 2}), ("slow", {})), call("fast", x=1), "ok"]
    async with ak.Agent("a", llm=ak.SimulatedModel(script=script), tools=[fast, slow]) as agent:
        assert agent.tool_metrics().calls == 0
        async with asyncio.timeout(5):
            await agent.run("go")
    m = agent.tool_metrics()
    assert (m.calls, m.errors, m.timeouts) == (4, 1, 1)
    assert (m.cache_hits, m.cache_misses) == (1, 2)
    assert m.error_rate == pytest.approx(0.25)
    assert 0 < m.p50 <= m.p95
    assert m.p95 >= 0.01  # the slow call is in the tail
    assert m.by_tool["fast"].calls == 3 and m.by_tool["slow"].timeouts == 1


async def test_tool_output_text_is_what_the_model_reads() -> None:
    @ak.tool
    async def chart() -> ToolOutput:
        return ToolOutput(
            text="a chart of sales", attachments=[{"type": "image", "mime_type": "image/png", "data": "AA=="}]
        )

    model = ak.SimulatedModel(script=[call("chart"), "ok"], record=True)
    async with ak.Agent("a", llm=model, tools=[chart]) as agent:
        result = await agent.run("go")
    sent = [m.content for m in model.requests[-1].messages if m.role == "tool"]
    assert sent == ["a chart of sales"]
    assert isinstance(result.tool_calls[0].result, ToolOutput)


async def test_hand_written_schema_is_checked_for_shape_and_required_keys() -> None:
    async def anything(**kwargs: object) -> str:
        return ",".join(sorted(kwargs))

    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    t = ak.Tool(anything, name="raw", parameters=schema)
    assert t.definition.parameters == schema
    assert await t.call('{"q": "x", "extra": 1}') == "extra,q"
    with pytest.raises(ToolArgumentsError, match="missing required 'q'"):
        t.validate("{}")
    with pytest.raises(ToolArgumentsError, match="expected a JSON object"):
        t.validate("[1]")
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        t.validate("{nope")


def test_bad_policy_values_are_rejected_when_the_tool_is_defined() -> None:
    with pytest.raises(UserError, match="retry_backoff"):
        ak.Tool(lambda: 1, retry_backoff=-1)
    with pytest.raises(UserError, match="timeout"):
        ak.Tool(lambda: 1, timeout=0)


async def test_duplicate_names_across_sources_are_rejected_with_the_name() -> None:
    @ak.tool
    def search(q: str) -> str:
        return q

    registry = ak.ToolRegistry()
    registry.register(ak.Tool(lambda q: q, name="search"))
    async with ak.Agent("a", tools=[search, registry]) as agent:
        with pytest.raises(UserError, match="agent 'a' has two tools named 'search'"):
            await agent.resolve_tools()


async def test_agent_construction_does_no_tool_work() -> None:
    runs = 0

    def factory() -> ak.Tool:
        nonlocal runs
        runs += 1
        return ak.Tool(lambda: 1, name="lazy")

    registry = ak.ToolRegistry()
    registry.register_lazy("lazy", factory)
    agent = ak.Agent("a", tools=[registry], max_concurrent_tools=2, tool_cache=ak.ToolCache.memory())
    assert runs == 0 and agent.tool_metrics().calls == 0
    toolset = await agent.resolve_tools()
    assert runs == 1 and list(toolset) == ["lazy"]
    assert await agent.resolve_tools() is toolset  # cached after the first time
    await agent.cleanup()
