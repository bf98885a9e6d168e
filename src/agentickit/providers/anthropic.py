"""The `anthropic` provider: Anthropic's Messages API through the official `anthropic` SDK (2.x).

Our OpenAI-shaped messages are mapped to Anthropic's: system prompts go to `system`, tool calls
become native `tool_use` blocks and tool results `tool_result` blocks in a user turn, and
consecutive turns of one role are merged (the API wants them alternating). Streams map text,
thinking and `input_json` deltas to `TextDelta`, `ThoughtDelta` and `ToolCallDelta`.

Native structured output (`ak.NativeOutput`) is the Messages API's JSON outputs:
`output_config={"format": {"type": "json_schema", "schema": ...}}`, the schema made fit for it by the
SDK's own `anthropic.transform_schema` (every object closed, unsupported keywords moved into the
description; our side still validates against the full type). Models that have it (`NATIVE_OUTPUT_MODELS`)
use it by default; the others get a final-answer tool, and `NativeOutput` on them is refused.

The SDK's own retries are off: the run loop retries, the same way for every provider.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, NoReturn, cast

import orjson

from .._redact import redact_url
from .._utils import LoopBound
from ..content import BinaryContent, ContentPart, DocumentUrl, ImageUrl, unsupported
from ..errors import (
    BadResponseError,
    ConfigError,
    MissingAPIKeyError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    UserError,
)
from ..messages import Message, ModelResponse, ToolCall, ToolDefinition, Usage
from ..options import ModelSettings
from ..telemetry import _hooks as _tel
from ._base import (
    EncodedTools,
    Model,
    ModelStream,
    SDKStream,
    StreamEvent,
    TextDelta,
    ThoughtDelta,
    ToolCallDelta,
    UsageEvent,
)
from ._http import is_local_url, refused_connection, status_error
from ._registry import PROVIDER_OPTIONS, LLMConfig

try:
    import anthropic
    import httpx2
    from anthropic import AsyncStream
    from anthropic.types import Message as AnthropicMessage
    from anthropic.types import RawMessageStreamEvent
except ImportError as _exc:  # pragma: no cover - exercised only on a core-only install
    raise UserError('the anthropic provider needs the official SDK: pip install "agentickit[anthropic]"') from _exc

__all__ = ("NATIVE_OUTPUT_MODELS", "AnthropicModel", "anthropic_model", "has_native_output", "output_format")

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires `max_tokens`; this applies when neither the run nor the config sets one."""
_OPTIONS = PROVIDER_OPTIONS["anthropic"]
_KEY_HINT = "set ANTHROPIC_API_KEY or LLMConfig(api_key=...)"
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
NATIVE_OUTPUT_MODELS = (
    "claude-haiku-4-5",
    "claude-sonnet-4-5",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-haiku-5",
    "claude-sonnet-5",
    "claude-opus-5",
    "claude-fable-5",
    "claude-mythos-5",
)
"""Model-name stems with JSON outputs (`output_config.format`), from Anthropic's structured-outputs page
(generally available on Haiku/Sonnet/Opus 4.5, 4.6 and the models after them; not on Claude 3.x or 4.0/4.1).
A name matches when it contains a stem, so dated ids and cloud ids (`us.anthropic.claude-sonnet-4-5-...`)
do too; `LLMConfig(options={"native_output": True})` overrides the guess for a name not listed here."""
_TOOL_CHOICE: dict[str, dict[str, Any]] = {
    "auto": {"type": "auto"},
    "required": {"type": "any"},
    "none": {"type": "none"},
}


def has_native_output(model_name: str) -> bool:
    """Whether the model has JSON outputs (native structured output), by its name (see `NATIVE_OUTPUT_MODELS`)."""
    return any(stem in model_name for stem in NATIVE_OUTPUT_MODELS)


def anthropic_model(cfg: LLMConfig) -> Model:
    """Build an `AnthropicModel` from a config.

    The key comes from `cfg.api_key` or `ANTHROPIC_API_KEY`, the endpoint from `cfg.base_url`,
    `ANTHROPIC_BASE_URL` or the public API. `cfg.options` may hold `thinking` (e.g.
    `{"type": "enabled", "budget_tokens": 2000}`), `headers`, `extra_body` and `native_output`
    (`True`/`False`: whether the model has JSON outputs, when its name does not say it).

    Raises:
        MissingAPIKeyError: no key, and the endpoint is not local.
        ConfigError: an unknown option.

    """
    options = dict(cfg.options)
    unknown = sorted(options.keys() - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for provider 'anthropic'; valid options: {', '.join(sorted(_OPTIONS))}"
        )
    base_url = (cfg.base_url or os.environ.get("ANTHROPIC_BASE_URL") or ANTHROPIC_BASE_URL).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"base_url for 'anthropic' must start with http:// or https://, got {redact_url(base_url)!r}")
    native = options.get("native_output")
    if native is not None and not isinstance(native, bool):
        raise ConfigError(f"option 'native_output' for provider 'anthropic' must be true or false, got {native!r}")
    key = cfg.api_key or os.environ.get("ANTHROPIC_API_KEY")
    if not key:
        if not is_local_url(base_url):
            raise MissingAPIKeyError(
                "the anthropic provider needs an API key: set the ANTHROPIC_API_KEY environment variable "
                "or pass LLMConfig(api_key=...)"
            )
        key = "sk-ant-local"
    return AnthropicModel(
        cfg.model,
        base_url=base_url,
        api_key=key,
        temperature=cfg.temperature,
        max_tokens=cfg.max_tokens,
        timeout=cfg.timeout,
        request_timeout=cfg.request_timeout,
        max_retries=cfg.max_retries,
        thinking=options.get("thinking"),
        headers=options.get("headers"),
        extra_body=options.get("extra_body"),
        native_output=native,
    )


def _arguments(raw: str) -> Any:
    try:
        value = orjson.loads(raw or "{}")
    except orjson.JSONDecodeError:
        # The model produced arguments that are not JSON; the tool saw an error for them, but the
        # call must still be echoed back as an object.
        return {"_raw_arguments": raw}
    return cast(dict[str, Any], value) if isinstance(value, dict) else {"value": value}


_ANTHROPIC_ACCEPTS = "ImageUrl, DocumentUrl, BinaryContent images (image/*), PDF and plain-text documents"


def part_block(part: ContentPart) -> dict[str, Any]:
    """A content part as an Anthropic `image` or `document` block.

    Raises:
        UnsupportedContentError: the Messages API takes no audio, nor other document types.

    """
    if isinstance(part, ImageUrl):
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    if isinstance(part, DocumentUrl):
        return {"type": "document", "source": {"type": "url", "url": part.url}}
    if isinstance(part, BinaryContent):
        if part.is_image:
            return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.base64}}
        if part.media_type == "application/pdf":
            return {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": part.base64},
            }
        if part.media_type == "text/plain":
            text = bytes(part.data).decode("utf-8", "replace")
            return {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}}
    raise unsupported(part, "anthropic", _ANTHROPIC_ACCEPTS)


def convert_messages(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """Our messages as Anthropic's `(system, messages)`."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.role
        blocks: list[dict[str, Any]]
        if role == "system":
            if m.content:
                system.append(m.content)
            continue
        if role == "tool":
            role = "user"
            result: Any = m.content or ""
            if m.parts:
                # tool_result blocks take images and documents beside the text.
                result = [{"type": "text", "text": result}, *(part_block(p) for p in m.parts)]
            blocks = [{"type": "tool_result", "tool_use_id": m.tool_call_id, "content": result}]
        elif role == "assistant":
            blocks = [{"type": "text", "text": m.content}] if m.content else []
            blocks.extend(
                {"type": "tool_use", "id": c.id, "name": c.name, "input": _arguments(c.arguments)} for c in m.tool_calls
            )
            if not blocks:
                continue  # the API rejects empty turns
        else:
            blocks = [{"type": "text", "text": m.content or ""}]
            if m.parts:
                if not m.content:
                    blocks = []
                blocks.extend(part_block(p) for p in m.parts)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return "\n\n".join(system), out


def _encode_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


def output_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI-shaped `response_format` (`ModelSettings.response_format`) as Anthropic's `output_config.format`.

    Raises:
        UserError: it holds no JSON schema (Anthropic's JSON outputs need one).

    """
    raw = response_format.get("json_schema")
    spec: Mapping[str, Any] = cast(Mapping[str, Any], raw) if isinstance(raw, Mapping) else {}
    schema = spec.get("schema")
    if response_format.get("type") != "json_schema" or not isinstance(schema, dict):
        raise UserError(
            "anthropic's native structured output needs a JSON schema: response_format "
            "{'type': 'json_schema', 'json_schema': {'schema': {...}}}"
        )
    fitted = anthropic.transform_schema(cast(dict[str, Any], schema))
    description = spec.get("description")
    if description and "description" not in fitted:
        fitted["description"] = description
    return {"type": "json_schema", "schema": fitted}


class AnthropicModel(Model):
    """A Claude model through `anthropic.AsyncAnthropic` (on the SDK's aiohttp transport).

    Build it with `ak.LLMConfig(provider="anthropic", model="claude-...")` rather than directly.
    """

    provider = "anthropic"
    supports_native_output = False
    """Set per model in `__init__`: whether it has JSON outputs (see `NATIVE_OUTPUT_MODELS`)."""

    def __init__(
        self,
        model_name: str,
        *,
        base_url: str = ANTHROPIC_BASE_URL,
        api_key: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float = 60.0,
        request_timeout: float | None = 600.0,
        max_retries: int = 3,
        thinking: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        native_output: bool | None = None,
    ) -> None:
        self.model_name = model_name
        native = has_native_output(model_name) if native_output is None else native_output
        self.supports_native_output = native
        # Native by default where the model has it: constrained decoding, and it goes with extended
        # thinking, which the final-answer tool's forced `tool_choice` does not (the API refuses that pair).
        self.default_output_mode = "native" if native else "tool"
        self.base_url = base_url
        self.api_key = api_key
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.thinking = dict(thinking) if thinking else None
        self.headers = dict(headers or {})
        self.extra_body = dict(extra_body or {})
        # The SDK client belongs to the loop that made it; a new loop (run_sync) gets a new one.
        self._client: LoopBound[anthropic.AsyncAnthropic] = LoopBound(self._new_client)
        self._tools = EncodedTools(_encode_tools)
        # `output_config.format` per response_format (each output plan has one, so this stays small).
        self._formats: dict[int, tuple[Mapping[str, Any], dict[str, Any]]] = {}

    def describe(self) -> dict[str, Any]:
        """What this model is (the key is left out: the other side reads it from its environment)."""
        return {"provider": "anthropic", "model": self.model_name, "base_url": self.base_url}

    def _sdk(self) -> anthropic.AsyncAnthropic:
        return self._client.get()

    def _new_client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key=self.api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
            default_headers=self.headers or None,
            http_client=anthropic.DefaultAioHttpClient(timeout=self.timeout),
        )

    async def aclose(self) -> None:
        """Close the SDK client and its pool. Idempotent."""
        client = self._client.pop()
        if client is not None:
            await client.close()

    def _fields(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> dict[str, Any]:
        system, converted = convert_messages(messages)
        limit = settings.max_tokens if settings.max_tokens is not None else self.max_tokens
        fields: dict[str, Any] = {
            "model": self.model_name,
            "messages": converted,
            "max_tokens": limit if limit is not None else DEFAULT_MAX_TOKENS,
        }
        if system:
            fields["system"] = system
        if tools:
            fields["tools"] = self._tools.get(tools)
            choice = settings.tool_choice
            if choice is not None:
                fields["tool_choice"] = _TOOL_CHOICE.get(choice) or {"type": "tool", "name": choice}
        if settings.stop:
            fields["stop_sequences"] = list(settings.stop)
        if self.thinking:
            fields["thinking"] = self.thinking
        extra = self.extra_body
        if settings.response_format is not None:
            config: dict[str, Any] = {"format": self._format(settings.response_format)}
            if "output_config" in extra:  # e.g. `effort` from the config: merged, not overwritten
                extra = dict(extra)
                config = {**extra.pop("output_config"), **config}
            fields["output_config"] = config
        # The 2.x SDK has no `temperature`/`top_p` keywords (newer models reject sampling settings),
        # so they travel in the body as the API still reads them for the models that take them.
        temperature = settings.temperature if settings.temperature is not None else self.temperature
        if temperature is not None or settings.top_p is not None:
            extra = dict(extra)
            if temperature is not None:
                extra["temperature"] = temperature
            if settings.top_p is not None:
                extra["top_p"] = settings.top_p
        if extra:
            fields["extra_body"] = extra
        if settings.timeout is not None:
            fields["timeout"] = settings.timeout
        if _tel.active is not None and (trace_headers := _tel.active.carrier()):
            fields["extra_headers"] = trace_headers  # W3C traceparent of the current chat span
        return fields

    def _format(self, response_format: Mapping[str, Any]) -> dict[str, Any]:
        hit = self._formats.get(id(response_format))
        if hit is not None and hit[0] is response_format:
            return hit[1]
        encoded = output_format(response_format)
        if len(self._formats) >= 64:
            self._formats.clear()
        self._formats[id(response_format)] = (response_format, encoded)
        return encoded

    def _raise(self, exc: Exception, timeout: float | None) -> NoReturn:
        m = self.model_name
        where = redact_url(self.base_url + "/v1/messages")
        if isinstance(exc, anthropic.APIStatusError):
            raise status_error(
                exc.status_code,
                exc.body if exc.body is not None else exc.message,
                exc.response.headers,
                provider="anthropic",
                model=m,
                where=where,
                key_hint=_KEY_HINT,
            ) from exc
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException) and not refused_connection(exc):
            raise ProviderTimeoutError(
                f"anthropic model {m!r} did not answer within {timeout or self.timeout:g} s at {where}; "
                "raise LLMConfig.timeout or check the endpoint",
                provider="anthropic",
                model=m,
            ) from exc
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            cause = exc.__cause__ or exc
            raise ProviderConnectionError(
                f"could not talk to anthropic at {where} ({type(cause).__name__}: {cause}); "
                "check base_url and your network",
                provider="anthropic",
                model=m,
            ) from exc
        raise BadResponseError(
            f"anthropic model {m!r} sent a reply that is not a valid message ({type(exc).__name__}: {exc}); "
            "check that base_url points at the Anthropic Messages API",
            provider="anthropic",
            model=m,
        ) from exc

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Send one non-streamed Messages request.

        Raises:
            ProviderError: a typed subclass, mapped from the SDK's exception.

        """
        try:
            reply = cast(object, await self._sdk().messages.create(**self._fields(messages, tools, settings)))
        except (anthropic.AnthropicError, httpx2.TransportError, ValueError) as exc:
            self._raise(exc, settings.timeout)
        if not isinstance(reply, AnthropicMessage):
            # The SDK hands back the raw text when the body is not JSON.
            self._raise(ValueError(f"not a message: {str(reply)[:200]!r}"), settings.timeout)
        message = reply
        try:
            text: list[str] = []
            thoughts: list[str] = []
            calls: list[ToolCall] = []
            for block in message.content:
                if block.type == "text":
                    text.append(block.text)
                elif block.type == "thinking":
                    thoughts.append(block.thinking)
                elif block.type == "tool_use":
                    calls.append(ToolCall(block.id, block.name, orjson.dumps(block.input).decode()))
            reason = message.stop_reason
            return ModelResponse(
                content="".join(text),
                tool_calls=tuple(calls),
                usage=Usage(message.usage.input_tokens, message.usage.output_tokens, 1),
                finish_reason=_STOP_REASONS.get(reason, reason) if reason else ("tool_calls" if calls else "stop"),
                thoughts="".join(thoughts),
                model=message.model or self.model_name,
            )
        except (AttributeError, TypeError, orjson.JSONEncodeError) as exc:
            self._raise(exc, settings.timeout)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Start a streamed Messages request; closing the stream closes the SDK's response."""
        return _AnthropicStream(self, self._fields(messages, tools, settings), settings.timeout)


class _AnthropicStream(SDKStream[AsyncStream[RawMessageStreamEvent]]):
    __slots__ = ("_model",)

    def __init__(self, model: AnthropicModel, fields: dict[str, Any], timeout: float | None) -> None:
        super().__init__(fields, timeout, model.request_timeout, (model.provider, model.model_name))
        self._model = model

    async def _events(self) -> AsyncIterator[StreamEvent]:
        model = self._model
        try:
            stream = await model._sdk().messages.create(**self._fields, stream=True)  # pyright: ignore[reportPrivateUsage]
        except (anthropic.AnthropicError, httpx2.TransportError, ValueError) as exc:
            model._raise(exc, self._timeout)  # pyright: ignore[reportPrivateUsage]
        self._sdk_stream = stream
        if self._closed:
            await stream.close()
            return
        input_tokens = output_tokens = 0
        try:
            async for event in stream:
                if event.type == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        yield TextDelta(delta.text)
                    elif delta.type == "thinking_delta":
                        yield ThoughtDelta(delta.thinking)
                    elif delta.type == "input_json_delta":
                        if delta.partial_json:
                            yield ToolCallDelta(event.index, arguments=delta.partial_json)
                elif event.type == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        yield ToolCallDelta(event.index, block.id, block.name)
                    elif block.type == "text" and block.text:
                        yield TextDelta(block.text)
                    elif block.type == "thinking" and block.thinking:
                        yield ThoughtDelta(block.thinking)
                elif event.type == "message_start":
                    input_tokens = event.message.usage.input_tokens
                    output_tokens = event.message.usage.output_tokens
                    self._model_name = event.message.model
                elif event.type == "message_delta":
                    reason = event.delta.stop_reason
                    if reason:
                        self._finish_reason = _STOP_REASONS.get(reason, reason)
                    output_tokens = event.usage.output_tokens
                    if event.usage.input_tokens:
                        input_tokens = event.usage.input_tokens
                elif event.type == "message_stop":
                    yield UsageEvent(Usage(input_tokens, output_tokens, 1))
        except ProviderError:
            raise
        except (anthropic.AnthropicError, httpx2.TransportError, ValueError) as exc:
            if not self._closed:
                model._raise(exc, self._timeout)  # pyright: ignore[reportPrivateUsage]
        finally:
            await self.aclose()
