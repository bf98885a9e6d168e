"""The benchmark report (bench/report.py): rendering, plots, and `python -m bench report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bench.report import main as report_main
from bench.report import render_report, render_summary, write_report

from agentickit.errors import UserError


def _results() -> dict[str, Any]:
    def row(**kw: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "value": None,
            "unit": "",
            "min": None,
            "max": None,
            "n": 0,
            "baseline": None,
            "budget": None,
            "expectation": "",
            "status": "info",
            "note": "",
            "extra": {},
        }
        base.update(kw)
        return base

    guide_exp = json.dumps({"latency": "500-1000ms", "throughput": "100-200 req/s", "memory": "10-20 MB"})
    return {
        "schema": 1,
        "generated_at": "2026-01-01T00:00:00+00:00",
        "command": "python -m bench",
        "loop": "uvloop",
        "machine": {"cpu": "test cpu", "cpu_count": 2, "loadavg_at_start": [1.0, 1.0, 1.0]},
        "versions": {"agentickit": "0.1.0"},
        "duration_s": 1.0,
        "results": [
            row(
                id="core.build_agent",
                group="core",
                title="build an agent with 1 tool",
                value=0.7,
                unit="us",
                min=0.6,
                max=0.9,
                n=7,
                budget={"op": "<=", "limit": 3.0, "text": "<= 3 us"},
                status="met",
                baseline={"name": "dict", "value": 0.1, "unit": "us"},
            ),
            row(
                id="core.tool_dispatch",
                group="core",
                title="tool call dispatch",
                value=46.0,
                unit="us",
                budget={"op": "<=", "limit": 30.0, "text": "<= 30 us"},
                status="missed",
            ),
            row(
                id="http.throughput_ratio",
                group="http",
                title="runs/s ratio",
                value=0.95,
                unit="x",
                budget={"op": ">=", "limit": 0.9, "text": ">= 90% of floor"},
                status="met",
            ),
            row(id="http.throughput.raw", group="http", title="raw", value=1700.0, unit="runs/s"),
            row(id="http.throughput.ours", group="http", title="ours", value=1650.0, unit="runs/s"),
            row(
                id="guide.simple.guide",
                group="guide",
                title="Simple query (guide's model latency)",
                value=503.0,
                unit="ms",
                expectation=guide_exp,
                note="model 500 ms; HTTP",
                extra={"throughput": "190 req/s", "mem_per_op_kib": 12.0, "peak_rss_mb": 40.0, "latency_ms": 503.0},
            ),
            row(
                id="guide.sequential.guide",
                group="guide",
                title="Sequential workflow",
                status="unavailable",
                expectation=guide_exp,
                note="not available yet: `ak.SequentialWorkflow` does not exist",
            ),
            row(
                id="claim.text_only",
                group="claims",
                title="text_only saves",
                value=12.0,
                unit="%",
                expectation="~30%",
                status="not confirmed",
            ),
            row(
                id="tradeoff.series",
                group="tradeoffs",
                title="(plot data)",
                extra={
                    "buffer": {"buffer_size": [25, 50], "chunks_per_s": [1e5, 2e5], "cpu_us_per_chunk": [3.0, 2.0]},
                    "flush": {"flush_ms": [0, 10], "mean_delay_ms": [0.1, 5.0], "chunks": [1000, 50], "cpu_ms": [9, 3]},
                },
            ),
            row(id="tools.mcp", group="tools", title="tools.mcp", status="error", note="RuntimeError: boom"),
        ],
    }


def test_report_marks_missed_budgets_red_and_lists_what_was_not_measured() -> None:
    text = render_report(_results())
    assert "| build an agent with 1 tool | 0.700 us (0.600-0.900) | <= 3 us | dict: 0.100 us | 🟢 met |" in text
    assert "| tool call dispatch | 46.0 us | <= 30 us |  | 🔴 **missed** |" in text
    assert "🔴 **not confirmed**" in text
    assert "Simple query (guide's model latency)" in text and "500-1000ms" in text and "190 req/s" in text
    assert "⚪ not available yet" in text and "SequentialWorkflow" in text
    assert "RuntimeError: boom" in text
    assert "make bench" in text and "python -m bench report" in text


def test_cli_report_writes_markdown_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "latest.json"
    src.write_text(json.dumps(_results()))
    assert report_main(["--input", str(src)]) == 0
    assert "REPORT.md" in capsys.readouterr().out
    report = (tmp_path / "REPORT.md").read_text()
    for png in ("budgets.png", "http.png", "guide.png", "tradeoffs.png"):
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG"), png
        assert f"]({png})" in report


def test_report_summary_for_the_readme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "latest.json"
    src.write_text(json.dumps(_results()))
    assert report_main(["--input", str(src), "--no-plots", "--summary"]) == 0
    out = capsys.readouterr().out
    assert "| build an agent with 1 tool | <= 3 us | 0.700 us | 🟢 |" in out
    assert "| tool call dispatch | <= 30 us | 46.0 us | 🔴 |" in out
    assert "make bench" in out
    assert "Simple query" not in render_summary(_results())  # budgets only


def test_report_without_plots(tmp_path: Path) -> None:
    src = tmp_path / "latest.json"
    src.write_text(json.dumps(_results()))
    out = write_report(src, tmp_path / "out", plots=False)
    assert out == tmp_path / "out" / "REPORT.md"
    assert "## Plots" not in out.read_text()
    assert not list((tmp_path / "out").glob("*.png"))


def test_report_missing_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["--input", str(tmp_path / "none.json")]) == 1
    assert "run `make bench`" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["not json", json.dumps({"no": "results"})])
def test_report_rejects_files_that_are_not_results(tmp_path: Path, content: str) -> None:
    src = tmp_path / "bad.json"
    src.write_text(content)
    with pytest.raises(UserError, match="bad.json"):
        write_report(src)


def test_report_says_when_plots_cannot_be_drawn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    src = tmp_path / "latest.json"
    src.write_text(json.dumps(_results()))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    text = write_report(src).read_text()
    assert "Plots skipped: matplotlib is not installed" in text
    assert not list(tmp_path.glob("*.png"))
