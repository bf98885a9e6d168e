"""`python -m bench`: run every benchmark, write bench/results/latest.json, REPORT.md and the plots.

    python -m bench                 # everything (< 10 minutes on 2 cores)
    python -m bench --only core     # suites whose name starts with one of the given prefixes
    python -m bench --quick         # fewer repeats (a smoke run; numbers are noisier)
    python -m bench --out FILE      # write the JSON elsewhere (the report then goes next to it)
    python -m bench report          # re-render REPORT.md and the plots from the JSON (see bench/report.py)

--only and --quick runs write to bench/results/partial/ so they never replace the full results.

A suite that needs a feature which is not in the tree yet reports "not available yet" rows; a suite
that crashes reports an "error" row with the exception. Neither stops the run.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import _util


def _suites() -> list[tuple[str, Callable[[], Any]]]:
    from . import claims, core, durable, guide, output, over_http, rag, ray_scale, run_context, serve, stores, telemetry

    return [
        ("core.construction", core.construction),
        ("core.run_overhead", core.run_overhead),
        ("core.tool_dispatch", core.tool_dispatch),
        ("core.startup", core.startup),
        ("core.micro", core.micro),
        ("http.run_latency", over_http.run_latency),
        ("http.throughput", over_http.throughput_c100),
        ("http.streaming", over_http.streamed_chunks),
        ("http.live_streams", over_http.live_streams),
        ("stream.inprocess", claims.inprocess_stream),
        ("stream.workflow", claims.workflow_stream),
        ("stream.ttft", claims.ttft_overhead),
        ("stream.memory", claims.stream_vs_buffer_memory),
        ("stream.text_only", claims.text_only),
        ("stream.buffer_flush", claims.buffer_and_flush),
        ("stream.many", claims.many_streams),
        ("memory.history_limit", claims.history_limit),
        ("workflow.parallel", claims.parallel_vs_sequential),
        ("workflow.dag100", claims.dag_100_steps),
        ("tools.cache", claims.cache_hit),
        ("tools.cache_redis", claims.redis_cache_hit),
        ("tools.mcp", claims.mcp_round_trip),
        ("core.run_batch", claims.run_batch_overhead),
        ("load.cli", claims.load_command),
        ("guide.table", guide.guide_table),
        ("telemetry.cost", telemetry.cost),
        ("core.run_context", run_context.run_context),
        ("output.structured", output.structured),
        ("serve.ttfb", serve.ttfb),
        ("serve.sse_chunk", serve.sse_chunk),
        ("serve.streams_1000", serve.streams_1000),
        ("serve.rps", serve.rps),
        ("rag.recall", rag.recall),
        ("stores.append", stores.append),
        ("stores.run_overhead", stores.run_overhead),
        ("stores.peers", stores.peers),
        ("stores.exact_search", stores.exact_search),
        ("stores.pgvector", stores.pgvector),
        ("stores.history_limit", stores.history_limit),
        ("ray.scale", ray_scale.scale),
        ("durable.journal", durable.journal),
    ]


def _run_suite(name: str, fn: Callable[[], Any]) -> list[_util.Row]:
    try:
        out = fn()
        if inspect.iscoroutine(out):
            out = _util.run_loop(out)
        return list(out)
    except _util.Unavailable as exc:
        return [_util.unavailable(name, name.split(".")[0], name, str(exc))]
    except Exception as exc:  # a broken benchmark must not hide the others
        tb = traceback.format_exc(limit=4)
        print(tb, file=sys.stderr)
        return [
            _util.Row(
                id=name,
                group=name.split(".")[0],
                title=name,
                status="error",
                note=f"{type(exc).__name__}: {exc}"[:300],
            )
        ]


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["report"]:
        from . import report

        return report.main(args_in[1:])
    parser = argparse.ArgumentParser(prog="python -m bench", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="run suites whose name starts with these prefixes")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results JSON (default bench/results/latest.json; partial/ for --only or --quick runs)",
    )
    parser.add_argument("--no-report", action="store_true", help="write the JSON only")
    args = parser.parse_args(argv)
    if args.quick:
        os.environ["AGENTICKIT_BENCH_QUICK"] = "1"
        _util.QUICK = True
    if args.out is None:
        # Only a full run replaces the committed results; smoke and partial runs go aside.
        partial = args.quick or bool(args.only)
        args.out = _util.RESULTS_DIR / ("partial" if partial else "") / "latest.json"
        if partial:
            # Keep smoke runs out of git without touching the repository's .gitignore.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            (args.out.parent / ".gitignore").write_text("*\n")

    started = time.perf_counter()
    info = _util.machine_info()
    rows: list[_util.Row] = []
    timings: dict[str, float] = {}
    for name, fn in _suites():
        if args.only and not any(name.startswith(p) for p in args.only):
            continue
        t0 = time.perf_counter()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        got = _run_suite(name, fn)
        timings[name] = round(time.perf_counter() - t0, 2)
        for r in got:
            print(f"[bench]   {r.id}: {r.value} {r.unit} [{r.status}] {r.note}", file=sys.stderr, flush=True)
        rows.extend(got)
    info["loadavg_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    data = {
        "schema": 1,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": bool(args.quick),
        "loop": _util.loop_name(),
        "machine": info,
        "versions": _util.versions(),
        "duration_s": round(time.perf_counter() - started, 1),
        "suite_seconds": timings,
        "results": _util.as_dict(rows),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"[bench] wrote {args.out} in {data['duration_s']} s", file=sys.stderr)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    print("[bench] " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())), file=sys.stderr)
    if not args.no_report:
        from .report import write_report

        report = write_report(args.out, args.out.parent)
        print(f"[bench] wrote {report}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
