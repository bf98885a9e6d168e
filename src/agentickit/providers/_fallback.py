"""`FallbackModel`: try a chain of models in turn when one is rate limited, down or too slow.

Each model keeps its own retries: the chain moves on only after a model's retries are spent (or on
an error its retries do not cover but `fallback_on` names). A streamed answer never switches model
once its first event reached the caller: the caller would see two answers glued together, so a
failure after that point is raised as it is.

Structured output: a chain does `NativeOutput` when any of its models does. Each model gets the
request in its own provider's shape (OpenAI's `response_format`, Anthropic's `output_config`, both
from `ModelSettings.response_format`); a model without native structured output gets the same
schema in its system prompt instead (`PromptedOutput`'s instructions), so every model answers with
JSON text and the run validates and corrects it the same way whichever model answered. The default
mode is native only when every model defaults to it, else the final-answer tool (every model does that).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import replace
from typing import Any, Literal

from ..errors import ProviderError, ProviderTimeoutError, RateLimitError, ServerError, UserError
from ..messages import Message, ModelResponse, ToolDefinition
from ..options import ModelSettings
from ..telemetry import _hooks as _tel
from ._base import BatchItem, Model, ModelStream, StreamEvent, TextDelta
from ._registry import LLMConfig, infer_model
from ._retry import retry_call, retry_unstarted
from ._sample import add_system, prompted_instructions, schema_of_response_format

__all__ = ("DEFAULT_FALLBACK_ON", "FallbackModel")

log = logging.getLogger("agentickit.providers")

DEFAULT_FALLBACK_ON: tuple[type[BaseException], ...] = (RateLimitError, ServerError, ProviderTimeoutError)
"""The errors that move a `FallbackModel` to its next model (after that model's own retries)."""


class FallbackModel(Model):
    """A model that answers with the first of several models that succeeds.

    Usable anywhere a model is (`ak.Agent(llm=FallbackModel(...))`); a list of model specs is
    shorthand for it (`llm=["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"]`).

    Args:
        primary: the model tried first: `"provider:model"`, an `LLMConfig` or a `Model`.
        *fallbacks: the models tried next, in order.
        fallback_on: the error types that move on to the next model once the current model's own
            retries are spent. Any other error (a bad request, a wrong key) is raised at once: the
            next model would most likely fail the same way, and hiding it costs money.

    The answering model's name is in `Result.metadata["model"]`; `stats` counts fallbacks.

    Raises:
        UserError: no fallback model was given, or `fallback_on` is not a tuple of exception types.

    """

    max_retries = 0  # each model of the chain retries itself; the run loop must not retry the chain

    def __init__(
        self,
        primary: str | LLMConfig | Model,
        *fallbacks: str | LLMConfig | Model,
        fallback_on: tuple[type[BaseException], ...] = DEFAULT_FALLBACK_ON,
    ) -> None:
        if not fallbacks:
            raise UserError("FallbackModel needs at least one fallback model after the primary one")
        if not isinstance(fallback_on, tuple) or not all(  # pyright: ignore[reportUnnecessaryIsInstance]
            isinstance(t, type) and issubclass(t, BaseException)  # pyright: ignore[reportUnnecessaryIsInstance]
            for t in fallback_on
        ):
            raise UserError(f"fallback_on must be a tuple of exception types, got {fallback_on!r}")
        for spec in (primary, *fallbacks):
            if not isinstance(spec, str | LLMConfig | Model):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise UserError(
                    f"FallbackModel takes 'provider:model' strings, LLMConfigs or Models, got {type(spec).__name__}"
                )
        self.specs: tuple[str | LLMConfig | Model, ...] = (primary, *fallbacks)
        self.fallback_on = fallback_on
        self._models: tuple[Model, ...] | None = None
        # Prompted instructions for the models without native output, per response_format.
        self._prompts: dict[int, tuple[dict[str, Any], str]] = {}
        self.stats: dict[str, int] = {"fallbacks": 0}
        """`fallbacks`: how often a model failed and the next one was tried; `answered:<model>`: answers per model."""
        first = self.specs[0]
        self.provider = "fallback"
        self.model_name = first.model_name if isinstance(first, Model) else _spec_name(first)

    @property
    def models(self) -> tuple[Model, ...]:
        """The chain's models, built on first use (so a missing key fails the run, not the import)."""
        models = self._models
        if models is None:
            models = self._models = tuple(infer_model(s) for s in self.specs)
        return models

    # Properties over the base's plain attributes: a chain answers for its models, built lazily.
    @property
    def supports_native_output(self) -> bool:  # pyright: ignore[reportIncompatibleVariableOverride]
        """Whether any model of the chain has native structured output (the others get the schema prompted)."""
        return any(m.supports_native_output for m in self.models)

    @property
    def default_output_mode(self) -> Literal["native", "tool", "prompted"]:  # pyright: ignore[reportIncompatibleVariableOverride]
        """`native` when every model defaults to it, else `tool` (a final-answer tool works on every model)."""
        return "native" if all(m.default_output_mode == "native" for m in self.models) else "tool"

    def _shaped(
        self, model: Model, messages: Sequence[Message], settings: ModelSettings
    ) -> tuple[Sequence[Message], ModelSettings]:
        """The request for `model`: a native `response_format` becomes prompted instructions where it has none."""
        fmt = settings.response_format
        if fmt is None or model.supports_native_output:
            return messages, settings
        hit = self._prompts.get(id(fmt))
        if hit is None or hit[0] is not fmt:
            schema = schema_of_response_format(fmt)
            if schema is None:
                raise UserError(f"{model!r} has no native structured output and response_format holds no JSON schema")
            hit = self._prompts[id(fmt)] = (fmt, prompted_instructions(schema))
        prompted = list(messages)
        add_system(prompted, hit[1])
        return prompted, replace(settings, response_format=None)

    def _moved_on(self, model: Model, to: Model, exc: BaseException) -> None:
        self.stats["fallbacks"] += 1
        log.warning("model %s failed (%s: %s); falling back to the next model", model, type(exc).__name__, exc)
        if _tel.active is not None:  # a `fallback` event on the current (chat) span
            _tel.active.fallback(str(model.model_name), str(to.model_name), exc)

    def _answered(self, model: Model, response: ModelResponse, fallbacks: int) -> ModelResponse:
        if response.model is None:
            response.model = model.model_name
        response.fallbacks = fallbacks
        key = f"answered:{model.model_name}"
        self.stats[key] = self.stats.get(key, 0) + 1
        return response

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Ask each model in turn (with its own retries) until one answers."""
        models = self.models
        last = len(models) - 1
        for i, model in enumerate(models):
            msgs, shaped = self._shaped(model, messages, settings)
            try:
                response = await retry_call(
                    lambda m=model, ms=msgs, st=shaped: m.request(ms, tools, st), model.max_retries
                )
            except self.fallback_on as exc:
                if i == last:
                    raise
                self._moved_on(model, models[i + 1], exc)
                continue
            return self._answered(model, response, i)
        raise AssertionError("unreachable: the last model raises")  # pragma: no cover - loop always returns

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Stream from the first model that starts answering; never switch once an event went out."""
        return _FallbackStream(self, messages, tools, settings)

    async def aclose(self) -> None:
        """Close every model of the chain that was built."""
        for model in self._models or ():
            await model.aclose()

    def describe(self) -> dict[str, Any]:
        """A picklable description (the chain's own descriptions)."""
        return {"provider": "fallback", "models": [m.describe() for m in self.models]}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_models"] = None  # rebuilt lazily in the other process, pools included
        state["_prompts"] = {}
        return state

    def __repr__(self) -> str:
        return f"FallbackModel({', '.join(_spec_name(s) for s in self.specs)})"


def _spec_name(spec: str | LLMConfig | Model) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, LLMConfig):
        return f"{spec.provider}:{spec.model}"
    return f"{spec.provider}:{spec.model_name}"


class _FallbackStream(ModelStream):
    """Streams from one model of the chain; `response()` is that model's."""

    __slots__ = ("_final", "_inner", "_messages", "_owner", "_settings", "_tools")

    def __init__(
        self,
        owner: FallbackModel,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        settings: ModelSettings,
    ) -> None:
        super().__init__()
        self._owner = owner
        self._messages = messages
        self._tools = tools
        self._settings = settings
        self._inner: ModelStream | None = None
        self._final: ModelResponse | None = None

    def _events(self) -> AsyncIterator[StreamEvent]:  # pragma: no cover - __aiter__ is overridden
        raise NotImplementedError

    async def __aiter__(self) -> AsyncIterator[StreamEvent]:
        async for batch in self.batches():
            for item in batch:
                if isinstance(item, str):
                    yield TextDelta(item)
                else:
                    yield item

    def batches(self) -> AsyncGenerator[list[BatchItem], None]:
        """The first model's batches that starts answering (the run loop's fast path)."""
        return self._batches()

    async def _batches(self) -> AsyncGenerator[list[BatchItem], None]:
        owner = self._owner
        models = owner.models
        last = len(models) - 1
        for i, model in enumerate(models):
            attempt = 0
            while True:
                started = False
                try:
                    messages, settings = owner._shaped(model, self._messages, self._settings)  # pyright: ignore[reportPrivateUsage]
                    stream = model.request_stream(messages, self._tools, settings)
                    self._inner = stream
                    async with stream:
                        async for batch in stream.batches():
                            started = True
                            yield batch
                    self._final = owner._answered(model, stream.response(), i)  # pyright: ignore[reportPrivateUsage]
                    return
                except ProviderError as exc:
                    if started:
                        raise  # text reached the caller: switching now would splice two answers
                    tel = _tel.active
                    if await retry_unstarted(
                        exc, attempt, model.max_retries, started, None if tel is None else tel.retry
                    ):
                        attempt += 1
                        continue
                    if i == last or not isinstance(exc, owner.fallback_on):
                        raise
                    owner._moved_on(model, models[i + 1], exc)  # pyright: ignore[reportPrivateUsage]
                    break

    async def aclose(self) -> None:
        """Close the stream of the model that is answering."""
        inner = self._inner
        if inner is not None:
            await inner.aclose()

    def response(self) -> ModelResponse:
        """The answering model's response."""
        if self._final is not None:
            return self._final
        inner = self._inner
        return super().response() if inner is None else inner.response()
