"""`agentickit demo`: an end-to-end tour on the embedded simulated model, no API key needed."""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from ._common import run_async

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ("register", "run_demo")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `demo` subcommand."""
    p = sub.add_parser("demo", help="run the end-to-end demo on the offline simulated model")
    p.add_argument("--batch", type=int, default=50, help="queries in the batch part (default 50)")
    p.add_argument("--concurrency", type=int, default=10, help="batch concurrency (default 10)")
    p.add_argument("--latency-ms", type=float, default=100.0, help="simulated time to first token (default 100)")
    p.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    from rich.console import Console

    run_async(run_demo(Console(), batch=args.batch, concurrency=args.concurrency, latency=args.latency_ms / 1000))
    return 0


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city's name, e.g. "Paris".
    """
    # A sync tool on purpose: agentickit runs it in a worker thread, so it never blocks the loop.
    time.sleep(0.02)
    forecasts = {"paris": "18°C, light rain", "tokyo": "24°C, clear", "lima": "16°C, overcast"}
    return forecasts.get(city.lower(), "21°C, sunny")


async def run_demo(console: Console, *, batch: int = 50, concurrency: int = 10, latency: float = 0.1) -> dict[str, Any]:
    """Run every part of the demo and return the timings it printed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    import agentickit as ak

    timings: dict[str, Any] = {}
    model = ak.SimulatedModel(ttft=latency, tokens_per_s=400.0)
    console.rule("[bold]agentickit demo[/] · simulated model, no API key")

    # 1. An agent that calls a Python tool and answers.
    async with ak.Agent(
        "weather-bot",
        model,
        system_prompt="You answer questions about the weather using the get_weather tool.",
        tools=[ak.tool(get_weather)],
        tool_timeout=5.0,
    ) as agent:
        console.print("\n[bold cyan]1. Tool calling[/]  agent.run('What is the weather in Paris?')")
        result = await agent.run("What is the weather in Paris?")
        for call in result.tool_calls:
            console.print(
                f"   tool [green]{call.name}[/]({call.args}) -> {call.result!r} in {call.duration * 1000:.1f} ms"
            )
        console.print(f"   answer: [bold]{result.content}[/]")
        console.print(
            f"   {result.usage.requests} model requests, {result.usage.total_tokens} tokens, {result.duration * 1000:.0f} ms"
        )
        timings["tool_run_s"] = result.duration

        # 2. A batch of queries through the local worker pool, with a progress bar.
        cities = ["Paris", "Tokyo", "Lima", "Oslo", "Cairo"]
        queries = [f"What is the weather in {cities[i % len(cities)]}? (#{i})" for i in range(batch)]
        console.print(f"\n[bold cyan]2. Batch[/]  agent.run_batch({batch} queries, concurrency={concurrency})")
        with Progress(
            TextColumn("   "), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            task = progress.add_task("batch", total=batch)
            results = await agent.run_batch(
                queries,
                concurrency=concurrency,
                on_progress=lambda done, total, item: progress.update(task, completed=done),
            )
        summary = results.summary()
        timings["batch"] = summary
        sequential = sum(i.duration for i in results)
        console.print(
            f"   {summary['items']} answers, {summary['failed']} failed, {summary['duration']:.2f} s wall "
            f"({summary['per_second']:.0f} runs/s); one at a time would take ~{sequential:.2f} s"
        )

    # 3. Streaming: text as it is generated, with the time to first token.
    console.print("\n[bold cyan]3. Streaming[/]  agent.run_stream(..., flush_interval=0.05)")
    story = (
        "Streaming shows the first words after the model's time to first token instead of after the "
        "whole answer, and a bounded buffer keeps a slow reader from piling chunks up in memory."
    )
    streamer = ak.Agent("streamer", ak.SimulatedModel(reply=story, ttft=0.05, tokens_per_s=150.0))
    started = time.perf_counter()
    first: float | None = None
    deltas = 0
    console.print("   ", end="")
    async with streamer.run_stream("Why stream?", flush_interval=0.05) as stream:
        async for chunk in stream:
            if chunk.type is ak.ChunkType.DELTA and chunk.delta:
                first = first if first is not None else time.perf_counter() - started
                deltas += 1
                console.print(chunk.delta, end="", soft_wrap=True, highlight=False)
        streamed = await stream.wait()
    total = time.perf_counter() - started
    console.print()
    console.print(
        f"   first text after {(first or 0.0) * 1000:.0f} ms, whole answer after {total * 1000:.0f} ms; "
        f"{streamed.usage.output_tokens} tokens arrived in {deltas} coalesced deltas"
    )
    timings["stream_ttft_s"] = first or 0.0
    timings["stream_total_s"] = total

    # 4. Workflows: the guide's "parallel is 3x faster", measured.
    try:
        from ._demo_workflows import demo_workflows
    except ImportError:
        demo_workflows = None
    if demo_workflows is not None:
        console.print("\n[bold cyan]4. Workflows[/]  the same three agents, three ways")
        timings["workflows"] = await demo_workflows(console)

    # Summary.
    first_ms = timings["stream_ttft_s"] * 1000
    table = Table(title="timing summary", title_justify="left")
    table.add_column("part")
    table.add_column("wall", justify="right")
    table.add_row("agent run with a tool call", f"{timings['tool_run_s'] * 1000:.0f} ms")
    table.add_row(f"batch of {batch} (concurrency {concurrency})", f"{summary['duration'] * 1000:.0f} ms")
    table.add_row("batch p50 / p95 per run", f"{summary['p50'] * 1000:.0f} / {summary['p95'] * 1000:.0f} ms")
    table.add_row("stream: first text / whole answer", f"{first_ms:.0f} / {total * 1000:.0f} ms")
    wf = timings.get("workflows")
    if isinstance(wf, dict):
        for name, seconds in wf.items():  # pyright: ignore[reportUnknownVariableType]
            table.add_row(f"workflow: {name}", f"{float(seconds) * 1000:.0f} ms")  # pyright: ignore[reportUnknownArgumentType]
    console.print()
    console.print(table)
    return timings
