"""Streaming a structured answer: DELTAs as today, OUTPUT chunks with partial objects, one DONE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import OutputValidationError
from agentickit.testing import FunctionModel, SimRequest, ToolCallDelta

from .models import Invoice, Line, Movie

INVOICE = (
    '{"number": "INV-7", "customer": "ACME", "total": 42.5, '
    '"lines": [{"sku": "A", "quantity": 2, "unit_price": 1.25}, {"sku": "B", "quantity": 1, "unit_price": 40}]}'
)


def pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


async def as_text(req: SimRequest) -> AsyncIterator[str]:
    for p in pieces(INVOICE):
        yield p


async def as_tool(req: SimRequest) -> AsyncIterator[Any]:
    yield ToolCallDelta(0, "c1", "final_result")
    for p in pieces(INVOICE):
        yield ToolCallDelta(0, arguments=p)


async def collect(stream: Any) -> list[ak.Chunk]:
    return [c async for c in stream]


@pytest.mark.parametrize(("fn", "mode"), [(as_text, ak.NativeOutput), (as_tool, ak.ToolCallOutput)])
async def test_partial_objects_grow_as_the_json_streams(fn: Any, mode: Any) -> None:
    agent = ak.Agent("x", FunctionModel(stream_function=fn), output_type=mode(Invoice))
    stream = agent.run_stream("q")
    chunks = await collect(stream)
    result = await stream.wait()
    outputs = [c for c in chunks if c.type is ak.ChunkType.OUTPUT]
    partials = [c.output for c in outputs if c.metadata == {"partial": True}]
    assert len(partials) >= 5
    assert all(isinstance(p, Invoice) for p in partials)  # a partial is an Invoice whose fields may be None
    assert partials[0].total is None and partials[-1].total == 42.5
    assert [len(p.lines or []) for p in partials] == sorted(len(p.lines or []) for p in partials)
    final = outputs[-1]
    assert final.metadata == {"partial": False} and type(final.output) is Invoice
    assert result.output == final.output and result.output.lines[1].sku == "B"
    assert [c.type for c in chunks].count(ak.ChunkType.DONE) == 1 and chunks[-1].type is ak.ChunkType.DONE
    if mode is ak.NativeOutput:
        assert "".join(c.delta or "" for c in chunks if c.type is ak.ChunkType.DELTA) == result.content == INVOICE


async def test_partial_typed_dicts_and_lists() -> None:
    async def movie(req: SimRequest) -> AsyncIterator[str]:
        for p in pieces('{"title": "Heat", "year": 1995}', 3):
            yield p

    stream = ak.Agent("x", FunctionModel(stream_function=movie), output_type=ak.NativeOutput(Movie)).run_stream("q")
    outputs = [c.output for c in await collect(stream) if c.type is ak.ChunkType.OUTPUT]
    assert outputs[0] == {} or "title" in outputs[0]
    assert outputs[-1] == {"title": "Heat", "year": 1995}
    assert (await stream.wait()).output == {"title": "Heat", "year": 1995}


async def test_text_only_keeps_delta_error_done() -> None:
    agent = ak.Agent("x", FunctionModel(stream_function=as_text), output_type=ak.NativeOutput(Invoice))
    stream = agent.run_stream("q", text_only=True)
    kinds = {c.type for c in await collect(stream)}
    assert kinds == {ak.ChunkType.DELTA, ak.ChunkType.DONE}
    assert isinstance((await stream.wait()).output, Invoice)


async def test_a_failed_structured_stream_ends_with_error_then_done() -> None:
    async def bad(req: SimRequest) -> AsyncIterator[str]:
        yield '{"sku": '
        yield "oops"

    stream = ak.Agent("x", FunctionModel(stream_function=bad), output_type=ak.NativeOutput(Line)).run_stream("q")
    chunks = await collect(stream)
    assert [c.type for c in chunks[-2:]] == [ak.ChunkType.ERROR, ak.ChunkType.DONE]
    assert isinstance(chunks[-2].error, OutputValidationError)
    assert not [c for c in chunks if c.type is ak.ChunkType.OUTPUT and c.metadata == {"partial": False}]
    with pytest.raises(OutputValidationError):
        await stream.wait()


async def test_plain_streams_have_no_output_chunks() -> None:
    stream = ak.Agent("x").run_stream("q")
    assert ak.ChunkType.OUTPUT not in {c.type for c in await collect(stream)}
    assert (await stream.wait()).output == (await ak.Agent("x").run("q")).content


async def test_run_stream_takes_the_output_type_per_run_and_the_default_mode() -> None:
    stream = ak.Agent("x").run_stream("q", output_type=Line, buffer_size=4, flush_interval=0.01)
    chunks = await collect(stream)
    result = await stream.wait()
    assert isinstance(result.output, Line) and result.metadata["output_mode"] == "tool"
    assert chunks[-2].type is ak.ChunkType.OUTPUT and chunks[-2].output == result.output
