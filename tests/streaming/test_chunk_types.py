"""Every chunk type where it belongs, and the filters that drop them."""

from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import ServerError
from agentickit.providers.simulated import SimTurn, call
from agentickit.streaming import Chunk, ChunkType

D, T, TH, TC, TR, M, E, DONE = (
    ChunkType.DELTA,
    ChunkType.TEXT,
    ChunkType.THOUGHT,
    ChunkType.TOOL_CALL,
    ChunkType.TOOL_RESULT,
    ChunkType.METADATA,
    ChunkType.ERROR,
    ChunkType.DONE,
)


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def squeeze(types: list[ChunkType]) -> list[ChunkType]:
    """Runs of the same type collapsed to one, so token counts do not matter."""
    out: list[ChunkType] = []
    for t in types:
        if not out or out[-1] is not t:
            out.append(t)
    return out


async def collect(stream: ak.Stream[ak.Result]) -> list[Chunk]:
    async with asyncio.timeout(5):
        return [c async for c in stream]


async def test_one_delta_per_token_then_text_then_done() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="one two three four five"))
    chunks = await collect(agent.run_stream("hi"))
    assert [c.delta for c in chunks if c.type is D] == ["one", " two", " three", " four", " five"]
    assert [c.type for c in chunks[-2:]] == [T, DONE]
    assert chunks[-2].content == "one two three four five"


async def test_thoughts_stream_before_the_answer() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="answer is 4", thoughts="two plus two"))
    stream = agent.run_stream("2+2?")
    chunks = await collect(stream)
    assert squeeze([c.type for c in chunks]) == [TH, D, T, DONE]
    assert "".join(c.delta or "" for c in chunks if c.type is TH) == "two plus two"
    result = await stream.wait()
    assert result.thoughts == "two plus two" and result.content == "answer is 4"


async def test_tool_call_and_result_around_every_call_and_streaming_goes_on_after() -> None:
    model = ak.SimulatedModel(
        script=[
            SimTurn(text="Let me check.", tool_calls=call("weather", city="Paris").tool_calls),
            SimTurn(tool_calls=(*call("weather", city="Oslo").tool_calls, *call("weather", city="Rome").tool_calls)),
            "Paris, Oslo and Rome are sunny.",
        ]
    )
    agent = ak.Agent("a", llm=model, tools=[weather])
    stream = agent.run_stream("weather?")
    chunks = await collect(stream)
    types = squeeze([c.type for c in chunks])
    assert types[:4] == [D, T, TC, TR]
    assert types[-3:] == [D, T, DONE]
    calls = [c for c in chunks if c.type is TC]
    results = [c for c in chunks if c.type is TR]
    assert [c.tool_args for c in calls] == [{"city": "Paris"}, {"city": "Oslo"}, {"city": "Rome"}]
    assert sorted(str(c.tool_result) for c in results) == ["sunny in Oslo", "sunny in Paris", "sunny in Rome"]
    for c in results:
        # each result follows its own call
        call_index = next(i for i, x in enumerate(chunks) if x.type is TC and x.tool_call_id == c.tool_call_id)
        assert call_index < chunks.index(c)
    result = await stream.wait()
    assert result.content == "Paris, Oslo and Rome are sunny."
    assert len(result.tool_calls) == 3
    # the deltas of the last turn are the answer
    last_result = max(i for i, c in enumerate(chunks) if c.type is TR)
    assert "".join(c.delta or "" for c in chunks[last_result:] if c.type is D) == result.content


async def test_metadata_when_asked_with_usage_and_ttft() -> None:
    agent = ak.Agent("meta", llm=ak.SimulatedModel(reply="a b c", ttft=0.02))
    stream = agent.run_stream("hi", include_metadata=True)
    chunks = await collect(stream)
    assert [c.type for c in chunks[-2:]] == [M, DONE]
    md = chunks[-2].metadata
    assert md is not None
    assert md["usage"].output_tokens == 3
    assert md["ttft"] >= 0.02
    assert md["agent_name"] == "meta" and md["status"] == "ok"
    assert md["chunk_counts"]["delta"] == 3
    assert md["run_id"] == (await stream.wait()).run_id
    # not asked: none
    plain = await collect(agent.run_stream("hi"))
    assert M not in [c.type for c in plain]


async def test_error_then_done_on_provider_failure_with_the_typed_error() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(max_retries=0))
    stream = agent.run_stream("[[sim:500]] please", include_metadata=True)
    chunks = await collect(stream)
    assert [c.type for c in chunks] == [M, E, DONE]
    assert isinstance(chunks[1].error, ServerError)
    assert chunks[0].metadata is not None and chunks[0].metadata["status"] == "error"


@pytest.mark.parametrize("fail", [False, True])
async def test_text_only_keeps_deltas_errors_and_done(fail: bool) -> None:
    model = ak.SimulatedModel(script=[call("weather", city="Paris"), "It is sunny."], thoughts="hmm", max_retries=0)
    agent = ak.Agent("a", llm=model, tools=[weather])
    query = "[[sim:500]]" if fail else "weather?"
    chunks = await collect(agent.run_stream(query, text_only=True, include_metadata=True))
    kinds = {c.type for c in chunks}
    if fail:
        assert [c.type for c in chunks] == [E, DONE]
    else:
        assert kinds == {D, DONE}
        assert "".join(c.delta or "" for c in chunks) == "It is sunny."


async def test_include_flags_drop_thoughts_and_tool_chunks() -> None:
    model = ak.SimulatedModel(script=[call("weather", city="Paris"), "Sunny."], thoughts="hmm")
    agent = ak.Agent("a", llm=model, tools=[weather])
    no_thoughts = {c.type for c in await collect(agent.run_stream("w", include_thoughts=False))}
    assert TH not in no_thoughts and TC in no_thoughts and TR in no_thoughts
    no_tools = {c.type for c in await collect(agent.run_stream("w", include_tool_calls=False))}
    assert TC not in no_tools and TR not in no_tools and TH in no_tools
    everything = {c.type for c in await collect(agent.run_stream("w"))}
    assert {TH, TC, TR, D, T, DONE} <= everything


async def test_exactly_one_done_and_it_is_last() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="x y z"))
    for kwargs in ({}, {"text_only": True}, {"flush_interval": 0.01}, {"include_metadata": True}):
        chunks = await collect(agent.run_stream("hi", **kwargs))  # type: ignore[arg-type]
        assert [c.type for c in chunks].count(DONE) == 1 and chunks[-1].type is DONE
