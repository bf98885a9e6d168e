"""`SQLite`: a store in one file, safe for several processes at once.

WAL journal, `busy_timeout`, and `BEGIN IMMEDIATE` for every write: a writer takes the write lock
before it reads the sequence counter, so concurrent writers (threads or processes) queue on the
lock instead of failing with "database is locked" on a read-to-write upgrade. Every call runs on
one dedicated thread per store (stdlib `sqlite3`; no extra needed), so the event loop never waits
on the disk. `synchronous=NORMAL` in WAL mode keeps every committed append across a process kill
(the WAL is in the OS page cache); `durable=True` (`synchronous=FULL`) also survives power loss.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..errors import UserError
from ._base import (
    SCHEMA_VERSION,
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
    refused_version,
    trim_start,
    window,
)

__all__ = ("SQLite",)

T = TypeVar("T")

# Schema migrations: version -> statements that bring version-1 to it. Version 1 is the creation.
_SCHEMA_V1 = (
    "CREATE TABLE IF NOT EXISTS {p}_streams (sid INTEGER PRIMARY KEY, ns TEXT NOT NULL, id TEXT NOT NULL, "
    "created_at REAL NOT NULL, updated_at REAL NOT NULL, first_seq INTEGER NOT NULL, next_seq INTEGER NOT NULL, "
    "expires_at REAL, meta BLOB, UNIQUE (ns, id))",
    "CREATE INDEX IF NOT EXISTS {p}_streams_recent ON {p}_streams (ns, updated_at DESC, sid DESC)",
    "CREATE INDEX IF NOT EXISTS {p}_streams_expiry ON {p}_streams (expires_at) WHERE expires_at IS NOT NULL",
    # One row per record; WITHOUT ROWID stores it in the primary-key b-tree once (no second index).
    "CREATE TABLE IF NOT EXISTS {p}_records (sid INTEGER NOT NULL, seq INTEGER NOT NULL, ts REAL NOT NULL, "
    "data BLOB NOT NULL, PRIMARY KEY (sid, seq)) WITHOUT ROWID",
)
_MIGRATIONS: dict[int, tuple[str, ...]] = {1: _SCHEMA_V1}

_STREAM_COLS = "sid, created_at, updated_at, first_seq, next_seq, expires_at, meta"


class SQLite:
    """A store in an SQLite file.

    Args:
        path: the database file (created if missing); `":memory:"` is refused (use `InMemory`).
        prefix: table name prefix, so several stores (or test runs) can share a file.
        busy_timeout: seconds a writer waits for another writer's lock before failing.
        durable: `synchronous=FULL` (survive power loss) instead of `NORMAL` (survive a process kill).

    """

    __slots__ = ("_conn", "_executor", "busy_timeout", "durable", "path", "prefix")

    def __init__(
        self, path: str | os.PathLike[str], *, prefix: str = "ak", busy_timeout: float = 30.0, durable: bool = False
    ) -> None:
        path = os.fspath(path)
        if path in ("", ":memory:"):
            raise UserError("SQLite needs a file path; for a store in this process use ak.stores.InMemory()")
        if busy_timeout <= 0:
            raise UserError(f"busy_timeout must be > 0 seconds, got {busy_timeout!r}")
        self.path = path
        self.prefix = check_prefix(prefix)
        self.busy_timeout = busy_timeout
        self.durable = durable
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    # -- the thread ---------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is None:
            # One writer thread: calls run in order, and the connection never crosses threads.
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentickit-sqlite")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._guarded, fn, args)

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._conn if self._conn is not None else self._open()
        return fn(conn, *args)

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreConnectionError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if self.durable else 'NORMAL'}")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreConnectionError(f"cannot use SQLite store {self.path!r}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        p = self.prefix
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {p}_schema (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            row = conn.execute(f"SELECT value FROM {p}_schema WHERE key = 'version'").fetchone()
            version = int(row[0]) if row else 0
            if version > SCHEMA_VERSION:
                raise refused_version(version, f"SQLite store {self.path!r} (tables {p}_*)")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in _MIGRATIONS[v]:
                    conn.execute(stmt.format(p=p))
            if version < SCHEMA_VERSION:
                conn.execute(
                    f"INSERT INTO {p}_schema (key, value) VALUES ('version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (SCHEMA_VERSION,),
                )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _write(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
        # BEGIN IMMEDIATE takes the write lock up front; busy_timeout makes it wait its turn. A
        # deferred transaction that reads first and writes second can get SQLITE_BUSY at once
        # (no busy handler on a lock upgrade in WAL), which is where "database is locked" comes from.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.001)
        try:
            out = fn(conn)
            conn.execute("COMMIT")
            return out
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- records ------------------------------------------------------------------------------

    def _stream_row(self, conn: sqlite3.Connection, ns: str, sid_key: str) -> tuple[Any, ...] | None:
        row = conn.execute(
            f"SELECT {_STREAM_COLS} FROM {self.prefix}_streams WHERE ns = ? AND id = ?", (ns, sid_key)
        ).fetchone()
        if row is not None and row[5] is not None and row[5] <= now():
            return None
        return row

    def _drop(self, conn: sqlite3.Connection, sid: int) -> None:
        conn.execute(f"DELETE FROM {self.prefix}_records WHERE sid = ?", (sid,))
        conn.execute(f"DELETE FROM {self.prefix}_streams WHERE sid = ?", (sid,))

    def _ensure(self, conn: sqlite3.Connection, ns: str, stream_id: str, t: float) -> tuple[Any, ...]:
        p = self.prefix
        row = conn.execute(
            f"SELECT {_STREAM_COLS} FROM {p}_streams WHERE ns = ? AND id = ?", (ns, stream_id)
        ).fetchone()
        if row is not None and row[5] is not None and row[5] <= t:
            self._drop(conn, row[0])  # expired: a new stream of that name starts empty
            row = None
        if row is None:
            cur = conn.execute(
                f"INSERT INTO {p}_streams (ns, id, created_at, updated_at, first_seq, next_seq, meta) VALUES (?, ?, ?, ?, 0, 0, NULL)",
                (ns, stream_id, t, t),
            )
            row = (cur.lastrowid, t, t, 0, 0, None, None)
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
        p = self.prefix

        def tx(conn: sqlite3.Connection) -> int:
            t = now()
            sid, _, _, first_seq, next_seq, expires_at, _ = self._ensure(conn, namespace, stream_id, t)
            conn.executemany(
                f"INSERT INTO {p}_records (sid, seq, ts, data) VALUES (?, ?, ?, ?)",
                [(sid, next_seq + i, t, b) for i, b in enumerate(blobs)],
            )
            new_next = next_seq + len(blobs)
            new_first = trim_start(first_seq, new_next, max_records)
            if new_first > first_seq:
                conn.execute(f"DELETE FROM {p}_records WHERE sid = ? AND seq < ?", (sid, new_first))
            conn.execute(
                f"UPDATE {p}_streams SET next_seq = ?, first_seq = ?, updated_at = ?, expires_at = ? WHERE sid = ?",
                (new_next, new_first, t, t + ttl if ttl is not None else expires_at, sid),
            )
            return next_seq

        return await self._call(self._write, tx)

    async def read(
        self, namespace: str, stream_id: str, *, start: int = 0, end: int | None = None, last: int | None = None
    ) -> list[Record]:
        """Records with `start <= seq < end`, oldest first (`last=n`: the newest n of them)."""
        rows = await self._call(self._read_rows, namespace, stream_id, start, end, last)
        return [Record(seq=s, ts=t, data=decode_record(d, namespace, stream_id, s)) for s, t, d in rows]

    def _read_rows(
        self, conn: sqlite3.Connection, namespace: str, stream_id: str, start: int, end: int | None, last: int | None
    ) -> list[tuple[int, float, bytes]]:
        row = self._stream_row(conn, namespace, stream_id)
        if row is None:
            return []
        lo, hi = window(start, end, last, row[3], row[4])
        return conn.execute(
            f"SELECT seq, ts, data FROM {self.prefix}_records WHERE sid = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (row[0], lo, hi),
        ).fetchall()

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
        """`read(namespace, stream_id, ...)` and `info(*info_of)` in one trip to the store's thread."""

        def q(conn: sqlite3.Connection) -> tuple[list[tuple[int, float, bytes]], tuple[Any, ...] | None]:
            return self._read_rows(conn, namespace, stream_id, start, end, last), self._stream_row(conn, *info_of)

        rows, info = await self._call(q)
        records = [Record(seq=s, ts=t, data=decode_record(d, namespace, stream_id, s)) for s, t, d in rows]
        return records, None if info is None else self._info(*info_of, info)

    @staticmethod
    def _info(ns: str, stream_id: str, row: tuple[Any, ...]) -> StreamInfo:
        return StreamInfo(
            namespace=ns,
            id=stream_id,
            created_at=row[1],
            updated_at=row[2],
            first_seq=row[3],
            next_seq=row[4],
            expires_at=row[5],
            meta=decode_meta(row[6]),
        )

    async def info(self, namespace: str, stream_id: str) -> StreamInfo | None:
        """The stream's info, or `None`."""
        row = await self._call(self._stream_row, namespace, stream_id)
        return None if row is None else self._info(namespace, stream_id, row)

    async def list(self, namespace: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Streams newest first; the cursor is the last item's `(updated_at, sid)` (keyset paging)."""
        if limit < 1:
            raise UserError(f"limit must be >= 1, got {limit!r}")

        def q(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            sql = f"SELECT id, {_STREAM_COLS} FROM {self.prefix}_streams WHERE ns = ? AND (expires_at IS NULL OR expires_at > ?)"
            args: list[Any] = [namespace, now()]
            if cursor:
                ts, sid = _parse_cursor(cursor)
                sql += " AND (updated_at < ? OR (updated_at = ? AND sid < ?))"
                args += [ts, ts, sid]
            sql += " ORDER BY updated_at DESC, sid DESC LIMIT ?"
            args.append(limit + 1)
            return conn.execute(sql, args).fetchall()

        rows = await self._call(q)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = f"{rows[-1][3]!r}:{rows[-1][1]}" if more else None
        return Page(items=[self._info(namespace, r[0], r[1:]) for r in rows], next_cursor=nxt)

    async def put_meta(self, namespace: str, stream_id: str, meta: Mapping[str, Any]) -> None:
        """Replace the stream's metadata."""
        check_ns_id(namespace, stream_id)
        blob = encode_meta(meta)

        def tx(conn: sqlite3.Connection) -> None:
            t = now()
            sid = self._ensure(conn, namespace, stream_id, t)[0]
            conn.execute(f"UPDATE {self.prefix}_streams SET meta = ?, updated_at = ? WHERE sid = ?", (blob, t, sid))

        await self._call(self._write, tx)

    async def delete(self, namespace: str, stream_id: str) -> bool:
        """Delete a stream and its records."""

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                f"SELECT sid FROM {self.prefix}_streams WHERE ns = ? AND id = ?", (namespace, stream_id)
            ).fetchone()
            if row is None:
                return False
            self._drop(conn, row[0])
            return True

        return await self._call(self._write, tx)

    async def sweep(self, namespace: str | None = None) -> int:
        """Delete expired streams."""

        def tx(conn: sqlite3.Connection) -> int:
            sql = f"SELECT sid FROM {self.prefix}_streams WHERE expires_at IS NOT NULL AND expires_at <= ?"
            args: list[Any] = [now()]
            if namespace is not None:
                sql += " AND ns = ?"
                args.append(namespace)
            sids = [r[0] for r in conn.execute(sql, args).fetchall()]
            for sid in sids:
                self._drop(conn, sid)
            return len(sids)

        return await self._call(self._write, tx)

    async def aclose(self) -> None:
        """Close the connection and stop the thread. Idempotent."""
        executor, self._executor = self._executor, None
        if executor is None:
            return

        def close() -> None:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

        await asyncio.get_running_loop().run_in_executor(executor, close)
        executor.shutdown(wait=False)

    def __repr__(self) -> str:
        return f"SQLite({self.path!r}, prefix={self.prefix!r})"


def _parse_cursor(cursor: str) -> tuple[float, int]:
    try:
        ts, sid = cursor.rsplit(":", 1)
        return float(ts), int(sid)
    except ValueError:
        raise UserError(f"not a cursor of this store: {cursor!r} (pass a Page.next_cursor)") from None
