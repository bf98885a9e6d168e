"""`render_stream`: what `agentickit run --stream` shows."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console

import agentickit as ak
from agentickit.cli._render import render_stream
from agentickit.errors import ServerError
from agentickit.providers.simulated import call
from agentickit.streaming import Chunk, ChunkType, Stream
from agentickit.streaming._sink import ChunkSink


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=100, color_system=None, force_terminal=False), out


async def test_renders_text_tool_calls_and_a_footer() -> None:
    model = ak.SimulatedModel(
        script=[call("weather", city="Paris"), "It is sunny in Paris."], thoughts="hmm", ttft=0.01
    )
    agent = ak.Agent("a", llm=model, tools=[weather])
    con, out = console()
    async with asyncio.timeout(5):
        result = await render_stream(agent.run_stream("weather in Paris?"), con)
    text = out.getvalue()
    assert result.content == "It is sunny in Paris."
    assert "→ weather(city='Paris')" in text
    assert "← weather: sunny in Paris" in text
    assert "It is sunny in Paris." in text
    assert "hmm" in text
    assert text.index("→ weather") < text.index("← weather") < text.index("It is sunny")
    footer = text.strip().splitlines()[-1]
    assert "tokens in" in footer and "time to first token" in footer and "chunks" in footer


async def test_raises_the_run_error_after_showing_the_text() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(max_retries=0))
    con, out = console()
    with pytest.raises(ServerError):
        await render_stream(agent.run_stream("[[sim:500]]"), con)
    assert "tokens in" not in out.getvalue()


async def test_workflow_steps_are_headed_and_failed_steps_shown() -> None:
    async def producer(sink: ChunkSink) -> str:
        for chunk in (
            Chunk(ChunkType.AGENT_START, step_name="research"),
            Chunk(ChunkType.DELTA, "facts", step_name="research"),
            Chunk(ChunkType.AGENT_COMPLETE, step_name="research", metadata={"status": "ok"}),
            Chunk(ChunkType.AGENT_START, step_name="check"),
            Chunk(ChunkType.ERROR, step_name="check", error=RuntimeError("no network")),
            Chunk(ChunkType.AGENT_COMPLETE, step_name="check", metadata={"status": "failed"}),
        ):
            w = sink.send(chunk)
            if w is not None:
                await w
        return "facts"

    con, out = console()
    assert await render_stream(Stream(producer), con) == "facts"
    text = out.getvalue()
    assert "research" in text and "facts" in text
    assert "error: RuntimeError('no network')" in text and "[check: failed]" in text
