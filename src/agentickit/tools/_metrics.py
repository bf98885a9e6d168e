"""`ToolMetrics`: what an agent's tool calls did — counts, cache hit rate, duration percentiles.

Cheap enough to stay on: recording a call is a few integer additions and one append to a
bounded deque; percentiles are computed only when someone asks for a snapshot.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..telemetry import _hooks as _tel

__all__ = ("ToolMetrics", "ToolMetricsSnapshot", "ToolStats")

_WINDOW = 2048
"""Durations kept for percentiles: the most recent calls, so memory stays flat however long the agent lives."""


@dataclass(slots=True, frozen=True, kw_only=True)
class ToolStats:
    """Counters for one tool (or all of them)."""

    calls: int = 0
    errors: int = 0
    """Calls that ended with an error result (timeouts included)."""
    timeouts: int = 0
    retries: int = 0
    """Extra attempts made after a retryable failure."""
    cache_hits: int = 0
    cache_misses: int = 0
    p50: float = 0.0
    """Median duration in seconds over the recent window."""
    p95: float = 0.0
    """95th percentile duration in seconds over the recent window."""
    hung: int = 0
    """Sync calls still running in a worker thread after they timed out (each holds a thread until it returns)."""

    @property
    def cache_hit_rate(self) -> float:
        """Hits divided by cache lookups (0.0 when nothing was looked up)."""
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else 0.0

    @property
    def error_rate(self) -> float:
        """Errors divided by calls."""
        return self.errors / self.calls if self.calls else 0.0


@dataclass(slots=True, frozen=True, kw_only=True)
class ToolMetricsSnapshot(ToolStats):
    """All tool calls of one agent, plus the same counters per tool name in `by_tool`."""

    by_tool: dict[str, ToolStats] = field(default_factory=dict[str, ToolStats])


class _Counter:
    __slots__ = ("cache_hits", "cache_misses", "calls", "durations", "errors", "retries", "timeouts")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0
        self.timeouts = 0
        self.retries = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.durations: deque[float] = deque(maxlen=_WINDOW)

    def stats(self) -> dict[str, float | int]:
        ordered = sorted(self.durations)
        return {
            "calls": self.calls,
            "errors": self.errors,
            "timeouts": self.timeouts,
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "p50": _percentile(ordered, 0.50),
            "p95": _percentile(ordered, 0.95),
        }


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return ordered[index]


class ToolMetrics:
    """Live tool-call counters of one agent. `snapshot()` returns a frozen `ToolMetricsSnapshot`."""

    __slots__ = ("_by_tool", "_total")

    def __init__(self) -> None:
        self._total = _Counter()
        self._by_tool: dict[str, _Counter] = {}

    def record(
        self, name: str, duration: float, *, error: bool, timed_out: bool, attempts: int, cache: bool | None
    ) -> None:
        """Count one finished call. `cache` is True for a hit, False for a miss, None when not cached."""
        if _tel.active is not None:
            _tel.active.metrics_tool(name, duration, error, timed_out)
        per = self._by_tool.get(name)
        if per is None:
            per = self._by_tool[name] = _Counter()
        total = self._total
        if not error and attempts == 1 and cache is None:  # the common call: counted without the loop below
            total.calls += 1
            total.durations.append(duration)
            per.calls += 1
            per.durations.append(duration)
            return
        for c in (total, per):
            c.calls += 1
            c.durations.append(duration)
            if error:
                c.errors += 1
                if timed_out:
                    c.timeouts += 1
            if attempts > 1:
                c.retries += attempts - 1
            if cache is not None:
                if cache:
                    c.cache_hits += 1
                else:
                    c.cache_misses += 1

    def snapshot(self, hung: Mapping[str, int] | None = None) -> ToolMetricsSnapshot:
        """The counters right now, with p50/p95 durations over the most recent calls.

        `hung` gives the tools' hung calls right now, by name (a gauge, not a counter).
        """
        hung = hung or {}
        by_tool = {
            name: ToolStats(**c.stats(), hung=hung.get(name, 0))  # type: ignore[arg-type]
            for name, c in self._by_tool.items()
        }
        return ToolMetricsSnapshot(**self._total.stats(), hung=sum(hung.values()), by_tool=by_tool)  # type: ignore[arg-type]

    def reset(self) -> None:
        """Start counting from zero."""
        self._total = _Counter()
        self._by_tool = {}
