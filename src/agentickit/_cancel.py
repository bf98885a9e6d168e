"""Deadlines that hold against user code that swallows `CancelledError`.

A coroutine awaited inline runs in its caller's task: if it catches the cancellation a deadline (or an
outside `task.cancel()`) delivers and keeps going, the caller cannot get control back until it
chooses to return, so `run(timeout=3)` can return a success after 6 s, or never. `guarded` runs user
code (async tools, workflow function steps, async `on_chunk` callbacks) in a task of its own and waits
on a plain future instead: the caller's cancellation takes effect at once; the user's task is then
cancelled and given `CANCEL_GRACE` seconds to unwind. One that is still running after that is
*detached*: logged once with its name, kept alive until it ends, and removed from `asyncio.all_tasks()`
so that `asyncio.run()` does not wait for it at exit (it would wait forever).

Cost: one task and one future per call, two loop iterations (~6 us on uvloop), paid per tool call or
per callback batch, never per token. Why not step the coroutine inline in the caller's task and detach
it only when it ignores a cancellation (~1.5 us)? Its own cancel scopes would then count on the caller's
task, and Python 3.11's `TaskGroup` leaves a cancellation it requested from within `__aexit__` (a child
failing while the body waits) on its parent task for good: harmless in a task of its own, but inline it
would read as a cancellation of the run (tests/agent/test_stubborn_code.py has both cases).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ("CANCEL_GRACE", "detached_count", "guarded")

T = TypeVar("T")

CANCEL_GRACE = 0.1
"""Seconds a cancelled piece of user code gets to finish unwinding before it is detached."""

_log = logging.getLogger("agentickit")

# Detached tasks: the loop keeps only weak references to tasks, so this is their owner until they end.
_DETACHED: set[asyncio.Task[Any]] = set()


def detached_count() -> int:
    """How many detached (cancellation-ignoring) tasks are still running."""
    return sum(1 for t in _DETACHED if not t.done())


class UserCancelledItself(Exception):
    """The user code raised `CancelledError` although nobody cancelled it."""


class UserExit(Exception):
    """The user code raised `SystemExit` or `GeneratorExit`; the original is the `__cause__`.

    In a task of its own these would escape the event loop itself (asyncio re-raises SystemExit
    out of `run_forever`), ending the whole program for one tool's `sys.exit()`.
    """


def _wake(waiter: asyncio.Future[None], _task: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _own(coro: Coroutine[Any, Any, T], waiter: asyncio.Future[None]) -> T:
    try:
        return await coro
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling() == 0:
            # Raised by the code itself, not by a cancellation of ours: an error like any other.
            raise UserCancelledItself("raised CancelledError without being cancelled") from None
        raise
    except (SystemExit, GeneratorExit) as exc:
        raise UserExit(f"{type(exc).__name__}: {exc}") from exc
    finally:
        # Woken from inside the task's last step rather than by a done-callback: one loop iteration
        # fewer per call. The task is done by the time the caller runs (the step ends right after this).
        if not waiter.done():
            try:
                waiter.set_result(None)
            except RuntimeError:
                pass  # the loop is closed: this task is being destroyed with it, nobody waits


async def guarded(coro: Coroutine[Any, Any, T], what: str, on_detach: Callable[[], None] | None = None) -> T:
    """Await `coro` in a task of its own, so that cancelling the caller always takes effect at once.

    `what` names the code in the log line a detached task gets (e.g. `tool 'search'`); `on_detach`
    is called when it is detached.

    Raises:
        UserCancelledItself: the code raised `CancelledError` without being cancelled.

    """
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()
    task = loop.create_task(_own(coro, waiter))
    try:
        await waiter
    except asyncio.CancelledError:
        if not task.done():
            task.cancel()
            settle: asyncio.Future[None] = loop.create_future()
            task.add_done_callback(lambda t: _wake(settle, t))
            handle = loop.call_later(CANCEL_GRACE, _wake, settle, None)
            try:
                await settle
            except asyncio.CancelledError:
                pass  # cancelled again while waiting: stop waiting, the first cancellation goes on
            finally:
                handle.cancel()
            if not task.done():
                _detach(task, what)
                if on_detach is not None:
                    on_detach()
            elif not task.cancelled():
                task.exception()  # retrieved: the caller is gone, nobody else will look at it
        raise
    return task.result()


def _detach(task: asyncio.Task[Any], what: str) -> None:
    _log.warning(
        "%s ignored its cancellation and was still running %g s later; it is detached and runs on unowned "
        "(it will not hold up the event loop's shutdown). Code that catches CancelledError must re-raise it.",
        what,
        CANCEL_GRACE,
    )
    _DETACHED.add(task)
    task.add_done_callback(_forget)
    # asyncio.run() cancels every task in all_tasks() at exit and waits for each to end: one that
    # ignores cancellation would keep the process from exiting. Detached tasks are not its to wait for.
    asyncio.tasks._unregister_task(task)
    task._log_destroy_pending = False  # pyright: ignore[reportAttributeAccessIssue]


def _forget(task: asyncio.Task[Any]) -> None:
    _DETACHED.discard(task)
    if not task.cancelled() and task.exception() is not None:
        pass  # retrieved, so asyncio does not log "exception was never retrieved" for a detached task
