"""Worker threads for sync tools that can never hold up a loop's shutdown or the process's exit.

`asyncio.to_thread` uses the loop's default executor, and `asyncio.run()` waits for that executor's
threads when it finishes. A sync tool stuck past its timeout would therefore keep `run_sync()` (and
the CLI) waiting until the function returned, long after the run itself was over. These workers are
daemon threads that the loop does not own: a stuck tool costs one thread until it returns, and
nothing waits for it. Threads are reused while busy, and exit after a minute of idleness.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ("run_in_worker",)

_IDLE_SECONDS = 60.0
_MAX_THREADS = 256
"""More concurrent sync tool calls than this wait for a free thread (each stuck call holds one)."""

_Item = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", contextvars.Context, Callable[..., Any], dict[str, Any]]


class _Workers:
    __slots__ = ("_idle", "_lock", "_queue", "_threads")

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads = 0

    def submit(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # claim an idle worker; it picks the item up from the queue
                start = False
            else:
                start = self._threads < _MAX_THREADS
                if start:
                    self._threads += 1
        self._queue.put((loop, future, contextvars.copy_context(), fn, kwargs))
        if start:
            threading.Thread(target=self._work, name="agentickit-tool", daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            try:
                loop, future, context, fn, kwargs = self._queue.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody claimed this worker meanwhile: retire it
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue
            try:
                result: Any = context.run(fn, **kwargs)
            except BaseException as exc:
                _deliver(loop, future, None, exc)
            else:
                _deliver(loop, future, result, None)
            del loop, future, context, fn, kwargs
            with self._lock:
                self._idle += 1


def _deliver(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, exc: BaseException | None
) -> None:
    try:
        loop.call_soon_threadsafe(_settle, future, result, exc)
    except RuntimeError:
        pass  # the loop is closed: the run that wanted this result is long over


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return  # the call timed out or its run was cancelled
    if isinstance(exc, StopIteration):
        # A future cannot hold StopIteration (it would end the awaiting coroutine's frame).
        exc = RuntimeError(f"the tool raised StopIteration: {exc}")
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


_workers = _Workers()


def run_in_worker(fn: Callable[..., Any], kwargs: dict[str, Any]) -> asyncio.Future[Any]:
    """Run `fn(**kwargs)` in a daemon worker thread (with the caller's context variables); await the result."""
    return _workers.submit(fn, kwargs)
