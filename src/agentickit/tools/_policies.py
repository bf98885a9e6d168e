"""Per-tool policies that keep state: rate limits (token bucket) and concurrency caps.

Both are created lazily and bound to the running event loop: asyncio primitives cannot be shared
between loops, and a `Tool` may be used by `run_sync()` (a fresh loop per call) as well as by a
long-lived service.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from ..errors import UserError

__all__ = ("RateLimit", "TokenBucket", "parse_rate_limit")

# Patterns, compiled on first use (re's cache) rather than at import: `import agentickit` stays lean.
_RATE = r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|sec|second|seconds|m|min|minute|minutes|h|hr|hour|hours)\s*$"
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class RateLimit:
    """A parsed rate limit: `calls` per `period` seconds, with `burst` calls allowed back to back.

    Args:
        calls: how many calls per period.
        period: the period in seconds.
        burst: how many calls may go at once before spacing starts (1 spaces every call evenly).

    """

    __slots__ = ("burst", "calls", "period")

    def __init__(self, calls: float, period: float = 1.0, *, burst: int = 1) -> None:
        if calls <= 0 or period <= 0:
            raise UserError(f"a rate limit needs calls > 0 and period > 0, got {calls}/{period} s")
        if burst < 1:
            raise UserError(f"rate limit burst must be >= 1, got {burst}")
        self.calls = calls
        self.period = period
        self.burst = burst

    @property
    def interval(self) -> float:
        """Seconds between two calls once the burst is used up."""
        return self.period / self.calls

    def __repr__(self) -> str:
        return f"RateLimit({self.calls:g}/{self.period:g}s, burst={self.burst})"


def parse_rate_limit(spec: str | RateLimit) -> RateLimit:
    """Parse `"10/s"`, `"100/m"`, `"1000/h"` or `"5/10s"` into a `RateLimit`.

    Raises:
        UserError: the text is not `<calls>/<unit>`; the message shows the accepted forms.

    """
    if isinstance(spec, RateLimit):
        return spec
    match = re.match(_RATE, spec, re.IGNORECASE) if isinstance(spec, str) else None  # pyright: ignore[reportUnnecessaryIsInstance]
    if match is None:
        raise UserError(f'invalid rate_limit {spec!r}: use "<calls>/<unit>", e.g. "10/s", "100/m", "1000/h" or "5/10s"')
    calls = float(match.group(1))
    multiple = float(match.group(2)) if match.group(2) else 1.0
    period = multiple * _UNITS[match.group(3)[0].lower()]
    return RateLimit(calls, period)


class TokenBucket:
    """A token bucket that spaces calls by sleeping until each one's slot (no polling, no busy-waiting).

    Implemented as GCRA (a token bucket expressed as a "theoretical arrival time"): each caller
    reserves the next free slot and sleeps exactly until it, so waiters are served in arrival order
    and there is no lock. A waiter cancelled while it sleeps gives up its slot (the bucket errs on
    the safe side: never faster than the limit). `clock` and `sleep` are injectable so tests can be
    deterministic.
    """

    __slots__ = ("_clock", "_sleep", "_tat", "_tau", "interval")

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = limit.interval
        self._tau = (limit.burst - 1) * self.interval
        self._tat = 0.0
        self._clock = clock
        self._sleep = sleep

    def reserve(self) -> float:
        """Take the next slot and return how many seconds to wait for it (0 when free now)."""
        now = self._clock()
        tat = self._tat if self._tat > now else now
        self._tat = tat + self.interval
        wait = tat - self._tau - now
        return wait if wait > 0 else 0.0

    async def acquire(self) -> None:
        """Wait for the next slot."""
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)
