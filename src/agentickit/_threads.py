"""Worker threads for sync user code (tools, workflow steps): off the loop, bounded, cheap to reach, and unable to hold anything up.

`asyncio.to_thread` uses the loop's default executor, and `asyncio.run()` waits for that executor's
threads when it finishes. A sync tool stuck past its timeout would therefore keep `run_sync()` (and
the CLI) waiting until the function returned, long after the run itself was over. These workers are
daemon threads that the loop does not own: a stuck tool costs one thread until it returns, and
nothing waits for it. Threads are reused while busy, and exit after a minute of idleness.

The hand-off is a `SimpleQueue` (a lock-free put) to an idle worker and `call_soon_threadsafe` back;
no `concurrent.futures.Future`, no executor bookkeeping (`bench/core.py`, `core.tool_dispatch`).

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
import functools
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

_PENDING, _RUNNING, _DONE, _ABANDONED, _HUNG = range(5)


class WorkerGate:
    """One sync tool's standing with the workers: how many of its calls are hung (running, unwanted).

    Subclasses say who is refused (`refused`): a workflow step's gate raises a `WorkflowError`.
    """

    __slots__ = ("hung", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.hung = 0
        """Calls still running in a worker thread after their caller gave up (changed under the pool's lock)."""

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
    __slots__ = ("context", "fn", "future", "gate", "kwargs", "loop", "state", "watch")

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
        self.state = _PENDING
        self.watch: Callable[[asyncio.Future[Any]], None] | None = None


class _Workers:
    __slots__ = ("_idle", "_lock", "_queue", "_threads")

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any], gate: WorkerGate | None) -> asyncio.Future[Any]:
        if gate is not None and gate.hung >= HUNG_LIMIT:
            raise gate.refused()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        call = _Call(loop, future, fn, kwargs, gate)
        # Removed again when the result comes (`_settle`): only a cancelled call runs it, and a
        # completed one does not schedule a callback for nothing.
        call.watch = functools.partial(self._gave_up, call)
        future.add_done_callback(call.watch)
        with self._lock:
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

    def _gave_up(self, call: _Call, future: asyncio.Future[Any]) -> None:
        # On the loop: the caller timed out or was cancelled. Not started yet: it never will be.
        call.watch = None  # it referred to the call: no cycle left for the GC
        if not future.cancelled():
            return
        with self._lock:
            if call.state == _PENDING:
                call.state = _ABANDONED
            elif call.state == _RUNNING:
                call.state = _HUNG
                if call.gate is not None:
                    call.gate.hung += 1

    def _work(self) -> None:
        while True:
            try:
                call = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody claimed this worker meanwhile: retire it
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            with self._lock:
                # The future's own flag too: its done-callback may not have run on the loop yet.
                skip = call.state == _ABANDONED or call.future.cancelled()
                call.state = _ABANDONED if skip else _RUNNING
            if not skip:
                try:
                    result: Any = call.context.run(call.fn, **call.kwargs)
                except BaseException as exc:
                    self._finish(call, None, exc)
                else:
                    self._finish(call, result, None)
            else:
                with self._lock:
                    self._idle += 1
            del call

    def _finish(self, call: _Call, result: Any, exc: BaseException | None) -> None:
        with self._lock:
            hung = call.state == _HUNG
            call.state = _DONE
            if hung and call.gate is not None:
                call.gate.hung -= 1
            # Idle before the result goes back, not after: once the loop is woken this thread only
            # has to reach its queue.get() (which lets go of the GIL the loop thread then wants).
            self._idle += 1
        if hung:
            return  # nobody waits for it any more
        try:
            call.loop.call_soon_threadsafe(_settle, call, result, exc)
        except RuntimeError:
            pass  # the loop is closed: the run that wanted this result is long over


def _settle(call: _Call, result: Any, exc: BaseException | None) -> None:
    future = call.future
    if future.cancelled():
        return  # the call timed out or its run was cancelled
    watch = call.watch
    if watch is not None:
        call.watch = None  # it referred to the call: no cycle left for the GC
        future.remove_done_callback(watch)
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
    fn: Callable[..., Any], kwargs: dict[str, Any], gate: WorkerGate | None = None
) -> asyncio.Future[Any]:
    """Run `fn(**kwargs)` in a daemon worker thread (with the caller's context variables); await the result.

    Cancelling the returned future before a worker takes the call means it never starts; after, the
    call is counted as hung on `gate` until it returns.

    Raises:
        ToolError: `gate`'s tool has `HUNG_LIMIT` hung calls (a subclass's gate: its `refused()` error).

    """
    return _workers.submit(fn, kwargs, gate)
