from __future__ import annotations

import json
from pathlib import Path

import pytest

import agentickit as ak
from agentickit.cli._bench import run_load
from agentickit.cli._main import main
from agentickit.errors import UserError
from agentickit.providers.simulated import SimulatedModel


async def test_run_load_counts_every_request_and_reports_progress() -> None:
    agent = ak.Agent("load", llm=SimulatedModel(reply="ok"))
    seen: list[int] = []
    result = await run_load(agent, concurrency=5, requests_per_worker=4, on_done=lambda done, ok: seen.append(done))
    summary = result.to_dict()
    assert summary["requests"] == 20 and summary["concurrency"] == 5
    assert summary["errors"] == 0 and summary["error_rate"] == 0.0
    assert summary["req_per_s"] > 0
    lat = summary["latency_s"]
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert seen == list(range(1, 21))
    assert summary["peak_rss_bytes"] > 0
    assert agent.metrics().runs == 20


async def test_run_load_counts_failures_by_type_and_keeps_going() -> None:
    agent = ak.Agent("flaky", llm=SimulatedModel(max_retries=0))
    result = await run_load(agent, concurrency=3, requests_per_worker=2, query="[[sim:500]]")
    summary = result.to_dict()
    assert summary["requests"] == 6
    assert summary["errors_by_type"] == {"ServerError": 6}
    assert summary["error_rate"] == 1.0


async def test_run_load_passes_the_timeout_to_each_request() -> None:
    agent = ak.Agent("slow", llm=SimulatedModel(ttft=5.0))
    result = await run_load(agent, concurrency=2, requests_per_worker=1, request_timeout=0.01)
    assert result.errors == {"RunTimeoutError": 2}


async def test_run_load_counts_workflow_results_that_carry_an_error() -> None:
    wf = ak.ParallelWorkflow("wf")
    wf.add_step(ak.Step("ok", ak.Agent("ok", llm=SimulatedModel(reply="fine"))))
    wf.add_step(ak.Step("bad", ak.Agent("bad", llm=SimulatedModel(max_retries=0, failures=("500",) * 10))))
    result = await run_load(wf, concurrency=2, requests_per_worker=2)
    assert result.done == 4
    assert sum(result.errors.values()) == 4


def test_cli_load_from_a_workflow_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "wf.toml"
    cfg.write_text(
        'name = "assistant"\n[llm]\nprovider = "simulated"\n[workflow]\nmode = "parallel"\n'
        '[[workflow.steps]]\nname = "a"\n[[workflow.steps]]\nname = "b"\n'
    )
    assert (
        main(["bench", "load", "--config", str(cfg), "--concurrency", "2", "--requests-per-worker", "2", "--json"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["requests"] == 4 and data["errors"] == 0


@pytest.mark.parametrize(("conc", "per"), [(0, 1), (1, 0)])
async def test_run_load_rejects_empty_tests(conc: int, per: int) -> None:
    with pytest.raises(UserError, match="--concurrency and --requests-per-worker must be >= 1"):
        await run_load(ak.Agent("x"), concurrency=conc, requests_per_worker=per)


def test_cli_load_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "load", "--concurrency", "3", "--requests-per-worker", "2", "--json", "--llm", "simulated"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["requests"] == 6 and data["errors"] == 0
    assert set(data["latency_s"]) == {"p50", "p95", "p99", "max", "mean"}


def test_cli_load_summary_with_progress(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "load", "--concurrency", "2", "--requests-per-worker", "3"]) == 0
    out = capsys.readouterr().out
    assert "6 requests at concurrency 2" in out
    for word in ("req/s", "p50", "p95", "p99", "errors", "peak RSS"):
        assert word in out


def test_cli_load_missing_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "load", "--config", str(tmp_path / "nope.toml")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_cli_bench_without_action_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench"]) == 2
    out = capsys.readouterr().out
    assert "load" in out and "report" in out


def test_load_over_http_against_a_served_agent_from_its_own_process() -> None:
    import subprocess
    import sys

    from tests.cli.test_serve_cli import serve

    with serve("--llm", "simulated:echo") as (url, _):
        out = subprocess.run(
            [sys.executable, "-m", "agentickit.cli", "bench", "load", "--url", f"{url}/v1/agents/agent/runs"]
            + ["--concurrency", "4", "--requests-per-worker", "5", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        summary = json.loads(out.stdout)
        assert summary["requests"] == 20 and summary["errors"] == 0 and summary["req_per_s"] > 0
        bad = subprocess.run(
            [sys.executable, "-m", "agentickit.cli", "bench", "load", "--url", f"{url}/v1/agents/nobody/runs"]
            + ["--concurrency", "2", "--requests-per-worker", "1", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert bad.returncode == 0, bad.stderr
    assert json.loads(bad.stdout)["errors_by_type"] == {"HTTP 404": 2}
