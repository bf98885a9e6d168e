"""Streaming: `Chunk`, `ChunkType`, and (with `Agent.run_stream`) `Stream`."""

from ._chunk import Chunk, ChunkType

__all__ = ("Chunk", "ChunkType")
