"""`agentickit bench load`: the guide's load test as a command.

```
agentickit bench load --concurrency 100 --requests-per-worker 10 --llm simulated
agentickit bench load --config agent.toml --json
agentickit bench load --url http://127.0.0.1:8080/v1/agents/assistant/runs --concurrency 32   # a server
```

With `--url`, every request is an HTTP POST of `{"input": QUERY}` (JSON) from this process, so the
load runs in its own process and the server's cost is what is measured; a non-2xx answer counts as
an error named by its status (`HTTP 503`).

The repository's own benchmark suite and its report live in `bench/` (`make bench`,
`python -m bench report`), which is not shipped in the wheel.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._common import path_arg, run_async

__all__ = ("HTTPTarget", "LoadResult", "register", "run_load")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `bench` subcommand and its `load` action."""
    p = sub.add_parser(
        "bench",
        help="load-test an agent or workflow",
        description="Load-test an agent or workflow. (The repository's benchmark report is `python -m bench report`.)",
    )
    actions = p.add_subparsers(dest="bench_command", metavar="ACTION")

    load = actions.add_parser(
        "load",
        help="N workers x M requests against an agent or workflow; prints req/s, latency percentiles, errors, RSS",
    )
    load.add_argument("--concurrency", type=int, default=100, help="concurrent workers (default 100)")
    load.add_argument("--requests-per-worker", type=int, default=10, help="requests each worker sends (default 10)")
    target = load.add_mutually_exclusive_group()
    target.add_argument("--config", type=path_arg, default=None, help="a TOML file defining the agent or workflow")
    target.add_argument("--llm", default=None, help="'provider:model' for a plain agent (default: simulated)")
    target.add_argument(
        "--url", default=None, help="POST {'input': QUERY} to this URL instead (e.g. a served agent's /runs endpoint)"
    )
    load.add_argument("--api-key", default=None, help="with --url: sent as `Authorization: Bearer KEY`")
    load.add_argument("--base-url", default=None, help="endpoint for OpenAI-compatible servers (with --llm)")
    load.add_argument("--query", default="Test", help="the query every request sends (default 'Test')")
    load.add_argument("--timeout", type=float, default=None, help="seconds each request may take")
    load.add_argument("--json", action="store_true", help="print the summary as JSON (no progress bar)")
    load.set_defaults(handler=_load_main)

    p.set_defaults(handler=lambda _args: _usage(p))  # pyright: ignore[reportUnknownLambdaType]


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# -- load test -----------------------------------------------------------------------------------


class LoadResult:
    """What a load test measured. `to_dict()` is the `--json` output."""

    __slots__ = ("concurrency", "errors", "latencies", "peak_rss", "requests", "wall")

    def __init__(self, *, concurrency: int, requests: int) -> None:
        self.concurrency = concurrency
        self.requests = requests
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.wall = 0.0
        self.peak_rss = 0

    @property
    def done(self) -> int:
        """Requests finished, successfully or not."""
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        """Requests that raised."""
        return sum(self.errors.values())

    def percentile(self, q: float) -> float:
        """Latency percentile in seconds (nearest rank), 0.0 when nothing ran."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, -(-int(q * 1000) * len(ordered) // 1000) - 1))
        return ordered[rank]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        n = self.done
        return {
            "requests": n,
            "concurrency": self.concurrency,
            "wall_s": self.wall,
            "req_per_s": n / self.wall if self.wall > 0 else 0.0,
            "latency_s": {
                "p50": self.percentile(0.50),
                "p95": self.percentile(0.95),
                "p99": self.percentile(0.99),
                "max": max(self.latencies) if self.latencies else 0.0,
                "mean": sum(self.latencies) / n if n else 0.0,
            },
            "errors": self.error_count,
            "error_rate": self.error_count / n if n else 0.0,
            "errors_by_type": dict(self.errors),
            "peak_rss_bytes": self.peak_rss,
        }


def _peak_rss() -> int:
    # VmHWM first: Linux keeps ru_maxrss across fork+exec, so a CLI started by a big parent
    # process would report the parent's peak.
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no resource module
        return 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(rss if sys.platform == "darwin" else rss * 1024)


async def run_load(
    target: Any,
    *,
    concurrency: int,
    requests_per_worker: int,
    query: str = "Test",
    request_timeout: float | None = None,
    on_done: Callable[[int, bool], None] | None = None,
) -> LoadResult:
    """Run `concurrency` workers, each sending `requests_per_worker` queries to `target.run()` in turn.

    Failed requests (raised errors, or a workflow result's `error`) are counted by error type and
    do not stop the test; cancellation does.

    Args:
        target: an agent or workflow (anything with `async run(query, **options)`).
        concurrency: how many workers run at once.
        requests_per_worker: queries each worker sends, one after another.
        query: the query text.
        request_timeout: seconds each request may take (passed as the `timeout` run option).
        on_done: called with (requests finished so far, ok) after each request, for progress displays.

    Raises:
        UserError: `concurrency` or `requests_per_worker` is below 1.

    """
    import asyncio

    from ..errors import UserError

    if concurrency < 1 or requests_per_worker < 1:
        raise UserError(
            f"--concurrency and --requests-per-worker must be >= 1, got {concurrency} and {requests_per_worker}"
        )
    result = LoadResult(concurrency=concurrency, requests=concurrency * requests_per_worker)
    options: dict[str, Any] = {} if request_timeout is None else {"timeout": request_timeout}
    latencies = result.latencies
    errors = result.errors
    perf = time.perf_counter

    async def worker() -> None:
        for _ in range(requests_per_worker):
            t0 = perf()
            ok = True
            failure: BaseException | None = None
            try:
                result = await target.run(query, **options)
                # A workflow returns its failures (partial results) instead of raising them.
                failure = getattr(result, "error", None)
            except Exception as exc:  # a load test counts failures; it must not stop at the first one
                failure = exc
            if failure is not None:
                ok = False
                name = failure.status if isinstance(failure, HTTPStatusError) else type(failure).__name__
                errors[name] = errors.get(name, 0) + 1
            latencies.append(perf() - t0)
            if on_done is not None:
                on_done(len(latencies), ok)

    start = perf()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    result.wall = perf() - start
    result.peak_rss = _peak_rss()
    return result


class HTTPTarget:
    """A load-test target over HTTP: `run(query)` POSTs `{"input": query}` and raises on a non-2xx answer."""

    def __init__(self, url: str, *, api_key: str | None = None, concurrency: int = 100) -> None:
        self.url = url
        self.name = url
        self._headers = {"content-type": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        self._limit = concurrency
        self._session: Any = None

    async def run(self, query: str, **options: Any) -> Any:
        """One request; `timeout` (seconds) bounds it."""
        import aiohttp
        import orjson

        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._limit))
        timeout = aiohttp.ClientTimeout(total=options.get("timeout"))
        body = orjson.dumps({"input": query})
        async with self._session.post(self.url, data=body, headers=self._headers, timeout=timeout) as r:
            data = await r.read()
            if r.status >= 300:
                raise HTTPStatusError(f"HTTP {r.status}", data[:200])
        return None

    async def cleanup(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class HTTPStatusError(Exception):
    """A non-2xx answer in an HTTP load test (counted by its status)."""

    def __init__(self, status: str, body: bytes) -> None:
        super().__init__(f"{status}: {body!r}")
        self.status = status


def _load_target(args: argparse.Namespace) -> Any:
    import agentickit as ak

    if args.url is not None:
        return HTTPTarget(args.url, api_key=args.api_key, concurrency=args.concurrency)

    if args.config is not None:
        if not args.config.exists():
            from ..errors import ConfigError

            raise ConfigError(f"config file {str(args.config)!r} does not exist; pass the path of a TOML file")
        from agentickit.config import load_runnable

        return load_runnable(args.config)
    llm: Any = args.llm or "simulated"
    if args.base_url:
        provider, _, model = llm.partition(":")
        llm = ak.LLMConfig(provider=provider, model=model or provider, base_url=args.base_url)
    return ak.Agent("load", llm)


def _load_main(args: argparse.Namespace) -> int:
    target = _load_target(args)
    total = args.concurrency * args.requests_per_worker

    async def main() -> LoadResult:
        try:
            if args.json:
                return await _run(None)
            try:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            except ImportError:
                return await _run(None)
            columns = (
                TextColumn("load"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8.1f} req/s  errors {task.fields[errors]}"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, transient=False, refresh_per_second=10) as progress:
                task = progress.add_task("load", total=total, rate=0.0, errors=0)
                start = time.perf_counter()
                failed = [0]

                def on_done(done: int, ok: bool) -> None:
                    if not ok:
                        failed[0] += 1
                    # Updating the bar every request would cost more than a fast request itself.
                    if done % 20 == 0 or done == total or not ok:
                        elapsed = time.perf_counter() - start
                        progress.update(task, completed=done, rate=done / elapsed if elapsed else 0.0, errors=failed[0])

                return await _run(on_done)
        finally:
            cleanup = getattr(target, "cleanup", None)
            if cleanup is not None:
                await cleanup()

    async def _run(on_done: Callable[[int, bool], None] | None) -> LoadResult:
        return await run_load(
            target,
            concurrency=args.concurrency,
            requests_per_worker=args.requests_per_worker,
            query=args.query,
            request_timeout=args.timeout,
            on_done=on_done,
        )

    result = run_async(main())
    summary = result.to_dict()
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(_format_summary(summary, getattr(target, "name", "target")))
    return 0


def _ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:,.1f} ms" if ms >= 10 else f"{ms:.3f} ms"


def _format_summary(s: Mapping[str, Any], name: str) -> str:
    lat: Mapping[str, float] = s["latency_s"]
    lines = [
        f"{name}: {s['requests']:,} requests at concurrency {s['concurrency']} in {s['wall_s']:.2f} s",
        f"  throughput  {s['req_per_s']:,.1f} req/s",
        f"  latency     p50 {_ms(lat['p50'])}   p95 {_ms(lat['p95'])}   p99 {_ms(lat['p99'])}   max {_ms(lat['max'])}",
        f"  errors      {s['errors']:,} ({s['error_rate'] * 100:.2f}%)"
        + ("  " + ", ".join(f"{k}: {v}" for k, v in sorted(s["errors_by_type"].items())) if s["errors"] else ""),
        f"  peak RSS    {s['peak_rss_bytes'] / 2**20:,.1f} MiB",
    ]
    return "\n".join(lines)
