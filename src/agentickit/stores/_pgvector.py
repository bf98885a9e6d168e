"""`PgVector`: document chunks and their vectors in PostgreSQL, searched by a pgvector HNSW index.

The exact in-process search (numpy) has recall 1.0 by construction; an HNSW index trades some of it
for speed, so this index can always say what it gives up: `recall()` runs the same queries through
the index and through an exact sequential scan of the same table and reports recall@k.

One table per collection (`{prefix}_vec_{collection}`), created with the extension and the index on
first use. Vectors travel in pgvector's binary format (no text parsing on either side). A filter on
metadata uses pgvector 0.8's iterative index scan, so a selective filter still returns `k` rows.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from .._result import Source
from ..errors import UserError
from ._base import Lazy, StoreConnectionError, check_prefix, redact_url

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]

__all__ = ("PgVector",)

_SAFE = re.compile(r"^[a-z0-9_]{1,24}$")


def _np() -> Any:
    import numpy

    return numpy


def _encode_vector(value: Any) -> bytes:
    np = _np()
    arr = np.asarray(value, dtype=">f4")
    return struct.pack(">HH", arr.shape[0], 0) + arr.tobytes()


def _decode_vector(data: bytes) -> Any:
    np = _np()
    dim = struct.unpack_from(">H", data)[0]
    return np.frombuffer(data, dtype=">f4", count=dim, offset=4).astype(np.float32)


class PgVector:
    """A vector index in PostgreSQL with pgvector (HNSW, cosine), for `ak.Memory(vectors=...)`.

    ```python
    memory = ak.Memory(store=ak.stores.Postgres(dsn), vectors=ak.stores.PgVector(dsn))
    await memory.add_documents(docs)
    print(await memory.vectors.recall(k=10))   # recall@10 of the index against exact search
    ```

    Args:
        dsn: a libpq URL; the password never appears in errors, logs or `repr`.
        prefix: table name prefix (tables `{prefix}_vec_<collection>`).
        m: HNSW graph degree (pgvector's `m`; more: better recall, bigger index).
        ef_construction: HNSW build-time candidate list (more: better graph, slower inserts).
        ef_search: query-time candidate list (`hnsw.ef_search`; more: better recall, slower queries;
            raised to the `k` asked when smaller). The default, 400, reaches recall@10 ~98% on
            20,000 clustered 384-dim vectors even for queries unlike any of them (100: ~70%), at
            ~4 ms against ~12 ms for exact search (bench `stores.pgvector`); it applies to indexes
            already built. `ef_construction=128` with `ef_search=200` is about as fast at ~95%.
        pool: the most connections the pool opens.
        connect_timeout: seconds to wait for a connection.

    """

    __slots__ = (
        "_pool",
        "_pool_ef",
        "_tables",
        "connect_timeout",
        "dsn",
        "ef_construction",
        "ef_search",
        "m",
        "pool_size",
        "prefix",
    )

    def __init__(
        self,
        dsn: str,
        *,
        prefix: str = "ak",
        m: int = 16,
        ef_construction: int = 64,
        ef_search: int = 400,
        pool: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        problems: list[str] = []
        if not 2 <= m <= 100:
            problems.append(f"m must be between 2 and 100, got {m!r}")
        if not 4 <= ef_construction <= 1000 or ef_construction < 2 * m:
            problems.append(f"ef_construction must be between 4 and 1000 and >= 2*m, got {ef_construction!r}")
        if not 1 <= ef_search <= 1000:
            problems.append(f"ef_search must be between 1 and 1000, got {ef_search!r}")
        if pool < 1:
            problems.append(f"pool must be >= 1 connections, got {pool!r}")
        if problems:
            raise UserError("invalid PgVector settings: " + "; ".join(problems))
        self.dsn = dsn
        self.prefix = check_prefix(prefix)
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.pool_size = pool
        self.connect_timeout = connect_timeout
        self._pool = Lazy()
        self._pool_ef = 0
        self._tables: dict[str, int] = {}

    @property
    def name(self) -> str:
        """How results of this index are labelled in reports (`pgvector-hnsw(m=..., ef_search=...)`)."""
        return f"pgvector-hnsw(m={self.m}, ef_construction={self.ef_construction}, ef_search={self.ef_search})"

    def table(self, collection: str) -> str:
        """The table that holds a collection (its name if SQL-safe, else a checksum of it)."""
        safe = collection if _SAFE.match(collection) else f"h{zlib.crc32(collection.encode()):08x}"
        return f"{self.prefix}_vec_{safe}"

    # -- connection ---------------------------------------------------------------------------

    async def _get_pool(self) -> Any:
        return await self._pool.get(self._connect)

    async def _connect(self) -> Any:
        from ._postgres import _import_asyncpg, _keep_session  # pyright: ignore[reportPrivateUsage]

        asyncpg = _import_asyncpg()
        try:
            conn = await asyncpg.connect(self.dsn, timeout=self.connect_timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreConnectionError(
                f"cannot connect to PostgreSQL vector index {redact_url(self.dsn)}: {type(exc).__name__}"
            ) from None
        try:
            async with conn.transaction():
                # Concurrent first uses (other processes, other test runs) create the extension once.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('agentickit:pgvector'))")
                try:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except asyncpg.PostgresError as exc:
                    raise StoreConnectionError(
                        f"PostgreSQL at {redact_url(self.dsn)} has no pgvector extension ({exc}); "
                        "install it (Debian: postgresql-15-pgvector, or build it: .ci/pgvector.sh)"
                    ) from None
            schema = await conn.fetchval(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
                "WHERE e.extname = 'vector'"
            )
        finally:
            await conn.close()

        ef = self.ef_search

        async def init(c: Any) -> None:
            await c.set_type_codec(
                "vector", schema=schema, encoder=_encode_vector, decoder=_decode_vector, format="binary"
            )
            # The session's candidate list: a plain search is then one statement, not BEGIN, SET, SELECT, COMMIT.
            await c.execute(f"SET hnsw.ef_search = {int(ef)}")

        self._pool_ef = ef
        # No RESET ALL on release (asyncpg's default, a round trip per use that would also undo the
        # ef_search above): the pool is private, and every other setting here is `SET LOCAL`.
        return await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            timeout=self.connect_timeout,
            init=init,
            reset=_keep_session,
        )

    async def _ensure(self, collection: str, dim: int) -> str:
        table = self.table(collection)
        known = self._tables.get(table)
        if known == dim:
            return table
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"agentickit:{table}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, text TEXT NOT NULL, "
                f"meta JSONB NOT NULL, model TEXT NOT NULL, embedding vector({int(dim)}) NOT NULL)"
            )
            have = await conn.fetchval(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'embedding'", table
            )
            if have != dim:
                raise UserError(
                    f"table {table} holds vectors of {have} dimensions, this embedder makes {dim}; "
                    "use the same embedder or another collection"
                )
        self._tables[table] = dim
        return table

    # -- the index interface (used by `KnowledgeBase`) ----------------------------------------

    async def add(
        self,
        collection: str,
        ids: Sequence[str],
        texts: Sequence[str],
        metas: Sequence[Mapping[str, Any]],
        vectors: Matrix,
        model: str,
    ) -> None:
        """Insert (or replace, by id) chunks with their normalised vectors."""
        table = await self._ensure(collection, int(vectors.shape[1]))
        rows = [
            (i, t, orjson.dumps(dict(m)).decode(), model, v)
            for i, t, m, v in zip(ids, texts, metas, vectors, strict=True)
        ]
        pool = await self._get_pool()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"agentickit:{table}")
            have = await conn.fetchval(f"SELECT model FROM {table} LIMIT 1")
            if have is not None and have != model:
                raise UserError(
                    f"collection {collection!r} holds vectors of {have!r}, but this memory embeds with "
                    f"{model!r}; use the same embedder or another collection"
                )
            # COPY into a scratch table, then one upsert: far faster than a statement per row, and a
            # re-added id replaces its chunk (the last copy of an id within one batch wins).
            await conn.execute(
                "CREATE TEMP TABLE IF NOT EXISTS ak_vec_load (n BIGSERIAL, id TEXT, text TEXT, meta JSONB, "
                "model TEXT, embedding vector) ON COMMIT DELETE ROWS"
            )
            await conn.copy_records_to_table(
                "ak_vec_load", records=rows, columns=["id", "text", "meta", "model", "embedding"]
            )
            await conn.execute(
                f"INSERT INTO {table} (id, text, meta, model, embedding) "
                "SELECT DISTINCT ON (id) id, text, meta, model, embedding FROM ak_vec_load ORDER BY id, n DESC "
                "ON CONFLICT (id) DO UPDATE SET text = EXCLUDED.text, meta = EXCLUDED.meta, "
                "model = EXCLUDED.model, embedding = EXCLUDED.embedding"
            )
            if have is None:
                # The first load builds the index over all its rows at once (much faster than growing it
                # row by row); later adds update it as they insert.
                await conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} USING hnsw (embedding vector_cosine_ops) "
                    f"WITH (m = {self.m}, ef_construction = {self.ef_construction})"
                )

    async def count(self, collection: str) -> int:
        """How many chunks the collection holds (0 if its table does not exist yet)."""
        pool = await self._get_pool()
        table = self.table(collection)
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT to_regclass($1)", table) is None:
                return 0
            return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))

    async def search(
        self,
        collection: str,
        vector: Any,
        *,
        k: int,
        filter: Mapping[str, Any] | None = None,
        exact: bool = False,
    ) -> list[Source]:
        """The `k` nearest chunks by cosine similarity, best first; `exact=True` scans every row, without the index."""
        table = self.table(collection)
        pool = await self._get_pool()
        if table not in self._tables:
            async with pool.acquire() as conn:
                if await conn.fetchval("SELECT to_regclass($1)", table) is None:
                    return []  # nothing added yet (a search does not create the collection)
            await self._ensure(collection, len(vector))
        where, args = _where(filter, start=3)
        scan = f"SELECT id, text, meta, embedding <=> $1 AS d FROM {table} {where}"
        ef = max(self.ef_search, k)
        async with pool.acquire() as conn:
            if exact:
                # OFFSET 0 keeps the ordering out of the index's reach whatever plan is cached: a
                # prepared statement's generic plan outlives `SET enable_indexscan = off`.
                rows = await conn.fetch(f"SELECT * FROM ({scan} OFFSET 0) AS s ORDER BY d LIMIT $2", vector, k, *args)
            elif not filter and ef == self._pool_ef:
                # The session's ef_search (set at connect): one statement.
                rows = await conn.fetch(f"{scan} ORDER BY d LIMIT $2", vector, k)
            else:
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                    if filter:
                        # Without it, HNSW finds ef_search candidates first and filters after: fewer than k.
                        await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                    rows = await conn.fetch(f"{scan} ORDER BY d LIMIT $2", vector, k, *args)
        out = [Source(id=r[0], text=r[1], score=1.0 - float(r[3]), metadata=orjson.loads(r[2])) for r in rows]
        out.sort(key=lambda s: s.score, reverse=True)  # relaxed_order may return near-ties swapped
        return out

    async def recall(self, collection: str = "default", *, k: int = 10, queries: Matrix | None = None) -> float:
        """Recall@k of the HNSW index against exact search, over `queries` (default: 50 stored vectors).

        The share of the exact top-k that the index also returns, averaged over the queries.
        """
        np = _np()
        table = self.table(collection)
        pool = await self._get_pool()
        if queries is None:
            async with pool.acquire() as conn:
                rows = await conn.fetch(f"SELECT embedding FROM {table} ORDER BY md5(id) LIMIT 50")
            queries = np.vstack([r[0] for r in rows]) if rows else np.zeros((0, 1), dtype=np.float32)
        assert queries is not None
        if len(queries) == 0:
            return 1.0
        hits = 0
        total = 0
        for q in queries:
            want = {s.id for s in await self.search(collection, q, k=k, exact=True)}
            got = {s.id for s in await self.search(collection, q, k=k)}
            hits += len(want & got)
            total += len(want)
        return hits / total if total else 1.0

    async def clear(self, collection: str) -> None:
        """Drop the collection's table."""
        table = self.table(collection)
        pool = await self._get_pool()
        async with pool.acquire() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        self._tables.pop(table, None)

    async def aclose(self) -> None:
        """Close the pool. Idempotent."""
        pool = self._pool.take()
        self._tables.clear()
        if pool is not None:
            await pool.close()

    def __reduce__(self) -> tuple[Any, ...]:
        # Settings only: a copy (another process, a Ray actor) opens its own pool.
        return (
            _rebuild,
            (self.dsn, self.prefix, self.m, self.ef_construction, self.ef_search, self.pool_size, self.connect_timeout),
        )

    def __repr__(self) -> str:
        return f"PgVector({redact_url(self.dsn)!r}, prefix={self.prefix!r}, m={self.m}, ef_search={self.ef_search})"


def _rebuild(
    dsn: str, prefix: str, m: int, ef_construction: int, ef_search: int, pool: int, connect_timeout: float
) -> PgVector:
    return PgVector(
        dsn,
        prefix=prefix,
        m=m,
        ef_construction=ef_construction,
        ef_search=ef_search,
        pool=pool,
        connect_timeout=connect_timeout,
    )


def _where(flt: Mapping[str, Any] | None, *, start: int) -> tuple[str, list[Any]]:
    """A WHERE clause matching metadata like the exact search does (a list means any of its values)."""
    if not flt:
        return "", []
    clauses: list[str] = []
    args: list[Any] = []
    for key, want in flt.items():
        options: list[Any] = (
            list(want) if isinstance(want, list | tuple | set | frozenset) else [want]  # pyright: ignore[reportUnknownArgumentType]
        )
        ors: list[str] = []
        for value in options:
            args.append(orjson.dumps({key: value}).decode())
            ors.append(f"meta @> ${start + len(args) - 1}::jsonb")
        clauses.append("(" + (" OR ".join(ors) or "FALSE") + ")")
    return "WHERE " + " AND ".join(clauses), args
