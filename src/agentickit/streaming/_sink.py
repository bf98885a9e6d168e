"""The contract between the run loop and whoever consumes its chunks."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from ._chunk import Chunk

__all__ = ("ChunkSink",)


class ChunkSink(Protocol):
    """Receives the chunks of a run as it produces them.

    `send` returns `None` when the chunk was taken at once, or an awaitable the producer must await
    before going on (backpressure). Splitting it this way keeps the common case free of an await.
    """

    def send(self, chunk: Chunk) -> Awaitable[None] | None:
        """Hand over one chunk."""
        ...
