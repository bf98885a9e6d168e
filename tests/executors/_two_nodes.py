"""Runs inside a fresh network namespace (`unshare --net`, only `lo` up), started by test_ray_cluster.py.

Starts a two-node Ray cluster on 127.0.0.1 (two raylets, one GCS), runs a batch through RayExecutor
across both, lists the listeners (`ss -ltnpH`) while everything is up, stops what it started (the
cluster's own node processes, then any descendant of this process still alive, by PID), and prints
one JSON line with what it saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import psutil
import ray
from ray.cluster_utils import Cluster

from agentickit.executors import RayExecutor
from tests.executors._ray_probe import probe_agent

NODE: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024, "node_ip_address": "127.0.0.1"}


def _listeners() -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


async def _batch(n: int) -> tuple[list[str], float]:
    ex = RayExecutor(num_actors=2, chunk_size=4, num_cpus_per_actor=1)
    try:
        t0 = time.perf_counter()
        batch = await probe_agent().run_batch([f"node:0.05|{i}" for i in range(n)], concurrency=8, executor=ex)
        wall = time.perf_counter() - t0
        assert batch.ok, batch.errors
        return [str(i.content) for i in batch], wall
    finally:
        await ex.aclose()


def main() -> int:
    temp = tempfile.mkdtemp(prefix="akray")  # this run's sessions and sockets, apart from any other Ray
    os.makedirs("/tmp/ray", exist_ok=True)  # Cluster writes the head's address there whatever temp_dir says
    t0 = time.perf_counter()
    cluster = Cluster()
    result: dict[str, Any] = {}
    try:
        cluster.add_node(**NODE, include_dashboard=False, temp_dir=temp)
        cluster.add_node(**NODE)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        result["start_s"] = time.perf_counter() - t0
        result["nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
        result["node_ips"] = sorted({n["NodeManagerAddress"] for n in ray.nodes()})
        contents, wall = asyncio.run(_batch(24))
        result["contents"] = contents
        result["batch_s"] = wall
        result["listeners"] = _listeners()
        result["mine"] = sorted({p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()})
        result["addresses"] = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    finally:
        ray.shutdown()
        cluster.shutdown()
        # Anything the cluster left (a reaper, a worker) is a descendant of this process: end those only.
        leftover = psutil.Process().children(recursive=True)
        for p in leftover:
            p.kill()
        psutil.wait_procs(leftover, timeout=10)
        result["leftover_after_shutdown"] = len(leftover)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
