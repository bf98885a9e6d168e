"""Every example in `examples/` runs offline on the simulated model, so none of them can rot.

Each runs as a user would run it (its own interpreter, this tree's package first on the path) and
must exit 0 and print what it promises.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HELPERS = {"example_tools.py"}  # imported by the TOML examples, not run on its own

# What each script's output must contain: its main claim, so an example that runs but no longer
# shows what it says fails too.
EXPECT = {
    "durable_approval.py": "finished report on batteries, signed by Ada",
    "handler_early_exit.py": "order A123 shipped yesterday",
    "run_context.py": "answered by: backup | fallbacks: 1",
    "streaming.py": "hello from a plain for loop",
    "structured_output.py": "failed after 2 attempts",
    "tools_and_mcp.py": "1 timeouts, 2 retries",
    "workflow_dag.py": "dependency cycle: b -> c -> a -> b",
    "workflow_loop.py": "'APPROVED' after 3 iterations (stop_reason=until)",
    "workflow_parallel.py": "failed=['broken']",
    "workflow_sequential.py": "content: Approved.",
}
CONFIGS = {
    "agent.toml": ("What is the weather in Lisbon?", "sunny and 21 C in Lisbon"),
    "workflow.toml": ("quantum batteries", "[questions]"),  # the summary step echoes both labelled inputs
}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    for key in [k for k in env if k.startswith("AGENTICKIT_LLM_")]:
        del env[key]  # the examples must run on their own simulated settings
    return env


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120, check=False
    )


def test_every_example_is_covered() -> None:
    scripts = {p.name for p in EXAMPLES.glob("*.py")} - HELPERS
    assert scripts == set(EXPECT), "add new examples to EXPECT (and removed ones out of it)"
    assert {p.name for p in EXAMPLES.glob("*.toml")} == set(CONFIGS)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_script_runs_offline(name: str) -> None:
    done = _run(str(EXAMPLES / name))
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert done.stdout.strip(), f"{name} printed nothing"
    assert EXPECT[name] in done.stdout, f"{name} no longer shows {EXPECT[name]!r}:\n{done.stdout[-2000:]}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_example_config_runs_offline(name: str) -> None:
    query, expect = CONFIGS[name]
    check = _run("-m", "agentickit.cli", "config", "check", str(EXAMPLES / name))
    assert check.returncode == 0, check.stdout + check.stderr
    done = _run("-m", "agentickit.cli", "run", str(EXAMPLES / name), query)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert expect in done.stdout, done.stdout[-2000:]
