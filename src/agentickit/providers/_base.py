"""The `Model` interface every provider implements, and the streamed events it yields."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, Self, TypeVar

from ..errors import ProviderTimeoutError
from ..messages import Message, ModelResponse, ToolCall, ToolDefinition, Usage
from ..options import ModelSettings

T = TypeVar("T")

__all__ = (
    "TEXT_BLOCK",
    "BatchItem",
    "EncodedTools",
    "Model",
    "ModelStream",
    "StreamEvent",
    "TextDelta",
    "ThoughtDelta",
    "ToolCallDelta",
    "UsageEvent",
    "flatten_batches",
)


@dataclass(slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str
    kind: Literal["text"] = "text"


@dataclass(slots=True)
class ThoughtDelta:
    """A piece of reasoning text the provider streams separately from the answer."""

    text: str
    kind: Literal["thought"] = "thought"


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a tool call; `index` tells which call of the turn it belongs to."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    kind: Literal["tool_call"] = "tool_call"


@dataclass(slots=True)
class UsageEvent:
    """Token usage, usually sent once at the end of a stream."""

    usage: Usage
    kind: Literal["usage"] = "usage"


StreamEvent = TextDelta | ThoughtDelta | ToolCallDelta | UsageEvent

BatchItem = str | StreamEvent
"""An item of `ModelStream.batches()`: a bare `str` is answer text (a `TextDelta` without the object)."""

TEXT_BLOCK = 1024
"""Streamed text is kept as joined blocks of this many pieces, not one string per token.

A 1 MB answer is ~250,000 tokens; one `str` per token (~50 bytes each, plus the list slot) held until
the end made a streamed answer cost ~14 MiB. Joining every 1,024 pieces keeps ~1.1x the text itself,
for one `join` per 1,024 tokens.
"""


async def flatten_batches(batches: AsyncGenerator[list[BatchItem], None]) -> AsyncIterator[StreamEvent]:
    """Event by event from a stream's `batches()` (text as `TextDelta`), closing them when left early."""
    async with aclosing(batches):
        async for batch in batches:
            for item in batch:
                yield TextDelta(item) if isinstance(item, str) else item


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list[str])


class ModelStream(ABC):
    """One streamed model response: an async context manager and an async iterator of `StreamEvent`s.

    Leaving the `async with` block closes the upstream request, whether or not the stream was read
    to the end; that is how cancellation reaches the provider. After the events are exhausted,
    `response()` returns the assembled `ModelResponse`.

    A provider implements `_events()`; one that receives many events at once (a network read)
    should also override `batches()`, the run loop's fast path, and record what it yields itself
    (`_text`, `_thoughts`, `_add_call_delta`, `_usage`), as `OpenAIModel` and `SimulatedModel` do.
    """

    __slots__ = ("_blocks", "_calls", "_finish_reason", "_model_name", "_text", "_thoughts", "_usage")

    def __init__(self) -> None:
        self._text: list[str] = []
        """Text pieces not yet folded into `_blocks` (see `_fold_text`)."""
        self._blocks: list[str] = []
        self._thoughts: list[str] = []
        self._calls: dict[int, _PartialCall] = {}
        self._usage = Usage(requests=1)
        self._finish_reason: str | None = None
        self._model_name: str | None = None

    @abstractmethod
    def _events(self) -> AsyncIterator[StreamEvent]:
        """Yield the provider's events; implemented by each provider."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Close the upstream request. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        text = self._text
        async for event in self._events():
            if type(event) is TextDelta:
                text.append(event.text)
                if len(text) >= TEXT_BLOCK:
                    self._fold_text()
            else:
                self._record(event)
            yield event

    def batches(self) -> AsyncGenerator[list[BatchItem], None]:
        """The events in batches, as they arrive: the run loop's fast path.

        A provider that reads many events at once (one network read holds hundreds of SSE events)
        yields them as one list, so the consumer pays one `await` per read instead of an
        async-generator hop per token. Answer text comes as a bare `str` rather than a `TextDelta`,
        which saves an object per token. The items are recorded for `response()` as they are yielded.

        The default yields each event of `__aiter__` as a batch of one, so a provider that implements
        only `_events()` works unchanged (and a consumer's backpressure stays per event).
        """
        return self._one_by_one()

    async def _one_by_one(self) -> AsyncGenerator[list[BatchItem], None]:
        async for event in self:
            yield [event]

    def _record(self, event: StreamEvent) -> None:
        """Note a non-text event for `response()` (text goes straight into `_text`)."""
        if isinstance(event, TextDelta):
            self._text.append(event.text)
            if len(self._text) >= TEXT_BLOCK:
                self._fold_text()
        elif isinstance(event, ThoughtDelta):
            self._thoughts.append(event.text)
        elif isinstance(event, ToolCallDelta):
            self._add_call_delta(event)
        else:
            self._usage = event.usage
            self._usage.requests = max(self._usage.requests, 1)

    def _fold_text(self) -> None:
        """Join the pending text pieces into one block (call it when `len(self._text) >= TEXT_BLOCK`)."""
        text = self._text
        self._blocks.append("".join(text))
        text.clear()

    def _add_call_delta(self, delta: ToolCallDelta) -> None:
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = _PartialCall()
        if delta.id:
            call.id = delta.id
        if delta.name:
            call.name += delta.name
        if delta.arguments:
            call.arguments.append(delta.arguments)

    def _joined_text(self) -> str:
        blocks = self._blocks
        if not blocks:
            return "".join(self._text)
        if self._text:
            # Folded first so the answer is copied once, not joined in two halves and then added.
            self._fold_text()
        return blocks[0] if len(blocks) == 1 else "".join(blocks)

    def response(self) -> ModelResponse:
        """The response assembled from every event seen so far."""
        calls = tuple(
            ToolCall(c.id or f"call_{i}", c.name, "".join(c.arguments) or "{}") for i, c in sorted(self._calls.items())
        )
        return ModelResponse(
            content=self._joined_text(),
            tool_calls=calls,
            usage=self._usage,
            finish_reason=self._finish_reason or ("tool_calls" if calls else "stop"),
            thoughts="".join(self._thoughts),
            model=self._model_name,
        )


class EncodedTools(Generic[T]):
    """A model's tool schemas in its API's shape, encoded once: agents pass the same tuple on every run.

    Pickles without the encoded value (an orjson fragment is not picklable; the other side encodes again).
    """

    __slots__ = ("_encode", "_key", "_value")

    def __init__(self, encode: Callable[[Sequence[ToolDefinition]], T]) -> None:
        self._encode = encode
        self._key: object = None
        self._value: T | None = None

    def get(self, tools: Sequence[ToolDefinition]) -> T | None:
        """The encoded schemas of `tools` (`None` for no tools)."""
        if not tools:
            return None
        if tools is not self._key:
            self._value = self._encode(tools)
            self._key = tools
        return self._value

    def __reduce__(self) -> tuple[Any, ...]:
        return (EncodedTools, (self._encode,))


class Model(ABC):
    """A chat model reachable through some provider.

    Implementations keep their connection pools themselves, open them lazily inside the running
    loop, and release them in `aclose()` (idempotent). A model object may be shared by many
    concurrent runs; it must not keep per-run state.
    """

    provider: str = "unknown"
    """The provider's name, e.g. `openai`."""
    model_name: str = "unknown"
    """The model's name, e.g. `gpt-4o-mini`."""
    max_retries: int = 3
    """Retries on 429, 5xx, timeouts and connection errors, with backoff (see `providers._retry`)."""
    supports_native_output: bool = False
    """Whether `ModelSettings.response_format` (native structured output) reaches the model (per model:
    an Anthropic model has it or not by its name)."""
    default_output_mode: Literal["native", "tool", "prompted"] = "tool"
    """How a structured answer is asked for when the output spec names no mode: a final-answer tool,
    unless the provider says otherwise (Anthropic models with JSON outputs: native)."""

    @abstractmethod
    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Send one request and return the whole answer.

        Raises:
            ProviderError: a typed subclass saying what failed.

        """

    @abstractmethod
    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Start one streamed request. Use it as `async with model.request_stream(...) as s: async for ev in s`."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connection pools. Idempotent; the model can be used again afterwards."""

    def describe(self) -> dict[str, Any]:
        """A picklable description from which an equal model can be rebuilt in another process."""
        return {"provider": self.provider, "model": self.model_name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.provider}:{self.model_name})"


class _Closable(Protocol):
    async def close(self) -> None: ...


S = TypeVar("S", bound=_Closable)


class SDKStream(ModelStream, Generic[S]):
    """A `ModelStream` over a vendor SDK's async stream: holds the SDK stream and closes it once.

    Subclasses open the SDK stream in `_events()`, store it in `_sdk_stream`, and check `_closed`
    (set by `aclose()`, which may run before the stream was even opened).

    `request_timeout` bounds the whole stream: the SDKs' own timeouts bound each read only, so a
    server that streams forever is stopped here, at the first event past the deadline (a stalled
    server is stopped by the read timeout first).
    """

    __slots__ = ("_closed", "_fields", "_request_timeout", "_sdk_stream", "_timeout", "_who")

    def __init__(
        self,
        fields: dict[str, Any],
        timeout: float | None,
        request_timeout: float | None = None,
        who: tuple[str, str] = ("unknown", "unknown"),
    ) -> None:
        super().__init__()
        self._fields = fields
        self._timeout = timeout
        self._request_timeout = request_timeout
        self._who = who
        self._sdk_stream: S | None = None
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        limit = self._request_timeout
        if limit is None:
            async for event in super().__aiter__():
                yield event
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        inner: AsyncGenerator[StreamEvent, None] = super().__aiter__()  # type: ignore[assignment]
        async with aclosing(inner) as events:
            async for event in events:
                if loop.time() > deadline:
                    provider, model = self._who
                    raise ProviderTimeoutError(
                        f"{provider} model {model!r} did not finish its answer within {limit:g} s "
                        "(LLMConfig.request_timeout; None removes the limit)",
                        provider=provider,
                        model=model,
                    )
                yield event

    async def aclose(self) -> None:
        """Close the SDK stream (and with it the HTTP response). Idempotent."""
        self._closed = True
        stream, self._sdk_stream = self._sdk_stream, None
        if stream is not None:
            await stream.close()
