"""The OpenAI chat-completions wire format: request fields from our messages, replies to `ModelResponse`.

Shared by both transports: ours serializes the fields with orjson, the SDK transport passes them
as keyword arguments.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import orjson

from ...content import BinaryContent, ContentPart, ImageUrl, unsupported
from ...errors import BadResponseError, TruncatedResponseError
from ...messages import Message, ModelResponse, ToolCall, ToolDefinition, Usage
from ...options import ModelSettings
from .._base import ToolCallDelta
from .._http import server_message

__all__ = (
    "bad_response",
    "call_delta",
    "checked_str",
    "message_json",
    "messages_json",
    "parse_completion",
    "part_json",
    "truncated",
    "request_fields",
    "tool_choice_json",
    "tools_json",
)

_INCLUDE_USAGE: dict[str, Any] = {"include_usage": True}
_BIG_BODY = 256 * 1024


_OPENAI_ACCEPTS = "ImageUrl, BinaryContent images (image/*), audio (audio/wav, audio/mp3) and PDF documents"
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}


def part_json(part: ContentPart, provider: str = "openai") -> dict[str, Any]:
    """A content part in OpenAI's chat-completions shape.

    Raises:
        UnsupportedContentError: chat completions has no part for it (audio or document URLs, other audio formats).

    """
    if isinstance(part, ImageUrl):
        return {"type": "image_url", "image_url": {"url": part.url}}
    if isinstance(part, BinaryContent):
        if part.is_image:
            return {"type": "image_url", "image_url": {"url": part.data_url}}
        if part.is_audio:
            fmt = _AUDIO_FORMATS.get(part.media_type)
            if fmt is not None:
                return {"type": "input_audio", "input_audio": {"data": part.base64, "format": fmt}}
        elif part.media_type == "application/pdf":
            return {"type": "file", "file": {"filename": "document.pdf", "file_data": part.data_url}}
    raise unsupported(part, provider, _OPENAI_ACCEPTS)


def messages_json(messages: Sequence[Message], provider: str = "openai") -> list[dict[str, Any]]:
    """The conversation in OpenAI's shape.

    Tool results with images (a tool returned `BinaryContent`) are followed by one user message that
    carries them: chat-completions tool messages can only hold text, and every tool message of a
    turn must come right after the assistant message that asked for it, so the user message waits
    until the turn's last tool message.
    """
    out: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for m in messages:
        if pending and m.role != "tool":
            out.append({"role": "user", "content": pending})
            pending = []
        if not m.parts:
            out.append(message_json(m))
        elif m.role == "tool":
            out.append(message_json(m))
            pending.append({"type": "text", "text": f"The {m.name or 'tool'} tool returned:"})
            pending.extend(part_json(p, provider) for p in m.parts)
        else:
            content: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            content.extend(part_json(p, provider) for p in m.parts)
            out.append({"role": m.role, "content": content})
    if pending:
        out.append({"role": "user", "content": pending})
    return out


def message_json(m: Message) -> dict[str, Any]:
    """One text message in OpenAI's shape (tool calls on assistant messages, `tool_call_id` on tool results)."""
    role = m.role
    if role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.content or ""}
    if m.tool_calls:
        return {
            "role": role,
            "content": m.content,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ],
        }
    return {"role": role, "content": m.content or ""}


def tools_json(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    """Tool definitions as OpenAI function tools."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


def tool_choice_json(choice: str) -> Any:
    """`auto`/`none`/`required` as they are; a tool's name as a forced function choice."""
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


def request_fields(
    model: str,
    messages: Sequence[Message],
    tools: Any,
    settings: ModelSettings,
    *,
    temperature: float | None,
    max_tokens: int | None,
    stream: bool,
    stream_usage: bool,
    max_tokens_field: str = "max_tokens",
) -> dict[str, Any]:
    """The request body's fields. `tools` is already converted (a list, or a preencoded fragment), or empty.

    Unset values are left out; `temperature=0.0` is a value and is sent. `max_tokens_field` is
    `max_completion_tokens` for OpenAI's reasoning models, which reject `max_tokens`.
    """
    body: dict[str, Any] = {"model": model, "messages": messages_json(messages)}
    if tools:
        body["tools"] = tools
        if settings.tool_choice is not None:
            body["tool_choice"] = tool_choice_json(settings.tool_choice)
    value = settings.temperature if settings.temperature is not None else temperature
    if value is not None:
        body["temperature"] = value
    limit = settings.max_tokens if settings.max_tokens is not None else max_tokens
    if limit is not None:
        body[max_tokens_field] = limit
    if settings.top_p is not None:
        body["top_p"] = settings.top_p
    if settings.stop:
        body["stop"] = list(settings.stop)
    if settings.response_format is not None:
        body["response_format"] = settings.response_format
    if stream:
        body["stream"] = True
        if stream_usage:
            body["stream_options"] = _INCLUDE_USAGE
    return body


def bad_response(provider: str, model: str, why: str, raw: bytes | str = b"") -> BadResponseError:
    """The error for a reply that is not a valid chat completion."""
    snippet = raw if isinstance(raw, str) else raw[:200].decode("utf-8", "replace")
    shown = f": {snippet[:200]!r}" if snippet else ""
    return BadResponseError(
        f"{provider} model {model!r} sent a reply that is not a valid chat completion ({why}){shown}; "
        "check that base_url points at an OpenAI-compatible endpoint (usually ending in /v1)",
        provider=provider,
        model=model,
    )


def truncated(provider: str, model: str) -> TruncatedResponseError:
    """The error for a stream that closed before its `finish_reason` (and `[DONE]`)."""
    return TruncatedResponseError(
        f"{provider} model {model!r} closed the stream before the answer was complete (no finish_reason, "
        "no [DONE]): the response was truncated; it is retried when nothing reached the caller yet",
        provider=provider,
        model=model,
    )


def checked_str(value: Any, field: str) -> str:
    """`value` if it is a string; else a `TypeError` naming the field (turned into a `BadResponseError`)."""
    if type(value) is not str:
        raise TypeError(f"{field} is {type(value).__name__} {str(value)[:40]!r}, not a string")
    return value


def _optional_str(value: Any, field: str) -> str | None:
    return None if value is None else checked_str(value, field)


def call_delta(c: Any) -> ToolCallDelta:
    """One streamed `tool_calls[i]` entry, its fields type-checked (`arguments` must be a JSON string)."""
    fn: Any = c.get("function") or {}
    index = c.get("index") or 0
    if type(index) is not int:
        raise TypeError(f"choices[0].delta.tool_calls[].index is {type(index).__name__}, not an integer")
    return ToolCallDelta(
        index,
        _optional_str(c.get("id"), "choices[0].delta.tool_calls[].id"),
        _optional_str(fn.get("name"), "choices[0].delta.tool_calls[].function.name"),
        _optional_str(fn.get("arguments"), "choices[0].delta.tool_calls[].function.arguments") or "",
    )


def usage_of(raw: Mapping[str, Any] | None) -> Usage:
    """`Usage` from OpenAI's `usage` object."""
    if not raw:
        return Usage(requests=1)
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0), 1)


def parse_completion(raw: bytes, provider: str, model: str) -> ModelResponse:
    """A whole `chat.completion` body as a `ModelResponse`.

    Raises:
        BadResponseError: the body is not valid JSON or lacks `choices[0].message`.

    """
    try:
        # orjson's parse of a body holds ~12x its size at its peak (a 1 MB answer: 12 MiB), the
        # stdlib's ~2x for ~0.4 ms more per MB; past _BIG_BODY the memory matters more.
        data: Any = orjson.loads(raw) if len(raw) < _BIG_BODY else json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):  # orjson's error is a JSONDecodeError
        raise bad_response(provider, model, "not valid JSON", raw) from None
    try:
        body = cast(dict[str, Any], data)
        choice = body["choices"][0]
        message = choice["message"]
        calls = tuple(
            ToolCall(
                checked_str(c["id"], "choices[0].message.tool_calls[].id"),
                checked_str(c["function"]["name"], "choices[0].message.tool_calls[].function.name"),
                _optional_str(c["function"].get("arguments"), "choices[0].message.tool_calls[].function.arguments")
                or "{}",
            )
            for c in message.get("tool_calls") or ()
        )
        name = body.get("model")
        return ModelResponse(
            content=_optional_str(message.get("content"), "choices[0].message.content") or "",
            tool_calls=calls,
            usage=usage_of(body.get("usage")),
            finish_reason=_optional_str(choice.get("finish_reason"), "choices[0].finish_reason")
            or ("tool_calls" if calls else "stop"),
            thoughts=_optional_str(
                message.get("reasoning_content") or message.get("reasoning"), "choices[0].message.reasoning_content"
            )
            or "",
            model=name if type(name) is str and name else model,
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        if isinstance(data, dict) and "error" in data:
            raise bad_response(provider, model, f"an error in a 200 reply: {server_message(data)}") from exc
        why = str(exc) if isinstance(exc, TypeError | ValueError) else f"missing field {exc!r}"
        raise bad_response(provider, model, f"missing or wrong field: {why}", raw) from exc
