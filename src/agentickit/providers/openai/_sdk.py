"""`OpenAISDKModel`: the official `openai` SDK (3.x, on its aiohttp transport) as an alternative transport.

Use it with `LLMConfig(transport="sdk")` for anything our lean client does not cover. The SDK's own
retries are off (`max_retries=0`): the run loop retries, the same way for every provider, and SDK
exceptions are mapped to our typed errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, NoReturn, cast

from ..._utils import LoopBound
from ...errors import ProviderConnectionError, ProviderError, ProviderTimeoutError, UserError
from ...messages import Message, ModelResponse, ToolCall, ToolDefinition, Usage
from ...options import ModelSettings
from ...telemetry import _hooks as _tel
from .._base import EncodedTools, ModelStream, SDKStream, StreamEvent, TextDelta, ThoughtDelta, UsageEvent
from .._http import refused_connection, status_error
from ._endpoint import OpenAICompatible, OpenAIEndpoint
from ._wire import bad_response, call_delta, checked_str, tools_json, truncated

try:
    import httpx2
    import openai
    from openai import AsyncStream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
except ImportError as _exc:  # pragma: no cover - exercised only on a core-only install
    raise UserError(
        'LLMConfig(transport="sdk") needs the official openai SDK: pip install "agentickit[openai]"'
    ) from _exc

__all__ = ("OpenAISDKModel",)


class OpenAISDKModel(OpenAICompatible):
    """An OpenAI-compatible model through the official SDK's `AsyncOpenAI` (or `AsyncAzureOpenAI`).

    Takes the same `OpenAIEndpoint` as `OpenAIModel`, plus `azure_endpoint`/`api_version` for Azure.
    """

    transport = "sdk"
    supports_native_output = True  # `response_format` with a `json_schema` (strict when the schema allows)

    def __init__(
        self,
        model_name: str,
        endpoint: OpenAIEndpoint,
        *,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
    ) -> None:
        super().__init__(model_name, endpoint)
        self.azure_endpoint = azure_endpoint
        self.api_version = api_version
        self._client: LoopBound[openai.AsyncOpenAI] = LoopBound(self._new_client)
        self._tools = EncodedTools(tools_json)

    def _sdk(self) -> openai.AsyncOpenAI:
        return self._client.get()

    def _new_client(self) -> openai.AsyncOpenAI:
        e = self.endpoint
        # The SDK's client reads proxies from the environment itself; an explicit one wins.
        http = (
            openai.DefaultAioHttpClient(timeout=e.timeout, proxy=e.proxy)
            if e.proxy
            else openai.DefaultAioHttpClient(timeout=e.timeout)
        )
        common: dict[str, Any] = {
            "api_key": e.api_key,
            "timeout": e.timeout,
            "max_retries": 0,
            "default_headers": e.headers or None,
            "default_query": {k: v for k, v in e.query.items() if k != "api-version"} or None,
            "http_client": http,
        }
        if self.azure_endpoint is not None:
            if self.url.endswith("/openai/v1/chat/completions"):
                return openai.AsyncOpenAI(base_url=self.azure_endpoint, **common)
            return openai.AsyncAzureOpenAI(azure_endpoint=self.azure_endpoint, api_version=self.api_version, **common)
        return openai.AsyncOpenAI(base_url=self.base_url, **common)

    async def aclose(self) -> None:
        """Close the SDK client and its pool. Idempotent."""
        client = self._client.pop()
        if client is not None:
            await client.close()

    def _fields(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings, stream: bool
    ) -> dict[str, Any]:
        fields = self._request_fields(messages, self._tools.get(tools), settings, stream)
        if self.endpoint.extra_body:
            fields["extra_body"] = self.endpoint.extra_body
        if settings.timeout is not None:
            fields["timeout"] = settings.timeout
        if _tel.active is not None and (trace_headers := _tel.active.carrier()):
            fields["extra_headers"] = trace_headers  # W3C traceparent of the current chat span
        return fields

    def _raise(self, exc: Exception, timeout: float | None) -> NoReturn:
        p, m = self.provider, self.model_name
        if isinstance(exc, openai.APIStatusError):
            raise status_error(
                exc.status_code,
                exc.body if exc.body is not None else exc.message,
                exc.response.headers,
                provider=p,
                model=m,
                where=self.url,
                key_hint=self.endpoint.key_hint,
            ) from exc
        if isinstance(exc, openai.APITimeoutError) and not refused_connection(exc):
            raise ProviderTimeoutError(
                f"{p} model {m!r} did not answer within {timeout or self.endpoint.timeout:g} s at {self.url}; "
                "raise LLMConfig.timeout or check the server",
                provider=p,
                model=m,
            ) from exc
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            raise ProviderConnectionError(
                f"could not talk to {p} at {self.url} ({type(cause).__name__}: {cause}); "
                "check base_url and that the server is running and reachable",
                provider=p,
                model=m,
            ) from exc
        if isinstance(exc, openai.APIResponseValidationError | ValueError | openai.APIError):
            raise bad_response(p, m, f"{type(exc).__name__}: {exc}") from exc
        raise exc

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Send one non-streamed request through the SDK.

        Raises:
            ProviderError: a typed subclass, mapped from the SDK's exception.

        """
        client = self._sdk()
        try:
            reply = cast(object, await client.chat.completions.create(**self._fields(messages, tools, settings, False)))
        except (openai.OpenAIError, ValueError) as exc:
            self._raise(exc, settings.timeout)
        if not isinstance(reply, ChatCompletion):
            # The SDK hands back the raw text when the body is not JSON.
            raise bad_response(self.provider, self.model_name, "not valid JSON", str(reply))
        completion = reply
        try:
            choice = completion.choices[0]
            message = choice.message
            # The SDK builds its reply objects without validating them, so a wrong-typed field
            # would come out as it is (an int as `Result.content`): the same checks as our transport.
            calls = tuple(
                ToolCall(
                    checked_str(c.id, "choices[0].message.tool_calls[].id"),
                    checked_str(c.function.name, "choices[0].message.tool_calls[].function.name"),
                    checked_str(c.function.arguments or "{}", "choices[0].message.tool_calls[].function.arguments"),
                )
                for c in (message.tool_calls or ())
                if c.type == "function"
            )
            usage = completion.usage
            content = message.content
            return ModelResponse(
                content=checked_str(content, "choices[0].message.content") if content is not None else "",
                tool_calls=calls,
                usage=Usage(usage.prompt_tokens, usage.completion_tokens, 1) if usage else Usage(requests=1),
                finish_reason=choice.finish_reason or ("tool_calls" if calls else "stop"),
                thoughts=getattr(message, "reasoning_content", None) or "",
                model=completion.model or self.model_name,
            )
        except (AttributeError, IndexError, TypeError) as exc:
            raise bad_response(self.provider, self.model_name, f"missing or wrong field: {exc}") from exc

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Start a streamed request through the SDK; closing the stream closes the SDK's response."""
        fields = self._fields(messages, tools, settings, True)
        del fields["stream"]  # passed literally, so the SDK's overloads type the result as a stream
        return _SDKStream(self, fields, settings.timeout)


def _chunk_events(stream: _SDKStream, chunk: Any) -> list[StreamEvent]:
    """The events of one SDK chunk, type-checked as our own transport checks them (the SDK does not)."""
    events: list[StreamEvent] = []
    choices = getattr(chunk, "choices", None)
    usage = getattr(chunk, "usage", None)
    if choices is None and not usage:
        raise TypeError("the event has no 'choices'")
    if choices:
        choice = choices[0]
        delta = choice.delta
        reasoning = getattr(delta, "reasoning_content", None)
        if reasoning:
            events.append(ThoughtDelta(checked_str(reasoning, "choices[0].delta.reasoning_content")))
        if delta.content is not None and checked_str(delta.content, "choices[0].delta.content"):
            events.append(TextDelta(delta.content))
        if delta.tool_calls:
            for c in delta.tool_calls:
                fn = c.function
                events.append(
                    call_delta(
                        {
                            "index": c.index,
                            "id": c.id,
                            "function": {"name": fn.name, "arguments": fn.arguments} if fn else {},
                        }
                    )
                )
        if choice.finish_reason:
            stream._finish_reason = checked_str(choice.finish_reason, "choices[0].finish_reason")  # pyright: ignore[reportPrivateUsage]
    if usage:
        events.append(UsageEvent(Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0), 1)))
    if stream._model_name is None and type(getattr(chunk, "model", None)) is str:  # pyright: ignore[reportPrivateUsage]
        stream._model_name = chunk.model  # pyright: ignore[reportPrivateUsage]
    return events


class _SDKStream(SDKStream[AsyncStream[ChatCompletionChunk]]):
    __slots__ = ("_model",)

    def __init__(self, model: OpenAISDKModel, fields: dict[str, Any], timeout: float | None) -> None:
        super().__init__(fields, timeout, model.endpoint.request_timeout, (model.provider, model.model_name))
        self._model = model

    async def _events(self) -> AsyncIterator[StreamEvent]:
        model = self._model
        try:
            stream = await model._sdk().chat.completions.create(**self._fields, stream=True)  # pyright: ignore[reportPrivateUsage]
        except (openai.OpenAIError, ValueError) as exc:
            model._raise(exc, self._timeout)  # pyright: ignore[reportPrivateUsage]
        self._sdk_stream = stream
        if self._closed:
            await stream.close()
            return
        try:
            async for chunk in stream:
                try:
                    events = _chunk_events(self, chunk)
                except (AttributeError, TypeError, IndexError, KeyError, ValueError) as exc:
                    raise bad_response(
                        model.provider, model.model_name, f"a stream event has a wrong shape: {exc}"
                    ) from exc
                for event in events:
                    yield event
            if not self._closed and self._finish_reason is None:
                raise truncated(model.provider, model.model_name)
        except ProviderError:
            raise
        except (openai.OpenAIError, ValueError) as exc:
            if not self._closed:
                model._raise(exc, self._timeout)  # pyright: ignore[reportPrivateUsage]
        except httpx2.TransportError as exc:
            # Read errors in the middle of a stream surface raw from the SDK's iterator.
            if self._closed:
                return
            request = stream.response.request
            if isinstance(exc, httpx2.TimeoutException):
                model._raise(openai.APITimeoutError(request=request), self._timeout)  # pyright: ignore[reportPrivateUsage]
            model._raise(openai.APIConnectionError(message=str(exc), request=request), self._timeout)  # pyright: ignore[reportPrivateUsage]
        finally:
            await self.aclose()
