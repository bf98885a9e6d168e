"""Bad input: unreachable stores, schemas from a newer version, corrupt rows; secrets never shown."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

import agentickit as ak
from agentickit.stores import CorruptRecordError, SchemaVersionError, StoreConnectionError, redact_url
from agentickit.stores._postgres import Postgres
from agentickit.stores._redis import Redis
from agentickit.stores._sqlite import SQLite

from ..conftest import free_port, require_service
from .conftest import REDIS_URL, unique_prefix

SECRET = "s3cr3t-Pa55"


def test_redact_url_hides_passwords() -> None:
    assert redact_url(f"postgresql://app:{SECRET}@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact_url(f"redis://:{SECRET}@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url(f"host=db user=app password={SECRET} dbname=x") == "host=db user=app password=*** dbname=x"
    assert redact_url("postgresql://app@db/x") == "postgresql://app@db/x"


@pytest.mark.timeout(30)
async def test_postgres_that_cannot_connect_names_url_without_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    store = Postgres(f"postgresql://app:{SECRET}@127.0.0.1:{port}/db", connect_timeout=5)
    assert SECRET not in repr(store)
    memory = ak.Memory(store=store)
    assert SECRET not in repr(memory)
    with pytest.raises(StoreConnectionError) as info:
        await store.append("session", "s", [{"a": 1}])
    text = str(info.value)
    assert f"postgresql://app:***@127.0.0.1:{port}/db" in text
    assert SECRET not in text and SECRET not in repr(info.value)
    assert info.value.__cause__ is None  # the driver's exception (which may carry parameters) is not chained
    assert SECRET not in caplog.text
    await store.aclose()


async def test_postgres_wrong_password_is_redacted(postgres_dsn: str) -> None:
    # Trust auth accepts any password, so use a database that does not exist: the server refuses.
    dsn = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/no_such_db_{unique_prefix()}"
    store = Postgres(dsn)
    with pytest.raises(StoreConnectionError) as info:
        await store.info("session", "s")
    assert "postgresql://postgres:***@127.0.0.1:5432/no_such_db_" in str(info.value)
    assert SECRET not in str(info.value)


async def test_redis_that_cannot_connect_names_url_without_password() -> None:
    port = free_port()
    store = Redis(f"redis://:{SECRET}@127.0.0.1:{port}/0")
    assert SECRET not in repr(store)
    with pytest.raises(StoreConnectionError) as info:
        await store.read("session", "s")
    assert f"redis://:***@127.0.0.1:{port}/0" in str(info.value) and SECRET not in str(info.value)
    await store.aclose()


async def test_sqlite_path_that_cannot_be_opened(tmp_path: Path) -> None:
    store = SQLite(tmp_path / "missing-dir" / "x.db")
    with pytest.raises(StoreConnectionError, match="missing-dir"):
        await store.info("session", "s")
    await store.aclose()
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not an sqlite file" * 100)
    store = SQLite(bad)
    with pytest.raises(StoreConnectionError, match="not a database"):
        await store.info("session", "s")
    await store.aclose()


async def test_sqlite_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLite(path, prefix="app")
    await store.append("session", "s", [{"a": 1}])
    await store.aclose()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE app_schema SET value = 99 WHERE key = 'version'")
    store = SQLite(path, prefix="app")
    with pytest.raises(SchemaVersionError, match=r"schema version 99, newer than this agentickit's 1"):
        await store.read("session", "s")
    await store.aclose()


async def test_postgres_newer_schema_is_refused(postgres_dsn: str) -> None:
    prefix = unique_prefix()
    store = Postgres(postgres_dsn, prefix=prefix)
    try:
        await store.append("session", "s", [{"a": 1}])
        conn = await asyncpg.connect(postgres_dsn)
        try:
            await conn.execute(f"UPDATE {prefix}_schema SET value = 7 WHERE key = 'version'")
        finally:
            await conn.close()
        newer = Postgres(postgres_dsn, prefix=prefix)
        with pytest.raises(SchemaVersionError, match=r"schema version 7"):
            await newer.read("session", "s")
        await newer.aclose()
    finally:
        await store.drop_tables()
        await store.aclose()


async def test_redis_newer_schema_is_refused(redis_url: str) -> None:
    prefix = unique_prefix()
    client = aioredis.from_url(redis_url)
    try:
        await client.set(f"{prefix}:schema", 5)
        store = Redis(redis_url, prefix=prefix)
        with pytest.raises(SchemaVersionError, match=r"schema version 5"):
            await store.append("session", "s", [{"a": 1}])
        await store.aclose()
    finally:
        await client.delete(f"{prefix}:schema")
        await client.aclose()


async def test_sqlite_corrupt_row_is_reported_with_session_and_position(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    memory = ak.Memory(store=SQLite(path))
    assert memory.backend is not None
    await memory.store.append("u1", [ak.Message.user(f"m{i}") for i in range(4)])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE ak_records SET data = X'7b6e6f74' WHERE seq = 2")  # '{not'
    with pytest.raises(CorruptRecordError, match=r"session/'u1' at position 2") as info:
        await memory.load("u1")
    assert (info.value.stream_id, info.value.seq) == ("u1", 2)
    assert isinstance(memory.backend, SQLite)
    with pytest.raises(CorruptRecordError, match=r"session/'u1' at position 2"):
        await memory.backend.read_and_info("session", "u1", ("kb", "default"))
    with sqlite3.connect(path) as conn:
        conn.execute("""UPDATE ak_records SET data = '{"role": "wizard"}' WHERE seq = 2""")
    with pytest.raises(CorruptRecordError, match=r"session 'u1' at position 2: unknown role 'wizard'"):
        await memory.load("u1")
    await memory.aclose()


async def test_postgres_corrupt_row_is_reported(postgres_dsn: str) -> None:
    prefix = unique_prefix()
    store = Postgres(postgres_dsn, prefix=prefix)
    try:
        await store.append("session", "u2", [{"role": "user", "content": "x"}] * 3)
        conn = await asyncpg.connect(postgres_dsn)
        try:
            await conn.execute(f"UPDATE {prefix}_records SET data = '\\x5b5b'::bytea WHERE seq = 1")
        finally:
            await conn.close()
        with pytest.raises(CorruptRecordError, match=r"session/'u2' at position 1"):
            await store.read("session", "u2")
        with pytest.raises(CorruptRecordError, match=r"session/'u2' at position 1"):
            await store.read_and_info("session", "u2", ("kb", "default"))
    finally:
        await store.drop_tables()
        await store.aclose()


async def test_redis_corrupt_entry_is_reported(redis_url: str) -> None:
    require_service("redis")
    prefix = unique_prefix()
    store = Redis(REDIS_URL, prefix=prefix)
    try:
        await store.append("session", "u3", [{"a": 1}, {"a": 2}])
        client = aioredis.from_url(redis_url)
        await client.lset(f"{prefix}:session:r:u3", 1, "1 123.0 {broken")
        await client.aclose()
        with pytest.raises(CorruptRecordError, match=r"session/'u3' at position 1"):
            await store.read("session", "u3")
        with pytest.raises(CorruptRecordError, match=r"session/'u3' at position 1"):
            await store.read_and_info("session", "u3", ("kb", "default"))
    finally:
        await store.drop_all()
        await store.aclose()
