"""Sync function steps run in the worker pool sync tools use (`agentickit/_threads.py`), with its guarantees:
off the loop, bounded, a step that timed out before a thread took it never starts, hung threads
counted (and refused past `HUNG_LIMIT`), contextvars carried, and nothing holding up `asyncio.run`."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

import agentickit as ak
from agentickit import _threads
from agentickit._threads import HUNG_LIMIT, MAX_THREADS, run_in_worker
from agentickit.errors import WorkflowError
from tests.conftest import wait_until

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("step_var", default="unset")


async def test_a_sync_step_runs_in_a_pool_thread_off_the_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[int, str]] = []
    # The sync step waits for the async step, which runs on the loop: if the sync step held the
    # loop, the async one could never set the event and the run would hang.
    unblock = threading.Event()

    def sync_step(text: str) -> str:
        seen.append((threading.get_ident(), threading.current_thread().name))
        assert unblock.wait(5), "the loop was blocked while the sync step ran"
        return "sync"

    async def async_step(text: str) -> str:
        await asyncio.sleep(0.01)
        unblock.set()
        return "async"

    wf = ak.ParallelWorkflow("p").add_step("sync", sync_step).add_step("async", async_step)
    async with asyncio.timeout(5):
        result = await wf.run("go")
    assert result.steps["sync"].output == "sync" and result.steps["async"].output == "async"
    [(ident, name)] = seen
    assert ident != loop_thread
    assert name == "agentickit-tool"  # the pool's thread, not the loop's default executor


async def test_contextvars_and_the_workflow_context_reach_a_sync_step() -> None:
    _VAR.set("from the caller")

    def read(text: str, ctx: ak.WorkflowContext) -> str:
        return f"{_VAR.get()} / {ctx.outputs['first']}"

    wf = ak.SequentialWorkflow("s").add_step("first", lambda t: t.upper()).add_step("read", read)
    result = await wf.run("in")
    assert result.content == "from the caller / IN"


async def test_a_sync_step_that_timed_out_before_a_thread_took_it_never_starts() -> None:
    release = threading.Event()
    busy: list[asyncio.Future[object]] = []
    # Fill every worker thread of the process (the pool is bounded), so the step's call queues.
    workers = _threads._workers
    while not (workers._threads >= MAX_THREADS and workers._idle == 0):
        busy.append(run_in_worker(release.wait, {"timeout": 30}))
    ran = threading.Event()

    def queued(text: str) -> str:
        ran.set()
        return "ran"

    wf = ak.SequentialWorkflow("s").add_step("queued", queued, timeout=0.2)
    try:
        assert workers._threads == MAX_THREADS  # bounded: no thread was started past the limit
        async with asyncio.timeout(5):
            result = await wf.run("go", raise_on_error=False)
        assert result.steps["queued"].status is ak.StepStatus.TIMED_OUT
    finally:
        release.set()
    await asyncio.gather(*busy)
    await wait_until(lambda: workers._idle >= MAX_THREADS)  # the freed workers drained the queue
    assert not ran.is_set()
    assert wf.steps[0].hung_calls == 0  # it never ran, so it never hung either


async def test_hung_sync_steps_are_counted_and_refused_past_the_limit() -> None:
    release = threading.Event()

    def stuck(text: str) -> str:
        release.wait(30)
        return "late"

    # Each attempt times out and leaves its thread running: HUNG_LIMIT attempts in one run.
    wf = ak.SequentialWorkflow("s").add_step("stuck", stuck, timeout=0.05, retries=HUNG_LIMIT - 1)
    step = wf.steps[0]
    try:
        async with asyncio.timeout(10):
            result = await wf.run("go", raise_on_error=False)
        assert result.steps["stuck"].status is ak.StepStatus.TIMED_OUT
        await wait_until(lambda: step.hung_calls == HUNG_LIMIT)
        assert step.hung_calls == HUNG_LIMIT
        # The next run is refused at once, with a clear error, instead of taking yet another thread.
        started = time.monotonic()
        result = await wf.run("again", raise_on_error=False)
        assert time.monotonic() - started < 1.0
        error = result.steps["stuck"].error
        assert isinstance(error, WorkflowError) and "'stuck' has 16 calls still running" in str(error)
        # Other sync steps (and tools) still get threads.
        other = ak.SequentialWorkflow("o").add_step("fine", lambda t: "fine")
        assert (await other.run("x")).content == "fine"
    finally:
        release.set()
    await wait_until(lambda: step.hung_calls == 0)
    assert step.hung_calls == 0
    fast = ak.SequentialWorkflow("f").add_step("stuck", stuck)
    assert (await fast.run("x")).content == "late"  # accepted again once they returned


def test_a_hung_sync_step_does_not_hold_up_run_sync() -> None:
    release = threading.Event()

    def stuck(text: str) -> str:
        release.wait(30)
        return "late"

    wf = ak.SequentialWorkflow("s").add_step("stuck", stuck, timeout=0.1)
    started = time.monotonic()
    try:
        # `asyncio.to_thread` ran on the loop's default executor, which `asyncio.run()` waits for
        # at exit: run_sync returned only when the function did (30 s here).
        result = wf.run_sync("go", raise_on_error=False)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert result.steps["stuck"].status is ak.StepStatus.TIMED_OUT
    assert elapsed < 5.0


def test_a_step_gate_pickles_without_its_hung_count() -> None:
    import pickle

    wf = ak.SequentialWorkflow("s").add_step("up", str.upper)
    gate = wf.steps[0]._gate
    # A call still running after its caller gave up (its future is done): what a hung attempt looks like.
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[object] = loop.create_future()
        future.cancel()
        gate.running.add(_threads._Call(loop, future, str.upper, {}, gate))
        assert gate.hung == 1
    finally:
        loop.close()
    copy = pickle.loads(pickle.dumps(gate))
    assert type(copy) is type(gate) and copy.name == "up" and copy.hung == 0
    with pytest.raises(WorkflowError, match="step 'up' has 0 calls"):
        raise copy.refused()


async def test_sys_exit_in_a_sync_step_fails_the_step_not_the_run() -> None:
    import sys

    def leave(text: str) -> str:
        sys.exit(3)

    wf = ak.SequentialWorkflow("s").add_step("leave", leave)
    result = await wf.run("go", raise_on_error=False)  # SystemExit escaped the run before
    step = result.steps["leave"]
    assert step.status is ak.StepStatus.FAILED and "SystemExit: 3" in str(step.error)
