"""The OpenAI chat-completions wire format, as the simulator reads requests and writes replies.

Streamed chunks are assembled from preencoded byte constants around `orjson.dumps(token)`, so a
token costs one small bytes concatenation and no dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import orjson

from ..content import BinaryContent, ContentPart, ImageUrl
from ..messages import Message, ToolCall, ToolDefinition
from ..options import ModelSettings
from ..providers.simulated import PART_TOKENS, SimRequest, SimTurn

__all__ = ("WireError", "completion_body", "parse_request", "prompt_tokens", "stream_chunks")


class WireError(ValueError):
    """The request body is not a valid chat-completions request; the message says why."""


_ROLES = frozenset(("system", "user", "assistant", "tool"))


def _content(content: Any) -> tuple[str | None, tuple[ContentPart, ...]]:
    """A message's text and its non-text parts (images, audio, files), which the simulator counts."""
    if content is None or isinstance(content, str):
        return content, ()
    if isinstance(content, list):
        texts: list[str] = []
        parts: list[ContentPart] = []
        for raw in cast(list[Any], content):
            if not isinstance(raw, dict):
                raise WireError("each content part must be an object with a 'type'")
            part = cast(dict[str, Any], raw)
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "image_url" and isinstance(part.get("image_url"), dict):
                parts.append(ImageUrl(str(part["image_url"].get("url", ""))))
            elif kind == "input_audio" and isinstance(part.get("input_audio"), dict):
                parts.append(BinaryContent(b"", f"audio/{part['input_audio'].get('format', 'wav')}"))
            elif kind == "file":
                parts.append(BinaryContent(b"", "application/pdf"))
            else:
                raise WireError(f"unknown content part type {kind!r}; use text, image_url, input_audio or file")
        return "".join(texts), tuple(parts)
    raise WireError(f"message content must be a string or a list of parts, got {type(content).__name__}")


def _messages(raw: Any) -> list[Message]:
    if not isinstance(raw, list) or not raw:
        raise WireError("'messages' must be a non-empty list")
    out: list[Message] = []
    names: dict[str, str] = {}
    for item in raw:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(item, dict):
            raise WireError("each message must be an object with a 'role'")
        m: dict[str, Any] = item  # pyright: ignore[reportUnknownVariableType]
        role = m.get("role")
        if role == "developer":
            role = "system"
        if role not in _ROLES:
            raise WireError(f"unknown message role {role!r}; use system, user, assistant or tool")
        calls: tuple[ToolCall, ...] = ()
        raw_calls = m.get("tool_calls")
        if raw_calls:
            try:
                calls = tuple(
                    ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "") for c in raw_calls
                )
            except (KeyError, TypeError) as exc:
                raise WireError("each tool call needs 'id' and 'function': {'name', 'arguments'}") from exc
            for c in calls:
                names[c.id] = c.name
        call_id = m.get("tool_call_id")
        # OpenAI's tool messages carry no name; recover it from the call they answer.
        name = m.get("name") or (names.get(call_id) if call_id else None)
        text, parts = _content(m.get("content"))
        if role == "user" and parts and out and out[-1].role == "tool":
            # The user message agentickit sends after a turn's tool messages to carry the images its
            # tools returned (tool messages hold text only): the simulator sees them as tool results.
            last = out[-1]
            out[-1] = Message("tool", last.content, (), last.tool_call_id, last.name, (*last.parts, *parts))
            continue
        out.append(Message(role, text, calls, call_id, name, parts))
    return out


def _tools(raw: Any) -> list[ToolDefinition]:
    if not raw:
        return []
    try:
        return [
            ToolDefinition(
                t["function"]["name"], t["function"].get("description", ""), t["function"].get("parameters") or {}
            )
            for t in raw
        ]
    except (KeyError, TypeError) as exc:
        raise WireError("each tool must be {'type': 'function', 'function': {'name', 'parameters'}}") from exc


def _tool_choice(raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    try:
        return raw["function"]["name"]
    except (KeyError, TypeError) as exc:
        raise WireError("tool_choice must be a string or {'type': 'function', 'function': {'name': ...}}") from exc


def _response_format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or cast(dict[str, Any], raw).get("type") not in ("text", "json_object", "json_schema"):
        raise WireError("response_format must be {'type': 'text' | 'json_object' | 'json_schema', ...}")
    fmt = cast(dict[str, Any], raw)
    if fmt["type"] == "json_schema" and not isinstance(fmt.get("json_schema", {}).get("schema"), dict):
        raise WireError("response_format json_schema needs {'json_schema': {'name': ..., 'schema': {...}}}")
    return fmt


def parse_request(data: Any) -> SimRequest:
    """Turn a decoded request body into what the simulated model plans from.

    Raises:
        WireError: the body is not a valid chat-completions request.

    """
    if not isinstance(data, dict):
        raise WireError("the request body must be a JSON object")
    body: dict[str, Any] = data  # pyright: ignore[reportUnknownVariableType]
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_completion_tokens")
    stop = body.get("stop")
    settings = ModelSettings(
        max_tokens=max_tokens,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        stop=[stop] if isinstance(stop, str) else stop,
        tool_choice=_tool_choice(body.get("tool_choice")),
        response_format=_response_format(body.get("response_format")),
    )
    return SimRequest(_messages(body.get("messages")), _tools(body.get("tools")), settings)


def prompt_tokens(messages: Sequence[Message]) -> int:
    """Input tokens, estimated like the in-process simulated model does (~4 characters a token)."""
    return sum(len(m.content or "") // 4 + 4 + PART_TOKENS * len(m.parts) for m in messages)


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _calls_json(calls: Sequence[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def completion_body(
    cid: str, created: int, model: str, turn: SimTurn, text: str, finish: str, prompt: int, completion: int
) -> bytes:
    """A whole `chat.completion` object."""
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not turn.tool_calls else None}
    if turn.tool_calls:
        message["tool_calls"] = _calls_json(turn.tool_calls)
    if turn.thoughts:
        message["reasoning_content"] = turn.thoughts
    return orjson.dumps(
        {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(prompt, completion),
        }
    )


_DELTA_END = b'},"finish_reason":null}]}\n\n'
_CONTENT = b'{"content":'
_REASONING = b'{"reasoning_content":'
_ROLE = b'{"role":"assistant","content":""' + _DELTA_END
DONE = b"data: [DONE]\n\n"


class ChunkWriter:
    """Encodes the chunks of one streamed reply; `head` is the per-reply constant prefix."""

    __slots__ = ("head", "usage_head")

    def __init__(self, cid: str, created: int, model: str) -> None:
        common = b'data: {"id":"' + cid.encode() + b'","object":"chat.completion.chunk","created":'
        common += str(created).encode() + b',"model":' + orjson.dumps(model)
        self.head = common + b',"choices":[{"index":0,"delta":'
        self.usage_head = common + b',"choices":[],"usage":'

    def role(self) -> bytes:
        """The first chunk: the assistant role with empty content, as OpenAI sends it."""
        return self.head + _ROLE

    def content(self, token: str) -> bytes:
        """A `delta.content` chunk."""
        return self.head + _CONTENT + orjson.dumps(token) + _DELTA_END

    def reasoning(self, token: str) -> bytes:
        """A `delta.reasoning_content` chunk."""
        return self.head + _REASONING + orjson.dumps(token) + _DELTA_END

    def tool_call(self, index: int, call: ToolCall, pieces: int = 2) -> list[bytes]:
        """A tool call as OpenAI streams it: id, type and name first, then the arguments in pieces."""
        start = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        out = [self.head + b'{"tool_calls":[' + orjson.dumps(start) + b"]" + _DELTA_END]
        args = call.arguments
        step = max(1, -(-len(args) // pieces))
        prefix = b'{"tool_calls":[{"index":' + str(index).encode() + b',"function":{"arguments":'
        for i in range(0, len(args), step):
            out.append(self.head + prefix + orjson.dumps(args[i : i + step]) + b"}}]" + _DELTA_END)
        return out

    def finish(self, reason: str) -> bytes:
        """The last choice chunk: an empty delta and the finish reason."""
        return self.head + b'{},"finish_reason":"' + reason.encode() + b'"}]}\n\n'

    def usage(self, prompt: int, completion: int) -> bytes:
        """The `stream_options.include_usage` chunk: no choices, only usage."""
        return self.usage_head + orjson.dumps(_usage(prompt, completion)) + b"}\n\n"


def stream_chunks(writer: ChunkWriter, turn: SimTurn) -> list[bytes]:
    """The tool-call chunks of a turn (text is streamed token by token by the server)."""
    out: list[bytes] = []
    for index, call in enumerate(turn.tool_calls):
        out.extend(writer.tool_call(index, call))
    return out
