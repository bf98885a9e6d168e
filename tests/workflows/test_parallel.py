from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import agentickit as ak


async def test_parallel_starts_every_step_at_once() -> None:
    # Each step waits until all three have started: run one at a time, this would never finish.
    started = 0
    all_started = asyncio.Event()

    def make(name: str):
        async def step(text: str) -> str:
            nonlocal started
            started += 1
            if started == 3:
                all_started.set()
            await all_started.wait()
            return f"{name}:{text}"

        return step

    wf = ak.ParallelWorkflow("p")
    for name in ("a", "b", "c"):
        wf.add_step(name, make(name))
    async with asyncio.timeout(5):
        result = await wf.run("in")
    assert result.content == "[a]\na:in\n\n[b]\nb:in\n\n[c]\nc:in"
    assert result.outputs == {"a": "a:in", "b": "b:in", "c": "c:in"}


async def test_parallel_simulated_agents_overlap() -> None:
    # Three agents whose model waits on a shared barrier: only concurrent runs get through.
    barrier = asyncio.Barrier(3)

    def reply(request: object) -> str:
        return "ok"

    async def agent_step(text: str) -> str:
        agent = ak.Agent("x", llm=ak.SimulatedModel(reply=reply))
        await barrier.wait()
        return (await agent.run(text)).content

    wf = ak.ParallelWorkflow("p").add_step("a", agent_step).add_step("b", agent_step).add_step("c", agent_step)
    async with asyncio.timeout(5):
        result = await wf.run("q")
    assert result.ok and result.outputs == {"a": "ok", "b": "ok", "c": "ok"}


async def test_max_concurrency_bounds_running_steps() -> None:
    active = 0
    peak = 0
    started: list[str] = []
    two_running = asyncio.Event()
    release = asyncio.Event()

    def make(name: str):
        async def step(text: str) -> str:
            nonlocal active, peak
            started.append(name)
            active += 1
            peak = max(peak, active)
            if active == 2:
                two_running.set()
            await release.wait()
            active -= 1
            return name

        return step

    wf = ak.ParallelWorkflow("p", max_concurrency=2)
    for name in "abcd":
        wf.add_step(name, make(name))
    async with asyncio.timeout(5):
        task = asyncio.create_task(wf.run("x"))
        await two_running.wait()
        for _ in range(20):  # let any step that could start do so
            await asyncio.sleep(0)
        assert started == ["a", "b"]
        release.set()
        result = await task
    assert peak == 2
    assert result.ok and set(result.outputs) == set("abcd")


async def test_without_fail_fast_every_step_finishes_and_failures_are_per_step() -> None:
    release = asyncio.Event()

    async def boom(text: str) -> str:
        release.set()
        raise RuntimeError("boom")

    async def slow(text: str) -> str:
        await release.wait()
        return "slow done"

    wf = ak.ParallelWorkflow("p").add_step("boom", boom).add_step("slow", slow).add_step("fast", lambda t: "fast")
    async with asyncio.timeout(5):
        result = await wf.run("x", raise_on_error=False)
    assert result.steps["boom"].status is ak.StepStatus.FAILED
    assert result.steps["slow"].status is ak.StepStatus.OK and result.steps["slow"].output == "slow done"
    assert result.steps["fast"].status is ak.StepStatus.OK
    assert result.content == "[slow]\nslow done\n\n[fast]\nfast"
    assert isinstance(result.error, ak.errors.WorkflowError) and "'boom' failed" in str(result.error)


async def test_fail_fast_cancels_siblings() -> None:
    slow_started = asyncio.Event()
    cancelled = asyncio.Event()

    async def slow(text: str) -> str:
        slow_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    async def boom(text: str) -> str:
        await slow_started.wait()
        raise RuntimeError("boom")

    wf = ak.ParallelWorkflow("p", fail_fast=True).add_step("slow", slow).add_step("boom", boom)
    async with asyncio.timeout(5):
        result = await wf.run("x", raise_on_error=False)
    assert cancelled.is_set()
    assert result.steps["boom"].status is ak.StepStatus.FAILED
    assert result.steps["slow"].status is ak.StepStatus.CANCELLED
    assert result.steps["slow"].reason == "cancelled: step 'boom' failed and fail_fast is on"
    assert result.stop_reason == "failed"


async def test_fail_fast_skips_steps_waiting_for_a_slot() -> None:
    async def boom(text: str) -> str:
        raise RuntimeError("boom")

    wf = ak.ParallelWorkflow("p", fail_fast=True, max_concurrency=1).add_step("boom", boom)
    wf.add_step("later", lambda t: t)
    result = await wf.run("x", raise_on_error=False)
    assert result.steps["later"].status is ak.StepStatus.SKIPPED


async def test_bad_max_concurrency() -> None:
    try:
        ak.ParallelWorkflow("p", max_concurrency=0)
    except ak.errors.WorkflowError as exc:
        assert "max_concurrency" in str(exc)
    else:
        raise AssertionError("max_concurrency=0 accepted")


async def test_parallel_rejects_depends_on() -> None:
    try:
        ak.ParallelWorkflow("p").add_step("a", lambda t: t, depends_on=["b"])
    except ak.errors.WorkflowError as exc:
        assert "DAGWorkflow" in str(exc)
    else:
        raise AssertionError("depends_on accepted by a parallel workflow")


async def test_sync_steps_run_in_threads_concurrently_without_blocking_the_loop(loop_lag: Any) -> None:
    # Two blocking steps that each wait for the other: only real threads get both through.
    barrier = threading.Barrier(2, timeout=5)

    def blocking(text: str) -> str:
        barrier.wait()
        time.sleep(0.3)  # the work itself, blocking on purpose
        return text

    wf = ak.ParallelWorkflow("p").add_step("a", blocking).add_step("b", blocking)
    async with asyncio.timeout(5):
        result = await wf.run("x")
    assert result.ok
    assert loop_lag.max_lag < 0.2  # blocked, the loop would have stalled for 0.3 s


async def test_a_skipped_step_adds_nothing_to_the_combined_content() -> None:
    wf = ak.ParallelWorkflow("p").add_step("a", lambda t: "A").add_step("b", lambda t: "B", condition=lambda ctx: False)
    result = await wf.run("x")
    assert result.content == "[a]\nA" and result.ok
