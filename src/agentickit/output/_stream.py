"""Partial objects while a structured answer streams: a sink in front of the stream's own.

The run loop hands chunks to this sink as to any other; it passes them on and, after each batch
(one network read, or one token for providers without batches), validates the JSON so far
leniently and sends an `OUTPUT` chunk when that gives a new object. Validation is per batch, not
per token: each one parses the whole answer so far, so per token it would cost O(n^2) over a long
answer for objects nobody can see change between two tokens of one read.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from ..providers._base import ToolCallDelta
from ..streaming._chunk import Chunk, ChunkType
from ..streaming._sink import ChunkSink
from ._schema import MISSING, OutputSchema

__all__ = ("OutputSink",)

_DELTA = ChunkType.DELTA
_OUTPUT = ChunkType.OUTPUT
_PARTIAL_META = {"partial": True}


class OutputSink:
    """Forwards every chunk to `inner`; adds `OUTPUT` chunks with the partial object as the JSON grows."""

    __slots__ = (
        "_args",
        "_final_index",
        "_last",
        "_last_len",
        "_text",
        "inner",
        "partials",
        "schema",
        "tool_name",
    )

    def __init__(self, inner: ChunkSink, schema: OutputSchema, tool_name: str | None) -> None:
        self.inner = inner
        self.schema = schema
        self.tool_name = tool_name
        self._text: list[str] = []
        self._args: list[str] = []
        self._final_index: int | None = None
        self._last_len = 0
        self._last: Any = MISSING
        self.partials = 0
        """How many partial objects were sent (the benchmarks read it)."""

    @property
    def first_at(self) -> float:
        """When the first token went out (the inner sink's clock), for the TTFT metric."""
        return getattr(self.inner, "first_at", 0.0)

    def new_turn(self) -> None:
        """Forget the text of the previous model turn (a preamble before tool calls, a rejected answer)."""
        self._text.clear()
        self._args.clear()
        self._final_index = None
        self._last_len = 0
        self._last = MISSING

    def send(self, chunk: Chunk) -> Awaitable[None] | None:
        """Pass `chunk` on; after a DELTA, maybe an `OUTPUT` too."""
        w = self.inner.send(chunk)
        if chunk.type is _DELTA and self.tool_name is None and chunk.delta:
            self._text.append(chunk.delta)
            return self._then_partial(w, self._text)
        return w

    def send_many(self, chunks: list[Chunk], kind: ChunkType | None = None) -> Awaitable[None] | None:
        """Pass a batch on (as one hand-over when the inner sink takes batches); then maybe an `OUTPUT`."""
        many = getattr(self.inner, "send_many", None)
        if many is not None:
            w = many(chunks, kind)
        else:
            w = None
            for c in chunks:
                w2 = self.inner.send(c)
                if w2 is not None:
                    w = _chain(w, w2)
        if self.tool_name is None:
            add = self._text.append
            for c in chunks:
                if c.type is _DELTA and c.delta:
                    add(c.delta)
            return self._then_partial(w, self._text)
        return w

    def tool_delta(self, delta: ToolCallDelta) -> Awaitable[None] | None:
        """A piece of a tool call (the run loop passes them here): the final-answer tool's arguments stream too."""
        if self.tool_name is None:
            return None
        if delta.name == self.tool_name:
            self._final_index = delta.index
        if delta.index != self._final_index or not delta.arguments:
            return None
        self._args.append(delta.arguments)
        return self._then_partial(None, self._args)

    def send_final(self, output: Any) -> Awaitable[None] | None:
        """The validated answer, as the last `OUTPUT` chunk."""
        return self.inner.send(Chunk(_OUTPUT, output=output, metadata={"partial": False}))

    def _then_partial(self, w: Awaitable[None] | None, pieces: list[str]) -> Awaitable[None] | None:
        if len(pieces) == self._last_len:
            return w
        self._last_len = len(pieces)
        value = self.schema.partial("".join(pieces))
        if value is MISSING or value == self._last:
            return w  # nothing new to show (a token inside a string that is not complete yet)
        self._last = value
        self.partials += 1
        w2 = self.inner.send(Chunk(_OUTPUT, output=value, metadata=dict(_PARTIAL_META)))
        if w is None:
            return w2
        return w if w2 is None else _chain(w, w2)


async def _chain(a: Awaitable[None] | None, b: Awaitable[None]) -> None:
    if a is not None:
        await a
    await b
