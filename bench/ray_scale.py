"""Ray scale-out (issue 18): in-process vs Ray on 1 node vs 2 nodes, all on this machine's loopback.

The same simulated agent (0 ms and 50 ms model) runs `run_batch` in this process (the local
executor) and through `RayExecutor` (2 warm actors, chunks of 64) in a child process that starts its
own cluster inside `unshare --net` (only `lo` up, so every byte stays on 127.0.0.1; without root
or unshare the child runs here with one node, listeners still on loopback). Figures:

- client CPU per run in process (0 ms model): the per-core ceiling of one node, 1 / that;
- dispatch overhead per query after chunking: the Ray driver's CPU time per query (0 ms model);
- wall ratio: Ray's wall over in-process for the 50 ms batch;
- start-up: cluster up plus warm actors, from nothing; break-even: the batch size from which Ray,
  start-up included, finishes first (none when its per-run wall is not lower: on one 2-core
  machine it rarely is; on N machines the ceiling multiplies by N).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from ._util import QUICK, ROOT, Budget, Row, Unavailable

GROUP = "ray"
US = 1e6


def _agent(ttft: float) -> Any:
    import agentickit as ak
    from agentickit.providers.simulated import SimulatedModel

    return ak.Agent("scale", llm=SimulatedModel(reply="ok", ttft=ttft, tools_mode="never"))


async def _in_process(n: int, concurrency: int, n0: int, ncpu: int) -> dict[str, float]:
    from ._ray_scale_child import burner

    zero, slow = _agent(0.0), _agent(0.05)
    await zero.run_batch([f"w{i}" for i in range(256)], concurrency=concurrency)
    c0, t0 = time.process_time(), time.perf_counter()
    assert (await zero.run_batch([f"q{i}" for i in range(n0)], concurrency=concurrency)).ok
    zero_wall, zero_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    assert (await slow.run_batch([f"q{i}" for i in range(n)], concurrency=concurrency)).ok
    slow_wall = time.perf_counter() - t0
    heavy = burner()
    t0 = time.perf_counter()
    assert (await heavy.run_batch([f"q{i}" for i in range(ncpu)], concurrency=concurrency)).ok
    return {
        "zero_wall_s": zero_wall,
        "zero_cpu_s": zero_cpu,
        "slow_wall_s": slow_wall,
        "cpu_wall_s": time.perf_counter() - t0,
    }


def _child(nodes: int, n: int, concurrency: int, n0: int, ncpu: int) -> tuple[dict[str, Any], bool]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "bench._ray_scale_child", str(nodes), str(n), str(concurrency), str(n0), str(ncpu)]
    netns = shutil.which("unshare") is not None and os.geteuid() == 0
    if netns:
        cmd = ["unshare", "--net", "sh", "-c", "ip link set lo up && exec " + " ".join(cmd)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the Ray child ({nodes} node(s)) failed: {proc.stderr[-600:]}")
    return json.loads(lines[-1][len("RESULT ") :]), netns


async def scale() -> list[Row]:
    if importlib.util.find_spec("ray") is None:
        raise Unavailable('Ray is not installed: pip install "agentickit[ray]"')
    n, concurrency, n0, ncpu = (2000, 400, 2000, 1000) if QUICK else (10_000, 400, 5000, 3000)
    local = await _in_process(n, concurrency, n0, ncpu)
    one, netns = await asyncio.to_thread(_child, 1, n, concurrency, n0, ncpu)
    clusters = {"1 node": one}
    if netns:
        clusters["2 nodes"] = (await asyncio.to_thread(_child, 2, n, concurrency, n0, ncpu))[0]
    where = "inside a network namespace (loopback only)" if netns else "on loopback (no namespace: not root)"
    cpu_per_run = local["zero_cpu_s"] / n0
    rows = [
        Row(
            id="ray.inprocess_cpu_per_run",
            group=GROUP,
            title="client CPU per simulated run in process (0 ms model): the per-core ceiling",
            value=cpu_per_run * US,
            unit="us",
            n=n0,
            note=f"{1 / cpu_per_run:,.0f} runs/s per core; {n0} runs at concurrency {concurrency} in "
            f"{local['zero_wall_s']:.2f} s; the 50 ms batch of {n} took {local['slow_wall_s']:.2f} s",
            extra=local,
        )
    ]
    for label, r in clusters.items():
        slug = label.replace(" ", "")
        dispatch = r["zero_driver_cpu_s"] / n0
        # Break-even on the CPU-bound batch (0.5 ms of client CPU per run): where more processes can win.
        c_in, c_r = local["cpu_wall_s"] / ncpu, r["cpu_wall_s"] / ncpu
        if c_r < c_in:
            even = r["start_s"] / (c_in - c_r)
            even_text = (
                f"CPU-bound runs (0.5 ms client CPU each): {c_r * US:.0f} us vs {c_in * US:.0f} us wall per run, so "
                f"Ray finishes first from about {even:,.0f} runs, start-up included"
            )
        else:
            even = None
            even_text = (
                f"CPU-bound runs (0.5 ms client CPU each): {c_r * US:.0f} us vs {c_in * US:.0f} us wall per run: "
                "no break-even on this machine"
            )
        rows += [
            Row(
                id=f"ray.dispatch_per_query.{slug}",
                group=GROUP,
                title=f"Ray {label}: driver CPU per query after chunking (chunks of 64, 0 ms model)",
                value=dispatch * US,
                unit="us",
                n=n0,
                note=f"wall per query {r['zero_wall_s'] / n0 * US:.0f} us over 2 actors; {where}",
            ).judge(Budget("<=", 50.0, "<= 50 us per query") if label == "1 node" else None),
            Row(
                id=f"ray.wall_ratio.{slug}",
                group=GROUP,
                title=f"Ray {label}: wall over in-process, {n:,} runs of a 50 ms model at concurrency {concurrency}",
                value=r["slow_wall_s"] / local["slow_wall_s"],
                unit="x",
                n=1,
                baseline={"name": "in-process run_batch", "value": local["slow_wall_s"], "unit": "s"},
                note=f"{r['slow_wall_s']:.2f} s vs {local['slow_wall_s']:.2f} s; driver CPU "
                f"{r['slow_driver_cpu_s']:.2f} s",
            ).judge(Budget("<=", 1.3, "<= 1.3x in-process") if label == "1 node" else None),
            Row(
                id=f"ray.startup.{slug}",
                group=GROUP,
                title=f"Ray {label}: start-up (cluster and 2 warm actors, from nothing)",
                value=r["start_s"],
                unit="s",
                n=1,
                note=even_text,
                extra={"break_even_runs": even},
            ),
        ]
    return rows
