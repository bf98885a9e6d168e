"""Small private helpers shared across packages."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ("first_leaf", "is_seconds", "new_id", "run_blocking", "run_coroutine")

# A process-unique prefix plus a counter: unique across processes (Ray workers) and ~10x cheaper
# than uuid4 on the hot path.
_ID_PREFIX = os.urandom(4).hex()
_id_counter = itertools.count(1)


def new_id(kind: str) -> str:
    """A process-unique id such as `run_1a2b3c4d5` (agent runs) or `wf_1a2b3c4d6` (workflow runs)."""
    return f"{kind}_{_ID_PREFIX}{next(_id_counter):x}"


def is_seconds(value: object, *, zero: bool = False) -> bool:
    """Whether `value` is a usable number of seconds: a number > 0 (>= 0 with `zero`), never NaN or a bool.

    Written as `value > 0` rather than `not value <= 0` so that NaN, for which every comparison is
    false, is rejected: `asyncio.timeout(nan)` fires at once and `asyncio.sleep(nan)` never returns.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return value >= 0 if zero else value > 0


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
