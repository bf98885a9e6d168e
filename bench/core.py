"""Core costs (issue 2): construction, run() overhead in process, tool dispatch, metrics on/off, import and CLI start."""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from ._util import (
    PYTHON,
    QUICK,
    ROOT,
    Budget,
    Row,
    Stat,
    interleaved,
    retained_bytes,
    row_from,
    time_sync,
)

GROUP = "core"
US = 1e6


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def construction() -> list[Row]:
    import agentickit as ak

    ak.Agent("warm", llm="simulated", tools=[weather])  # caches the parsed llm spec, as any second build would
    number = 1_000 if QUICK else 10_000
    stat = time_sync(lambda: ak.Agent("assistant", llm="simulated", tools=[weather]), number=number, repeats=7)
    per_build = Stat(stat.median * US, stat.min * US, stat.max * US, stat.n)
    baseline = time_sync(
        lambda: {"name": "assistant", "llm": "simulated", "tools": (weather,)}, number=number, repeats=7
    )
    mem = retained_bytes(lambda: ak.Agent("assistant", llm="simulated", tools=[weather]), number)
    return [
        row_from(
            per_build,
            id="core.build_agent",
            group=GROUP,
            title="build an agent with 1 tool",
            unit="us",
            baseline={"name": "build a dict with the same fields", "value": baseline.median * US, "unit": "us"},
            note=f"median over {number:,} builds x 7 repeats; GC off while timing",
        ).judge(Budget("<=", 3.0, "<= 3 us")),
        Row(
            id="core.build_agent_memory",
            group=GROUP,
            title="retained memory per agent with 1 tool",
            value=mem / 1024,
            unit="KiB",
            n=number,
            note="tracemalloc, objects kept alive",
        ).judge(Budget("<=", 4.0, "<= 4 KiB")),
    ]


async def run_overhead() -> list[Row]:
    import agentickit as ak
    from agentickit import metrics
    from agentickit.messages import Message
    from agentickit.options import ModelSettings
    from agentickit.providers.simulated import SimulatedModel

    model = SimulatedModel(reply="ok", tools_mode="never")
    agent = ak.Agent("overhead", llm=model)
    messages = [Message("user", "hello")]
    settings = ModelSettings()

    async def direct() -> None:
        await model.request(messages, (), settings)

    async def run_on() -> None:
        await agent.run("hello")

    async def run_off() -> None:
        metrics.set_enabled(False)
        try:
            await agent.run("hello")
        finally:
            metrics.set_enabled(True)

    number = 500 if QUICK else 2_000
    stats = await interleaved({"direct": direct, "on": run_on, "off": run_off}, number=number, repeats=7)
    d, on, off = stats["direct"], stats["on"], stats["off"]
    rows = [
        Row(
            id="core.run_overhead",
            group=GROUP,
            title="run() overhead, 0-latency in-process model",
            value=(on.median - d.median) * US,
            min=(on.min - d.median) * US,
            max=(on.max - d.median) * US,
            n=on.n,
            unit="us",
            baseline={"name": "model.request() called directly", "value": d.median * US, "unit": "us"},
            note=f"run() {on.median * US:.1f} us vs direct {d.median * US:.1f} us; {number:,} runs x 7, interleaved",
        ).judge(Budget("<=", 50.0, "<= 50 us")),
    ]
    # The switch itself costs a global write per call here; what matters is on vs off.
    diff = (on.median - off.median) * US
    rows.append(
        Row(
            id="core.metrics_cost",
            group=GROUP,
            title="cost of metrics counting per run (on - off)",
            value=diff,
            unit="us",
            n=on.n,
            baseline={"name": "run() with counting off", "value": off.median * US, "unit": "us"},
            note="within noise when |value| < 1 us; switch: agentickit.metrics.set_enabled(False) or AGENTICKIT_METRICS=0",
        ).judge(Budget("<=", 1.0, "<= 1 us (not visible in the overhead)")),
    )
    return rows


async def tool_dispatch() -> list[Row]:
    from agentickit.agent._tool_exec import execute_tool_calls
    from agentickit.messages import ToolCall
    from agentickit.tools import Tool

    tools = {"add": Tool(add)}
    calls = [ToolCall("call_1", "add", '{"a": 1, "b": 2}')]

    async def dispatch() -> None:
        await execute_tool_calls(calls, tools, None, None)

    async def bare() -> None:
        add(1, 2)

    number = 500 if QUICK else 2_000
    stats = await interleaved({"bare": bare, "dispatch": dispatch}, number=number, repeats=7)
    b, t = stats["bare"], stats["dispatch"]
    return [
        Row(
            id="core.tool_dispatch",
            group=GROUP,
            title="tool call dispatch (sync Python tool)",
            value=(t.median - b.median) * US,
            min=(t.min - b.median) * US,
            max=(t.max - b.median) * US,
            n=t.n,
            unit="us",
            baseline={"name": "calling the function directly", "value": b.median * US, "unit": "us"},
            note="JSON args parsed + validated, sync tool run in a worker thread, result serialised",
        ).judge(Budget("<=", 30.0, "<= 30 us")),
    ]


def _wall(args: list[str], repeats: int) -> Stat:
    samples: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(args, cwd=ROOT, capture_output=True, check=True)
        samples.append(time.perf_counter() - t0)
    return Stat.of(samples)


def startup() -> list[Row]:
    repeats = 5 if QUICK else 9
    bare = _wall([PYTHON, "-c", "pass"], repeats)
    imp = _wall([PYTHON, "-c", "import agentickit"], repeats)
    script = Path(PYTHON).parent / "agentickit"
    cli = [str(script), "--help"] if script.exists() else [PYTHON, "-m", "agentickit", "--help"]
    helps = _wall(cli, repeats)
    leaked = subprocess.run(
        [
            PYTHON,
            "-c",
            "import sys, agentickit; heavy = ('aiohttp', 'openai', 'anthropic', 'mcp', 'rich', 'redis', 'asyncpg', "
            "'aiosqlite', 'matplotlib', 'httpx2', 'pydantic'); print(','.join(m for m in heavy if m in sys.modules))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ms = 1e3
    return [
        Row(
            id="core.import_time",
            group=GROUP,
            title="`import agentickit` (added to bare interpreter start)",
            value=(imp.median - bare.median) * ms,
            min=(imp.min - bare.median) * ms,
            max=(imp.max - bare.median) * ms,
            n=imp.n,
            unit="ms",
            baseline={"name": "python -c pass", "value": bare.median * ms, "unit": "ms"},
            note=f"optional deps imported by `import agentickit`: {leaked or 'none'}",
            extra={"imported_optional": leaked.split(",") if leaked else []},
        ),
        Row(
            id="core.cli_help_time",
            group=GROUP,
            title="`agentickit --help` wall time",
            value=helps.median * ms,
            min=helps.min * ms,
            max=helps.max * ms,
            n=helps.n,
            unit="ms",
            baseline={"name": "python -c pass", "value": bare.median * ms, "unit": "ms"},
        ),
    ]


def _median(values: list[float]) -> float:
    return statistics.median(values)
