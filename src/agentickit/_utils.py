"""Small private helpers shared across packages."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ("is_seconds", "run_coroutine")


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
