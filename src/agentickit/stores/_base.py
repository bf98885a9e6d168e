"""The store interface and what every backend shares: records, stream info, pages, errors, redaction."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import orjson

from ..errors import AgentickitError, UserError

__all__ = (
    "SCHEMA_VERSION",
    "CorruptRecordError",
    "Page",
    "Record",
    "SchemaVersionError",
    "Store",
    "StoreConnectionError",
    "StoreError",
    "StreamInfo",
    "check_ns_id",
    "decode_record",
    "encode_record",
    "read_and_info",
    "redact_url",
)

SCHEMA_VERSION = 1
"""The layout version this code writes; a store with a higher version is refused."""


class StoreError(AgentickitError):
    """A store failed: it cannot be reached, its schema is from a newer version, or a record is corrupt."""


class StoreConnectionError(StoreError):
    """The store could not be reached; the message names its URL without the password."""


class SchemaVersionError(StoreError):
    """The store's schema was written by a newer agentickit; this version refuses to touch it."""


class CorruptRecordError(StoreError):
    """A stored record cannot be decoded. Carries where it is, so it can be inspected or deleted."""

    def __init__(self, message: str, *, namespace: str, stream_id: str, seq: int) -> None:
        super().__init__(message)
        self.namespace = namespace
        self.stream_id = stream_id
        self.seq = seq


@dataclass(slots=True, frozen=True, kw_only=True)
class Record:
    """One appended record of a stream."""

    seq: int
    """Its position in the stream: 0 for the first record ever appended, never reused (trimming keeps them)."""
    ts: float
    """When it was appended (Unix seconds)."""
    data: dict[str, Any]
    """The JSON object that was appended."""


@dataclass(slots=True, frozen=True, kw_only=True)
class StreamInfo:
    """What a store knows about one stream without reading its records."""

    namespace: str
    id: str
    created_at: float
    updated_at: float
    """The time of the last append (or metadata change)."""
    first_seq: int
    """The seq of the oldest record still kept (records before it were trimmed)."""
    next_seq: int
    """The seq the next append gets; `next_seq - first_seq` records are kept."""
    expires_at: float | None = None
    """When the stream expires (Unix seconds), or `None`."""
    meta: dict[str, Any] = field(default_factory=dict[str, Any])
    """Free-form metadata (`Store.put_meta`)."""

    @property
    def count(self) -> int:
        """How many records are kept."""
        return self.next_seq - self.first_seq


@dataclass(slots=True, frozen=True, kw_only=True)
class Page:
    """One page of `Store.list`: streams newest first, and the cursor of the next page (`None` at the end)."""

    items: list[StreamInfo]
    next_cursor: str | None = None


@runtime_checkable
class Store(Protocol):
    """Append-only streams of JSON records, keyed by `(namespace, id)`. See the `agentickit.stores` docstring."""

    async def append(
        self,
        namespace: str,
        stream_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        ttl: float | None = None,
        max_records: int | None = None,
    ) -> int:
        """Append records atomically; return the seq of the first one.

        `ttl` (seconds) sets the stream to expire that long after this append; `max_records` trims
        the oldest records beyond that many, in the same transaction.
        """
        ...

    async def read(
        self, namespace: str, stream_id: str, *, start: int = 0, end: int | None = None, last: int | None = None
    ) -> list[Record]:
        """Records with `start <= seq < end`, oldest first; `last=n` keeps only the newest `n` of them."""
        ...

    async def info(self, namespace: str, stream_id: str) -> StreamInfo | None:
        """The stream's info, or `None` if it does not exist (or expired)."""
        ...

    async def list(self, namespace: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Streams of a namespace, most recently updated first, `limit` per page."""
        ...

    async def put_meta(self, namespace: str, stream_id: str, meta: Mapping[str, Any]) -> None:
        """Replace a stream's metadata (creating the stream, empty, if needed)."""
        ...

    async def delete(self, namespace: str, stream_id: str) -> bool:
        """Delete a stream and its records; `True` if it existed."""
        ...

    async def sweep(self, namespace: str | None = None) -> int:
        """Delete expired streams (of one namespace, or all); return how many."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads. Idempotent."""
        ...


async def read_and_info(
    store: Store,
    namespace: str,
    stream_id: str,
    info_of: tuple[str, str],
    *,
    start: int = 0,
    end: int | None = None,
    last: int | None = None,
) -> tuple[list[Record], StreamInfo | None]:
    """`store.read(namespace, stream_id, ...)` and `store.info(*info_of)`, in one call when the store can.

    The built-in stores answer both in one round trip (`read_and_info`, an optional method of a
    `Store`): a run asks for its session's history and its knowledge base's version at once. A
    store without the method gets the two calls, one after the other.
    """
    both = getattr(store, "read_and_info", None)
    if both is not None:
        return await both(namespace, stream_id, info_of, start=start, end=end, last=last)
    records = await store.read(namespace, stream_id, start=start, end=end, last=last)
    return records, await store.info(*info_of)


class Lazy:
    """A resource (a connection pool) opened on first use by one caller, even when many ask at once.

    The lock is made inside the running loop, on first use, never at construction.
    """

    __slots__ = ("_lock", "value")

    def __init__(self) -> None:
        self.value: Any = None
        self._lock: asyncio.Lock | None = None

    async def get(self, open_it: Callable[[], Awaitable[Any]]) -> Any:
        """The resource, opened by `open_it()` if this is the first use."""
        if self.value is not None:
            return self.value
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.value is None:
                self.value = await open_it()
        return self.value

    def take(self) -> Any:
        """The resource (or `None`), forgotten here: the caller closes it."""
        value, self.value = self.value, None
        return value


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")


def check_prefix(prefix: str) -> str:
    """Validate a table/key prefix (it goes into SQL identifiers)."""
    if not _NAME.match(prefix):
        raise UserError(f"prefix must be letters, digits and '_' (starting with a letter), got {prefix!r}")
    return prefix


def check_ns_id(namespace: str, stream_id: str) -> None:
    """Reject empty or non-string namespaces and ids."""
    if not isinstance(namespace, str) or not namespace:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UserError(f"namespace must be a non-empty string, got {namespace!r}")
    if not isinstance(stream_id, str) or not stream_id:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise UserError(f"stream id must be a non-empty string, got {stream_id!r}")


def encode_record(data: Mapping[str, Any]) -> bytes:
    """A record's stored form (compact JSON)."""
    try:
        return orjson.dumps(data)
    except TypeError as exc:
        raise UserError(f"a store record must be a JSON object of JSON values: {exc}") from exc


def decode_record(raw: bytes | str, namespace: str, stream_id: str, seq: int) -> dict[str, Any]:
    """Decode a stored record, or raise `CorruptRecordError` naming where it is."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptRecordError(
            f"corrupt record in {namespace}/{stream_id!r} at position {seq}: {exc}; "
            "delete the stream or repair the row",
            namespace=namespace,
            stream_id=stream_id,
            seq=seq,
        ) from None
    if not isinstance(value, dict):
        raise CorruptRecordError(
            f"corrupt record in {namespace}/{stream_id!r} at position {seq}: "
            f"expected a JSON object, found {type(value).__name__}",
            namespace=namespace,
            stream_id=stream_id,
            seq=seq,
        )
    return value  # pyright: ignore[reportUnknownVariableType]


def encode_meta(meta: Mapping[str, Any] | None) -> bytes:
    """Stream metadata's stored form."""
    return encode_record(meta or {})


def decode_meta(raw: bytes | str | None) -> dict[str, Any]:
    """Stream metadata, leniently: broken metadata reads as empty rather than hiding the stream."""
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]


def redact_url(url: str) -> str:
    """The URL or DSN with any password replaced by `***` (for errors, logs and repr)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.password is None:
        # libpq key=value DSNs carry the password as `password=...`.
        return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    netloc = f"{user}:***@{host}"
    query = re.sub(r"(password=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def refused_version(found: int, where: str) -> SchemaVersionError:
    """The error for a schema written by a newer version."""
    return SchemaVersionError(
        f"{where} has schema version {found}, newer than this agentickit's {SCHEMA_VERSION}; "
        "upgrade agentickit (or use a different table prefix / database)"
    )


_time = time.time


def now() -> float:
    """Wall-clock seconds; tests of expiry replace `_time` instead of sleeping."""
    return _time()


def trim_start(first_seq: int, next_seq: int, max_records: int | None) -> int:
    """The new first seq after trimming to `max_records`."""
    if max_records is None:
        return first_seq
    return max(first_seq, next_seq - max_records)


def check_append(records: Sequence[Mapping[str, Any]], ttl: float | None, max_records: int | None) -> None:
    """Validate append arguments the same way in every store."""
    if ttl is not None and ttl <= 0:
        raise UserError(f"ttl must be > 0 seconds, got {ttl!r}")
    if max_records is not None and max_records < 1:
        raise UserError(f"max_records must be >= 1, got {max_records!r}")
    if isinstance(records, Mapping):
        raise UserError("append takes a sequence of records (a list of dicts), got a single dict")


def window(start: int, end: int | None, last: int | None, first_seq: int, next_seq: int) -> tuple[int, int]:
    """The seq range `[lo, hi)` a read covers, clipped to what is kept."""
    lo = max(start, first_seq)
    hi = next_seq if end is None else min(end, next_seq)
    if last is not None:
        lo = max(lo, hi - max(last, 0))
    return lo, max(lo, hi)
