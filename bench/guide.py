"""The seed guide's "Performance Expectations" table, reproduced.

Each operation runs in its own child process (so its peak RSS is its own) against the HTTP simulator
(`agentickit.simulator`, in a further process) set to the guide's model latencies, and again with a
0-latency model to isolate what the framework itself costs. When the `openai` provider or the
simulator is not in the tree yet, the in-process simulated model stands in, and the row says so.

    python -m bench.guide OP MODE      # one measurement, JSON on stdout (used by the runner)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

from ._util import (
    PYTHON,
    QUICK,
    ROOT,
    Row,
    Stat,
    Unavailable,
    ak_feature,
    peak_rss_bytes,
    percentile,
    run_loop,
    simulator,
    throughput,
    traced_peak,
)

GROUP = "guide"
CONCURRENCY = 100

# op -> (title, the guide's expectation, model latency for the "guide" mode in ms, tokens per s)
OPS: dict[str, dict[str, Any]] = {
    "simple": {
        "title": "Simple query",
        "guide": {"latency": "500-1000ms", "throughput": "100-200 req/s", "memory": "10-20 MB"},
        "ttft_ms": 500,
        "tps": None,
        "unit": "req/s",
    },
    "streaming": {
        "title": "Streaming",
        "guide": {"latency": "50ms TTFB", "throughput": "1000+ chunks/s", "memory": "5-10 MB"},
        "ttft_ms": 50,
        "tps": 1000,
        "unit": "chunks/s",
    },
    "tool": {
        "title": "Tool call",
        "guide": {"latency": "100-500ms", "throughput": "200-500 ops/s", "memory": "5 MB"},
        "ttft_ms": 100,
        "tps": None,
        "unit": "ops/s",
    },
    "sequential": {
        "title": "Sequential workflow (3 steps)",
        "guide": {"latency": "1.5-3s", "throughput": "30-60 flows/s", "memory": "20-40 MB"},
        "ttft_ms": 500,
        "tps": None,
        "unit": "flows/s",
    },
    "parallel": {
        "title": "Parallel workflow (3 steps)",
        "guide": {"latency": "0.5-1s", "throughput": "100-200 flows/s", "memory": "30-50 MB"},
        "ttft_ms": 500,
        "tps": None,
        "unit": "flows/s",
    },
}

ANSWER = " ".join(f"word{i}" for i in range(50))
STREAM_ANSWER = " ".join(f"tok{i}" for i in range(200))


def lookup(city: str) -> str:
    """Look a city up."""
    return f"{city}: 21 C, sunny"


def _llm(base: str | None, ttft_ms: float, tps: float | None, reply: str) -> Any:
    import agentickit as ak

    if base is None:
        from agentickit.providers.simulated import SimulatedModel

        return SimulatedModel(reply=reply, ttft=ttft_ms / 1000, tokens_per_s=tps)
    return ak.LLMConfig(provider="openai", model="sim", base_url=base, api_key="sk-bench", max_retries=0)


async def measure(op: str, mode: str) -> dict[str, Any]:
    import importlib.util

    import agentickit as ak

    spec = OPS[op]
    ttft_ms = spec["ttft_ms"] if mode == "guide" else 0.0
    tps = spec["tps"] if mode == "guide" else None
    reply = STREAM_ANSWER if op == "streaming" else ANSWER
    http = importlib.util.find_spec("agentickit.providers.openai") is not None
    transport = "HTTP (simulate-llm)" if http else "in-process simulated model (HTTP provider not in the tree yet)"
    async with AsyncExitStack() as stack:
        base: str | None = None
        if http:
            try:
                base = await stack.enter_async_context(
                    simulator(ttft_ms=ttft_ms, tokens_per_s=tps, reply=reply, tools_mode="auto")
                )
            except Unavailable:
                base = None
                transport = "in-process simulated model (HTTP simulator not in the tree yet)"

        def agent(name: str, **kw: Any) -> Any:
            a = ak.Agent(name, llm=_llm(base, ttft_ms, tps, reply), **kw)
            stack.push_async_callback(a.cleanup)
            return a

        chunks = [0]
        if op == "simple":
            a = agent("simple")

            async def once() -> Any:
                return await a.run("hello")

        elif op == "streaming":
            a = agent("streaming")
            if not hasattr(a, "run_stream"):
                raise Unavailable("`agent.run_stream` does not exist")
            delta = ak.ChunkType.DELTA

            async def once() -> Any:
                first = 0.0
                t0 = time.perf_counter()
                async for chunk in a.run_stream("hello", flush_interval=None):
                    if chunk.type is delta:
                        chunks[0] += 1
                        if not first:
                            first = time.perf_counter() - t0
                return first

        elif op == "tool":
            a = agent("tool", tools=[lookup])

            async def once() -> Any:
                return await a.run("weather in Paris")

        else:
            cls = ak_feature("SequentialWorkflow" if op == "sequential" else "ParallelWorkflow")
            step = ak_feature("Step")
            wf = cls(f"{op}-flow")
            for name in ("s1", "s2", "s3"):
                wf.add_step(step(name, agent(name)))

            async def once() -> Any:
                return await wf.run("hello")

        await once()  # warm-up: pools, lazily built parts
        lat: list[float] = []
        ttfb: list[float] = []
        for _ in range((3 if QUICK else 5) if mode == "guide" else (10 if QUICK else 30)):
            t0 = time.perf_counter()
            out = await once()
            lat.append(time.perf_counter() - t0)
            if op == "streaming":
                ttfb.append(out)
        with traced_peak() as mem:
            await once()
        total = CONCURRENCY * (2 if QUICK else 3)
        if mode == "zero":
            total *= 5
        chunks[0] = 0

        async def job(i: int) -> None:
            await once()

        rate, lats = await throughput(job, total, CONCURRENCY)
        chunk_rate = chunks[0] / (total / rate) if op == "streaming" else None
    return {
        "op": op,
        "mode": mode,
        "transport": transport,
        "model_ms": ttft_ms,
        "tokens_per_s": tps,
        "latency": Stat.of(lat).__dict__,
        "ttfb": Stat.of(ttfb).__dict__ if ttfb else None,
        "throughput": rate,
        "chunks_per_s": chunk_rate,
        "p50": percentile(lats, 0.5),
        "p99": percentile(lats, 0.99),
        "mem_per_op": mem[0],
        "peak_rss": peak_rss_bytes(),
        "total": total,
        "concurrency": CONCURRENCY,
    }


def guide_table() -> list[Row]:
    rows: list[Row] = []
    for op, spec in OPS.items():
        for mode in ("guide", "zero"):
            proc = subprocess.run(
                [PYTHON, "-m", "bench.guide", op, mode],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
            rid = f"guide.{op}.{mode}"
            title = spec["title"] + (" (guide's model latency)" if mode == "guide" else " (0-latency model)")
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                err = proc.stderr.strip().splitlines()
                last = err[-1] if err else f"exit {proc.returncode}"
                status = "unavailable" if "Unavailable" in last else "error"
                note = last.split("Unavailable: ", 1)[-1] if status == "unavailable" else last
                rows.append(
                    Row(
                        id=rid,
                        group=GROUP,
                        title=title,
                        status=status,
                        note=("not available yet: " + note) if status == "unavailable" else note[:300],
                        expectation=json.dumps(spec["guide"]),
                    )
                )
                continue
            d = json.loads(lines[-1])
            lat = d["latency"]
            if op == "streaming":
                value, unit = d["ttfb"]["median"] * 1e3, "ms TTFB"
                tput = f"{d['chunks_per_s']:,.0f} chunks/s ({d['throughput']:,.0f} streams/s)"
            else:
                value, unit = lat["median"] * 1e3, "ms"
                tput = f"{d['throughput']:,.0f} {spec['unit']}"
            model = f"model {d['model_ms']:g} ms" + (f", {d['tokens_per_s']:g} tokens/s" if d["tokens_per_s"] else "")
            rows.append(
                Row(
                    id=rid,
                    group=GROUP,
                    title=title,
                    value=value,
                    min=(d["ttfb"] or lat)["min"] * 1e3,
                    max=(d["ttfb"] or lat)["max"] * 1e3,
                    n=lat["n"],
                    unit=unit,
                    expectation=json.dumps(spec["guide"]),
                    note=f"{model}; {d['transport']}; throughput at concurrency {d['concurrency']} over {d['total']} ops",
                    extra={
                        "throughput": tput,
                        "throughput_value": d["chunks_per_s"] if op == "streaming" else d["throughput"],
                        "latency_ms": lat["median"] * 1e3,
                        "p99_ms_under_load": d["p99"] * 1e3,
                        "mem_per_op_kib": d["mem_per_op"] / 1024,
                        "peak_rss_mb": d["peak_rss"] / 2**20,
                        "transport": d["transport"],
                        "mode": mode,
                        "op": op,
                    },
                )
            )
    return rows


def _main() -> None:
    op, mode = sys.argv[1], sys.argv[2]
    try:
        out = run_loop(measure(op, mode))
    except Unavailable as exc:
        print(f"Unavailable: {exc}", file=sys.stderr)
        sys.exit(3)
    print(json.dumps(out))


if __name__ == "__main__":
    _main()
