"""Helpers for the tool tests: scripted turns with several calls, and a sink that keeps chunks."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson

import agentickit as ak
from agentickit.agent._run import run_agent
from agentickit.messages import ToolCall
from agentickit.options import RunOptions
from agentickit.providers.simulated import SimTurn
from agentickit.streaming import Chunk


def calls(*specs: tuple[str, dict[str, Any]]) -> SimTurn:
    """One model turn asking for several tool calls at once (they run concurrently)."""
    return SimTurn(
        tool_calls=tuple(
            ToolCall(f"call_{i}", name, orjson.dumps(args).decode()) for i, (name, args) in enumerate(specs)
        )
    )


class Collect:
    """A ChunkSink that keeps every chunk."""

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []

    def send(self, chunk: Chunk) -> Awaitable[None] | None:
        self.chunks.append(chunk)
        return None


async def run_with_sink(agent: ak.Agent, query: str) -> tuple[ak.Result, list[Chunk]]:
    sink = Collect()
    result = await run_agent(agent, query, RunOptions(), sink)
    return result, sink.chunks


def tool_messages(model: ak.SimulatedModel) -> list[str]:
    """The tool results the model received (needs `record=True`)."""
    seen: list[str] = []
    for request in model.requests:
        for m in request.messages:
            if m.role == "tool" and m.content not in seen:
                seen.append(m.content or "")
    return seen
