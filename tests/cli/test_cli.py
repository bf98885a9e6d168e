from __future__ import annotations

import subprocess
import sys

import orjson

import agentickit as ak
from agentickit.cli import main


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentickit.cli", *args], capture_output=True, text=True, timeout=60)


def test_version_and_help() -> None:
    out = _cli("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"agentickit {ak.__version__}"
    out = _cli("--help")
    assert out.returncode == 0 and "demo" in out.stdout and "run" in out.stdout


def test_run_with_llm_spec() -> None:
    out = _cli("run", "--llm", "simulated:echo", "hello cli")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello cli"


def test_run_json_output() -> None:
    out = _cli("run", "--json", "--llm", "simulated:echo", "--max-tokens", "1", "one two")
    assert out.returncode == 0, out.stderr
    payload = orjson.loads(out.stdout)
    assert payload["content"] == "one" and payload["usage"]["output_tokens"] == 1 and payload["run_id"]


def test_unknown_provider_exits_with_a_clear_message() -> None:
    out = _cli("run", "--llm", "nope:model", "x")
    assert out.returncode == 1
    assert "UnknownProviderError" in out.stderr and "Known providers" in out.stderr
    assert "Traceback" not in out.stderr


def test_demo_runs_end_to_end(capsys: object) -> None:
    out = _cli("demo", "--batch", "8", "--concurrency", "4", "--latency-ms", "5")
    assert out.returncode == 0, out.stderr
    assert "get_weather" in out.stdout and "8 answers, 0 failed" in out.stdout and "timing summary" in out.stdout
    assert "first text after" in out.stdout and "parallel" in out.stdout


def test_main_without_command_prints_help(capsys: object) -> None:
    assert main([]) == 0
