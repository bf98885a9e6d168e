"""A per-model concurrency cap shared by every agent of the process (`LLMConfig(max_concurrency=N)`).

A batch of 1,000 runs on one model would otherwise open 1,000 requests at once and meet a storm
of 429s. The cap is keyed by provider, model, endpoint and limit, so agents built from equal
configs share one cap however many `Model` objects they hold. Like every asyncio primitive the
semaphore belongs to one event loop: a loop gets its own (see `_loop_bound`), so `run_sync()`
calls, each on a fresh loop, still work.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

from ..messages import Message, ModelResponse, ToolDefinition
from ..options import ModelSettings
from ._base import BatchItem, Model, ModelStream, StreamEvent

__all__ = ("ConcurrencyLimitedModel", "shared_semaphore")

# key -> {loop: semaphore}; loops are weak keys so a finished `run_sync()` loop frees its entry.
_caps: dict[tuple[Any, ...], weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}


def shared_semaphore(key: tuple[Any, ...], size: int) -> asyncio.Semaphore:
    """The process-wide semaphore of `key` for the running loop."""
    per_loop = _caps.get(key)
    if per_loop is None:
        per_loop = _caps[key] = weakref.WeakKeyDictionary()
    loop = asyncio.get_running_loop()
    sem = per_loop.get(loop)
    if sem is None:
        sem = per_loop[loop] = asyncio.Semaphore(size)
    return sem


class ConcurrencyLimitedModel(Model):
    """Wraps a model so that at most `max_concurrency` of its requests are in flight in the process.

    A streamed request holds its slot from the moment it starts until the stream is closed.
    """

    def __init__(self, inner: Model, max_concurrency: int, key: tuple[Any, ...]) -> None:
        self.inner = inner
        self.max_concurrency = max_concurrency
        self._key = (*key, max_concurrency)
        self.provider = inner.provider
        self.model_name = inner.model_name
        # Structured output asks the model what it can do; the cap changes none of it.
        self.supports_native_output = inner.supports_native_output
        self.default_output_mode = inner.default_output_mode
        self.max_retries = inner.max_retries

    def _sem(self) -> asyncio.Semaphore:
        return shared_semaphore(self._key, self.max_concurrency)

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """The inner model's request, once a slot is free."""
        async with self._sem():
            return await self.inner.request(messages, tools, settings)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """The inner model's stream, holding a slot until it is closed."""
        return _LimitedStream(self, messages, tools, settings)

    async def aclose(self) -> None:
        """Close the inner model."""
        await self.inner.aclose()

    def describe(self) -> dict[str, Any]:
        """The inner model's description plus the cap."""
        return {**self.inner.describe(), "max_concurrency": self.max_concurrency}

    def __repr__(self) -> str:
        return f"{self.inner!r}[max_concurrency={self.max_concurrency}]"


class _LimitedStream(ModelStream):
    __slots__ = ("_args", "_held", "_inner", "_owner")

    def __init__(
        self,
        owner: ConcurrencyLimitedModel,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        settings: ModelSettings,
    ) -> None:
        super().__init__()
        self._owner = owner
        self._args = (messages, tools, settings)
        self._inner: ModelStream | None = None
        self._held: asyncio.Semaphore | None = None

    async def __aenter__(self) -> Self:
        sem = self._owner._sem()  # pyright: ignore[reportPrivateUsage]
        await sem.acquire()
        self._held = sem
        try:
            self._inner = await self._owner.inner.request_stream(*self._args).__aenter__()
        except BaseException:
            self._release()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._inner is not None:
                await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            self._release()

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()

    async def aclose(self) -> None:
        """Close the inner stream and give the slot back. Idempotent."""
        try:
            if self._inner is not None:
                await self._inner.aclose()
        finally:
            self._release()

    def _events(self) -> AsyncIterator[StreamEvent]:  # pragma: no cover - __aiter__ is overridden
        raise NotImplementedError

    def _stream(self) -> ModelStream:
        inner = self._inner
        if inner is None:
            raise RuntimeError("use the stream inside `async with`")
        return inner

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        async for event in self._stream():
            yield event

    def batches(self) -> AsyncGenerator[list[BatchItem], None]:
        """The inner stream's batches."""
        return self._stream().batches()

    def response(self) -> ModelResponse:
        """The inner stream's response."""
        return self._stream().response()
