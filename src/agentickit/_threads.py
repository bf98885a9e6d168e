"""Worker threads for sync user code (tools, workflow steps): off the loop, bounded, cheap to reach, and unable to hold anything up.

`asyncio.to_thread` uses the loop's default executor, and `asyncio.run()` waits for that executor's
threads when it finishes. A sync tool stuck past its timeout would therefore keep `run_sync()` (and
the CLI) waiting until the function returned, long after the run itself was over. These workers are
daemon threads that the loop does not own: a stuck tool costs one thread until it returns, and
nothing waits for it. Threads are reused while busy, and exit after a minute of idleness.

The hand-off is a `SimpleQueue` (a lock-free put) to an idle worker and `call_soon_threadsafe` back;
no `concurrent.futures.Future`, no executor bookkeeping (`bench/core.py`, `core.tool_dispatch`). A call's
timeout is its future's (a timer that fails it), and a call's caller giving up needs no done-callback:
the worker skips a call whose future is done, and a gate counts as hung its running calls whose futures
are. Measured on this 2-core machine (interleaved, uvloop): a bare `SimpleQueue` + `call_soon_threadsafe`
hop ~9 us, this pool ~12 us, a warm one-thread `ThreadPoolExecutor` ~23 us. A worker spinning for
the next call (GIL released with `sleep(0)`) made the hop ~100 us, and waking the awaiting task without
the future's own loop callback saved nothing: neither is done.

The guarantees:
- off the loop: a sync function only ever runs in a worker thread, with the caller's contextvars;
- bounded: at most `MAX_THREADS` threads; more concurrent calls wait for a free one;
- a call whose caller gave up (its timeout, or its run cancelled) before a worker took it never starts;
- hung calls are counted: a call still running after its caller gave up holds its thread ("hung");
  `Agent.tool_metrics()` shows them per tool (`Step.hung_calls` per workflow step), and a tool or
  step with `HUNG_LIMIT` hung calls is refused new calls (a clear `ToolError`, or `WorkflowError`
  for a step) until some return, so one function that hangs cannot take every thread and starve
  the other tools, steps and agents of the process.

Sync tools and sync workflow steps share the one pool (and its bound): it is the process's budget
of threads for user code, whichever part of agentickit calls it.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

from ._cancel import UserExit
from .errors import ToolError

__all__ = ("HUNG_LIMIT", "MAX_THREADS", "WorkerGate", "run_in_worker")

_IDLE_SECONDS = 60.0
MAX_THREADS = 256
"""More concurrent sync calls (tools and workflow steps) than this wait for a free thread (each hung call holds one)."""
HUNG_LIMIT = 16
"""A tool with this many calls still running past their caller is refused new calls until some return."""


class WorkerGate:
    """One sync tool's standing with the workers: how many of its calls are hung (running, unwanted).

    Subclasses say who is refused (`refused`): a workflow step's gate raises a `WorkflowError`.
    """

    __slots__ = ("name", "running")

    def __init__(self, name: str) -> None:
        self.name = name
        self.running: set[_Call] = set()
        """The calls running in a worker thread now (changed under the pool's lock)."""

    @property
    def hung(self) -> int:
        """Calls still running in a worker thread after their caller gave up (timed out or cancelled)."""
        running = self.running
        if not running:
            return 0
        with _workers.lock:
            calls = list(running)
        # A call's future is done once its caller gave up (it is settled only after the call left `running`).
        return sum(1 for c in calls if c.future.done())

    def refused(self) -> Exception:
        """The error for a new call while `HUNG_LIMIT` calls are hung."""
        return ToolError(
            f"tool {self.name!r} has {self.hung} calls still running in worker threads after their timeout; "
            "new calls are refused until some return (make the function give up by itself, e.g. a timeout "
            "on its socket or subprocess)",
            tool_name=self.name,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.name,))  # threads stay behind: a copy starts with none hung


class _Call:
    __slots__ = ("context", "expired", "fn", "future", "gate", "kwargs", "loop", "timer")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[Any],
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        gate: WorkerGate | None,
    ) -> None:
        self.loop = loop
        self.future = future
        self.context = contextvars.copy_context()
        self.fn = fn
        self.kwargs = kwargs
        self.gate = gate
        self.timer: asyncio.TimerHandle | None = None
        self.expired: Callable[[], BaseException] | None = None


class _Workers:
    __slots__ = ("_idle", "_queue", "_threads", "lock")

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(
        self,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        gate: WorkerGate | None,
        timeout: float | None,
        expired: Callable[[], BaseException] | None,
    ) -> asyncio.Future[Any]:
        if gate is not None and gate.running and gate.hung >= HUNG_LIMIT:
            raise gate.refused()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        call = _Call(loop, future, fn, kwargs, gate)
        if timeout is not None:
            # The deadline is the future's own: at expiry it fails with `expired()`, so nothing on the
            # loop (no task, no cancel) has to take part; a worker that takes the call later skips it.
            call.expired = expired
            call.timer = loop.call_later(timeout, _expire, call)
        with self.lock:
            if self._idle > 0:
                self._idle -= 1  # claim an idle worker; it picks the item up from the queue
                start = False
            else:
                start = self._threads < MAX_THREADS
                if start:
                    self._threads += 1
        self._queue.put(call)
        if start:
            threading.Thread(target=self._work, name="agentickit-tool", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            try:
                call = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self.lock:
                    if self._idle > 0:  # nobody claimed this worker meanwhile: retire it
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            gate = call.gate
            with self.lock:
                # Its caller gave up (timeout, cancel) before a thread took it: it never starts. The
                # future is only ever completed on the loop; read here, it is done or about to be.
                skip = call.future.done()
                if not skip and gate is not None:
                    gate.running.add(call)
            if not skip:
                try:
                    result: Any = call.context.run(call.fn, **call.kwargs)
                except BaseException as exc:
                    self._finish(call, result=None, exc=exc)
                else:
                    self._finish(call, result, None)
            else:
                with self.lock:
                    self._idle += 1
                if call.timer is not None:
                    self._back(call, None, None)  # its timer goes (it held the call until its expiry)
            del call

    def _finish(self, call: _Call, result: Any, exc: BaseException | None) -> None:
        gate = call.gate
        with self.lock:
            if gate is not None:
                gate.running.discard(call)
            # Idle before the result goes back, not after: once the loop is woken this thread only
            # has to reach its queue.get() (which lets go of the GIL the loop thread then wants).
            self._idle += 1
        self._back(call, result, exc)

    @staticmethod
    def _back(call: _Call, result: Any, exc: BaseException | None) -> None:
        try:
            call.loop.call_soon_threadsafe(_settle, call, result, exc)
        except RuntimeError:
            pass  # the loop is closed: the run that wanted this result is long over


def _expire(call: _Call) -> None:
    # On the loop: the call's timeout. Its caller gets the error now; the call never starts if no
    # thread has taken it yet, or counts as hung (`WorkerGate.hung`) until it returns.
    call.timer = None
    future = call.future
    if not future.done() and call.expired is not None:
        future.set_exception(call.expired())


def _settle(call: _Call, result: Any, exc: BaseException | None) -> None:
    timer = call.timer
    if timer is not None:
        call.timer = None
        timer.cancel()
    future = call.future
    if future.done():
        return  # the call timed out or its run was cancelled: nobody waits for it
    if isinstance(exc, StopIteration):
        # A future cannot hold StopIteration (it would end the awaiting coroutine's frame).
        exc = RuntimeError(f"the tool raised StopIteration: {exc}")
    elif isinstance(exc, SystemExit | GeneratorExit):
        # `sys.exit()` in a sync step or callback: raised in the awaiting task it would end the
        # run (or the program) instead of failing the one call; an error like any other instead.
        cause = exc
        exc = UserExit(f"{type(cause).__name__}: {cause}")
        exc.__cause__ = cause
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


_workers = _Workers()


def run_in_worker(
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    gate: WorkerGate | None = None,
    timeout: float | None = None,
    expired: Callable[[], BaseException] | None = None,
) -> asyncio.Future[Any]:
    """Run `fn(**kwargs)` in a daemon worker thread (with the caller's context variables); await the result.

    Cancelling the returned future before a worker takes the call means it never starts; after, the
    call is counted as hung on `gate` until it returns. With `timeout`, the future fails with
    `expired()` after that many seconds (same rules: not started yet, it never starts; else it is hung).

    Raises:
        ToolError: `gate`'s tool has `HUNG_LIMIT` hung calls (a subclass's gate: its `refused()` error).

    """
    return _workers.submit(fn, kwargs, gate, timeout, expired)
