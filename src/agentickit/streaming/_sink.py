"""The contract between the run loop and whoever consumes its chunks."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from ._chunk import Chunk, ChunkType

__all__ = ("ChunkSink", "TaggedSink", "send_answer")

_DELTA = ChunkType.DELTA
_THOUGHT = ChunkType.THOUGHT


class ChunkSink(Protocol):
    """Receives the chunks of a run as it produces them.

    `send` returns `None` when the chunk was taken at once, or an awaitable the producer must await
    before going on (backpressure). Splitting it this way keeps the common case free of an await.
    """

    def send(self, chunk: Chunk) -> Awaitable[None] | None:
        """Hand over one chunk."""
        ...


class TaggedSink:
    """Writes a workflow step's chunks straight into the workflow's sink, each tagged with the step.

    An agent step of a streamed workflow runs its loop on this sink: no stream, task or buffer of its
    own in between, so a chunk is made once and handed over once (`Agent.run_step`). `first_at`
    notes the step's own first token, which the agent's metrics take as its time to first token.
    """

    __slots__ = ("_many", "_send", "first_at", "tag")

    def __init__(self, sink: ChunkSink, tag: str) -> None:
        self.tag = tag
        self.first_at = 0.0
        self._send = sink.send
        self._many: Callable[[list[Chunk], ChunkType | None], Awaitable[None] | None] | None = getattr(
            sink, "send_many", None
        )

    def send(self, chunk: Chunk) -> Awaitable[None] | None:
        """Tag `chunk` with the step and hand it over (see `ChunkSink`)."""
        chunk.step_name = self.tag
        if not self.first_at and (chunk.type is _DELTA or chunk.type is _THOUGHT):
            self.first_at = time.perf_counter()
        return self._send(chunk)

    def send_many(self, chunks: list[Chunk], kind: ChunkType | None = None) -> Awaitable[None] | None:
        """Tag a batch of chunks and hand it over in one go when the workflow's sink takes batches."""
        tag = self.tag
        for chunk in chunks:
            chunk.step_name = tag
        if not self.first_at:
            self.first_at = time.perf_counter()  # the run loop sends batches of tokens only
        many = self._many
        if many is not None:
            return many(chunks, kind)
        return self._send_each(chunks)

    async def _send_each(self, chunks: list[Chunk]) -> None:
        send = self._send
        for chunk in chunks:
            w = send(chunk)
            if w is not None:
                await w


async def send_answer(sink: ChunkSink, content: str, deltas_sent: bool) -> None:
    """Stream a whole answer that did not come token by token: as one DELTA (unless sent), then TEXT."""
    if not content:
        return
    if not deltas_sent:
        w = sink.send(Chunk(ChunkType.DELTA, content))
        if w is not None:
            await w
    w = sink.send(Chunk(ChunkType.TEXT, content=content))
    if w is not None:
        await w
