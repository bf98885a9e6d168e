"""Store fixtures: every backend, each with a unique table/key prefix per test (others share the servers)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agentickit.stores import InMemory, Store
from agentickit.stores._postgres import Postgres
from agentickit.stores._redis import Redis
from agentickit.stores._sqlite import SQLite

from ..conftest import require_service

# "pgbouncer": the PostgreSQL store without server-side prepared statements (every statement unnamed).
BACKENDS = ("memory", "sqlite", "postgres", "pgbouncer", "redis")
PG_DSN = os.environ.get("AGENTICKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = "redis://127.0.0.1:6379/15"


def unique_prefix() -> str:
    return f"t{os.urandom(5).hex()}"


async def drop(store: object) -> None:
    """Remove what a test store created (and only that: its own prefix)."""
    if isinstance(store, Postgres):
        await store.drop_tables()
    elif isinstance(store, Redis):
        await store.drop_all()


def make_store(backend: str, tmp_path: Path, prefix: str) -> Store:
    if backend == "memory":
        return InMemory()
    if backend == "sqlite":
        return SQLite(tmp_path / "store.db", prefix=prefix)
    if backend in ("postgres", "pgbouncer"):
        require_service("postgres")
        return Postgres(PG_DSN, prefix=prefix, pgbouncer=backend == "pgbouncer")
    require_service("redis")
    return Redis(REDIS_URL, prefix=prefix)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    s = make_store(request.param, tmp_path, unique_prefix())
    try:
        yield s
    finally:
        await drop(s)
        await s.aclose()


@pytest.fixture
def store_factory(tmp_path: Path) -> Callable[[str], Store]:
    """Build a store of a backend (for tests that need several handles on one database)."""
    return lambda backend: make_store(backend, tmp_path, unique_prefix())
