"""`agentickit bench`: the guide's load test as a command, and the performance report.

```
agentickit bench load --concurrency 100 --requests-per-worker 10 --llm simulated
agentickit bench load --config agent.toml --json
agentickit bench report            # bench/results/latest.json -> REPORT.md + PNG plots
```

The full benchmark suite lives in the repository's `bench/` directory (`make bench`), which is not
shipped in the wheel; `report` only needs the JSON it wrote.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._common import run_async

__all__ = ("LoadResult", "register", "render_report", "render_summary", "run_load", "write_report")

DEFAULT_RESULTS = Path("bench") / "results" / "latest.json"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `bench` subcommand and its `load` and `report` actions."""
    p = sub.add_parser("bench", help="load-test an agent or workflow; render the benchmark report")
    actions = p.add_subparsers(dest="bench_command", metavar="ACTION")

    load = actions.add_parser(
        "load",
        help="N workers x M requests against an agent or workflow; prints req/s, latency percentiles, errors, RSS",
    )
    load.add_argument("--concurrency", type=int, default=100, help="concurrent workers (default 100)")
    load.add_argument("--requests-per-worker", type=int, default=10, help="requests each worker sends (default 10)")
    target = load.add_mutually_exclusive_group()
    target.add_argument("--config", type=Path, default=None, help="a TOML file defining the agent or workflow")
    target.add_argument("--llm", default=None, help="'provider:model' for a plain agent (default: simulated)")
    load.add_argument("--base-url", default=None, help="endpoint for OpenAI-compatible servers (with --llm)")
    load.add_argument("--query", default="Test", help="the query every request sends (default 'Test')")
    load.add_argument("--timeout", type=float, default=None, help="seconds each request may take")
    load.add_argument("--json", action="store_true", help="print the summary as JSON (no progress bar)")
    load.set_defaults(handler=_load_main)

    report = actions.add_parser("report", help="regenerate REPORT.md and the PNG plots from a results JSON")
    report.add_argument("--input", type=Path, default=DEFAULT_RESULTS, help=f"results JSON (default {DEFAULT_RESULTS})")
    report.add_argument("--out-dir", type=Path, default=None, help="where REPORT.md and plots go (default: next to it)")
    report.add_argument("--no-plots", action="store_true", help="write the Markdown only")
    report.add_argument(
        "--summary", action="store_true", help="also print the short table for the README (ours beside the budget)"
    )
    report.set_defaults(handler=_report_main)

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
                name = type(failure).__name__
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


def _load_target(args: argparse.Namespace) -> Any:
    import agentickit as ak

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


# -- report ---------------------------------------------------------------------------------------


def _report_main(args: argparse.Namespace) -> int:
    from ..errors import UserError

    if not args.input.exists():
        raise UserError(
            f"no results at {str(args.input)!r}; run `make bench` (or `python -m bench`) first, or pass --input"
        )
    out = write_report(args.input, args.out_dir, plots=not args.no_plots)
    print(f"wrote {out}")
    if args.summary:
        print()
        print(render_summary(json.loads(args.input.read_text())))
    return 0


_STATUS = {
    "met": "🟢 met",
    "missed": "🔴 **missed**",
    "confirmed": "🟢 confirmed",
    "not confirmed": "🔴 **not confirmed**",
    "unavailable": "⚪ not available yet",
    "error": "🔴 **error**",
    "info": "",
}


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    a = abs(value)
    if a >= 1000:
        text = f"{value:,.0f}"
    elif a >= 100:
        text = f"{value:.0f}"
    elif a >= 10:
        text = f"{value:.1f}"
    elif a >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}".strip()


def _spread(r: Mapping[str, Any]) -> str:
    if r.get("min") is None or r.get("max") is None or (r.get("n") or 0) < 2:
        return ""
    return f" ({_num(r['min'])}-{_num(r['max'])})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _baseline(r: Mapping[str, Any]) -> str:
    b: Mapping[str, Any] | None = r.get("baseline")
    if not b:
        return ""
    return f"{b['name']}: {_num(b.get('value'), b.get('unit', ''))}"


def render_summary(data: Mapping[str, Any]) -> str:
    """The short Markdown table for the README: each SPEC budget, ours beside it, and how to reproduce."""
    rows: list[Mapping[str, Any]] = [r for r in data.get("results", []) if r.get("budget")]
    machine: Mapping[str, Any] = data.get("machine", {})
    out = [
        "| what | budget | ours | |",
        "|---|---|---|---|",
    ]
    for r in rows:
        b: Mapping[str, Any] = r["budget"]
        ours = "not measured" if r.get("value") is None else _num(r["value"], r.get("unit", ""))
        mark = {"met": "🟢", "missed": "🔴", "unavailable": "⚪", "error": "🔴"}.get(str(r.get("status")), "")
        out.append(
            f"| {_cell(r['title'])} | {_cell(b.get('text') or b['op'] + ' ' + _num(b['limit']))} | {ours} | {mark} |"
        )
    out += [
        "",
        f"Measured {str(data.get('generated_at', '?'))[:10]} on {machine.get('cpu', '?')} ({machine.get('cpu_count', '?')} CPUs), "
        f"Python {machine.get('python', '?')}, {data.get('loop', '?')}; medians of repeated runs, every ratio against a "
        "baseline measured in the same run. Reproduce with `make bench` (writes `bench/results/latest.json` and "
        "`REPORT.md` with plots), re-render with `agentickit bench report`.",
    ]
    return "\n".join(out)


def render_report(data: Mapping[str, Any], plots: Sequence[str] = ()) -> str:
    """The Markdown report for a results JSON (as written by `python -m bench`)."""
    rows: list[Mapping[str, Any]] = list(data.get("results", []))
    machine: Mapping[str, Any] = data.get("machine", {})
    versions: Mapping[str, Any] = data.get("versions", {})
    out: list[str] = [
        "# agentickit performance report",
        "",
        f"Generated {data.get('generated_at', '?')} by `{data.get('command', 'python -m bench')}` "
        f"in {data.get('duration_s', '?')} s{' (quick mode: fewer repeats)' if data.get('quick') else ''}. "
        f"Event loop: {data.get('loop', '?')}.",
        "",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} CPUs, "
        f"Python {machine.get('python', '?')}, {machine.get('platform', '?')}. "
        f"Load average at start {_loadavg(machine.get('loadavg_at_start'))}, at end {_loadavg(machine.get('loadavg_at_end'))}"
        " (other work on the machine makes numbers noisy; rerun on an idle machine for a clean table).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + ".",
        "",
        "Every number is a median of repeated runs (min-max in brackets); every ratio is against a baseline "
        "measured in the same run. 🔴 marks a budget missed or a claim the measurement does not support.",
        "",
    ]
    budget_rows = [r for r in rows if r.get("budget")]
    if budget_rows:
        out += [
            "## Budgets (SPEC section 3)",
            "",
            "| what | ours | budget | baseline (same run) | status |",
            "|---|---|---|---|---|",
        ]
        for r in budget_rows:
            b: Mapping[str, Any] = r["budget"]
            ours = "-" if r.get("value") is None else _num(r["value"], r.get("unit", "")) + _spread(r)
            out.append(
                f"| {_cell(r['title'])} | {_cell(ours)} | {_cell(b.get('text') or b['op'] + ' ' + _num(b['limit']))} "
                f"| {_cell(_baseline(r))} | {_STATUS.get(r.get('status', ''), r.get('status', ''))} |"
            )
        out.append("")
    guide = [r for r in rows if r.get("group") == "guide"]
    if guide:
        out += [
            "## The guide's Performance Expectations, reproduced",
            "",
            "Against the HTTP simulator at the guide's model latencies, then at 0 latency (the framework's own cost). "
            "Throughput at concurrency 100; memory per operation from tracemalloc; peak RSS of the process that ran it.",
            "",
            "| operation | model | latency (ours) | guide | throughput (ours) | guide | memory/op | peak RSS | guide |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in guide:
            exp: Mapping[str, str] = json.loads(r["expectation"]) if r.get("expectation") else {}
            x: Mapping[str, Any] = r.get("extra") or {}
            if r.get("status") in ("unavailable", "error"):
                out.append(
                    f"| {_cell(r['title'])} | - | {_STATUS[r['status']]} | {exp.get('latency', '')} | - | "
                    f"{exp.get('throughput', '')} | - | - | {exp.get('memory', '')} |"
                )
                continue
            model = "0 ms" if x.get("mode") == "zero" else _cell(r.get("note", "").split(";")[0])
            out.append(
                f"| {_cell(r['title'])} | {model} | {_num(r.get('value'), r.get('unit', ''))}{_spread(r)} "
                f"| {exp.get('latency', '')} | {_cell(str(x.get('throughput', '-')))} | {exp.get('throughput', '')} "
                f"| {_num(x.get('mem_per_op_kib'), 'KiB')} | {_num(x.get('peak_rss_mb'), 'MB')} | {exp.get('memory', '')} |"
            )
        transports = {str(_extra(r).get("transport")) for r in guide if r.get("extra")}
        if transports:
            out += ["", "Transport: " + "; ".join(sorted(transports)) + "."]
        out.append("")
    claims = [r for r in rows if r.get("group") == "claims"]
    if claims:
        out += [
            "## The guide's claims, checked",
            "",
            "| claim | guide says | measured | verdict | details |",
            "|---|---|---|---|---|",
        ]
        for r in claims:
            measured = "-" if r.get("value") is None else _num(r["value"], r.get("unit", ""))
            out.append(
                f"| {_cell(r['title'])} | {_cell(r.get('expectation', ''))} | {measured} "
                f"| {_STATUS.get(r.get('status', ''), r.get('status', ''))} | {_cell(r.get('note', ''))} |"
            )
        out.append("")
    for group, heading in (
        ("tradeoffs", "Buffer size and flush interval trade-offs"),
        ("http", "Over HTTP: raw aiohttp floor, openai SDK, agentickit"),
        ("core", "Core costs"),
        ("streaming", "Streaming"),
        ("workflows", "Workflows"),
        ("tools", "Tools"),
        ("load", "The guide's load test, as a command"),
        ("micro", "pytest-benchmark micro suites (bench/test_micro.py)"),
    ):
        items = [r for r in rows if r.get("group") == group and not r.get("budget") and r.get("title") != "(plot data)"]
        items = [r for r in items if r.get("status") not in ("unavailable", "error")]
        if not items:
            continue
        out += [f"## {heading}", "", "| measurement | value | baseline (same run) | notes |", "|---|---|---|---|"]
        for r in items:
            out.append(
                f"| {_cell(r['title'])} | {_num(r.get('value'), r.get('unit', ''))}{_spread(r)} "
                f"| {_cell(_baseline(r))} | {_cell(r.get('note', ''))} |"
            )
        out.append("")
    missing = [r for r in rows if r.get("status") in ("unavailable", "error")]
    if missing:
        out += ["## Not measured in this run", "", "| benchmark | status | why |", "|---|---|---|"]
        for r in missing:
            out.append(f"| {_cell(r['id'])} | {_STATUS[r['status']]} | {_cell(r.get('note', ''))} |")
        out.append("")
    if plots:
        out += ["## Plots", ""]
        out += [f"![{Path(p).stem}]({p})" for p in plots]
        out.append("")
    out += [
        "## Reproduce",
        "",
        "```",
        "make bench                     # or: .venv/bin/python -m bench   (< 10 minutes on 2 cores)",
        "python -m bench --only core    # one suite; --quick for a smoke run",
        "agentickit bench report        # re-render this file and the plots from bench/results/latest.json",
        "agentickit bench load --concurrency 100 --requests-per-worker 10 --llm simulated",
        "```",
        "",
    ]
    return "\n".join(out)


def _extra(r: Mapping[str, Any]) -> Mapping[str, Any]:
    extra: Mapping[str, Any] | None = r.get("extra")
    return extra or {}


def _loadavg(value: Any) -> str:
    if not value:
        return "?"
    return "/".join(f"{float(v):.1f}" for v in value)


def write_report(results: Path, out_dir: Path | None = None, *, plots: bool = True) -> Path:
    """Render `REPORT.md` (and PNG plots, when matplotlib is installed) from a results JSON; returns the report path.

    Raises:
        UserError: the file is not a results JSON written by `python -m bench`.

    """
    from ..errors import UserError

    try:
        data: dict[str, Any] = json.loads(Path(results).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read benchmark results from {str(results)!r}: {exc}") from exc
    if not isinstance(data, dict) or "results" not in data:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UserError(f"{str(results)!r} is not a results file written by `python -m bench` (no 'results' key)")
    out_dir = Path(out_dir) if out_dir is not None else Path(results).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    text_note = ""
    if plots:
        try:
            names = _plots(data, out_dir)
        except ImportError:
            text_note = (
                "Plots skipped: matplotlib is not installed (`pip install matplotlib`, then `agentickit bench report`)."
            )
    report = out_dir / "REPORT.md"
    text = render_report(data, names)
    if text_note:
        text = text.replace("## Reproduce", f"{text_note}\n\n## Reproduce", 1)
    report.write_text(text)
    return report


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _range_ms(text: str) -> tuple[float, float] | None:
    """`"500-1000ms"`, `"1.5-3s"` or `"50ms TTFB"` as (low, high) milliseconds; None if unreadable."""
    import re

    m = re.match(r"\s*([\d.]+)\s*(?:-\s*([\d.]+))?\s*(ms|s)\b", text)
    if m is None:
        return None
    scale = 1000.0 if m.group(3) == "s" else 1.0
    low = float(m.group(1)) * scale
    high = float(m.group(2)) * scale if m.group(2) else low * 1.02
    return (low, high)


def _subplots(plt: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    fig, axes = plt.subplots(*args, **kwargs)
    return fig, axes


def _plots(data: Mapping[str, Any], out_dir: Path) -> list[str]:
    import importlib

    import matplotlib

    matplotlib.use("Agg")
    # Typed as Any: matplotlib's stubs leave **kwargs unknown, which strict pyright rejects at every call.
    plt: Any = importlib.import_module("matplotlib.pyplot")

    rows: list[Mapping[str, Any]] = list(data.get("results", []))
    written: list[str] = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        written.append(name)

    # 1. Budgets: ours as a fraction of the budget (<= budgets: lower is better; >= budgets: inverted).
    budget_rows = [r for r in rows if r.get("budget") and r.get("value") is not None]
    if budget_rows:
        labels: list[str] = []
        ratios: list[float] = []
        colors: list[str] = []
        for r in budget_rows:
            b = r["budget"]
            v = float(r["value"])
            limit = float(b["limit"])
            ratio = (v / limit if limit else 0.0) if b["op"] == "<=" else (limit / v if v > 0 else 10.0)
            labels.append(_short(str(r["title"]), 60))
            ratios.append(max(ratio, 0.0))
            colors.append("#2e7d32" if r.get("status") == "met" else "#c62828")
        fig, ax = _subplots(plt, figsize=(11, 0.45 * len(labels) + 1.4))
        ax.barh(labels, ratios, color=colors)
        ax.axvline(1.0, color="black", linewidth=1, linestyle="--")
        ax.set_xlabel("share of the budget used (past the dashed line = missed)")
        ax.invert_yaxis()
        ax.set_title("SPEC budgets: ours vs budget")
        save(fig, "budgets.png")

    # 2. HTTP: raw aiohttp vs SDK vs ours.
    by_id = {str(r.get("id")): r for r in rows}
    panels: list[tuple[str, str]] = [
        ("throughput", "runs/s, concurrency 100, 50 ms model"),
        ("stream", "streamed chunks/s"),
    ]
    present = [(k, t) for k, t in panels if f"http.{k}.raw" in by_id]
    if present:
        fig, axes = _subplots(plt, 1, len(present), figsize=(5 * len(present), 3.6))
        axes_list: list[Any] = list(axes) if len(present) > 1 else [axes]
        for ax, (key, title) in zip(axes_list, present, strict=True):
            names: list[str] = []
            vals: list[float] = []
            colors: list[str] = []
            for who, label, color in (
                ("raw", "raw aiohttp", "#757575"),
                ("raw_lines", "raw aiohttp\n(lines)", "#bdbdbd"),
                ("sdk", "openai SDK", "#1565c0"),
                ("ours", "agentickit", "#2e7d32"),
            ):
                r = by_id.get(f"http.{key}.{who}")
                if r is not None and r.get("value") is not None:
                    names.append(label)
                    vals.append(float(r["value"]))
                    colors.append(color)
            ax.bar(names, vals, color=colors)
            ax.set_title(title)
        save(fig, "http.png")

    # 3. The guide's table: our latency inside the guide's range, and the framework's own cost.
    guide = [r for r in rows if r.get("group") == "guide" and r.get("value") is not None]
    if guide:
        at_guide = [r for r in guide if _extra(r).get("mode") == "guide"]
        at_zero = [r for r in guide if _extra(r).get("mode") == "zero"]
        fig, (a1, a2) = _subplots(plt, 1, 2, figsize=(12, 0.5 * max(len(at_guide), len(at_zero), 1) + 1.6))
        for i, r in enumerate(at_guide):
            span = _range_ms(json.loads(r["expectation"]).get("latency", "")) if r.get("expectation") else None
            if span is not None:
                a1.plot(span, [i, i], color="#9e9e9e", linewidth=9, solid_capstyle="butt", zorder=1)
            a1.plot([float(r["value"])], [i], "o", color="#2e7d32", markersize=8, zorder=2)
        a1.set_yticks(range(len(at_guide)), [_short(str(r["title"]).split(" (")[0], 32) for r in at_guide])
        a1.set_xscale("log")
        a1.invert_yaxis()
        a1.set_xlabel("ms (grey: the guide's range; green: ours)")
        a1.set_title("at the guide's model latencies")
        a2.barh(
            [_short(str(r["title"]).split(" (")[0], 32) for r in at_zero],
            [float(_extra(r).get("latency_ms", r["value"])) for r in at_zero],
            color="#2e7d32",
        )
        a2.invert_yaxis()
        a2.set_xlabel("ms per operation, 0-latency model over HTTP")
        a2.set_title("the framework's own cost")
        save(fig, "guide.png")

    # 4. Trade-offs.
    series = by_id.get("tradeoff.series")
    if series is not None and series.get("extra"):
        extra: Mapping[str, Any] = series["extra"]
        buf: Mapping[str, list[float]] = extra.get("buffer", {})
        flush: Mapping[str, list[float]] = extra.get("flush", {})
        fig, (a1, a2) = _subplots(plt, 1, 2, figsize=(10, 3.6))
        if buf.get("buffer_size"):
            xs = list(range(len(buf["buffer_size"])))
            a1.plot(xs, buf["chunks_per_s"], marker="o", color="#2e7d32", label="chunks/s")
            a1.set_xticks(xs, [str(int(b)) for b in buf["buffer_size"]])
            a1.set_xlabel("buffer_size")
            a1.set_ylabel("chunks/s")
            a1b = a1.twinx()
            a1b.plot(xs, buf["cpu_us_per_chunk"], marker="s", color="#c62828", label="CPU us/chunk")
            a1b.set_ylabel("CPU us/chunk (red)")
            a1.set_ylabel("chunks/s (green)")
            a1.set_ylim(bottom=0)
            a1b.set_ylim(bottom=0)
            a1.set_title("buffer size: throughput vs CPU")
        if flush.get("flush_ms"):
            fx = list(range(len(flush["flush_ms"])))
            a2.plot(fx, flush["mean_delay_ms"], marker="o", color="#1565c0")
            a2.set_xticks(fx, ["every token" if not f else f"{f:g} ms" for f in flush["flush_ms"]])
            a2.set_xlabel("flush_interval")
            a2.set_ylabel("mean token delay, ms (blue)")
            a2b = a2.twinx()
            a2b.plot(fx, flush["chunks"], marker="s", color="#757575")
            a2b.set_yscale("log")
            a2b.set_ylabel("DELTA chunks per stream (grey)")
            a2.set_title("flush interval: latency vs chunks")
        save(fig, "tradeoffs.png")
    return written
