"""What one server holds: its targets, settings, live runs and request counters."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from typing import Any

from ._runs import RunRegistry, RunStore
from ._settings import ServeSettings

__all__ = ("HTTPStats", "ServerState")

# Request-duration histogram buckets (seconds), Prometheus' defaults plus the sub-millisecond ones
# that matter for a server whose own cost is measured in microseconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HTTPStats:
    """Requests by route and status, and a duration histogram per route: a few integer adds per request."""

    __slots__ = ("counts", "histograms")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.histograms: dict[str, list[float]] = {}
        """route -> [count per bucket..., +Inf count, sum]"""

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        h = self.histograms.get(route)
        if h is None:
            h = self.histograms[route] = [0.0] * (len(BUCKETS) + 2)
        h[bisect.bisect_left(BUCKETS, seconds)] += 1
        h[-1] += seconds


class ServerState:
    """Everything the handlers of one app share (`request.app.state.agentickit`)."""

    def __init__(
        self, agents: dict[str, Any], workflows: dict[str, Any], settings: ServeSettings, store: RunStore
    ) -> None:
        self.agents = agents
        self.workflows = workflows
        self.settings = settings
        self.registry = RunRegistry(
            store=store,
            replay_buffer=settings.replay_buffer,
            request_timeout=settings.request_timeout,
            max_runs=settings.max_runs,
        )
        self.stats = HTTPStats()
        self.sessions: Any = None
        """The `SessionStore` of `/v1/responses` (set by `app()`)."""
        self.ready = False
        self.streams: set[Any] = set()
        """OpenAI-compatible streams in flight (they follow an agent's stream directly, not a run record)."""
        self.streams_idle: asyncio.Event | None = None
        """Set when the last of `streams` ends during a shutdown."""
        self._shutdown: asyncio.Task[None] | None = None

    def stream_ended(self, stream: Any) -> None:
        """Forget an OpenAI-compatible stream that has ended."""
        self.streams.discard(stream)
        idle = self.streams_idle
        if idle is not None and not self.streams:
            idle.set()

    def target(self, name: str) -> tuple[str, Any] | None:
        """`("agent"|"workflow", target)` by name, or None."""
        agent = self.agents.get(name)
        if agent is not None:
            return "agent", agent
        wf = self.workflows.get(name)
        return None if wf is None else ("workflow", wf)

    @property
    def closing(self) -> bool:
        """Whether shutdown has begun (new runs are refused)."""
        return self.registry.closing

    def begin_shutdown(self, deadline: float | None = None) -> asyncio.Task[None]:
        """Refuse new runs; in-flight runs and streams get `deadline` seconds, then end with ERROR + DONE.

        Idempotent; the returned task is owned here and awaited by `finish_shutdown()`.
        """
        if self._shutdown is None:
            self.ready = False
            wait = self.settings.shutdown_deadline if deadline is None else deadline
            self._shutdown = asyncio.get_running_loop().create_task(self._drain(wait))
        return self._shutdown

    async def _drain(self, deadline: float) -> None:
        registry = self.registry
        registry.closing = True
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        runs = asyncio.create_task(registry.aclose(deadline))
        try:
            if self.streams:
                idle = self.streams_idle = asyncio.Event()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(end):
                        await idle.wait()
            for stream in list(self.streams):
                stream.cancel("the server shut down before the run finished")
        finally:
            await runs

    async def finish_shutdown(self) -> None:
        """Complete the shutdown (from the lifespan's exit): drain, then close every target."""
        await self.begin_shutdown(0.0)
        for target in (*self.agents.values(), *self.workflows.values()):
            cleanup = getattr(target, "cleanup", None)
            if cleanup is not None:
                await cleanup()
