"""The contract between the run loop and whoever consumes its chunks."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from ._chunk import Chunk, ChunkType

__all__ = ("ChunkSink", "send_answer")


class ChunkSink(Protocol):
    """Receives the chunks of a run as it produces them.

    `send` returns `None` when the chunk was taken at once, or an awaitable the producer must await
    before going on (backpressure). Splitting it this way keeps the common case free of an await.
    """

    def send(self, chunk: Chunk) -> Awaitable[None] | None:
        """Hand over one chunk."""
        ...


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
