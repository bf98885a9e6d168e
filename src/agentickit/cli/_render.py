"""`agentickit run --stream`: a stream rendered live in the terminal with rich.

Imported only when `--stream` is given, so rich stays out of `agentickit --help`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from ..streaming import Chunk, ChunkType, Stream

__all__ = ("render_stream",)

_MAX_RESULT = 200
"""Characters of a tool result shown inline."""


def _short(value: Any, limit: int = _MAX_RESULT) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call_text(chunk: Chunk) -> Text:
    args = ", ".join(f"{k}={v!r}" for k, v in (chunk.tool_args or {}).items())
    return Text.assemble(("→ ", "cyan"), (f"{chunk.tool_name}({_short(args, 120)})", "bold cyan"))


def _result_text(chunk: Chunk) -> Text:
    md = chunk.metadata or {}
    took = md.get("duration")
    suffix = f"  {took * 1000:.0f} ms" if isinstance(took, int | float) else ""
    if md.get("cache_hit"):
        suffix += " (cached)"
    error = md.get("error") or (str(chunk.error) if chunk.error is not None else None)
    if error:
        return Text.assemble(("← ", "red"), (f"{chunk.tool_name}: {_short(error)}", "red"), (suffix, "dim"))
    return Text.assemble(("← ", "green"), (f"{chunk.tool_name}: ", "green"), _short(chunk.tool_result), (suffix, "dim"))


def _footer(stream: Stream[Any], result: Any) -> Text:
    md = stream.metadata
    parts: list[str] = []
    usage = getattr(result, "usage", None)
    if usage is not None:
        parts.append(f"tokens in {usage.input_tokens:,} / out {usage.output_tokens:,}")
    ttft = md.get("ttft")
    if ttft is not None:
        parts.append(f"time to first token {ttft * 1000:.0f} ms")
    duration = md.get("duration")
    if duration is not None:
        parts.append(f"total {duration:.2f} s")
    counts: dict[str, int] = md.get("chunk_counts", {})
    parts.append(f"{sum(counts.values()):,} chunks")
    return Text(" · ".join(parts), style="dim")


async def render_stream(stream: Stream[Any], console: Console) -> Any:
    """Show a stream as it arrives, then usage, time to first token and duration.

    Text is written live, reasoning dimmed, tool calls and results as they happen, workflow steps
    under a header each.

    Returns:
        The stream's result (`Result` or `WorkflowResult`).

    Raises:
        RunError: the run's error, once what came before it is on screen (the CLI prints it).

    """
    at_line_start = True
    step: str | None = None

    def newline() -> None:
        nonlocal at_line_start
        if not at_line_start:
            console.print()
            at_line_start = True

    try:
        async for chunk in stream:
            t = chunk.type
            if chunk.step_name is not None and chunk.step_name != step and t is not ChunkType.DONE:
                step = chunk.step_name
                if t is not ChunkType.AGENT_START:
                    newline()
                    console.print(Text(f"[{step}]", style="bold magenta"))
            if t is ChunkType.DELTA or t is ChunkType.THOUGHT:
                if chunk.delta:
                    style = "dim italic" if t is ChunkType.THOUGHT else ""
                    console.print(Text(chunk.delta, style=style), end="", soft_wrap=True)
                    at_line_start = chunk.delta.endswith("\n")
            elif t is ChunkType.TOOL_CALL:
                newline()
                console.print(_call_text(chunk))
            elif t is ChunkType.TOOL_RESULT:
                newline()
                console.print(_result_text(chunk))
            elif t is ChunkType.AGENT_START:
                newline()
                console.rule(Text(f"{chunk.step_name}", style="bold magenta"), align="left")
            elif t is ChunkType.ERROR and chunk.step_name is not None:
                # A step failed but the workflow goes on; the stream's own error is raised by wait().
                newline()
                console.print(Text(f"error: {_short(chunk.error)}", style="red"))
            elif t is ChunkType.AGENT_COMPLETE:
                newline()
                status = (chunk.metadata or {}).get("status")
                if status not in (None, "ok"):
                    console.print(Text(f"[{chunk.step_name}: {status}]", style="yellow"))
        newline()
        result = await stream.wait()
    finally:
        newline()
    console.print(_footer(stream, result))
    return result
