"""Two Ray nodes on loopback inside a network namespace of their own (`unshare --net`, only `lo` up).

In a namespace with no other interface, Ray cannot advertise or bind the machine's external address,
so every byte of the test stays on 127.0.0.1, and `ss` in that namespace lists only this test's
sockets. The cluster runs in a child process (tests/executors/_two_nodes.py), which stops exactly the
processes it started; `.ci/run` runs these tests in their own step (`-m slow`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray")  # the `ray` extra: installed by `make install` (and so in CI)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = re.compile(r"^(\[::ffff:)?127\.0\.0\.1\]?:\d+$")


@pytest.fixture(scope="module")
def two_nodes() -> dict[str, Any]:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("the two-node test needs root and unshare (util-linux) to make its network namespace")
    src = os.environ.get("PYTHONPATH", "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), str(ROOT), src) if p)}
    script = f"ip link set lo up && exec {sys.executable} {ROOT / 'tests/executors/_two_nodes.py'}"
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=400, check=False
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return json.loads(lines[-1][len("RESULT ") :])


def test_the_namespace_has_only_loopback(two_nodes: dict[str, Any]) -> None:
    interfaces = {line.split()[1] for line in two_nodes["addresses"].splitlines() if line.strip()}
    assert interfaces == {"lo"}
    assert two_nodes["node_ips"] == ["127.0.0.1"]


def test_a_batch_runs_on_both_nodes_in_order(two_nodes: dict[str, Any]) -> None:
    assert len(two_nodes["nodes"]) == 2
    contents: list[str] = two_nodes["contents"]
    assert [c.rsplit("|", 1)[1] for c in contents] == [str(i) for i in range(24)]
    used = {c.split(":")[1] for c in contents}
    assert used == set(two_nodes["nodes"]), "the two actors did not land on the two nodes"


def test_nothing_of_ours_listens_outside_loopback(two_nodes: dict[str, Any]) -> None:
    mine = set(two_nodes["mine"])
    ours: list[str] = []
    for line in two_nodes["listeners"]:
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & mine or "ray::" in line:
            ours.append(line.split()[3])
    assert len(ours) >= 4, two_nodes["listeners"]  # GCS and two raylets at least: the listing saw the cluster
    outside = [a for a in ours if not LOOPBACK.match(a)]
    assert not outside, f"Ray listens outside loopback: {outside}"
    # In a namespace of its own every listener is the test's: none may be a wildcard either.
    assert all(LOOPBACK.match(line.split()[3]) for line in two_nodes["listeners"])


def test_every_process_it_started_is_gone(two_nodes: dict[str, Any]) -> None:
    alive = [p for p in two_nodes["mine"] if _alive(p)]
    assert not alive, f"processes of the two-node cluster still running: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A recycled PID would be another program; a Ray process of ours would still say so.
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return "ray" in cmd or "_two_nodes" in cmd
