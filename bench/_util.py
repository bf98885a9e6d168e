"""Measurement helpers shared by the benchmark scripts.

Every number in `latest.json` comes from one of these helpers, so the rules live in one place:
- repeated measurements, reported as median with min and max;
- a ratio is only ever taken against a baseline measured in the same process, in the same run;
- a feature that does not exist yet is reported as unavailable, never as a made-up number.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
import platform
import socket
import statistics
import sys
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
QUICK = os.environ.get("AGENTICKIT_BENCH_QUICK") == "1"


class Unavailable(Exception):
    """The feature a benchmark needs is not in the tree (yet)."""


@dataclass
class Stat:
    """A median over repeats, with the spread."""

    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Stat:
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))


@dataclass
class Budget:
    """`value op limit` must hold; `op` is `<=` or `>=`."""

    op: str
    limit: float
    text: str = ""

    def met(self, value: float) -> bool:
        return value <= self.limit if self.op == "<=" else value >= self.limit


@dataclass
class Row:
    """One line of the report."""

    id: str
    group: str
    title: str
    value: float | None = None
    unit: str = ""
    min: float | None = None
    max: float | None = None
    n: int = 0
    baseline: dict[str, Any] | None = None
    """`{"name": ..., "value": ..., "unit": ...}` measured in the same run."""
    budget: dict[str, Any] | None = None
    expectation: str = ""
    """What the seed guide or the spec claims, as text."""
    status: str = "info"
    """`met`, `missed`, `confirmed`, `not confirmed`, `info`, `unavailable`, `error`."""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def judge(self, budget: Budget | None, value: float | None = None) -> Row:
        if budget is not None:
            self.budget = {"op": budget.op, "limit": budget.limit, "text": budget.text}
            v = self.value if value is None else value
            if v is not None:
                self.status = "met" if budget.met(v) else "missed"
        return self


def row_from(stat: Stat, **kw: Any) -> Row:
    return Row(value=stat.median, min=stat.min, max=stat.max, n=stat.n, **kw)


def unavailable(id: str, group: str, title: str, why: str, **kw: Any) -> Row:
    return Row(id=id, group=group, title=title, status="unavailable", note=f"not available yet: {why}", **kw)


# -- timing --------------------------------------------------------------------------------------


def time_sync(fn: Callable[[], Any], number: int, repeats: int) -> Stat:
    """Seconds per call of `fn`, `number` calls per repeat, GC off while timing (like timeit)."""
    samples: list[float] = []
    for _ in range(repeats):
        gc_was = gc.isenabled()
        gc.disable()
        try:
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - t0) / number)
        finally:
            if gc_was:
                gc.enable()
    return Stat.of(samples)


async def time_async(fn: Callable[[], Awaitable[Any]], number: int, repeats: int, warmup: int = 50) -> Stat:
    """Seconds per awaited call of `fn`, sequentially, `number` calls per repeat."""
    for _ in range(warmup):
        await fn()
    samples: list[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            await fn()
        samples.append((time.perf_counter() - t0) / number)
    return Stat.of(samples)


async def interleaved(
    fns: dict[str, Callable[[], Awaitable[Any]]], number: int, repeats: int, warmup: int = 20
) -> dict[str, Stat]:
    """Time several variants in alternation (A B C A B C ...) so drift from other load hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            await fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                await fn()
            samples[name].append((time.perf_counter() - t0) / number)
    return {k: Stat.of(v) for k, v in samples.items()}


async def drain_batches(stream: Any) -> int:
    """Read `stream.batches()` to the end; the number of text pieces (what DELTA chunks would be)."""
    n = 0
    async for batch in stream.batches():
        for item in batch:
            if type(item) is str:
                n += 1
    return n


async def throughput(fn: Callable[[int], Awaitable[Any]], total: int, concurrency: int) -> tuple[float, list[float]]:
    """Run `fn(i)` for i in range(total) with `concurrency` workers; return (ops/s, per-op latencies)."""
    latencies: list[float] = []
    next_i = iter(range(total))

    async def worker() -> None:
        for i in next_i:
            t0 = time.perf_counter()
            await fn(i)
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    return total / (time.perf_counter() - t0), latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


# -- memory --------------------------------------------------------------------------------------


def retained_bytes(make: Callable[[], Any], count: int) -> float:
    """Bytes still allocated per object after building `count` objects and keeping them alive."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = [make() for _ in range(count)]
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    # the list holding them costs 8 bytes per slot; it is ours, not the object's
    return (after - before) / count - 8


@contextlib.contextmanager
def traced_peak() -> Iterator[list[float]]:
    """Peak bytes allocated (tracemalloc) inside the block, above the level at entry; yields a 1-item list."""
    out = [0.0]
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        yield out
        out[0] = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """Peak RSS of this process so far.

    VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec, so a child started by a big
    parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


# -- features -------------------------------------------------------------------------------------


def feature(module: str, name: str | None = None) -> Any:
    """Import `module` (and get `name` from it) or raise `Unavailable` saying what is missing."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise Unavailable(f"`{module}` is not in the tree ({exc.name} missing)") from exc
    if name is None:
        return mod
    try:
        return getattr(mod, name)
    except AttributeError as exc:
        raise Unavailable(f"`{module}.{name}` does not exist") from exc


def ak_feature(name: str) -> Any:
    """`agentickit.<name>` or `Unavailable`."""
    import agentickit

    try:
        return getattr(agentickit, name)
    except (AttributeError, ImportError) as exc:
        raise Unavailable(f"`ak.{name}` does not exist ({exc})") from exc


# -- the HTTP simulator in its own process ----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def simulator(**options: Any) -> AsyncIterator[str]:
    """The HTTP simulator (`agentickit.simulator.serve`) in a child process; yields the `/v1` base URL.

    It runs in its own process so it does not share the client's event loop. `options` are
    `SimulatorServer` keyword arguments (`ttft_ms`, `tokens_per_s`, `reply`, ...).
    """
    import json

    import aiohttp

    feature("agentickit.simulator", "serve")
    options.setdefault("record", 0)
    import tempfile

    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(options, f)
    opts_file = Path(f.name)
    proc = await asyncio.create_subprocess_exec(
        PYTHON,
        "-m",
        "bench._simproc",
        str(opts_file),
        str(port),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 20
            while True:
                if proc.returncode is not None:
                    err = (await proc.stderr.read()).decode() if proc.stderr else ""
                    raise Unavailable(f"the simulator exited: {err.strip()[-300:]}")
                try:
                    async with session.get(f"{base}/models") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise Unavailable("the simulator did not answer /v1/models within 20 s")
                await asyncio.sleep(0.05)
        yield base
    finally:
        with contextlib.suppress(OSError):
            os.unlink(opts_file)
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


# -- machine and versions -------------------------------------------------------------------------


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        mem = int(psutil.virtual_memory().total)
    except ImportError:
        mem = None
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": mem,
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def versions() -> dict[str, str | None]:
    import agentickit

    out: dict[str, str | None] = {"agentickit": agentickit.__version__}
    for dist in ("aiohttp", "orjson", "pydantic", "openai", "anthropic", "mcp", "uvloop", "httpx2", "matplotlib"):
        out[dist] = _version(dist)
    return out


def run_loop(coro: Any) -> Any:
    """Run on uvloop when installed (as the CLI does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def as_dict(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
