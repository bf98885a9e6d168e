"""`ChunkSink` lives in `agentickit.streaming._sink`; re-exported here for the run loop."""

from ..streaming._sink import ChunkSink

__all__ = ("ChunkSink",)
