"""`InMemory`: the default store, in this process (gone on restart)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import UserError
from ._base import (
    Page,
    Record,
    StreamInfo,
    check_append,
    check_ns_id,
    decode_record,
    encode_record,
    now,
    trim_start,
    window,
)

__all__ = ("DEFAULT_MAX_BYTES", "InMemory")

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
"""What `InMemory()` holds at most by default: 256 MiB of record JSON text, over all its streams."""


@dataclass(slots=True)
class _Stream:
    created_at: float
    updated_at: float
    first_seq: int = 0
    next_seq: int = 0
    expires_at: float | None = None
    meta: dict[str, Any] = field(default_factory=dict[str, Any])
    # (seq, ts, encoded JSON): bytes are ~3x smaller than the decoded dicts, and a long-lived
    # process with thousands of sessions holds every one of them.
    records: deque[tuple[int, float, str]] = field(default_factory=deque[tuple[int, float, str]])
    size: int = 0
    """Characters of JSON text in `records` (what `max_bytes` counts)."""


class InMemory:
    """Streams in a dict of this process. Records are copied in (through JSON), so callers cannot mutate them.

    The store is bounded by size as well as by each stream's `max_records`: past `max_bytes` of
    record JSON text (default `DEFAULT_MAX_BYTES`, 256 MiB; `None` for no bound) the streams
    written least recently are evicted whole, oldest first, and a single stream larger than the
    bound loses its oldest records. 300 sessions holding a 1 MB answer each cannot grow a process
    by 300 MB unnoticed.

    Args:
        max_bytes: the most record JSON text (in characters, about bytes) kept over all streams.

    """

    __slots__ = ("_bytes", "_streams", "max_bytes")

    def __init__(self, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> None:
        if max_bytes is not None and (type(max_bytes) is not int or max_bytes < 1):
            raise UserError(f"InMemory(max_bytes=...) must be an int >= 1, or None for no bound; got {max_bytes!r}")
        self.max_bytes = max_bytes
        # Ordered by last write (a written stream moves to the end), so eviction takes the front.
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._bytes = 0

    def _live(self, namespace: str, stream_id: str) -> _Stream | None:
        s = self._streams.get((namespace, stream_id))
        if s is not None and s.expires_at is not None and s.expires_at <= now():
            return None  # expired: absent to readers; `sweep` frees it
        return s

    async def append(
        self,
        namespace: str,
        stream_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        ttl: float | None = None,
        max_records: int | None = None,
    ) -> int:
        """Append records; return the seq of the first."""
        check_ns_id(namespace, stream_id)
        check_append(records, ttl, max_records)
        # Stored encoded: the same values (and the same errors) as a persistent store.
        # (Kept as str: orjson's bytes keep a ~4 KiB buffer each, a str is sized to its text.)
        copies = [encode_record(r).decode() for r in records]
        t = now()
        key = (namespace, stream_id)
        s = self._live(namespace, stream_id)
        if s is None:
            self._drop(key)  # an expired stream of that name
            s = _Stream(created_at=t, updated_at=t)
        else:
            del self._streams[key]  # re-inserted below: the most recently written goes last
        self._streams[key] = s
        first = s.next_seq
        added = 0
        for data in copies:
            s.records.append((s.next_seq, t, data))
            s.next_seq += 1
            added += len(data)
        s.size += added
        self._bytes += added
        s.updated_at = t
        if ttl is not None:
            s.expires_at = t + ttl
        new_first = trim_start(s.first_seq, s.next_seq, max_records)
        while s.records and s.records[0][0] < new_first:
            self._pop_oldest(s)
        s.first_seq = new_first
        if self.max_bytes is not None and self._bytes > self.max_bytes:
            self._evict(key, s)
        return first

    def _pop_oldest(self, s: _Stream) -> None:
        gone = len(s.records.popleft()[2])
        s.size -= gone
        self._bytes -= gone

    def _drop(self, key: tuple[str, str]) -> bool:
        s = self._streams.pop(key, None)
        if s is None:
            return False
        self._bytes -= s.size
        return True

    def _evict(self, current: tuple[str, str], s: _Stream) -> None:
        """Get back under `max_bytes`: whole streams written least recently first, then `s`'s oldest records."""
        limit = self.max_bytes
        assert limit is not None
        streams = self._streams
        while self._bytes > limit and len(streams) > 1:
            oldest = next(iter(streams))
            if oldest == current:
                break
            self._drop(oldest)
        while self._bytes > limit and len(s.records) > 1:
            self._pop_oldest(s)
            s.first_seq += 1

    async def read(
        self, namespace: str, stream_id: str, *, start: int = 0, end: int | None = None, last: int | None = None
    ) -> list[Record]:
        """Records with `start <= seq < end`, oldest first (`last=n`: the newest n of them)."""
        s = self._live(namespace, stream_id)
        if s is None:
            return []
        lo, hi = window(start, end, last, s.first_seq, s.next_seq)
        base = s.first_seq
        rows = s.records if lo == base and hi == s.next_seq else (s.records[i - base] for i in range(lo, hi))
        return [Record(seq=q, ts=t, data=decode_record(b, namespace, stream_id, q)) for q, t, b in rows]

    def _info(self, namespace: str, stream_id: str, s: _Stream) -> StreamInfo:
        return StreamInfo(
            namespace=namespace,
            id=stream_id,
            created_at=s.created_at,
            updated_at=s.updated_at,
            first_seq=s.first_seq,
            next_seq=s.next_seq,
            expires_at=s.expires_at,
            meta=dict(s.meta),
        )

    async def info(self, namespace: str, stream_id: str) -> StreamInfo | None:
        """The stream's info, or `None`."""
        s = self._live(namespace, stream_id)
        return None if s is None else self._info(namespace, stream_id, s)

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
        """`read(namespace, stream_id, ...)` and `info(*info_of)` together (see `stores.read_and_info`)."""
        return await self.read(namespace, stream_id, start=start, end=end, last=last), await self.info(*info_of)

    async def list(self, namespace: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Streams newest first; the cursor is an offset."""
        t = now()
        rows = sorted(
            (
                (k[1], s)
                for k, s in self._streams.items()
                if k[0] == namespace and (s.expires_at is None or s.expires_at > t)
            ),
            key=lambda kv: (kv[1].updated_at, kv[0]),
            reverse=True,
        )
        offset = int(cursor) if cursor else 0
        page = rows[offset : offset + limit]
        nxt = str(offset + limit) if offset + limit < len(rows) else None
        return Page(items=[self._info(namespace, i, s) for i, s in page], next_cursor=nxt)

    async def put_meta(self, namespace: str, stream_id: str, meta: Mapping[str, Any]) -> None:
        """Replace the stream's metadata."""
        check_ns_id(namespace, stream_id)
        t = now()
        s = self._live(namespace, stream_id)
        if s is None:
            s = self._streams[(namespace, stream_id)] = _Stream(created_at=t, updated_at=t)
        s.meta = orjson.loads(orjson.dumps(dict(meta)))
        s.updated_at = t

    async def delete(self, namespace: str, stream_id: str) -> bool:
        """Delete a stream."""
        return self._drop((namespace, stream_id))

    async def sweep(self, namespace: str | None = None) -> int:
        """Delete expired streams."""
        t = now()
        dead = [
            k
            for k, s in self._streams.items()
            if (namespace is None or k[0] == namespace) and s.expires_at is not None and s.expires_at <= t
        ]
        for k in dead:
            self._drop(k)
        return len(dead)

    async def aclose(self) -> None:
        """Nothing to release."""

    @property
    def size(self) -> int:
        """Characters of record JSON text held now (what `max_bytes` bounds)."""
        return self._bytes

    def __repr__(self) -> str:
        return f"InMemory(streams={len(self._streams)}, size={self._bytes})"
