"""Real servers for the serve tests: uvicorn on 127.0.0.1 in the test's loop, and a loop watchdog.

The watchdog times every callback the event loop runs while requests are served. Wall-clock time
alone would flag the shared CI machine's preemption (other processes holding both cores), so a
callback fails the test when it spent > 10 ms on the CPU (`thread_time`) or > 10 ms blocked in a
system call: wall time minus CPU time minus the time the thread waited for a CPU (the kernel's
per-thread run-queue delay in /proc/thread-self/schedstat). The test's own task is the client (the
official SDKs parse their replies there) and is left out: it is not a request path.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import time
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import agentickit as ak
from agentickit.providers.simulated import call
from tests.conftest import free_port

LIMIT = 0.010


@dataclass
class Watchdog:
    armed: bool = False
    # The test's own task runs the client (an SDK parsing its replies): not a request path.
    client: asyncio.Task[Any] | None = None
    worst: list[tuple[float, float, str]] = field(default_factory=list)
    callbacks: int = 0

    def check(self) -> None:
        assert self.callbacks > 0, "the watchdog saw no callbacks: it was not armed"
        bad = [w for w in self.worst if w[0] > LIMIT or w[1] > LIMIT]
        assert not bad, f"event loop blocked > 10 ms (cpu s, blocked s, callback): {bad[:5]}"


_current: Watchdog | None = None


def _describe(handle: asyncio.Handle) -> str:
    owner = getattr(handle._callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        return repr(owner.get_coro())[:160]
    return repr(handle)[:160]


def _schedstat(fd: int) -> int:
    # "<ns on cpu> <ns waiting for a cpu> <timeslices>"
    return int(os.pread(fd, 100, 0).split()[1])


@pytest.fixture
def loop_watchdog() -> Iterator[Watchdog]:
    """Times every event-loop callback from now on; `check()` fails if one blocked the loop > 10 ms."""
    global _current
    dog = _current = Watchdog()
    handle_run = asyncio.Handle._run
    fd = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    thread_time = time.thread_time
    perf = time.perf_counter

    def timed(self: asyncio.Handle) -> None:
        if not dog.armed:
            handle_run(self)
            return
        w0, c0, q0, m0 = perf(), thread_time(), _schedstat(fd), set(sys.modules)
        handle_run(self)
        wall, cpu = perf() - w0, thread_time() - c0
        dog.callbacks += 1
        if wall > LIMIT and getattr(self._callback, "__self__", None) is not dog.client:
            blocked = wall - cpu - (_schedstat(fd) - q0) / 1e9
            new = sorted(set(sys.modules) - m0)
            dog.worst.append((cpu, blocked, _describe(self) + (f" imported {new[:8]}" if new else "")))

    # A full collection of the test process' heap is not a request path: start from a frozen heap.
    gc.collect()
    gc.freeze()
    asyncio.Handle._run = timed
    try:
        yield dog
    finally:
        asyncio.Handle._run = handle_run
        _current = None
        gc.unfreeze()
        os.close(fd)


@contextlib.asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncGenerator[tuple[str, ak.serve.Server]]:
    """Run `app` under uvicorn on a free 127.0.0.1 port in this loop; yields its base URL and server."""
    port = free_port()
    server = ak.serve.Server(app, host="127.0.0.1", port=port, **options)
    task = asyncio.create_task(server.serve(sockets=None))
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        # Startup (imports, the MCP server's build) is not a request path: the watchdog starts now.
        if _current is not None:
            _current.client = asyncio.current_task()
            _current.armed = True
        yield f"http://127.0.0.1:{port}", server
    finally:
        if _current is not None:
            _current.armed = False
        server.should_exit = True
        async with asyncio.timeout(30):
            await task


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def make_agent(name: str = "assistant", **model: Any) -> ak.Agent:
    """A tool-calling agent on the simulated model (it calls `weather`, then answers)."""
    return ak.Agent(name, llm=ak.SimulatedModel(**model), tools=[weather], description="Answers with the weather tool.")


def make_workflow() -> Any:
    """A DAG: two parallel research steps, then a writer that depends on both."""
    wf = ak.DAGWorkflow("pipeline")
    wf.add_step(ak.Step("left", ak.Agent("l", llm=ak.SimulatedModel(ttft=0.05))))
    wf.add_step(ak.Step("right", ak.Agent("r", llm=ak.SimulatedModel(ttft=0.08))))
    wf.add_step(ak.Step("write", ak.Agent("w", llm=ak.SimulatedModel(ttft=0.02)), depends_on=["left", "right"]))
    return wf


__all__ = ("Watchdog", "call", "make_agent", "make_workflow", "serving", "weather")
