"""Cheap counters every agent and workflow keeps: runs, errors, latency percentiles, tokens, tool calls, cost.

Recording one run is a single call at the end of the run (and one in its error path) that touches a
few integers and one slot of a ring buffer: no lock, no allocation beyond the first run, no clock
read of its own (the run's `duration` is reused). Percentiles are computed only when you ask for a
snapshot, over the most recent `window` runs (a bounded reservoir, so memory stays flat for
long-lived agents).

```python
import agentickit as ak

agent = ak.Agent("a", llm="simulated")
await agent.run("hi")
snap = agent.metrics()            # -> ak.MetricsSnapshot
snap.runs, snap.error_rate, snap.latency_p95, snap.cost_usd

ak.metrics.set_price("my-finetune", input_per_mtok=0.5, output_per_mtok=1.5)
ak.metrics.set_enabled(False)     # switch counting off process-wide (or AGENTICKIT_METRICS=0)
```
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .telemetry import _hooks as _tel

__all__ = (
    "PRICES",
    "Metrics",
    "MetricsSnapshot",
    "ModelPrice",
    "enabled",
    "metrics_for",
    "price_for",
    "record_failure",
    "record_result",
    "set_enabled",
    "set_price",
)

DEFAULT_WINDOW = 1024
"""How many recent runs the latency and time-to-first-token percentiles are computed over."""


@dataclass(slots=True, frozen=True, kw_only=True)
class ModelPrice:
    """What a model costs, in US dollars per million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The cost in US dollars of the given token counts."""
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1_000_000


# List prices (USD per 1M tokens) as published by the vendors; extend or override with `set_price`.
# Dated model names (`gpt-4o-mini-2024-07-18`) resolve to the longest matching prefix.
PRICES: dict[str, ModelPrice] = {
    "simulated": ModelPrice(input_per_mtok=0.0, output_per_mtok=0.0),
    "gpt-3.5-turbo": ModelPrice(input_per_mtok=0.5, output_per_mtok=1.5),
    "gpt-4": ModelPrice(input_per_mtok=30.0, output_per_mtok=60.0),
    "gpt-4-turbo": ModelPrice(input_per_mtok=10.0, output_per_mtok=30.0),
    "gpt-4o": ModelPrice(input_per_mtok=2.5, output_per_mtok=10.0),
    "gpt-4o-mini": ModelPrice(input_per_mtok=0.15, output_per_mtok=0.6),
    "gpt-4.1": ModelPrice(input_per_mtok=2.0, output_per_mtok=8.0),
    "gpt-4.1-mini": ModelPrice(input_per_mtok=0.4, output_per_mtok=1.6),
    "gpt-4.1-nano": ModelPrice(input_per_mtok=0.1, output_per_mtok=0.4),
    "o3-mini": ModelPrice(input_per_mtok=1.1, output_per_mtok=4.4),
    "claude-3-5-haiku": ModelPrice(input_per_mtok=0.8, output_per_mtok=4.0),
    "claude-3-5-sonnet": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
    "claude-3-7-sonnet": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
    "claude-sonnet-4": ModelPrice(input_per_mtok=3.0, output_per_mtok=15.0),
    "claude-opus-4": ModelPrice(input_per_mtok=15.0, output_per_mtok=75.0),
}


def set_price(model: str, *, input_per_mtok: float, output_per_mtok: float) -> None:
    """Add or replace a model's price (US dollars per million tokens); used by every later snapshot.

    Raises:
        ValueError: a price is negative or not a number.

    """
    for label, value in (("input_per_mtok", input_per_mtok), ("output_per_mtok", output_per_mtok)):
        if not isinstance(value, int | float) or math.isnan(value) or value < 0:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ValueError(f"{label} for {model!r} must be a number >= 0 (US dollars per 1M tokens), got {value!r}")
    PRICES[model] = ModelPrice(input_per_mtok=float(input_per_mtok), output_per_mtok=float(output_per_mtok))


def price_for(model: str) -> ModelPrice | None:
    """The price of `model`: an exact entry, else the longest entry its name starts with, else None."""
    price = PRICES.get(model)
    if price is not None:
        return price
    best = ""
    for name in PRICES:
        if len(name) > len(best) and model.startswith(name):
            best = name
    return PRICES[best] if best else None


_enabled = os.environ.get("AGENTICKIT_METRICS", "1").strip().lower() not in ("0", "false", "off", "no")


def set_enabled(flag: bool) -> None:
    """Switch counting on or off for every agent and workflow in this process (on by default).

    `AGENTICKIT_METRICS=0` in the environment starts the process with counting off.
    """
    global _enabled
    _enabled = bool(flag)


def enabled() -> bool:
    """Whether runs are being counted."""
    return _enabled


def _percentile(ordered: Sequence[float], q: float) -> float:
    # Nearest rank: always a value that was really observed, never an interpolation.
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass(slots=True, frozen=True, kw_only=True)
class MetricsSnapshot:
    """A point-in-time copy of an agent's or workflow's counters. Durations are seconds.

    Percentiles cover the most recent `window` runs (successful or failed); counts and tokens cover
    every run since the counters were created or reset. Percentiles are None before the first run.
    """

    name: str
    runs: int
    """Finished runs, successful or not (cancelled runs are counted apart)."""
    errors: int
    errors_by_type: Mapping[str, int] = field(default_factory=dict[str, int])
    """Error class name -> count, e.g. `{"RateLimitError": 2}`."""
    cancelled: int = 0
    latency_mean: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    latency_p99: float | None = None
    latency_max: float | None = None
    ttft_p50: float | None = None
    """Time to first token of streamed runs."""
    ttft_p95: float | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    tool_calls: int = 0
    cost_usd: float = 0.0
    """Cost of every run so far, from `PRICES`; models without a price count as 0 (see `unpriced_models`)."""
    unpriced_models: tuple[str, ...] = ()
    window: int = 0
    """How many recent runs the percentiles were computed over."""
    fallbacks: int = 0
    """How often a `FallbackModel` moved on to its next model during successful runs."""

    @property
    def error_rate(self) -> float:
        """Errors per finished run (0.0 before the first run)."""
        return self.errors / self.runs if self.runs else 0.0

    @property
    def successes(self) -> int:
        """Runs that returned a result."""
        return self.runs - self.errors

    @property
    def cost_per_run_usd(self) -> float:
        """Average cost of one run in US dollars (0.0 before the first run)."""
        return self.cost_usd / self.runs if self.runs else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, derived values included."""
        out = asdict(self)
        out["errors_by_type"] = dict(self.errors_by_type)
        out["unpriced_models"] = list(self.unpriced_models)
        out["error_rate"] = self.error_rate
        out["cost_per_run_usd"] = self.cost_per_run_usd
        return out


class Metrics:
    """The counters of one agent or workflow. Not thread-safe by design: one owner, one event loop.

    Args:
        name: the owner's name, copied into snapshots.
        window: how many recent runs the percentiles cover (memory is `O(window)`).

    """

    __slots__ = (
        "_by_model",
        "_errors_by_type",
        "_lat",
        "_lat_pos",
        "_ttft",
        "_ttft_pos",
        "_window",
        "cancelled",
        "errors",
        "fallbacks",
        "name",
        "runs",
        "tool_calls",
        "total_latency",
    )

    def __init__(self, name: str = "", *, window: int = DEFAULT_WINDOW) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1 run, got {window}")
        self.name = name
        self._window = window
        self.reset()

    def reset(self) -> None:
        """Start counting from zero."""
        self.runs = 0
        self.errors = 0
        self.cancelled = 0
        self.tool_calls = 0
        self.fallbacks = 0
        self.total_latency = 0.0
        self._errors_by_type: dict[str, int] = {}
        self._by_model: dict[str, list[int]] = {}
        self._lat: list[float] = []
        self._lat_pos = 0
        self._ttft: list[float] = []
        self._ttft_pos = 0

    def _latency(self, seconds: float) -> None:
        lat = self._lat
        if len(lat) < self._window:
            lat.append(seconds)
        else:
            lat[self._lat_pos] = seconds
            self._lat_pos = (self._lat_pos + 1) % self._window

    def record(
        self,
        duration: float,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        tool_calls: int = 0,
        model: str | None = None,
        ttft: float | None = None,
    ) -> None:
        """Count one successful run."""
        self.runs += 1
        self.total_latency += duration
        self._latency(duration)
        if tool_calls:
            self.tool_calls += tool_calls
        if tokens_in or tokens_out:
            key = model or "unknown"
            tokens = self._by_model.get(key)
            if tokens is None:
                tokens = self._by_model.setdefault(_capped(self._by_model, key), [0, 0])
            tokens[0] += tokens_in
            tokens[1] += tokens_out
        if ttft is not None:
            self.record_ttft(ttft)

    def record_error(self, exc: BaseException, duration: float) -> None:
        """Count one failed run (a cancelled run is counted in `cancelled`, not as an error)."""
        if isinstance(exc, asyncio.CancelledError):
            self.cancelled += 1
            return
        self.runs += 1
        self.errors += 1
        self.total_latency += duration
        self._latency(duration)
        kind = type(exc).__name__
        self._errors_by_type[kind] = self._errors_by_type.get(kind, 0) + 1

    def record_ttft(self, seconds: float) -> None:
        """Record the time to first token of one streamed run."""
        ttft = self._ttft
        if len(ttft) < self._window:
            ttft.append(seconds)
        else:
            ttft[self._ttft_pos] = seconds
            self._ttft_pos = (self._ttft_pos + 1) % self._window

    @property
    def tokens_in(self) -> int:
        """Input tokens over every run."""
        return sum(t[0] for t in self._by_model.values())

    @property
    def tokens_out(self) -> int:
        """Output tokens over every run."""
        return sum(t[1] for t in self._by_model.values())

    def snapshot(self) -> MetricsSnapshot:
        """A frozen copy of the counters, with percentiles and cost computed now."""
        lat = sorted(self._lat)
        ttft = sorted(self._ttft)
        cost = 0.0
        unpriced: list[str] = []
        for model, (t_in, t_out) in self._by_model.items():
            price = price_for(model)
            if price is None:
                unpriced.append(model)
            else:
                cost += price.cost(t_in, t_out)
        return MetricsSnapshot(
            name=self.name,
            runs=self.runs,
            errors=self.errors,
            errors_by_type=dict(self._errors_by_type),
            cancelled=self.cancelled,
            latency_mean=self.total_latency / self.runs if self.runs else None,
            latency_p50=_percentile(lat, 0.50) if lat else None,
            latency_p95=_percentile(lat, 0.95) if lat else None,
            latency_p99=_percentile(lat, 0.99) if lat else None,
            latency_max=lat[-1] if lat else None,
            ttft_p50=_percentile(ttft, 0.50) if ttft else None,
            ttft_p95=_percentile(ttft, 0.95) if ttft else None,
            tokens_in=self.tokens_in,
            tokens_out=self.tokens_out,
            tool_calls=self.tool_calls,
            cost_usd=cost,
            unpriced_models=tuple(sorted(unpriced)),
            window=len(lat),
            fallbacks=self.fallbacks,
        )

    def __repr__(self) -> str:
        return f"Metrics({self.name!r}, runs={self.runs}, errors={self.errors})"


def metrics_for(owner: Any) -> Metrics:
    """The `Metrics` of an agent or workflow (any object with `name` and a `_metrics` slot), created on first use."""
    m: Metrics | None = owner._metrics
    if m is None:
        m = owner._metrics = Metrics(owner.name)
    return m


MAX_MODEL_LABELS = 32
"""Model names counted apart per agent; runs of further names are counted under `OTHER_MODELS`.

The names are the ones the server reports (`gpt-4o-mini-2024-07-18`, for the price), so a server
could otherwise grow the table without bound by reporting a new name with every reply.
"""
OTHER_MODELS = "(other models)"


def _capped(by_model: dict[str, list[int]], key: str) -> str:
    return key if len(by_model) < MAX_MODEL_LABELS - 1 else OTHER_MODELS


def record_result(owner: Any, result: Any, first_at: float = 0.0, start: float = 0.0) -> None:
    """Count one successful run of `owner` from its `Result` (duck-typed, so workflows can use it too).

    Reads `result.duration`, `result.usage` (input/output tokens), `result.tool_calls` and, from
    `result.metadata`, `model` (for the price) and `ttft` (seconds) if present. For a streamed run,
    `first_at - start` (both `time.perf_counter()` values) is its time to first token.
    A no-op when counting is switched off (OpenTelemetry metrics, when enabled, still get the run).
    """
    if _tel.active is not None:
        _tel.active.metrics_result(owner, result, first_at - start if first_at else result.metadata.get("ttft"))
    if not _enabled:
        return
    m: Metrics | None = owner._metrics
    if m is None:
        m = owner._metrics = Metrics(owner.name)
    # Inlined rather than calling `Metrics.record(**kw)`: keyword calls cost more than the counting.
    duration: float = result.duration
    m.runs += 1
    m.total_latency += duration
    lat = m._lat  # pyright: ignore[reportPrivateUsage]
    if len(lat) < m._window:  # pyright: ignore[reportPrivateUsage]
        lat.append(duration)
    else:
        m._latency(duration)  # pyright: ignore[reportPrivateUsage]
    calls = len(result.tool_calls)
    if calls:
        m.tool_calls += calls
    usage = result.usage
    t_in: int = usage.input_tokens
    t_out: int = usage.output_tokens
    meta: dict[str, Any] = result.metadata
    if t_in or t_out:
        key: str = meta.get("model") or "unknown"
        by_model = m._by_model  # pyright: ignore[reportPrivateUsage]
        tokens = by_model.get(key)
        if tokens is None:
            tokens = by_model.setdefault(_capped(by_model, key), [0, 0])
        tokens[0] += t_in
        tokens[1] += t_out
    if "fallbacks" in meta:
        m.fallbacks += meta["fallbacks"]
    if first_at:
        m.record_ttft(first_at - start)
    else:
        ttft = meta.get("ttft")
        if ttft is not None:
            m.record_ttft(ttft)


def record_failure(owner: Any, exc: BaseException, duration: float) -> None:
    """Count one failed (or cancelled) run of `owner`. A no-op when counting is switched off."""
    if _tel.active is not None:
        _tel.active.metrics_failure(owner, exc, duration)
    if not _enabled:
        return
    m: Metrics | None = owner._metrics
    if m is None:
        m = owner._metrics = Metrics(owner.name)
    m.record_error(exc, duration)
