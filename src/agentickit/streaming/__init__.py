"""Streaming: `Chunk`, `ChunkType`, `Stream` and `StreamOptions` (see `Agent.run_stream`)."""

from ._chunk import Chunk, ChunkType
from ._options import ChunkCallback, StreamOptions
from ._stream import Stream

__all__ = ("Chunk", "ChunkCallback", "ChunkType", "Stream", "StreamOptions")
