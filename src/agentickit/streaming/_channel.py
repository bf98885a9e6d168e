"""The bounded channel between a stream's producer and its consumer.

`asyncio.Queue` costs ~1 us per item (a method call, a waiter deque, a future per get); at 500,000
chunks/s the whole budget is 2 us per chunk, model included. This channel is a deque plus at most
one consumer future and a few producer futures: `send()` is an append, a counter and three checks,
and the consumer pops without awaiting while anything is buffered.

Backpressure: when the deque holds `maxsize` chunks, `send()` returns a future the producer awaits;
the consumer resolves it once it has taken the deque down to half. So the producer is never more than
`maxsize` chunks ahead of the consumer, and no chunk is ever dropped to keep that bound. Only the
terminal chunks (METADATA, ERROR, DONE) go past it, and with `flush_interval` a flush forced by a
non-DELTA chunk (that chunk and the held-back text) by two more. Producers running side by side
(parallel tool calls, workflow branches) each put one chunk before they wait.

Memory: a live stream waiting for its first token holds no buffer. The deque (760 bytes with its
first block) is made by the first chunk, and the list of waiting producers by the first wait;
until then both are shared empty sentinels (`_NO_BUF` takes nothing in even by mistake, being of
`maxlen=0`). 300 streams in flight at their time to first token held ~0.8 KiB each for them.

`send_many()` takes a batch (the run loop sends a network read's tokens 64 at a time): one
`extend`, one count and one wake-up per batch; a batch that does not fit goes in as room frees up,
under the same bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from ._chunk import Chunk, ChunkType

if TYPE_CHECKING:
    from ._options import StreamOptions

__all__ = ("BatchChannel", "Channel", "ShapingChannel", "dropped_types", "make_channel")

_DELTA = ChunkType.DELTA
_THOUGHT = ChunkType.THOUGHT
_NO_BUF: deque[Any] = deque(maxlen=0)
"""Every channel's buffer until its first chunk; never appended to (and it would keep nothing)."""
_NO_PUTTERS: tuple[()] = ()


class Channel:
    """A `ChunkSink` with a bounded buffer: the default, unfiltered and unbatched, fast path."""

    __slots__ = ("buf", "closed", "counts", "first_at", "getter", "low", "maxsize", "putters")

    def __init__(self, maxsize: int) -> None:
        self.buf: deque[Chunk] = _NO_BUF  # made by the first chunk (see the module docs)
        self.maxsize = maxsize
        # Waking the producer at half-empty (not at each pop) keeps one wake-up per maxsize/2 chunks
        # while it still refills before the consumer runs dry.
        self.low = maxsize // 2
        self.getter: asyncio.Future[None] | None = None
        self.putters: list[asyncio.Future[None]] | tuple[()] = _NO_PUTTERS
        self.closed = False
        # Only the types a stream sends get an entry (~230 B instead of ~630 B for all of them).
        self.counts: defaultdict[ChunkType, int] = defaultdict(int)
        self.first_at = 0.0
        """`time.perf_counter()` of the first DELTA or THOUGHT (time to first token)."""

    # -- producer side ------------------------------------------------------------------------------

    def send(self, chunk: Chunk) -> asyncio.Future[None] | None:
        """Take one chunk; returns a future to await when the buffer is full (see `ChunkSink`)."""
        if self.closed:
            # The stream already ended (cancel, timeout, failed callback): late chunks from a producer
            # unwinding its cleanup must not appear after DONE.
            return None
        buf = self.buf
        if buf is _NO_BUF:
            buf = self.buf = deque()
        buf.append(chunk)
        t = chunk.type
        self.counts[t] += 1
        if not self.first_at and (t is _DELTA or t is _THOUGHT):
            self.first_at = time.perf_counter()
        g = self.getter
        if g is not None:
            self.getter = None
            if not g.done():
                g.set_result(None)
        if len(buf) >= self.maxsize:
            return self._full()
        return None

    def send_many(self, chunks: list[Chunk], kind: ChunkType | None = None) -> Awaitable[None] | None:
        """Take a batch of chunks (one network read's worth); like `send`, with the same bound.

        The batch is appended in one `extend` with one wake-up of the consumer. When it does not fit
        in the room left, the returned awaitable puts it in as room frees up, so the producer is
        still never more than `maxsize` chunks ahead. `kind`, when every chunk has that type, saves
        counting them one by one (~50 ns a chunk).
        """
        if self.closed:
            return None
        if len(self.buf) + len(chunks) > self.maxsize:
            return self._send_in_parts(chunks, kind)
        self._put(chunks, kind)
        if len(self.buf) >= self.maxsize:
            return self._full()
        return None

    def _open(self) -> deque[Any]:
        """The buffer, made on first use."""
        buf = self.buf
        if buf is _NO_BUF:
            buf = self.buf = deque()
        return buf

    def _put(self, chunks: list[Chunk], kind: ChunkType | None) -> None:
        buf = self.buf
        if buf is _NO_BUF:
            buf = self.buf = deque()
        buf.extend(chunks)
        counts = self.counts
        if kind is not None:
            counts[kind] += len(chunks)
        else:
            for c in chunks:
                counts[c.type] += 1
        if not self.first_at:
            for c in chunks:
                t = c.type
                if t is _DELTA or t is _THOUGHT:
                    self.first_at = time.perf_counter()
                    break
        self.wake_getter()

    async def _send_in_parts(self, chunks: list[Chunk], kind: ChunkType | None) -> None:
        i = 0
        n = len(chunks)
        while i < n:
            if self.closed:
                return
            room = self.maxsize - len(self.buf)
            if room > 0:
                j = i + room
                self._put(chunks[i:j] if i or j < n else chunks, kind)
                i = j
            # Full (by this part or by others): wait for the consumer, as `send` would.
            if len(self.buf) >= self.maxsize:
                await self._full()

    async def _send_each(self, chunks: list[Chunk]) -> None:
        # A batch through `send`, chunk by chunk, for channels that decide per chunk (coalescing,
        # filtering); its awaits keep the bound exactly as a per-chunk producer would.
        for chunk in chunks:
            w = self.send(chunk)
            if w is not None:
                await w

    def _full(self) -> asyncio.Future[None]:
        # One future per waiting producer (parallel tool calls and workflow branches share a channel):
        # a shared future would be cancelled for all of them when one waiter is cancelled.
        f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        putters = self.putters
        if type(putters) is list:
            putters.append(f)
        else:
            self.putters = [f]
        return f

    def push(self, chunk: Chunk) -> None:
        """Append a chunk past the bound, without backpressure (terminal and timer chunks)."""
        self._open().append(chunk)
        self.counts[chunk.type] += 1
        self.wake_getter()

    def flush(self) -> None:
        """Deliver text held back for coalescing (nothing to do here)."""

    def discard(self) -> None:
        """Drop chunks nobody has taken yet (cancel)."""
        self.buf.clear()

    def close(self, terminal: list[Chunk]) -> None:
        """Append the terminal chunks and end the channel; later `send()`s are ignored."""
        if self.closed:
            return
        for chunk in terminal:
            self.push(chunk)
        self.closed = True
        self.wake_putters()

    # -- consumer side ------------------------------------------------------------------------------

    def wake_getter(self) -> None:
        """Wake the consumer waiting in `wait_get()`."""
        g = self.getter
        if g is not None:
            self.getter = None
            if not g.done():
                g.set_result(None)

    def wake_putters(self) -> None:
        """Let blocked producers go on."""
        putters = self.putters
        if putters:
            self.putters = _NO_PUTTERS
            for f in putters:
                if not f.done():
                    f.set_result(None)

    def wait_get(self) -> asyncio.Future[None]:
        """A future to await until a chunk is buffered or the channel is closed.

        A plain function returning the future, not a coroutine: a waiting reader holds no coroutine
        frame (~200 bytes) for it.
        """
        if self.buf or self.closed:
            # Nothing to wait for (a producer that failed as it was called ends the stream at once).
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        g = self.getter
        if g is None or g.done():
            g = self.getter = asyncio.get_running_loop().create_future()
        return g

    def take_all(self) -> list[Chunk]:
        """Everything buffered, in order; wakes the producer."""
        buf = self.buf
        batch = list(buf)
        buf.clear()
        if self.putters:
            self.wake_putters()
        return batch


class ShapingChannel(Channel):
    """A channel that filters chunk types and/or coalesces DELTAs over a flush interval."""

    __slots__ = ("drop", "handle", "interval", "loop", "next_at", "parts", "pending")

    def __init__(self, maxsize: int, drop: frozenset[ChunkType], interval: float) -> None:
        super().__init__(maxsize)
        self.drop = drop
        self.interval = interval
        self.pending: Chunk | None = None
        """The first DELTA held back; its `step_name` decides what may join it."""
        self.parts: list[str] = []
        self.next_at = 0.0
        self.handle: asyncio.TimerHandle | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def send(self, chunk: Chunk) -> asyncio.Future[None] | None:
        """Filter, coalesce, then hand over as `Channel.send` does."""
        t = chunk.type
        if t in self.drop or self.closed:
            return None
        if not self.interval:
            return Channel.send(self, chunk)
        if t is _DELTA:
            pending = self.pending
            if pending is not None:
                if pending.step_name == chunk.step_name:
                    self.parts.append(chunk.delta or "")
                    # Held-back text must not grow while the consumer is behind: the producer waits.
                    return self._full() if len(self.buf) >= self.maxsize else None
                self._flush_pending()
            loop = self.loop
            if loop is None:
                loop = self.loop = asyncio.get_running_loop()
            now = loop.time()
            if now >= self.next_at:
                # Nothing went out within the last interval: this token goes at once, so batching
                # never delays the first token.
                self.next_at = now + self.interval
                return Channel.send(self, chunk)
            self.pending = chunk
            self.parts = [chunk.delta or ""]
            self.handle = loop.call_at(self.next_at, self._on_timer)
            return None
        # Anything else ends the current batch first, so the order of chunks is kept.
        self.flush()
        return Channel.send(self, chunk)

    def send_many(self, chunks: list[Chunk], kind: ChunkType | None = None) -> Awaitable[None] | None:
        """Filter the batch, then take it whole, or chunk by chunk when DELTAs are coalesced."""
        if self.closed:
            return None
        drop = self.drop
        if drop:
            chunks = [c for c in chunks if c.type not in drop]
        if not self.interval:
            return Channel.send_many(self, chunks, kind)
        return self._send_each(chunks)

    def _on_timer(self) -> None:
        self.handle = None
        if self.pending is None or self.closed:
            return
        if len(self.buf) >= self.maxsize and self.loop is not None:
            # The consumer is behind: a flush now would grow the buffer past its bound every
            # interval. Look again one interval later (the producer is blocked meanwhile).
            self.handle = self.loop.call_at(self.loop.time() + self.interval, self._on_timer)
            return
        self._flush_pending()

    def _flush_pending(self) -> None:
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        parts = self.parts
        self.parts = []
        if len(parts) == 1:
            chunk = pending
        else:
            chunk = Chunk(_DELTA, "".join(parts), step_name=pending.step_name, index=pending.index)
        if self.loop is not None:
            self.next_at = self.loop.time() + self.interval
        h = self.handle
        if h is not None:
            self.handle = None
            h.cancel()
        # Never awaited here: a timer flush happens only below the bound, and a flush forced by another
        # chunk goes past it by one at most.
        Channel.push(self, chunk)
        if not self.first_at:
            self.first_at = time.perf_counter()

    def flush(self) -> None:
        """Deliver the held-back text now (end of a turn, end of the stream)."""
        if self.pending is not None:
            self._flush_pending()

    def discard(self) -> None:
        """Drop undelivered chunks and held-back text."""
        self.pending = None
        self.parts = []
        h = self.handle
        if h is not None:
            self.handle = None
            h.cancel()
        super().discard()

    def close(self, terminal: list[Chunk]) -> None:
        """End the channel; a pending timer is cancelled."""
        h = self.handle
        if h is not None:
            self.handle = None
            h.cancel()
        super().close(terminal)


class BatchChannel(Channel):
    """The channel of `Stream.batches()`: answer text goes through as the provider's `str` pieces.

    The run loop hands over a network read's text with `send_text` (one `extend`, no `Chunk` per
    token); every other chunk (tool calls, THOUGHT, TEXT, ERROR, DONE) goes through as a `Chunk`.
    The bound is the same as `Channel`'s, counted in items (a piece of text is one item). Filters of
    `StreamOptions` apply (`text_only`, `include_thoughts`, `include_tool_calls`); `flush_interval`
    does not, the batches being one per read already.
    """

    __slots__ = ("drop",)

    def __init__(self, maxsize: int, drop: frozenset[ChunkType]) -> None:
        super().__init__(maxsize)
        self.drop = drop

    def send(self, chunk: Chunk) -> asyncio.Future[None] | None:
        """Take one chunk (a DELTA as its text); see `Channel.send`."""
        if self.closed:
            return None
        t = chunk.type
        if t in self.drop:
            return None
        # A top-level DELTA as its text, like the pieces of `send_text` (a workflow step's keeps its tag).
        item: Any = chunk.delta or "" if t is _DELTA and chunk.step_name is None else chunk
        self._open().append(item)
        self.counts[t] += 1
        if not self.first_at and (t is _DELTA or t is _THOUGHT):
            self.first_at = time.perf_counter()
        self.wake_getter()
        if len(self.buf) >= self.maxsize:
            return self._full()
        return None

    def send_many(self, chunks: list[Chunk], kind: ChunkType | None = None) -> Awaitable[None] | None:
        """Take a batch of chunks one by one (the run loop sends `send_text` batches here instead)."""
        return self._send_each(chunks)

    def send_text(self, items: list[Any], now: float) -> Awaitable[None] | None:
        """Take one network read: `str` pieces as they are; thoughts become THOUGHT chunks; the rest is dropped.

        Like `send_many`: one `extend` when it fits, else put in as room frees up (same bound).
        """
        if self.closed:
            return None
        mixed = False
        for item in items:
            if type(item) is not str:
                items = self._pieces(items, now)
                mixed = True
                break
        if not items:
            return None
        if len(self.buf) + len(items) > self.maxsize:
            return self._text_in_parts(items, mixed)
        self._add(items, mixed)
        if len(self.buf) >= self.maxsize:
            return self._full()
        return None

    def _add(self, items: list[Any], mixed: bool) -> None:
        buf = self.buf
        if buf is _NO_BUF:
            buf = self.buf = deque()
        buf.extend(items)
        n = len(items)
        if mixed:
            n = sum(1 for x in items if type(x) is str)
            self.counts[_THOUGHT] += len(items) - n
        self.counts[_DELTA] += n
        if not self.first_at:
            self.first_at = time.perf_counter()
        self.wake_getter()

    async def _text_in_parts(self, items: list[Any], mixed: bool) -> None:
        i, n = 0, len(items)
        while i < n:
            if self.closed:
                return
            room = self.maxsize - len(self.buf)
            if room > 0:
                self._add(items[i : i + room], mixed)
                i += room
            if len(self.buf) >= self.maxsize:
                await self._full()

    def _pieces(self, items: list[Any], now: float) -> list[Any]:
        out: list[Any] = []
        thoughts = _THOUGHT not in self.drop
        for item in items:
            if type(item) is str:
                out.append(item)
            elif getattr(item, "kind", None) == "text":
                out.append(item.text)
            elif thoughts and getattr(item, "kind", None) == "thought":
                out.append(Chunk(_THOUGHT, item.text, timestamp=now))
        return out


_TEXT_ONLY_DROP = frozenset(t for t in ChunkType if t not in (ChunkType.DELTA, ChunkType.ERROR, ChunkType.DONE))


def dropped_types(options: StreamOptions) -> frozenset[ChunkType]:
    """The chunk types `options` filter out."""
    if options.text_only:
        return _TEXT_ONLY_DROP
    dropped: set[ChunkType] = set()
    if not options.include_thoughts:
        dropped.add(ChunkType.THOUGHT)
    if not options.include_tool_calls:
        dropped.update((ChunkType.TOOL_CALL, ChunkType.TOOL_RESULT))
    return frozenset(dropped)


def make_channel(options: StreamOptions) -> Channel:
    """The cheapest channel that honours `options`."""
    drop = dropped_types(options)
    interval = options.flush_interval or 0.0
    if not drop and not interval:
        return Channel(options.buffer_size)
    return ShapingChannel(options.buffer_size, drop, interval)
