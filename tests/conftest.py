"""Shared fixtures: the services guard, a loop-lag watchdog, a free-port helper, the hypothesis CI profile."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from hypothesis import settings

from tests.hostile import HostileServer

REQUIRE_SERVICES = os.environ.get("AGENTICKIT_REQUIRE_SERVICES") == "1"

# The fuzz tests (hypothesis) draw new inputs on every local run, which is how they find bugs; in CI
# they draw the same ones every time (and keep no example database), so CI cannot flake on them.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

SERVICES = {
    "redis": ("127.0.0.1", 6379),
    "postgres": ("127.0.0.1", 5432),
}


_SERVICE_FIXTURES = frozenset(("redis_url", "postgres_dsn"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that need PostgreSQL or Redis `services` (so `-m "not services"` runs offline).

    A test needs them when it uses the `redis_url` / `postgres_dsn` fixtures or runs against the
    `postgres` / `redis` store backend (the `store` fixture's parameter, or a `backend` parameter).
    """
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params: dict[str, object] = callspec.params if callspec is not None else {}
        backend = params.get("store", params.get("backend"))
        if names & _SERVICE_FIXTURES or backend in SERVICES:
            item.add_marker(pytest.mark.services)


async def wait_until(cond: Callable[[], bool], within: float = 5.0) -> None:
    """Poll a state another thread changes (a worker thread returning), for which there is no event to wait on."""
    deadline = time.monotonic() + within
    while not cond() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str) -> None:
    """Skip the calling test when a service is down; with AGENTICKIT_REQUIRE_SERVICES=1 (CI), fail instead."""
    host, port = SERVICES[name]
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and AGENTICKIT_REQUIRE_SERVICES=1: start it (see README, 'Services')")
    pytest.skip(message)  # the require_service guard: CI (AGENTICKIT_REQUIRE_SERVICES=1) failed above instead


@pytest.fixture
def redis_url() -> str:
    """The URL of the local Redis (skips or fails per the services guard)."""
    require_service("redis")
    return "redis://127.0.0.1:6379/15"


@pytest.fixture
def postgres_dsn() -> str:
    """The DSN of the local PostgreSQL (skips or fails per the services guard)."""
    require_service("postgres")
    return os.environ.get("AGENTICKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopLag:
    """Measures the longest time the event loop was blocked while it ran."""

    def __init__(self) -> None:
        self.max_lag = 0.0


@pytest.fixture
async def loop_lag() -> AsyncIterator[LoopLag]:
    """A watchdog task that records the worst event-loop lag (ticks every 5 ms) during the test."""
    lag = LoopLag()
    stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            lag.max_lag = max(lag.max_lag, time.perf_counter() - t0 - 0.005)

    task = asyncio.create_task(watch())
    try:
        yield lag
    finally:
        stop.set()
        await task


@pytest.fixture
def anyio_backend() -> Iterator[str]:
    yield "asyncio"


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    """The hostile OpenAI-compatible server (tests/hostile.py): one route per failure mode."""
    async with HostileServer() as server:
        yield server
