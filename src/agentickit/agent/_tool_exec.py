"""Running the tool calls of one model turn: concurrently, each bounded by its timeout.

A tool's failure never escapes as an exception: it becomes an error result the model can read and
a `ToolCallRecord` with `error` set. Only cancellation propagates.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ToolArgumentsError
from ..messages import Message, ToolCall, ToolCallRecord
from ..streaming._chunk import Chunk, ChunkType
from ..tools._tool import Tool, result_text
from ._sink import ChunkSink

__all__ = ("execute_tool_calls",)


async def _run_one(
    call: ToolCall, tools: Mapping[str, Tool], default_timeout: float | None, sink: ChunkSink | None
) -> tuple[Message, ToolCallRecord]:
    start = time.perf_counter()
    tool = tools.get(call.name)
    args: dict[str, Any] = {}
    error: str | None = None
    value: Any = None
    if tool is None:
        available = ", ".join(sorted(tools)) or "none"
        error = f"unknown tool {call.name!r}; available tools: {available}"
    else:
        try:
            args = tool.validate(call.arguments)
        except ToolArgumentsError as exc:
            error = str(exc)
    if sink is not None:
        w = sink.send(Chunk(ChunkType.TOOL_CALL, tool_name=call.name, tool_args=args, tool_call_id=call.id))
        if w is not None:
            await w
    if tool is not None and error is None:
        timeout = tool.timeout if tool.timeout is not None else default_timeout
        try:
            if timeout is None:
                value = await tool.invoke(args)
            else:
                async with asyncio.timeout(timeout):
                    value = await tool.invoke(args)
        except TimeoutError:
            error = f"tool {call.name!r} timed out after {timeout:g} s (its timeout); it was cancelled"
        except Exception as exc:
            error = f"tool {call.name!r} failed: {type(exc).__name__}: {exc}"
    duration = time.perf_counter() - start
    record = ToolCallRecord(id=call.id, name=call.name, args=args, result=value, error=error, duration=duration)
    text = f"Error: {error}" if error is not None else result_text(value)
    if sink is not None:
        w = sink.send(
            Chunk(
                ChunkType.TOOL_RESULT,
                tool_name=call.name,
                tool_call_id=call.id,
                tool_result=value if error is None else None,
                error=None,
                metadata={"duration": duration, "error": error, "attempts": 1, "cache_hit": False},
            )
        )
        if w is not None:
            await w
    return Message.tool(call.id, call.name, text), record


async def execute_tool_calls(
    calls: Sequence[ToolCall], tools: Mapping[str, Tool], default_timeout: float | None, sink: ChunkSink | None
) -> list[tuple[Message, ToolCallRecord]]:
    """Run every call of one turn concurrently; results come back in the order of `calls`."""
    if len(calls) == 1:
        return [await _run_one(calls[0], tools, default_timeout, sink)]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(_run_one(c, tools, default_timeout, sink)) for c in calls]
    return [t.result() for t in tasks]
