"""Stores: append-only streams of JSON records, one storage layer for sessions, run journals and run records.

```python
store = ak.stores.SQLite("agent.db")            # InMemory(), Postgres(dsn), Redis(url)
memory = ak.Memory(store=store, ttl=86_400, max_messages=500)
```

## The interface (`Store`), for every user of the storage layer

A store holds **streams** keyed by `(namespace, id)`. Chat sessions are the namespace
`"session"` (one record per message); the durable-run journal and the server's run records are
meant to be other namespaces of the same store, so one database holds all three.

- `await append(ns, id, records, *, ttl=None, max_records=None) -> int`: append JSON objects
  atomically, in order; returns the `seq` of the first. `seq` is the record's position in the
  stream: 0, 1, 2, ... in append order, assigned by the store (so concurrent appenders, in any
  number of processes, get one order with no gaps and no duplicates), never reused. An append that
  returned is durable (committed; survives a SIGKILL of the process). `ttl` makes the stream expire
  `ttl` seconds after this append (sliding); `max_records` drops the oldest records beyond that
  many in the same transaction (their seqs are not reused: `first_seq` moves up).
- `await read(ns, id, *, start=0, end=None, last=None) -> list[Record]`: records with
  `start <= seq < end`, oldest first; `last=n` keeps the newest `n` of that range. A record that
  cannot be decoded raises `CorruptRecordError` with `namespace`, `stream_id` and `seq`.
  Reading `start=info.next_seq` after a crash is how a journal resumes.
- `await info(ns, id) -> StreamInfo | None`: `created_at`, `updated_at`, `first_seq`, `next_seq`
  (`count = next_seq - first_seq`), `expires_at`, `meta`, without reading records.
- Optional: `await read_and_info(ns, id, info_of, *, start=0, end=None, last=None)` returns
  `(read(ns, id, ...), info(*info_of))` in one round trip; a run reads its session's history and
  its knowledge base's version this way. Every built-in store has it; for a store without it,
  `stores._base.read_and_info(store, ...)` makes the two calls.
- `await list(ns, *, limit=50, cursor=None) -> Page`: streams most recently updated first;
  `page.next_cursor` fetches the next page (`None` at the end).
- `await put_meta(ns, id, meta)`: replace the stream's small metadata object (a run's status, a
  session's title); creates the stream if needed; bumps `updated_at`.
- `await delete(ns, id) -> bool`, `await sweep(ns=None) -> int` (delete expired streams; reads
  already treat an expired stream as absent, so sweeping only frees space), `await aclose()`.

Every store creates its own tables/keys (named by `prefix`, so stores and test runs can share a
database) and records a schema version; a database written by a newer version is refused with
`SchemaVersionError`. A store that cannot be reached raises `StoreConnectionError` naming the URL
without its password; passwords never appear in errors, logs or `repr`.

Stores: `InMemory` (default; this process only), `SQLite` (a file; WAL, `busy_timeout`, one
thread per store so the event loop never waits on the disk), `Postgres` (asyncpg, extra
`agentickit[postgres]`; `pgbouncer=True` for transaction pooling), `Redis` (core commands and Lua
only, extra `agentickit[redis]`).

`PgVector(dsn)` is not a `Store` but a vector index for documents (`ak.Memory(vectors=...)`): an
HNSW index in PostgreSQL with pgvector, which reports its recall@k against exact search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._base import (
    SCHEMA_VERSION,
    CorruptRecordError,
    Page,
    Record,
    SchemaVersionError,
    Store,
    StoreConnectionError,
    StoreError,
    StreamInfo,
    redact_url,
)
from ._memory import InMemory

if TYPE_CHECKING:
    from ._pgvector import PgVector
    from ._postgres import Postgres
    from ._redis import Redis
    from ._sqlite import SQLite

__all__ = (
    "SCHEMA_VERSION",
    "CorruptRecordError",
    "InMemory",
    "Page",
    "PgVector",
    "Postgres",
    "Record",
    "Redis",
    "SQLite",
    "SchemaVersionError",
    "Store",
    "StoreConnectionError",
    "StoreError",
    "StreamInfo",
    "redact_url",
)

__getattr__, __dir__ = lazy_exports(
    __name__, {"SQLite": "._sqlite", "Postgres": "._postgres", "PgVector": "._pgvector", "Redis": "._redis"}
)
