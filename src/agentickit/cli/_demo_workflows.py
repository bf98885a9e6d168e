"""The workflow part of `agentickit demo`: the guide's "parallel is 3x faster", measured and drawn."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    import agentickit as ak

__all__ = ("demo_workflows",)

_BAR = 36  # characters for the longest run in the timeline, on a wide enough console


async def demo_workflows(console: Console, *, latency: float = 0.3) -> dict[str, float]:
    """Run three simulated agents (each `latency` seconds) as a sequential, a parallel and a DAG workflow.

    Prints each run's wall time, its speed-up over sequential, and a timeline of when each step ran
    (from the workflow's own AGENT_START / AGENT_COMPLETE chunks). Returns the wall seconds by name.
    """
    from rich.table import Table

    import agentickit as ak

    def agent(name: str) -> ak.Agent:
        return ak.Agent(name, llm=ak.SimulatedModel(reply=f"{name} done", ttft=latency, tools_mode="never"))

    research, facts, style = agent("research"), agent("facts"), agent("style")
    workflows: list[tuple[str, str, ak.SequentialWorkflow | ak.ParallelWorkflow | ak.DAGWorkflow]] = [
        (
            "sequential",
            "3 x step",
            ak.SequentialWorkflow("sequential")
            .add_step("research", research)
            .add_step("facts", facts)
            .add_step("style", style),
        ),
        (
            "parallel",
            "slowest step",
            ak.ParallelWorkflow("parallel")
            .add_step("research", research)
            .add_step("facts", facts)
            .add_step("style", style),
        ),
        (
            "dag",
            "critical path (2)",
            ak.DAGWorkflow("dag")
            .add_step("research", research)
            .add_step("facts", facts, depends_on=["research"])
            .add_step("style", style, depends_on=["research"]),
        ),
    ]

    walls: dict[str, float] = {}
    spans: dict[str, dict[str, tuple[float, float]]] = {}
    for name, _, wf in workflows:
        walls[name], spans[name] = await _timed(wf)

    table = Table(title=f"three simulated agents, {latency * 1000:.0f} ms each", title_justify="left")
    table.add_column("workflow")
    table.add_column("wall", justify="right")
    table.add_column("expected")
    table.add_column("speed-up", justify="right")
    table.add_column("timeline", no_wrap=True)
    # What is left of the console after the other columns (~60 characters) draws the timeline.
    scale = max(8, min(_BAR, console.width - 62)) / max(walls.values())
    for name, expected, _ in workflows:
        wall = walls[name]
        lines = [_bar(spans[name].get(step), scale) for step in ("research", "facts", "style")]
        table.add_row(
            f"[bold]{name}[/]",
            f"{wall * 1000:.0f} ms",
            expected,
            f"[green]{walls['sequential'] / wall:.1f}x[/]" if name != "sequential" else "1.0x",
            "\n".join(lines),
        )
    console.print(table)
    console.print("   timeline rows: research, facts, style (from the workflow's AGENT_START / AGENT_COMPLETE chunks)")
    console.print(
        f"   parallel runs all three at once: {walls['sequential'] / walls['parallel']:.1f}x faster than sequential "
        f"(the guide's 3x); the DAG runs facts and style together once research is done."
    )
    return walls


async def _timed(
    wf: ak.SequentialWorkflow | ak.ParallelWorkflow | ak.DAGWorkflow,
) -> tuple[float, dict[str, tuple[float, float]]]:
    import agentickit as ak

    starts: dict[str, float] = {}
    spans: dict[str, tuple[float, float]] = {}
    t0 = time.perf_counter()
    stream = wf.run_stream("write a short report")
    async for chunk in stream:
        now = time.perf_counter() - t0
        if chunk.type is ak.ChunkType.AGENT_START and chunk.step_name:
            starts[chunk.step_name] = now
        elif chunk.type is ak.ChunkType.AGENT_COMPLETE and chunk.step_name:
            spans[chunk.step_name] = (starts.get(chunk.step_name, 0.0), now)
    await stream.wait()
    return time.perf_counter() - t0, spans


def _bar(span: tuple[float, float] | None, scale: float) -> str:
    if span is None:
        return ""
    start, end = span
    lead = round(start * scale)
    width = max(1, round(end * scale) - lead)
    return " " * lead + "[cyan]" + "█" * width + "[/]"
