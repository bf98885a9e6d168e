from __future__ import annotations

import pytest

from agentickit.errors import BadRequestError, RateLimitError, ServerError
from agentickit.providers._retry import MAX_DELAY, backoff_delay, retry_call


def test_retry_after_header_wins_and_is_capped() -> None:
    assert backoff_delay(0, RateLimitError("x", status=429, retry_after=2.5)) == 2.5
    assert backoff_delay(5, RateLimitError("x", status=429, retry_after=3600)) == 60.0
    assert backoff_delay(0, RateLimitError("x", status=429, retry_after=-1)) == 0.0


def test_exponential_backoff_with_jitter_is_bounded() -> None:
    exc = ServerError("x", status=503)
    for attempt in range(8):
        base = min(MAX_DELAY, 0.25 * 2**attempt)
        delays = {backoff_delay(attempt, exc) for _ in range(50)}
        assert all(base / 2 <= d <= base for d in delays)
        assert len(delays) > 1  # jitter: not every client retries at the same instant


async def test_retry_call_retries_retryable_only() -> None:
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RateLimitError("slow down", status=429, retry_after=0)
        return "ok"

    assert await retry_call(flaky, max_retries=3) == "ok" and attempts == 3

    async def bad() -> str:
        raise BadRequestError("bad model", status=400)

    with pytest.raises(BadRequestError):
        await retry_call(bad, max_retries=5)

    attempts = 0

    async def always() -> str:
        nonlocal attempts
        attempts += 1
        raise RateLimitError("no", status=429, retry_after=0)

    with pytest.raises(RateLimitError):
        await retry_call(always, max_retries=2)
    assert attempts == 3
