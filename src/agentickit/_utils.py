"""Small private helpers shared across packages."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ("LoopBound", "first_leaf", "is_seconds", "new_id", "run_blocking", "run_coroutine")

# A process-unique prefix plus a counter: unique across processes (Ray workers) and ~10x cheaper
# than uuid4 on the hot path.
_ID_PREFIX = os.urandom(4).hex()
_id_counter = itertools.count(1)


def new_id(kind: str) -> str:
    """A process-unique id such as `run_1a2b3c4d5` (agent runs) or `wf_1a2b3c4d6` (workflow runs)."""
    return f"{kind}_{_ID_PREFIX}{next(_id_counter):x}"


class LoopBound(Generic[T]):
    """A resource that belongs to the event loop it was made on: `get()` gives the running loop's own.

    asyncio primitives and HTTP clients cannot cross loops, and `run_sync()` runs each call on a fresh
    one; so HTTP pools, SDK clients, semaphores and in-flight maps are made lazily by `make()` inside
    the running loop, and made again when another loop asks. One slot: the last loop's value is kept.
    Pickles without its value (a live client stays behind; the other process makes its own).
    """

    __slots__ = ("_loop", "_value", "make")

    def __init__(self, make: Callable[[], T]) -> None:
        self.make = make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T:
        """The running loop's value, made now if it has none."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return self._value  # type: ignore[return-value]  # set together with _loop
        return self.renew(loop)

    def renew(self, loop: asyncio.AbstractEventLoop | None = None) -> T:
        """Make a new value for the running loop (or `loop`), replacing the one held."""
        value = self._value = self.make()
        self._loop = loop if loop is not None else asyncio.get_running_loop()
        return value

    def pop(self) -> T | None:
        """Let go of the value held (to close it), whichever loop made it; the next `get()` makes a new one."""
        value, self._value, self._loop = self._value, None, None
        return value

    def __reduce__(self) -> tuple[Any, ...]:
        return (LoopBound, (self.make,))


def is_seconds(value: object, *, zero: bool = False) -> bool:
    """Whether `value` is a usable number of seconds: a number > 0 (>= 0 with `zero`), never NaN or a bool.

    Written as `value > 0` rather than `not value <= 0` so that NaN, for which every comparison is
    false, is rejected: `asyncio.timeout(nan)` fires at once and `asyncio.sleep(nan)` never returns.
    """
    cls = value.__class__
    if cls is not float and cls is not int:  # the common cases, without building `int | float` per call
        if not isinstance(value, _NUMBER) or isinstance(value, bool):
            return False
    return value >= 0 if zero else value > 0  # type: ignore[operator]  # a number by now


_NUMBER = (int, float)


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a new event loop: uvloop when installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_blocking(main: Callable[[], Awaitable[T]], release: Callable[[], Awaitable[None]], what: str) -> T:
    """`run_sync()` of agents and workflows: `main()` on a fresh loop, then `release()` on that same loop.

    What a run opens is bound to the loop it ran on (HTTP pools, MCP sessions): `release()` closes it
    before the loop goes, so nothing is left dangling and the next call opens new ones on its own loop.

    Raises:
        UserError: called from inside a running event loop (`what` names the awaitable to use there).

    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        from .errors import UserError

        raise UserError(f"run_sync() cannot be called from a running event loop; use `await {what}.run(...)`")

    async def run() -> T:
        try:
            return await main()
        finally:
            await release()

    return run_coroutine(run())


def first_leaf(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups, which task groups produce."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # pyright: ignore[reportUnknownMemberType]
        exc = exc.exceptions[0]  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return exc  # pyright: ignore[reportUnknownVariableType]
