"""The Ray half of `ray.scale`, run by bench/ray_scale.py in a child process (inside `unshare --net` when it can).

`python -m bench._ray_scale_child NODES N CONCURRENCY N0 NCPU`: starts a cluster of NODES nodes on
127.0.0.1 (1 CPU each when NODES > 1, 2 CPUs on one node otherwise), then
- start-up: cluster up and 2 warm actors (a one-item batch), from nothing;
- dispatch: N0 runs of a 0 ms simulated model; the driver's CPU time per query (sending chunks,
  receiving results) and the wall per query;
- wall: N runs of a 50 ms simulated model at CONCURRENCY;
- CPU-bound: NCPU runs that each burn 0.5 ms of client CPU (where more processes pay off).
Stops only what it started (the cluster's processes, then its own leftover descendants, by PID) and
prints one line `RESULT {json}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from typing import Any

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"


BURN_S = 0.0005


async def burn(text: str, caps: Any) -> str:
    """A run that costs 0.5 ms of client CPU (parsing, tools, prompt building), no model wait."""
    end = time.process_time() + BURN_S
    while time.process_time() < end:
        pass
    return text


def burner() -> Any:
    import agentickit as ak

    return ak.Agent("burn", llm="simulated", handler=burn)


def agent(ttft: float) -> Any:
    import agentickit as ak
    from agentickit.providers.simulated import SimulatedModel

    return ak.Agent("scale", llm=SimulatedModel(reply="ok", ttft=ttft, tools_mode="never"))


async def measure(n: int, concurrency: int, n0: int, ncpu: int, t_begin: float) -> dict[str, Any]:
    from agentickit.executors import RayExecutor

    out: dict[str, Any] = {}
    ex = RayExecutor(num_actors=2, chunk_size=64, num_cpus_per_actor=0.5)
    try:
        zero, slow = agent(0.0), agent(0.05)
        await zero.run_batch(["warm"], executor=ex)
        out["start_s"] = time.perf_counter() - t_begin
        await zero.run_batch([f"w{i}" for i in range(256)], concurrency=concurrency, executor=ex)
        c0, t0 = time.process_time(), time.perf_counter()
        batch = await zero.run_batch([f"q{i}" for i in range(n0)], concurrency=concurrency, executor=ex)
        out["zero_wall_s"], out["zero_driver_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        assert batch.ok, batch.errors
        await slow.run_batch(["warm"] * 4, executor=ex)  # a new payload: new actors, started outside the timing
        c0, t0 = time.process_time(), time.perf_counter()
        batch = await slow.run_batch([f"q{i}" for i in range(n)], concurrency=concurrency, executor=ex)
        out["slow_wall_s"], out["slow_driver_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        assert batch.ok, batch.errors
        heavy = burner()
        await heavy.run_batch(["warm"] * 4, executor=ex)
        t0 = time.perf_counter()
        batch = await heavy.run_batch([f"q{i}" for i in range(ncpu)], concurrency=concurrency, executor=ex)
        out["cpu_wall_s"] = time.perf_counter() - t0
        assert batch.ok, batch.errors
    finally:
        await ex.aclose()
    return out


def main() -> int:
    import psutil
    import ray
    from ray.cluster_utils import Cluster

    nodes, n, concurrency, n0, ncpu = (int(a) for a in sys.argv[1:6])
    temp = tempfile.mkdtemp(prefix="akray")
    os.makedirs("/tmp/ray", exist_ok=True)
    node = {"object_store_memory": 80 * 1024 * 1024, "node_ip_address": "127.0.0.1"}
    t_begin = time.perf_counter()
    cluster = Cluster()
    result: dict[str, Any] = {"nodes": nodes}
    try:
        cluster.add_node(**node, num_cpus=2 if nodes == 1 else 1, include_dashboard=False, temp_dir=temp)
        for _ in range(nodes - 1):
            cluster.add_node(**node, num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        result.update(asyncio.run(measure(n, concurrency, n0, ncpu, t_begin)))
    finally:
        ray.shutdown()
        cluster.shutdown()
        leftover = psutil.Process().children(recursive=True)
        for p in leftover:
            p.kill()
        psutil.wait_procs(leftover, timeout=10)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
