"""The Stream contract: chunk order, exactly one DONE, wait(), errors, producers with step names."""

from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import RateLimitError, RunCancelledError, UserError
from agentickit.streaming import Chunk, ChunkType, Stream, StreamOptions
from agentickit.streaming._sink import ChunkSink


async def collect(stream: Stream[ak.Result]) -> list[Chunk]:
    async with asyncio.timeout(5):
        return [c async for c in stream]


async def test_deltas_text_done_and_wait_returns_joined_text() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="the quick brown fox"))
    stream = agent.run_stream("hi")
    chunks = await collect(stream)
    types = [c.type for c in chunks]
    assert types == [ChunkType.DELTA] * 4 + [ChunkType.TEXT, ChunkType.DONE]
    result = await stream.wait()
    assert result.content == "".join(c.delta or "" for c in chunks if c.type is ChunkType.DELTA)
    assert result.content == "the quick brown fox"
    assert chunks[-2].content == "the quick brown fox"


async def test_failure_ends_with_error_then_done_and_wait_raises_typed_error() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="x", failures=("429",), max_retries=0))
    stream = agent.run_stream("hi")
    chunks = await collect(stream)
    assert [c.type for c in chunks] == [ChunkType.ERROR, ChunkType.DONE]
    assert isinstance(chunks[0].error, RateLimitError)
    with pytest.raises(RateLimitError):
        await stream.wait()


async def test_custom_producer_keeps_step_names_and_returns_its_result() -> None:
    async def producer(sink: ChunkSink) -> str:
        for name in ("a", "b"):
            for piece in ("x", "y"):
                w = sink.send(Chunk(ChunkType.DELTA, piece, step_name=name))
                if w is not None:
                    await w
        return "done"

    stream = Stream(producer, StreamOptions(buffer_size=1), {"workflow_name": "wf"})
    async with asyncio.timeout(5):
        chunks = [c async for c in stream]
    assert [(c.step_name, c.delta) for c in chunks[:-1]] == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")]
    assert chunks[-1].type is ChunkType.DONE and chunks[-1].step_name is None
    assert await stream.wait() == "done"
    assert stream.metadata["workflow_name"] == "wf"


async def test_cancel_before_start_gives_error_and_done() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="hello"))
    stream = agent.run_stream("hi")
    stream.cancel()
    chunks = await collect(stream)
    assert [c.type for c in chunks] == [ChunkType.ERROR, ChunkType.DONE]
    with pytest.raises(RunCancelledError):
        await stream.wait()


async def test_a_stream_is_iterated_once() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="hello"))
    stream = agent.run_stream("hi")
    await collect(stream)
    with pytest.raises(UserError, match="only once"):
        aiter(stream)


def test_stream_run_options_dict_is_run_options_without_timeout() -> None:
    from dataclasses import fields

    from agentickit.options import StreamRunOptionsDict

    # `output_type` is an explicit keyword of run()/run_stream() (its overloads type `Result.output`).
    expected = {f.name for f in fields(ak.RunOptions)} - {"timeout", "output_type"}
    assert set(StreamRunOptionsDict.__annotations__) == expected


def test_stream_keywords_are_the_stream_options_for_agents_and_workflows() -> None:
    from dataclasses import fields

    from agentickit.streaming._options import StreamOptionsDict

    assert set(StreamOptionsDict.__annotations__) == {f.name for f in fields(StreamOptions)}
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="x y"))
    wf = ak.SequentialWorkflow("w").add_step("a", agent)
    # The same keywords reach the same StreamOptions through both, next to run options for the agent.
    a = agent.run_stream("q", buffer_size=7, text_only=True, timeout=3.0, max_tokens=5)
    w = wf.run_stream("q", buffer_size=7, text_only=True, timeout=3.0)
    assert a.options == w.options == StreamOptions(buffer_size=7, text_only=True, timeout=3.0)
    with pytest.raises(UserError, match="buffer_size"):
        wf.run_stream("q", buffer_size=0)
    with pytest.raises(UserError, match="unknown"):
        agent.run_stream("q", bufer_size=3)  # type: ignore[call-arg]


def test_stream_options_reject_bad_values() -> None:
    with pytest.raises(UserError, match="buffer_size"):
        StreamOptions(buffer_size=0)
    with pytest.raises(UserError, match="flush_interval"):
        StreamOptions(flush_interval=-1)
    with pytest.raises(UserError, match="timeout"):
        StreamOptions(timeout=0)
    with pytest.raises(UserError, match="on_chunk"):
        StreamOptions(on_chunk="print")  # type: ignore[arg-type]
    agent = ak.Agent("a")
    with pytest.raises(UserError, match="buffer_size"):
        agent.run_stream("hi", buffer_size=-5)
    with pytest.raises(UserError, match="unknown run option"):
        agent.run_stream("hi", max_tokenz=5)  # type: ignore[call-arg]
