"""`ToolCache`: reuse a tool's result for the same arguments within its `cache_ttl`.

Two stores: in-process (`ToolCache.memory`, an LRU with per-entry expiry) and Redis
(`ToolCache.redis`, shared by every process that points at the same server). Only successful
results are cached; the key is the tool's name plus its validated arguments as canonical JSON.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import UserError
from ._output import ToolOutput

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ("MemoryToolCache", "RedisToolCache", "ToolCache", "cache_key")

MISS: Any = object()
"""Returned by `ToolCache.get` when there is no live entry (a cached value may itself be `None`)."""


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    if isinstance(value, ToolOutput):
        return value.to_json()
    return str(value)


def cache_key(tool_name: str, args: dict[str, Any]) -> bytes:
    """The cache key of a call: tool name and canonical (sorted-keys) JSON of its arguments."""
    return tool_name.encode() + b"\x00" + orjson.dumps(args, default=_json_default, option=orjson.OPT_SORT_KEYS)


class ToolCache:
    """Where tool results are kept between calls. Build one with `ToolCache.memory()` or `ToolCache.redis(url)`.

    Attributes:
        hits: lookups that found a live entry.
        misses: lookups that did not.

    """

    __slots__ = ("hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0

    @staticmethod
    def memory(max_entries: int = 1024) -> MemoryToolCache:
        """An in-process LRU cache holding at most `max_entries` results.

        Raises:
            UserError: `max_entries` < 1.

        """
        return MemoryToolCache(max_entries=max_entries)

    @staticmethod
    def redis(url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "agentickit:tool:") -> RedisToolCache:
        """A cache in Redis, shared between processes (needs `pip install "agentickit[redis]"`).

        The client connects on first use; `aclose()` (or the agent's `cleanup()`) releases it.
        """
        return RedisToolCache(url, prefix=prefix)

    @property
    def hit_rate(self) -> float:
        """Hits divided by lookups (0.0 before the first lookup)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    async def get(self, key: bytes) -> Any:
        """The cached value for `key`, or `MISS`."""
        raise NotImplementedError

    async def set(self, key: bytes, value: Any, ttl: float) -> None:
        """Keep `value` for `ttl` seconds."""
        raise NotImplementedError

    async def clear(self) -> None:
        """Drop every entry this cache holds."""
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release connections (idempotent; the cache reconnects on next use)."""


class MemoryToolCache(ToolCache):
    """An in-process LRU cache with per-entry expiry."""

    __slots__ = ("_clock", "_entries", "max_entries")

    def __init__(self, *, max_entries: int = 1024, clock: Any = time.monotonic) -> None:
        if max_entries < 1:
            raise UserError(f"ToolCache.memory(max_entries=...) must be >= 1, got {max_entries}")
        super().__init__()
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[float, Any]] = OrderedDict()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: bytes) -> Any:
        """The cached value for `key`, or `MISS`."""
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self._clock():
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            del self._entries[key]
        self.misses += 1
        return MISS

    async def set(self, key: bytes, value: Any, ttl: float) -> None:
        """Keep `value` for `ttl` seconds, evicting the least recently used entry when full."""
        entries = self._entries
        entries[key] = (self._clock() + ttl, value)
        entries.move_to_end(key)
        if len(entries) > self.max_entries:
            entries.popitem(last=False)

    async def clear(self) -> None:
        """Drop every entry."""
        self._entries.clear()


class RedisToolCache(ToolCache):
    """A Redis-backed cache: every process using the same URL and prefix shares the results.

    Values are stored as JSON, so a hit returns JSON data (`dict`, `list`, `str`, ...) or a
    `ToolOutput`; the text the model reads is the same as on the original call.
    """

    __slots__ = ("_client", "_sha256", "prefix", "url")

    def __init__(self, url: str, *, prefix: str = "agentickit:tool:") -> None:
        # hashlib (~1.4 ms to import) only for the caches that hash keys, not for `import agentickit`.
        from hashlib import sha256

        super().__init__()
        self.url = url
        self.prefix = prefix
        self._client: Redis | None = None
        self._sha256 = sha256

    def _redis(self) -> Redis:
        client = self._client
        if client is None:
            try:
                from redis.asyncio import Redis
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise UserError('ToolCache.redis needs redis: pip install "agentickit[redis]"') from exc
            client = self._client = Redis.from_url(self.url)  # pyright: ignore[reportUnknownMemberType]
        return client

    def _key(self, key: bytes) -> str:
        return self.prefix + self._sha256(key).hexdigest()

    async def get(self, key: bytes) -> Any:
        """The cached value for `key`, or `MISS`."""
        raw = await self._redis().get(self._key(key))
        if raw is None:
            self.misses += 1
            return MISS
        self.hits += 1
        stored = orjson.loads(raw)
        if "o" in stored:
            return ToolOutput.from_json(stored["o"])
        return stored["v"]

    async def set(self, key: bytes, value: Any, ttl: float) -> None:
        """Keep `value` for `ttl` seconds (Redis expires it)."""
        stored = {"o": value.to_json()} if isinstance(value, ToolOutput) else {"v": value}
        payload = orjson.dumps(stored, default=_json_default)
        await self._redis().set(self._key(key), payload, px=max(1, int(ttl * 1000)))

    async def clear(self) -> None:
        """Delete every key under this cache's prefix."""
        client = self._redis()
        keys: list[bytes] = [k async for k in client.scan_iter(match=self.prefix + "*")]  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if keys:
            await client.delete(*keys)

    async def aclose(self) -> None:
        """Close the Redis connection pool (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
