"""Small private helpers shared across packages."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ("run_coroutine",)


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion in a new event loop: uvloop when installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
