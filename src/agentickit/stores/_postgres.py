"""`Postgres`: a store in PostgreSQL through asyncpg (extra `agentickit[postgres]`).

Each append is one transaction that locks its stream's row (`INSERT ... ON CONFLICT DO UPDATE`),
so concurrent appenders of one stream, in any number of processes, get one order and no gaps.

Round trips are what an append costs (the server's commit is ~0.3 ms on a local disk; each round
trip adds ~0.1-0.2 ms), so the hot paths are one statement each: an append is a single
autocommitted statement (the stream upsert, and the record insert in a CTE that reads the seq the
upsert assigned), a read one join, `put_meta` one upsert. Only an append to an expired stream
takes the multi-statement path (reset the stream, then append). Released connections are not
`RESET` (asyncpg's default costs a round trip per use): the pool is private to the store and no
statement here leaves session state behind (`SET LOCAL`, `pg_advisory_xact_lock` end with their
transaction); an open transaction is still rolled back on release, by asyncpg.
`pgbouncer=True` turns off server-side prepared statements (`statement_cache_size=0`), which
PgBouncer in transaction pooling mode cannot carry across transactions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import UserError
from ._base import (
    SCHEMA_VERSION,
    Lazy,
    Page,
    Record,
    StoreConnectionError,
    StreamInfo,
    check_append,
    check_ns_id,
    check_prefix,
    decode_meta,
    decode_record,
    encode_meta,
    encode_record,
    now,
    redact_url,
    refused_version,
    trim_start,
)

__all__ = ("Postgres",)

_SCHEMA_V1 = (
    "CREATE TABLE IF NOT EXISTS {p}_streams (sid BIGSERIAL PRIMARY KEY, ns TEXT NOT NULL, id TEXT NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL, first_seq BIGINT NOT NULL, "
    "next_seq BIGINT NOT NULL, expires_at DOUBLE PRECISION, meta BYTEA, UNIQUE (ns, id))",
    "CREATE INDEX IF NOT EXISTS {p}_streams_recent ON {p}_streams (ns, updated_at DESC, sid DESC)",
    "CREATE INDEX IF NOT EXISTS {p}_streams_expiry ON {p}_streams (expires_at) WHERE expires_at IS NOT NULL",
    "CREATE TABLE IF NOT EXISTS {p}_records (sid BIGINT NOT NULL, seq BIGINT NOT NULL, "
    "ts DOUBLE PRECISION NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (sid, seq))",
)
_MIGRATIONS: dict[int, tuple[str, ...]] = {1: _SCHEMA_V1}
_COLS = "sid, created_at, updated_at, first_seq, next_seq, expires_at, meta"

# One statement per append. $1 ns, $2 id, $3 now, $4 how many records, $5 max_records (NULL: no
# trim; GREATEST/LEAST skip NULLs), $6 expires_at (NULL: keep), $7 the records. The upsert locks the
# stream row (concurrent appenders queue there) and returns the first seq it assigned; it updates
# nothing on an expired stream, so no row comes back and `append` takes the reset path. SET
# expressions read the row as it was, RETURNING as it is now.
_UPSERT = (
    "INSERT INTO {p}_streams AS st (ns, id, created_at, updated_at, first_seq, next_seq, expires_at) "
    "VALUES ($1, $2, $3::float8, $3::float8, GREATEST(0, $4::bigint - $5::bigint), $4::bigint, $6::float8) "
    "ON CONFLICT (ns, id) DO UPDATE SET updated_at = EXCLUDED.updated_at, next_seq = st.next_seq + $4::bigint, "
    "first_seq = GREATEST(st.first_seq, st.next_seq + $4::bigint - $5::bigint), "
    "expires_at = COALESCE(EXCLUDED.expires_at, st.expires_at) "
    "WHERE st.expires_at IS NULL OR st.expires_at > $3::float8 "
    "RETURNING sid, next_seq - $4::bigint AS seq0, first_seq"
)
# Records the trim would delete at once are not inserted at all.
_INSERT = (
    "ins AS (INSERT INTO {p}_records (sid, seq, ts, data) "
    "SELECT s.sid, s.seq0 + g.i - 1, $3::float8, g.d FROM s, unnest($7::bytea[]) WITH ORDINALITY AS g(d, i) "
    "WHERE s.seq0 + g.i - 1 >= s.first_seq)"
)
# The trim sees the records committed before the statement began: those of an append that committed
# while this one waited for the row lock survive it (reads never return them, they are outside
# [first_seq, next_seq)) until the next trimming append or `delete` removes them.
_TRIM = "trim AS (DELETE FROM {p}_records r USING s WHERE r.sid = s.sid AND r.seq < s.first_seq)"
_APPEND = f"WITH s AS ({_UPSERT}), {_INSERT} SELECT seq0 FROM s"
_APPEND_TRIM = f"WITH s AS ({_UPSERT}), {_INSERT}, {_TRIM} SELECT seq0 FROM s"
# One join: the stream's row (unexpired) bounds the range; $4 start, $5 end, $6 last (NULL: all).
_READ = (
    "SELECT r.seq, r.ts, r.data FROM {p}_streams s JOIN {p}_records r ON r.sid = s.sid "
    "WHERE s.ns = $1 AND s.id = $2 AND (s.expires_at IS NULL OR s.expires_at > $3::float8) "
    "AND r.seq >= GREATEST($4::bigint, s.first_seq, LEAST(s.next_seq, $5::bigint) - $6::bigint) "
    "AND r.seq < LEAST(s.next_seq, $5::bigint) ORDER BY r.seq"
)
# The read and another stream's row in one statement (one round trip, one snapshot): the row comes
# first, its seq NULL; $7 and $8 name it. A run reads its session this way with the knowledge
# base's row, whose `next_seq` says whether documents were added since its last look.
_READ_INFO = (
    "SELECT NULL::bigint AS seq, NULL::float8, NULL::bytea, created_at, updated_at, first_seq, next_seq, "
    "expires_at, meta FROM {p}_streams WHERE ns = $7 AND id = $8 UNION ALL "
    "SELECT r.seq, r.ts, r.data, NULL, NULL, NULL, NULL, NULL, NULL FROM {p}_streams s "
    "JOIN {p}_records r ON r.sid = s.sid "
    "WHERE s.ns = $1 AND s.id = $2 AND (s.expires_at IS NULL OR s.expires_at > $3::float8) "
    "AND r.seq >= GREATEST($4::bigint, s.first_seq, LEAST(s.next_seq, $5::bigint) - $6::bigint) "
    "AND r.seq < LEAST(s.next_seq, $5::bigint) ORDER BY seq NULLS FIRST"
)
_PUT_META = (
    "INSERT INTO {p}_streams AS st (ns, id, created_at, updated_at, first_seq, next_seq, meta) "
    "VALUES ($1, $2, $3::float8, $3::float8, 0, 0, $4) "
    "ON CONFLICT (ns, id) DO UPDATE SET updated_at = EXCLUDED.updated_at, meta = EXCLUDED.meta "
    "WHERE st.expires_at IS NULL OR st.expires_at > $3::float8 RETURNING sid"
)


async def _keep_session(conn: Any) -> None:
    """The pool's reset on release: nothing to undo (see the module docstring)."""


def _import_asyncpg() -> Any:
    try:
        import asyncpg
    except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError('ak.stores.Postgres needs asyncpg: pip install "agentickit[postgres]"') from exc
    return asyncpg


class Postgres:
    """A store in PostgreSQL.

    Args:
        dsn: a libpq URL (`postgresql://user:password@host:5432/db`); the password never appears in
            errors, logs or `repr`.
        prefix: table name prefix (tables `{prefix}_streams`, `{prefix}_records`, `{prefix}_schema`).
        pool: the most connections the pool opens.
        pgbouncer: no server-side prepared statements (for PgBouncer in transaction pooling mode).
        connect_timeout: seconds to wait for a connection.

    """

    __slots__ = ("_pool", "_sql", "connect_timeout", "dsn", "pgbouncer", "pool_size", "prefix")

    def __init__(
        self,
        dsn: str,
        *,
        prefix: str = "ak",
        pool: int = 10,
        pgbouncer: bool = False,
        connect_timeout: float = 10.0,
    ) -> None:
        if pool < 1:
            raise UserError(f"pool must be >= 1 connections, got {pool!r}")
        self.dsn = dsn
        self.prefix = check_prefix(prefix)
        self.pool_size = pool
        self.pgbouncer = pgbouncer
        self.connect_timeout = connect_timeout
        self._pool = Lazy()
        p = self.prefix
        self._sql = (
            _APPEND.format(p=p),
            _APPEND_TRIM.format(p=p),
            _READ.format(p=p),
            _PUT_META.format(p=p),
            _READ_INFO.format(p=p),
        )

    async def _get_pool(self) -> Any:
        return await self._pool.get(self._connect)

    async def _connect(self) -> Any:
        asyncpg = _import_asyncpg()
        kwargs: dict[str, Any] = {
            "min_size": 1,
            "max_size": self.pool_size,
            "timeout": self.connect_timeout,
            "reset": _keep_session,
        }
        if self.pgbouncer:
            kwargs["statement_cache_size"] = 0
        try:
            pool = await asyncpg.create_pool(self.dsn, **kwargs)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # `from None`: the driver's exception may carry connection parameters.
            raise StoreConnectionError(
                f"cannot connect to PostgreSQL store {redact_url(self.dsn)}: {type(exc).__name__}: {self._redact(str(exc))}"
            ) from None
        try:
            await self._migrate(pool)
        except BaseException:
            await pool.close()
            raise
        return pool

    def _redact(self, text: str) -> str:
        try:
            from urllib.parse import urlsplit

            password = urlsplit(self.dsn).password
        except ValueError:
            password = None
        return text.replace(password, "***") if password else text

    async def _migrate(self, pool: Any) -> None:
        p = self.prefix
        async with pool.acquire() as conn, conn.transaction():
            # Several processes may start at once: one migrates, the others wait and then see it done.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"agentickit:{p}")
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {p}_schema (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            version = await conn.fetchval(f"SELECT value FROM {p}_schema WHERE key = 'version'") or 0
            if version > SCHEMA_VERSION:
                raise refused_version(version, f"PostgreSQL store {redact_url(self.dsn)} (tables {p}_*)")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in _MIGRATIONS[v]:
                    await conn.execute(stmt.format(p=p))
            if version < SCHEMA_VERSION:
                await conn.execute(
                    f"INSERT INTO {p}_schema (key, value) VALUES ('version', $1) "
                    "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    SCHEMA_VERSION,
                )

    async def _ensure(self, conn: Any, ns: str, stream_id: str, t: float) -> Any:
        p = self.prefix
        # The upsert takes the row lock: appenders of one stream queue here until the commit.
        row = await conn.fetchrow(
            f"INSERT INTO {p}_streams (ns, id, created_at, updated_at, first_seq, next_seq) VALUES ($1, $2, $3, $3, 0, 0) "
            f"ON CONFLICT (ns, id) DO UPDATE SET updated_at = EXCLUDED.updated_at RETURNING {_COLS}",
            ns,
            stream_id,
            t,
        )
        if row["expires_at"] is not None and row["expires_at"] <= t:
            await conn.execute(f"DELETE FROM {p}_records WHERE sid = $1", row["sid"])
            row = await conn.fetchrow(
                f"UPDATE {p}_streams SET created_at = $2, first_seq = 0, next_seq = 0, expires_at = NULL, meta = NULL "
                f"WHERE sid = $1 RETURNING {_COLS}",
                row["sid"],
                t,
            )
        return row

    async def append(
        self,
        namespace: str,
        stream_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        ttl: float | None = None,
        max_records: int | None = None,
    ) -> int:
        """Append records in one transaction; return the seq of the first."""
        check_ns_id(namespace, stream_id)
        check_append(records, ttl, max_records)
        blobs = [encode_record(r) for r in records]
        pool = await self._get_pool()
        t = now()
        expires = None if ttl is None else t + ttl
        sql = self._sql[0] if max_records is None else self._sql[1]
        async with pool.acquire() as conn:
            seq0 = await conn.fetchval(sql, namespace, stream_id, t, len(blobs), max_records, expires, blobs)
            if seq0 is not None:
                return seq0
            return await self._append_expired(conn, namespace, stream_id, blobs, ttl, max_records)

    async def _append_expired(
        self, conn: Any, namespace: str, stream_id: str, blobs: list[bytes], ttl: float | None, max_records: int | None
    ) -> int:
        """The append to an expired stream: reset it (records deleted, seqs from 0), then append."""
        p = self.prefix
        async with conn.transaction():
            t = now()
            row = await self._ensure(conn, namespace, stream_id, t)
            sid, first_seq, next_seq = row["sid"], row["first_seq"], row["next_seq"]
            new_next = next_seq + len(blobs)
            new_first = trim_start(first_seq, new_next, max_records)
            await conn.execute(
                f"INSERT INTO {p}_records (sid, seq, ts, data) "
                "SELECT $1, $2 + g.i - 1, $3, g.d FROM unnest($4::bytea[]) WITH ORDINALITY AS g(d, i)",
                sid,
                next_seq,
                t,
                blobs,
            )
            if new_first > first_seq:
                await conn.execute(f"DELETE FROM {p}_records WHERE sid = $1 AND seq < $2", sid, new_first)
            await conn.execute(
                f"UPDATE {p}_streams SET next_seq = $2, first_seq = $3, expires_at = COALESCE($4, expires_at) WHERE sid = $1",
                sid,
                new_next,
                new_first,
                None if ttl is None else t + ttl,
            )
        return next_seq

    async def _row(self, conn: Any, namespace: str, stream_id: str) -> Any:
        row = await conn.fetchrow(
            f"SELECT {_COLS} FROM {self.prefix}_streams WHERE ns = $1 AND id = $2", namespace, stream_id
        )
        if row is not None and row["expires_at"] is not None and row["expires_at"] <= now():
            return None
        return row

    async def read(
        self, namespace: str, stream_id: str, *, start: int = 0, end: int | None = None, last: int | None = None
    ) -> list[Record]:
        """Records with `start <= seq < end`, oldest first (`last=n`: the newest n of them)."""
        pool = await self._get_pool()
        # The same range as `window()`, worked out by the server in the one query.
        tail = None if last is None else max(last, 0)
        async with pool.acquire() as conn:
            rows = await conn.fetch(self._sql[2], namespace, stream_id, now(), start, end, tail)
        return [Record(seq=r[0], ts=r[1], data=decode_record(r[2], namespace, stream_id, r[0])) for r in rows]

    async def read_and_info(
        self,
        namespace: str,
        stream_id: str,
        info_of: tuple[str, str],
        *,
        start: int = 0,
        end: int | None = None,
        last: int | None = None,
    ) -> tuple[list[Record], StreamInfo | None]:
        """`read(namespace, stream_id, ...)` and `info(*info_of)` in one statement (one round trip)."""
        pool = await self._get_pool()
        tail = None if last is None else max(last, 0)
        t = now()
        async with pool.acquire() as conn:
            rows = await conn.fetch(self._sql[4], namespace, stream_id, t, start, end, tail, *info_of)
        info: StreamInfo | None = None
        if rows and rows[0][0] is None:
            row = rows[0]
            rows = rows[1:]
            if row[7] is None or row[7] > t:
                info = StreamInfo(
                    namespace=info_of[0],
                    id=info_of[1],
                    created_at=row[3],
                    updated_at=row[4],
                    first_seq=row[5],
                    next_seq=row[6],
                    expires_at=row[7],
                    meta=decode_meta(row[8]),
                )
        return [Record(seq=r[0], ts=r[1], data=decode_record(r[2], namespace, stream_id, r[0])) for r in rows], info

    @staticmethod
    def _info(ns: str, stream_id: str, row: Any) -> StreamInfo:
        return StreamInfo(
            namespace=ns,
            id=stream_id,
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            first_seq=row["first_seq"],
            next_seq=row["next_seq"],
            expires_at=row["expires_at"],
            meta=decode_meta(row["meta"]),
        )

    async def info(self, namespace: str, stream_id: str) -> StreamInfo | None:
        """The stream's info, or `None`."""
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            row = await self._row(conn, namespace, stream_id)
        return None if row is None else self._info(namespace, stream_id, row)

    async def list(self, namespace: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Streams newest first (keyset paging on `(updated_at, sid)`)."""
        if limit < 1:
            raise UserError(f"limit must be >= 1, got {limit!r}")
        sql = f"SELECT id, {_COLS} FROM {self.prefix}_streams WHERE ns = $1 AND (expires_at IS NULL OR expires_at > $2)"
        args: list[Any] = [namespace, now()]
        if cursor:
            from ._sqlite import _parse_cursor  # pyright: ignore[reportPrivateUsage]

            ts, sid = _parse_cursor(cursor)
            sql += " AND (updated_at < $3 OR (updated_at = $3 AND sid < $4))"
            args += [ts, sid]
        sql += f" ORDER BY updated_at DESC, sid DESC LIMIT {int(limit) + 1}"
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = f"{rows[-1]['updated_at']!r}:{rows[-1]['sid']}" if more else None
        return Page(items=[self._info(namespace, r["id"], r) for r in rows], next_cursor=nxt)

    async def put_meta(self, namespace: str, stream_id: str, meta: Mapping[str, Any]) -> None:
        """Replace the stream's metadata."""
        check_ns_id(namespace, stream_id)
        blob = encode_meta(meta)
        pool = await self._get_pool()
        t = now()
        async with pool.acquire() as conn:
            if await conn.fetchval(self._sql[3], namespace, stream_id, t, blob) is not None:
                return
            async with conn.transaction():  # an expired stream: reset it first
                row = await self._ensure(conn, namespace, stream_id, t)
            await conn.execute(f"UPDATE {self.prefix}_streams SET meta = $2 WHERE sid = $1", row["sid"], blob)

    async def delete(self, namespace: str, stream_id: str) -> bool:
        """Delete a stream and its records."""
        p = self.prefix
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            sid = await conn.fetchval(
                f"DELETE FROM {p}_streams WHERE ns = $1 AND id = $2 RETURNING sid", namespace, stream_id
            )
            if sid is None:
                return False
            await conn.execute(f"DELETE FROM {p}_records WHERE sid = $1", sid)
        return True

    async def sweep(self, namespace: str | None = None) -> int:
        """Delete expired streams."""
        p = self.prefix
        sql = f"DELETE FROM {p}_streams WHERE expires_at IS NOT NULL AND expires_at <= $1"
        args: list[Any] = [now()]
        if namespace is not None:
            sql += " AND ns = $2"
            args.append(namespace)
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            sids = [r[0] for r in await conn.fetch(sql + " RETURNING sid", *args)]
            if sids:
                await conn.execute(f"DELETE FROM {p}_records WHERE sid = ANY($1::bigint[])", sids)
        return len(sids)

    async def drop_tables(self) -> None:
        """Drop this store's tables (for tests and teardown; irreversible)."""
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            for t in ("records", "streams", "schema"):
                await conn.execute(f"DROP TABLE IF EXISTS {self.prefix}_{t}")

    async def aclose(self) -> None:
        """Close the pool. Idempotent."""
        pool = self._pool.take()
        if pool is not None:
            await pool.close()

    def __repr__(self) -> str:
        return f"Postgres({redact_url(self.dsn)!r}, prefix={self.prefix!r}, pgbouncer={self.pgbouncer})"
