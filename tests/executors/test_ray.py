"""RayExecutor on a real single-node Ray cluster on 127.0.0.1 (one cluster for the whole module)."""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import agentickit as ak
from agentickit.config import executor_from_config, loads_config
from agentickit.errors import ConfigError, RunError, UserError, WorkflowError
from agentickit.executors import BatchItem, LocalExecutor, RayExecutor

from ._ray_probe import probe_agent

# Ray reads these when it is imported, so they are set before the import, not in the fixture. Without
# the second, Ray 2.60 advertises (and binds) the machine's external address even when told
# _node_ip_address="127.0.0.1"; with it every listener stays on 127.0.0.1 (test_listens_on_loopback_only).
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray")  # the `ray` extra: installed by `make install` (and so in CI)
psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One Ray instance for the module, every listener on loopback; stopped by `ray.shutdown()` (its own PIDs)."""
    ray.init(
        address="local",
        _node_ip_address="127.0.0.1",
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=80 * 1024 * 1024,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def executor(cluster: Any) -> Iterator[RayExecutor]:
    ex = RayExecutor(num_actors=2, chunk_size=4)
    yield ex
    asyncio.run(ex.aclose())


def _pid(item: BatchItem) -> int:
    assert item.content is not None
    return int(item.content.split(":", 1)[0])


async def test_batch_in_order_with_progress_and_per_item_failures(executor: RayExecutor) -> None:
    inputs = [f"pid:|{i}" if i % 7 else f"fail:bad {i}|{i}" for i in range(40)]
    seen: list[tuple[int, int]] = []

    async def on_progress(done: int, total: int, item: BatchItem) -> None:
        seen.append((done, total))

    batch = await probe_agent().run_batch(inputs, concurrency=8, executor=executor, on_progress=on_progress)
    assert [i.input for i in batch] == inputs
    assert [d for d, _ in seen] == list(range(1, 41)) and {t for _, t in seen} == {40}
    assert sorted(batch.errors) == [0, 7, 14, 21, 28, 35]
    assert all(isinstance(e, ValueError) and str(e).startswith("bad ") for e in batch.errors.values())
    ok = [i for i in batch if i.ok]
    assert [i.content.split(":", 1)[1] for i in ok if i.content] == [i.input for i in ok]
    pids = {_pid(i) for i in ok}
    assert len(pids) == 2 and os.getpid() not in pids  # both actors worked, neither is this process


async def test_workflow_run_batch_on_the_cluster(executor: RayExecutor) -> None:
    wf = ak.SequentialWorkflow("wf")
    wf.add_step(ak.Step("one", probe_agent()))
    batch = await wf.run_batch([f"pid:|{i}" for i in range(6)], concurrency=4, executor=executor)
    assert batch.ok
    assert all(_pid(i) != os.getpid() for i in batch)


async def test_stream_batch_in_order_or_as_completed(executor: RayExecutor) -> None:
    # Item 0 is the slowest: in order it comes first, as completed it comes last.
    inputs = ["sleep:0.6|0", "sleep:0|1", "sleep:0|2", "sleep:0|3"]
    agent = probe_agent()
    ordered = [i.index async for i in executor.stream_batch(agent, inputs, concurrency=8)]
    completed = [i.index async for i in executor.stream_batch(agent, inputs, concurrency=8, as_completed=True)]
    assert ordered == [0, 1, 2, 3]
    assert sorted(completed) == [0, 1, 2, 3] and completed[-1] == 0


async def _running(executor: RayExecutor) -> int:
    return sum(await asyncio.gather(*(a.running.remote() for a in executor.actors)))


async def test_cancelling_the_batch_cancels_the_remote_work(executor: RayExecutor) -> None:
    task = asyncio.create_task(probe_agent().run_batch(["hang:"] * 6, concurrency=6, executor=executor))
    async with asyncio.timeout(30):
        while not executor.actors or await _running(executor) < 6:  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(15):
        while await _running(executor):  # noqa: ASYNC110 - polling another process
            await asyncio.sleep(0.05)
    assert await _running(executor) == 0  # the actors are alive and idle: the remote runs were cancelled


async def test_a_killed_actor_has_only_its_unfinished_items_retried(executor: RayExecutor, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    inputs = [f"log:{log}|{i}" for i in range(16)]
    finished_before_kill: set[int] = set()
    killed: list[Any] = []

    def on_progress(done: int, total: int, item: BatchItem) -> None:
        if not killed:
            finished_before_kill.add(item.index)  # the driver saw this one finish before the kill
            killed.append(executor.actors[0])
            ray.kill(killed[0], no_restart=True)

    batch = await probe_agent().run_batch(inputs, concurrency=8, executor=executor, on_progress=on_progress)
    assert batch.ok, batch.errors
    runs = log.read_text().split()
    counts = {i: runs.count(str(i)) for i in range(16)}
    assert all(c >= 1 for c in counts.values())
    # The item whose completion the driver saw first (before the kill) never ran again.
    assert finished_before_kill and all(counts[i] == 1 for i in finished_before_kill)
    assert len(runs) > 16  # the killed actor's running items did run again elsewhere
    assert killed[0] not in executor.actors


async def test_an_unpicklable_tool_fails_before_anything_is_sent(cluster: Any) -> None:
    lock = threading.Lock()

    @ak.tool
    def guarded(x: str) -> str:
        """Uses a lock from the enclosing scope."""
        with lock:
            return x

    agent = ak.Agent("locked", llm="simulated", tools=[guarded])
    fresh = RayExecutor(num_actors=1)
    with pytest.raises(UserError, match=r"tool 'guarded' cannot be pickled.*lock"):
        await agent.run_batch(["a"], executor=fresh)
    assert fresh.actors == []  # no actor was created, nothing was shipped


async def test_a_step_runs_on_the_cluster(executor: RayExecutor) -> None:
    wf = ak.SequentialWorkflow("placed")
    wf.add_step(ak.Step("heavy", probe_agent(), executor=executor))
    wf.add_step(ak.Step("here", lambda text: f"{os.getpid()}|{text}"))
    res = await wf.run("pid:")
    remote_pid = int(str(res.steps["heavy"].output).split(":", 1)[0])
    assert remote_pid != os.getpid() and remote_pid in {p for p, _ in await _ready(executor)}
    assert res.content.startswith(f"{os.getpid()}|{remote_pid}:")


async def _ready(executor: RayExecutor) -> list[tuple[int, str]]:
    return list(await asyncio.gather(*(a.ready.remote() for a in executor.actors)))


def test_a_step_executor_needs_run_one() -> None:
    with pytest.raises(WorkflowError, match="run_one"):
        ak.Step("x", probe_agent(), executor=object())


async def test_local_executor_runs_a_step_in_process() -> None:
    wf = ak.SequentialWorkflow("local")
    wf.add_step(ak.Step("s", probe_agent(), executor=LocalExecutor()))
    assert (await wf.run("pid:")).content.startswith(f"{os.getpid()}:")


async def test_executor_from_config(cluster: Any) -> None:
    cfg = loads_config(
        '[executor]\nkind = "ray"\nnum_actors = 1\nconcurrency_per_actor = 3\nchunk_size = 2\nnum_cpus_per_actor = 0\n'
    )
    ex = executor_from_config(cfg)
    assert isinstance(ex, RayExecutor)
    assert (ex.num_actors, ex.concurrency_per_actor, ex.chunk_size, ex.num_cpus_per_actor) == (1, 3, 2, 0)
    try:
        batch = await probe_agent().run_batch([f"pid:|{i}" for i in range(5)], concurrency=10, executor=ex)
        assert batch.ok and len({_pid(i) for i in batch}) == 1  # num_actors = 1 took effect
    finally:
        await ex.aclose()
    assert isinstance(executor_from_config(loads_config('[executor]\nkind = "local"\n')), LocalExecutor)
    with pytest.raises(ConfigError, match='num_actors apply to kind = "ray"'):
        loads_config('[executor]\nkind = "local"\nnum_actors = 2\n')
    with pytest.raises(ConfigError, match="address"):
        executor_from_config(loads_config('[executor]\nkind = "ray"\naddress = "10.0.0.1:6379"\n'))


def test_constructor_rejects_bad_values() -> None:
    cases: tuple[tuple[dict[str, Any], str], ...] = (
        ({"num_actors": 0}, "num_actors"),
        ({"concurrency_per_actor": 0}, "concurrency_per_actor"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"num_cpus_per_actor": -1}, "num_cpus_per_actor"),
        ({"start_timeout": 0}, "start_timeout"),
        ({"address": "10.0.0.1:6379"}, "address"),
    )
    for kwargs, what in cases:
        with pytest.raises(UserError, match=what):
            RayExecutor(**kwargs)


async def test_actors_that_cannot_be_placed_fail_within_start_timeout(executor: RayExecutor) -> None:
    await probe_agent().run_batch(["pid:"], executor=executor)  # the module's 2 actors hold both CPUs
    crowded = RayExecutor(num_actors=1, start_timeout=1.5)
    with pytest.raises(RunError, match=r"did not start within 1.5s"):
        await probe_agent().run_batch(["pid:"], executor=crowded)
    assert crowded.actors == []


async def test_listens_on_loopback_only(executor: RayExecutor) -> None:
    await probe_agent().run_batch(["pid:"], executor=executor)  # actors up
    mine = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
    listeners: list[str] = []
    ss = await asyncio.create_subprocess_exec("ss", "-ltnpH", stdout=asyncio.subprocess.PIPE)
    out, _ = await ss.communicate()
    for line in out.decode().splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & mine:
            listeners.append(line.split()[3])
    assert listeners, "found no listener of this test's Ray processes"
    outside = [a for a in listeners if not re.match(r"^(\[::ffff:)?127\.0\.0\.1\]?:\d+$", a)]
    assert not outside, f"Ray listens outside loopback: {outside}"
