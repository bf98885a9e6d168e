"""`StreamOptions`: how a stream buffers, batches, filters and ends."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypedDict

from ..errors import UserError
from ._chunk import Chunk

__all__ = ("ChunkCallback", "StreamOptions", "StreamOptionsDict", "resolve_stream_options", "split_stream_options")

ChunkCallback = Callable[[Chunk], "bool | None | Awaitable[bool | None]"]
"""`on_chunk`: a plain or `async` function of a `Chunk`; returning `False` stops the stream."""


@dataclass(slots=True, frozen=True, kw_only=True)
class StreamOptions:
    """Options of one stream (the run's own options are `RunOptions`).

    Raises:
        UserError: a value is out of range or of the wrong type.

    """

    buffer_size: int = 100
    """Chunks the stream holds for a consumer that is behind. When full, the run waits (backpressure):
    the provider's response is read only as fast as the consumer takes chunks. Real-time UIs 25-50,
    interactive 50-100, batch 200-500."""
    flush_interval: float | None = None
    """Seconds over which DELTA chunks are coalesced into one: at most one DELTA per interval plus a
    final flush; the joined text is unchanged. `None` or 0 delivers every token at once."""
    text_only: bool = False
    """Keep only DELTA, ERROR and DONE chunks (errors are never filtered out)."""
    include_thoughts: bool = True
    """Deliver THOUGHT chunks (reasoning text the provider streams)."""
    include_tool_calls: bool = True
    """Deliver TOOL_CALL and TOOL_RESULT chunks."""
    include_metadata: bool = False
    """Deliver one METADATA chunk (usage, time to first token, duration, chunk counts) before the end."""
    timeout: float | None = None
    """Seconds the whole stream may take, waiting for a slow consumer included; then it ends with
    ERROR(`RunTimeoutError`) and DONE and the upstream request is closed."""
    on_chunk: ChunkCallback | None = None
    """Called with every chunk, whether or not anyone iterates (the stream then runs by itself).
    `async def` callbacks are awaited on the loop; plain functions run in a worker thread (a batch of
    chunks per hop) so they never block the loop. Returning `False` stops the stream like `cancel()`."""

    def __post_init__(self) -> None:
        if type(self.buffer_size) is not int or self.buffer_size < 1:
            raise UserError(f"buffer_size must be an int >= 1, got {self.buffer_size!r}")
        if self.flush_interval is not None and not _is_seconds(self.flush_interval, 0.0):
            raise UserError(f"flush_interval must be seconds >= 0 or None, got {self.flush_interval!r}")
        if self.timeout is not None and not (_is_seconds(self.timeout, 0.0) and self.timeout > 0):
            raise UserError(f"timeout must be seconds > 0 or None, got {self.timeout!r}")
        if self.on_chunk is not None and not callable(self.on_chunk):
            raise UserError(f"on_chunk must be a function of a Chunk, got {type(self.on_chunk).__name__}")

    @property
    def on_chunk_is_async(self) -> bool:
        """Whether `on_chunk` is an `async def` function (or an object with an `async def __call__`)."""
        cb: Any = self.on_chunk
        # An object with `async def __call__` counts too; `callable()` cannot tell the two apart.
        return cb is not None and (inspect.iscoroutinefunction(cb) or inspect.iscoroutinefunction(type(cb).__call__))


def _is_seconds(value: object, minimum: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= minimum


_DEFAULT = StreamOptions()


class StreamOptionsDict(TypedDict, total=False):
    """Keyword-argument form of `StreamOptions`: the stream keywords every `run_stream()` takes.

    Keep in step with `StreamOptions` (a test checks it).
    """

    buffer_size: int
    flush_interval: float | None
    text_only: bool
    include_thoughts: bool
    include_tool_calls: bool
    include_metadata: bool
    timeout: float | None
    on_chunk: ChunkCallback | None


_STREAM_KEYS = StreamOptionsDict.__optional_keys__


def split_stream_options(base: StreamOptions | None, kwargs: Mapping[str, Any]) -> tuple[StreamOptions, dict[str, Any]]:
    """The stream keywords of `kwargs` applied over `base` (see `resolve_stream_options`), and the rest.

    `run_stream()` takes stream and run options as one set of keywords; the rest are run options.

    Raises:
        UserError: a stream option is out of range.

    """
    stream = {k: v for k, v in kwargs.items() if k in _STREAM_KEYS}
    rest = {k: v for k, v in kwargs.items() if k not in _STREAM_KEYS} if len(stream) < len(kwargs) else {}
    return resolve_stream_options(base, **stream), rest


def resolve_stream_options(base: StreamOptions | None, **overrides: Any) -> StreamOptions:
    """`base` (or the defaults) with every keyword that differs from its default applied.

    Raises:
        UserError: a value is out of range.

    """
    if base is not None and not isinstance(base, StreamOptions):  # pyright: ignore[reportUnnecessaryIsInstance]
        kind = type(base).__name__
        hint = " (an ak.RunOptions goes in options=)" if kind == "RunOptions" else ""
        raise UserError(f"stream_options= takes an ak.StreamOptions, got {kind}{hint}")
    changes = {k: v for k, v in overrides.items() if v != getattr(_DEFAULT, k)}
    if base is None:
        return StreamOptions(**changes) if changes else _DEFAULT
    return replace(base, **changes) if changes else base
