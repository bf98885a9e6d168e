"""`Redis`: a store on plain Redis (extra `agentickit[redis]`): lists, hashes, sorted sets, EXPIRE, Lua.

No modules (no RedisJSON, no RediSearch), so Redis 7, Valkey and managed Redis all work. Per stream:
a hash `{prefix}:{ns}:s:{id}` (counters, times, metadata) and a list `{prefix}:{ns}:r:{id}` (one entry
per record, `"<seq> <ts> <json>"`); per namespace a sorted set `{prefix}:{ns}:idx` (ids by update
time); per prefix a sorted set `{prefix}:exp` (expiry times, for the sweeper). Appends, reads and
expiry-checked deletes are Lua scripts, so each is atomic against concurrent clients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping, Sequence
from typing import Any

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
    redact_url,
    refused_version,
)

__all__ = ("Redis",)

_APPEND = """
local t = tonumber(ARGV[1])
local h = redis.call('HMGET', KEYS[1], 'next', 'first', 'expires')
local nxt = tonumber(h[1])
local first = tonumber(h[2])
local exp = tonumber(h[3])
if nxt == nil or (exp ~= nil and exp <= t) then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[4], ARGV[4])
  nxt = 0
  first = 0
  redis.call('HSET', KEYS[1], 'created', ARGV[1])
end
local base = nxt
for i = 6, #ARGV do
  redis.call('RPUSH', KEYS[2], string.format('%d', nxt) .. ' ' .. ARGV[1] .. ' ' .. ARGV[i])
  nxt = nxt + 1
end
if ARGV[3] ~= '' then
  local keep = tonumber(ARGV[3])
  if nxt - first > keep then
    redis.call('LTRIM', KEYS[2], -keep, -1)
    first = nxt - keep
  end
end
redis.call('HSET', KEYS[1], 'next', string.format('%d', nxt), 'first', string.format('%d', first), 'updated', ARGV[1])
redis.call('ZADD', KEYS[3], t, ARGV[5])
if ARGV[2] ~= '' then
  local e = t + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'expires', string.format('%.6f', e))
  -- Redis frees the keys itself a little after the expiry; reads compare `expires` exactly.
  local secs = math.ceil(tonumber(ARGV[2])) + 1
  redis.call('EXPIRE', KEYS[1], secs)
  redis.call('EXPIRE', KEYS[2], secs)
  redis.call('ZADD', KEYS[4], e, ARGV[4])
end
return base
"""

# Metadata on an expired stream starts a new, empty one, as an append does.
_PUT_META = """
local t = tonumber(ARGV[1])
local exp = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if exp ~= nil and exp <= t then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[4], ARGV[3])
end
redis.call('HSETNX', KEYS[1], 'created', ARGV[1])
redis.call('HSETNX', KEYS[1], 'next', '0')
redis.call('HSETNX', KEYS[1], 'first', '0')
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'updated', ARGV[1])
redis.call('ZADD', KEYS[3], t, ARGV[4])
return 0
"""

_READ_BODY = """
local function read()
  local h = redis.call('HMGET', KEYS[1], 'first', 'next', 'expires')
  if not h[2] then return {} end
  if h[3] and tonumber(h[3]) <= tonumber(ARGV[1]) then return {} end
  local first = tonumber(h[1])
  local nxt = tonumber(h[2])
  local lo = math.max(tonumber(ARGV[2]), first)
  local hi = nxt
  if ARGV[3] ~= '' then hi = math.min(tonumber(ARGV[3]), nxt) end
  if ARGV[4] ~= '' then lo = math.max(lo, hi - tonumber(ARGV[4])) end
  if hi <= lo then return {} end
  return redis.call('LRANGE', KEYS[2], lo - first, hi - first - 1)
end
"""
_READ = _READ_BODY + "return read()\n"
# The read and another stream's hash (KEYS[3]) in one script: one round trip, one atomic view.
_READ_INFO = _READ_BODY + "return {read(), redis.call('HGETALL', KEYS[3])}\n"

# Delete a stream only if it is still expired (an append may have refreshed it since the scan).
_SWEEP_ONE = """
local e = tonumber(redis.call('HGET', KEYS[1], 'expires'))
if e ~= nil and e > tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[4], e, ARGV[3])
  return 0
end
if e == nil and redis.call('EXISTS', KEYS[1]) == 1 then
  -- Made again without a ttl after it expired: it no longer expires.
  redis.call('ZREM', KEYS[4], ARGV[3])
  return 0
end
local existed = redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[3])
if existed > 0 then return 1 end
return 0
"""


def _import_redis() -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError as exc:  # pragma: no cover - the extra is installed in the test environment
        raise ImportError('ak.stores.Redis needs redis-py: pip install "agentickit[redis]"') from exc
    return aioredis


class Redis:
    """A store on Redis.

    Args:
        url: `redis://[:password@]host:port/db`; the password never appears in errors, logs or `repr`.
        prefix: key prefix, so several stores (or test runs) can share a database.

    """

    __slots__ = ("_checked", "_client", "_scripts", "prefix", "url")

    def __init__(self, url: str, *, prefix: str = "ak") -> None:
        self.url = url
        self.prefix = check_prefix(prefix)
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._checked = False

    async def _ready(self) -> Any:
        client = self._get()
        if not self._checked:
            key = f"{self.prefix}:schema"
            with self._guard():
                # The first client records the layout version; a newer one is refused.
                await client.set(key, SCHEMA_VERSION, nx=True)
                found = int(await client.get(key) or 0)
            if found > SCHEMA_VERSION:
                raise refused_version(found, f"Redis store {redact_url(self.url)} (keys {self.prefix}:*)")
            self._checked = True
        return client

    def _get(self) -> Any:
        if self._client is None:
            aioredis = _import_redis()
            self._client = aioredis.from_url(self.url, socket_connect_timeout=10.0)
            self._scripts = {
                name: self._client.register_script(src)
                for name, src in (
                    ("append", _APPEND),
                    ("put_meta", _PUT_META),
                    ("read", _READ),
                    ("read_info", _READ_INFO),
                    ("sweep", _SWEEP_ONE),
                )
            }
        return self._client

    @contextlib.contextmanager
    def _guard(self) -> Generator[None]:
        import redis.exceptions as rexc

        try:
            yield
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as exc:
            raise StoreConnectionError(
                f"cannot reach Redis store {redact_url(self.url)}: {type(exc).__name__}"
            ) from None

    def _keys(self, ns: str, stream_id: str) -> tuple[str, str, str, str]:
        p = self.prefix
        return f"{p}:{ns}:s:{stream_id}", f"{p}:{ns}:r:{stream_id}", f"{p}:{ns}:idx", f"{p}:exp"

    async def append(
        self,
        namespace: str,
        stream_id: str,
        records: Sequence[Mapping[str, Any]],
        *,
        ttl: float | None = None,
        max_records: int | None = None,
    ) -> int:
        """Append records atomically (one Lua script); return the seq of the first."""
        check_ns_id(namespace, stream_id)
        check_append(records, ttl, max_records)
        blobs = [encode_record(r) for r in records]
        await self._ready()
        args: list[Any] = [
            repr(now()),
            "" if ttl is None else repr(float(ttl)),
            "" if max_records is None else str(max_records),
            f"{namespace}\x00{stream_id}",
            stream_id,
            *blobs,
        ]
        with self._guard():
            return int(await self._scripts["append"](keys=list(self._keys(namespace, stream_id)), args=args))

    async def read(
        self, namespace: str, stream_id: str, *, start: int = 0, end: int | None = None, last: int | None = None
    ) -> list[Record]:
        """Records with `start <= seq < end`, oldest first (`last=n`: the newest n of them)."""
        await self._ready()
        h, r, _, _ = self._keys(namespace, stream_id)
        args = [repr(now()), str(start), "" if end is None else str(end), "" if last is None else str(last)]
        with self._guard():
            entries: list[bytes] = await self._scripts["read"](keys=[h, r], args=args)
        return self._records(namespace, stream_id, start, entries)

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
        """`read(namespace, stream_id, ...)` and `info(*info_of)` in one script (one round trip)."""
        await self._ready()
        h, r, _, _ = self._keys(namespace, stream_id)
        other = self._keys(*info_of)[0]
        args = [repr(now()), str(start), "" if end is None else str(end), "" if last is None else str(last)]
        with self._guard():
            entries, flat = await self._scripts["read_info"](keys=[h, r, other], args=args)
        fields: dict[bytes, bytes] = dict(zip(flat[::2], flat[1::2], strict=True))
        return self._records(namespace, stream_id, start, entries), self._info(*info_of, fields)

    @staticmethod
    def _records(namespace: str, stream_id: str, start: int, entries: list[bytes]) -> list[Record]:
        out: list[Record] = []
        for entry in entries:
            parts = entry.split(b" ", 2)
            try:
                seq, ts = int(parts[0]), float(parts[1])
            except (ValueError, IndexError):
                pos = out[-1].seq + 1 if out else start
                decode_record(b"", namespace, stream_id, pos)  # raises CorruptRecordError
                raise AssertionError("unreachable") from None
            out.append(
                Record(
                    seq=seq, ts=ts, data=decode_record(parts[2] if len(parts) > 2 else b"", namespace, stream_id, seq)
                )
            )
        return out

    @staticmethod
    def _info(ns: str, stream_id: str, h: Mapping[bytes, bytes]) -> StreamInfo | None:
        if b"next" not in h and b"meta" not in h:
            return None
        expires = float(h[b"expires"]) if b"expires" in h else None
        if expires is not None and expires <= now():
            return None
        return StreamInfo(
            namespace=ns,
            id=stream_id,
            created_at=float(h.get(b"created", b"0")),
            updated_at=float(h.get(b"updated", b"0")),
            first_seq=int(h.get(b"first", b"0")),
            next_seq=int(h.get(b"next", b"0")),
            expires_at=expires,
            meta=decode_meta(h.get(b"meta")),
        )

    async def info(self, namespace: str, stream_id: str) -> StreamInfo | None:
        """The stream's info, or `None`."""
        client = await self._ready()
        with self._guard():
            h = await client.hgetall(self._keys(namespace, stream_id)[0])
        return self._info(namespace, stream_id, h)

    async def list(self, namespace: str, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Streams newest first; the cursor is an offset into the namespace's index."""
        if limit < 1:
            raise UserError(f"limit must be >= 1, got {limit!r}")
        try:
            offset = int(cursor) if cursor else 0
        except ValueError:
            raise UserError(f"not a cursor of this store: {cursor!r} (pass a Page.next_cursor)") from None
        client = await self._ready()
        idx = self._keys(namespace, "_")[2]
        with self._guard():
            ids: list[bytes] = await client.zrevrange(idx, offset, offset + limit)
            pipe = client.pipeline(transaction=False)
            for i in ids[:limit]:
                pipe.hgetall(self._keys(namespace, i.decode())[0])
            hashes = await pipe.execute()
        items: list[StreamInfo] = []
        for i, h in zip(ids[:limit], hashes, strict=True):
            info = self._info(namespace, i.decode(), h)
            if info is not None:
                items.append(info)
        nxt = str(offset + limit) if len(ids) > limit else None
        return Page(items=items, next_cursor=nxt)

    async def put_meta(self, namespace: str, stream_id: str, meta: Mapping[str, Any]) -> None:
        """Replace the stream's metadata."""
        check_ns_id(namespace, stream_id)
        blob = encode_meta(meta)
        await self._ready()
        args = [repr(now()), blob, f"{namespace}\x00{stream_id}", stream_id]
        with self._guard():
            await self._scripts["put_meta"](keys=list(self._keys(namespace, stream_id)), args=args)

    async def delete(self, namespace: str, stream_id: str) -> bool:
        """Delete a stream and its records."""
        client = await self._ready()
        h, r, idx, exp = self._keys(namespace, stream_id)
        with self._guard():
            pipe = client.pipeline(transaction=True)
            pipe.delete(h, r)
            pipe.zrem(idx, stream_id)
            pipe.zrem(exp, f"{namespace}\x00{stream_id}")
            deleted, _, _ = await pipe.execute()
        return bool(deleted)

    async def sweep(self, namespace: str | None = None) -> int:
        """Delete expired streams and their index entries."""
        client = await self._ready()
        exp = f"{self.prefix}:exp"
        t = now()
        with self._guard():
            members: list[bytes] = await client.zrangebyscore(exp, "-inf", t)
            n = 0
            for m in members:
                ns, _, sid = m.decode().partition("\x00")
                if namespace is not None and ns != namespace:
                    continue
                h, r, idx, _ = self._keys(ns, sid)
                n += int(await self._scripts["sweep"](keys=[h, r, idx, exp], args=[repr(t), sid, m]))
        return n

    async def drop_all(self) -> None:
        """Delete every key of this store's prefix (for tests and teardown; irreversible)."""
        client = self._get()
        with self._guard():
            async for key in client.scan_iter(match=f"{self.prefix}:*", count=500):
                await client.delete(key)

    async def aclose(self) -> None:
        """Close the connection pool. Idempotent."""
        client, self._client = self._client, None
        self._checked = False
        if client is not None:
            await client.aclose()

    def __repr__(self) -> str:
        return f"Redis({redact_url(self.url)!r}, prefix={self.prefix!r})"
