"""Streaming: `Chunk`, `ChunkType`, `Stream` and `StreamOptions` (see `Agent.run_stream`), and the `ChunkSink` producers write to."""

from ._chunk import Chunk, ChunkType
from ._options import ChunkCallback, StreamOptions
from ._sink import ChunkSink
from ._stream import Stream

__all__ = ("Chunk", "ChunkCallback", "ChunkSink", "ChunkType", "Stream", "StreamOptions")
