"""The benchmark report: `bench/results/latest.json` -> `REPORT.md` + PNG plots, and the README summary.

```
python -m bench report                       # re-render bench/results/latest.json
python -m bench report --input FILE --no-plots --summary
```

`python -m bench` calls `write_report` after a run; `report` re-renders from the JSON alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agentickit.errors import UserError

__all__ = ("DEFAULT_RESULTS", "main", "render_report", "render_summary", "write_report")

DEFAULT_RESULTS = Path("bench") / "results" / "latest.json"


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench report [--input FILE] [--out-dir DIR] [--no-plots] [--summary]`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench report", description="regenerate REPORT.md and the PNG plots from a results JSON"
    )
    parser.add_argument("--input", type=Path, default=DEFAULT_RESULTS, help=f"results JSON (default {DEFAULT_RESULTS})")
    parser.add_argument("--out-dir", type=Path, default=None, help="where REPORT.md and plots go (default: next to it)")
    parser.add_argument("--no-plots", action="store_true", help="write the Markdown only")
    parser.add_argument(
        "--summary", action="store_true", help="also print the short table for the README (ours beside the budget)"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        return _report_main(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _report_main(args: argparse.Namespace) -> int:
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
        "`REPORT.md` with plots), re-render with `python -m bench report`.",
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
        "python -m bench report        # re-render this file and the plots from bench/results/latest.json",
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
                "Plots skipped: matplotlib is not installed (`pip install matplotlib`, then `python -m bench report`)."
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
