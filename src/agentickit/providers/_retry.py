"""Retries with exponential backoff and jitter for provider calls, honouring `Retry-After`."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import ProviderHTTPError, is_retryable

__all__ = ("backoff_delay", "retry_call", "retry_unstarted")

T = TypeVar("T")

RETRY_AFTER_CAP = 60.0
"""The longest wait a server's `Retry-After` can ask for: a bad or hostile header cannot park a run for hours."""

BASE_DELAY = 0.25
MAX_DELAY = 8.0


def backoff_delay(attempt: int, exc: BaseException) -> float:
    """Seconds to wait before retry number `attempt` (0-based) after `exc`.

    A server's `Retry-After` wins, clamped to [0, 60 s] (a bad header cannot park a run for hours,
    and a NaN one is ignored); otherwise full-jitter exponential backoff: uniform in [d/2, d] with
    d = 0.25 s * 2**attempt, capped at 8 s.
    """
    wait = exc.retry_after if isinstance(exc, ProviderHTTPError) else None
    if wait is not None and not math.isnan(wait):
        return min(max(wait, 0.0), RETRY_AFTER_CAP)
    delay = min(MAX_DELAY, BASE_DELAY * (2**attempt))
    # `random` (~0.9 ms to import) loads with the first retry, which then sleeps for far longer.
    from random import random

    return delay * (0.5 + random() / 2)


async def retry_call(fn: Callable[[], Awaitable[T]], max_retries: int) -> T:
    """Call `fn` and retry it on retryable provider errors, at most `max_retries` times."""
    attempt = 0
    while True:
        try:
            return await fn()
        except Exception as exc:
            if attempt >= max_retries or not is_retryable(exc):
                raise
            await asyncio.sleep(backoff_delay(attempt, exc))
            attempt += 1


async def retry_unstarted(
    exc: BaseException,
    attempt: int,
    max_retries: int,
    started: bool,
    on_retry: Callable[[int, BaseException, float], object] | None = None,
) -> bool:
    """The one rule for retrying a streamed request: only before its first token, then with backoff.

    Once text reached the caller a retry would repeat it (or splice two answers), so a stream that
    `started` is never retried. Otherwise, when `exc` is retryable and `attempt` (0-based) is below
    `max_retries`, waits the backoff and returns True (the caller tries again); returns False when
    the caller should give up (re-raise, or move on to a fallback model). `on_retry(attempt number
    of the next try, exc, delay)` is told before the wait (telemetry).
    """
    if started or attempt >= max_retries or not is_retryable(exc):
        return False
    delay = backoff_delay(attempt, exc)
    if on_retry is not None:
        on_retry(attempt + 2, exc, delay)
    await asyncio.sleep(delay)
    return True
