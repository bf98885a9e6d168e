"""OpenAI-compatible surface: `/v1/chat/completions` (streaming and not) and `/v1/models`.

The model name is an agent's or workflow's name. The agent's own tools run on the server; the client
sees their effect in the answer, not as `tool_calls` to execute (a client sending its own `tools` is
told so). A stream sends one chunk per delta, a last chunk with `usage` (and no choices), then
`data: [DONE]`; a failure mid-stream is a `data: {"error": ...}` event before `[DONE]`, which the
official SDK raises as an `APIError`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AgentickitError, UserError
from ..messages import Message
from ..options import RunOptions
from ..streaming import ChunkType
from ._http import HTTPError, flag, integral, json_response, read_json, require_scope
from ._native import status_for
from ._sse import Final, SSEResponse
from ._state import ServerState
from ._wire import error_body, error_type, public_message, timeout_error

__all__ = ("routes",)

_dumps = orjson.dumps
_ERROR = ChunkType.ERROR
PAUSED_FINISH = "requires_action"
"""The `finish_reason` of a run that paused for a person (the Assistants API's run status for the same)."""
_ROLES = frozenset({"system", "developer", "user", "assistant"})
# Accepted and without effect on an agent (they describe the client, or ask for the default).
_HARMLESS = frozenset({"model", "messages", "stream", "stream_options", "user", "n", "store", "metadata"})
_OPTIONS = {
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "temperature": "temperature",
    "top_p": "top_p",
    "stop": "stop",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:  # pyright: ignore[reportUnknownVariableType]
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):  # pyright: ignore[reportUnknownMemberType]
                parts.append(part["text"])  # pyright: ignore[reportUnknownArgumentType]
            else:
                raise HTTPError(400, "invalid_request", "only text content parts are supported")
        return "".join(parts)
    raise HTTPError(400, "invalid_request", "message content must be a string or a list of text parts")


def _parse(body: dict[str, Any], state: ServerState) -> tuple[str, Any, list[Message], str, RunOptions | None]:
    unsupported = sorted(k for k in body if k not in _HARMLESS and k not in _OPTIONS)
    if unsupported:
        raise HTTPError(
            400,
            "invalid_request",
            f"unsupported parameters {unsupported}: the agent's own tools and settings apply "
            f"(supported: {sorted(_HARMLESS | set(_OPTIONS))})",
        )
    flag(body, "stream")
    if body.get("n", 1) not in (1, None):
        raise HTTPError(400, "invalid_request", "n must be 1: an agent gives one answer per request")
    name = body.get("model")
    if not isinstance(name, str):
        raise HTTPError(400, "invalid_request", '"model" must be the name of an agent or workflow (see /v1/models)')
    found = state.target(name)
    if found is None:
        raise HTTPError(404, "model_not_found", f"no agent or workflow named {name!r}; GET /v1/models lists them")
    kind, target = found
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise HTTPError(400, "invalid_request", '"messages" must be a non-empty list')
    limit = state.settings.max_messages
    if len(messages) > limit:  # pyright: ignore[reportUnknownArgumentType]
        raise HTTPError(400, "invalid_request", f"{len(messages)} messages is over the server's limit of {limit}")  # pyright: ignore[reportUnknownArgumentType]
    history: list[Message] = []
    for item in cast(list[Any], messages):
        m = cast(dict[str, Any], item) if isinstance(item, dict) else {}
        if not isinstance(m.get("role"), str) or m["role"] not in _ROLES:
            raise HTTPError(400, "invalid_request", f"each message needs a role in {sorted(_ROLES)} and text content")
        role: str = "system" if m["role"] == "developer" else m["role"]
        text = _text(m.get("content"))
        if not text:
            raise HTTPError(400, "invalid_request", "every message needs non-empty text content")
        history.append(Message(role=role, content=text))  # pyright: ignore[reportArgumentType]
    last = history.pop()
    if last.role != "user" or not last.content:
        raise HTTPError(400, "invalid_request", "the last message must be a non-empty user message")
    opts: dict[str, Any] = {}
    for key, field in _OPTIONS.items():
        if body.get(key) is not None:
            opts[field] = body[key]
    integral(opts)
    if isinstance(opts.get("stop"), str):
        opts["stop"] = [opts["stop"]]
    try:
        options = RunOptions(**opts) if opts else None
    except (UserError, TypeError, ValueError) as exc:
        raise HTTPError(400, "invalid_request", f"invalid parameters: {exc}") from exc
    if history and (kind != "agent" or getattr(target, "memory", None) is None):
        raise HTTPError(
            400,
            "invalid_request",
            f"{name!r} keeps no conversation history, so it takes a single user message; "
            "send only the last one, or give the agent memory (ak.Memory())",
        )
    return kind, target, history, last.content or "", options


async def _seed(target: Any, history: list[Message]) -> str | None:
    # Earlier turns go into a session of the agent's own memory for this one request.
    if not history:
        return None
    sid = f"chatcmpl-session-{os.urandom(8).hex()}"
    await target.memory.store.append(sid, history)
    return sid


def _usage(result: Any) -> dict[str, int]:
    u = result.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    }


async def chat_completions(request: Request) -> Response | SSEResponse:
    """POST /v1/chat/completions."""
    state: ServerState = request.app.state.agentickit
    body = await read_json(request, state.settings.max_body_bytes)
    kind, target, history, query, options = _parse(body, state)
    require_scope(request, target.name)
    if state.closing:
        raise HTTPError(503, "unavailable", "the server is shutting down; retry on another instance")
    sid = await _seed(target, history)
    if sid is not None:
        options = dataclasses.replace(options or RunOptions(), session_id=sid)
    cid = f"chatcmpl-{os.urandom(12).hex()}"
    created = int(time.time())
    if body.get("stream"):
        return SSEResponse(_stream(state, kind, target, query, options, cid, created, sid))
    try:
        try:
            async with asyncio.timeout(state.settings.request_timeout):
                result = await target.run(query, options=options)
        except TimeoutError as exc:
            if isinstance(exc, AgentickitError):
                raise
            raise timeout_error(state.settings.request_timeout) from exc
        if kind == "workflow":
            result.raise_for_error()
    except Exception as exc:  # the API boundary: a typed error body, never a trace
        k = error_type(exc)
        return json_response(error_body(k, public_message(exc)), status_for(k))
    finally:
        if sid is not None:
            await target.memory.store.clear(sid)
    content = result.content
    finish = "length" if result.metadata.get("finish_reason") == "length" else "stop"
    out: dict[str, Any] = {"id": cid, "object": "chat.completion", "created": created, "model": target.name}
    headers = None
    if getattr(result, "status", None) == "paused":
        # A durable run waiting for a person: kept as a run record, and said so in every field a client reads.
        record = await state.registry.record_paused(target, kind, result)
        content, finish = record.paused_text(), PAUSED_FINISH
        out["agentickit_run"] = record.paused_info()
        headers = {"x-run-id": record.id, "x-run-status": "paused"}
    message = {"role": "assistant", "content": content}
    out["choices"] = [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
    out["usage"] = _usage(result)
    return json_response(out, headers=headers)


async def _stream(
    state: ServerState,
    kind: str,
    target: Any,
    query: str,
    options: RunOptions | None,
    cid: str,
    created: int,
    sid: str | None,
) -> AsyncIterator[bytes | Final]:
    head = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": target.name}
    # One template per stream, split around the delta text: a token costs one string encode and a join.
    template = _dumps({**head, "choices": [{"index": 0, "delta": {"content": "\x00"}, "finish_reason": None}]})
    prefix, suffix = template.split(b'"\\u0000"')
    prefix = b"data: " + prefix
    suffix += b"\n\n"
    # The role chunk goes out with the first delta (one write), so nothing is sent before the run has started.
    role = {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    frames: list[bytes] = [b"data: " + _dumps(role) + b"\n\n"]
    stream = target.run_stream(query, options=options, timeout=state.settings.request_timeout)
    state.streams.add(stream)
    error: BaseException | None = None
    result: Any = None
    agent = kind == "agent"
    try:
        # A batch is what the stream has buffered (top-level deltas as their text): one send for all of it.
        async for batch in stream.batches():
            for item in batch:
                if type(item) is str:
                    if agent:
                        frames.append(prefix + _dumps(item) + suffix)
                elif item.type is _ERROR and item.step_name is None:
                    error = item.error
            if frames:
                yield frames[0] if len(frames) == 1 else b"".join(frames)
                frames = []
        try:
            result = await stream.wait()
        except Exception as exc:  # reported to the client as an error event
            error = error or exc
    finally:
        # The client left (or the server is closing): the run must not outlive its reader.
        stream.cancel("the client disconnected")
        state.stream_ended(stream)
        if sid is not None:
            await target.memory.store.clear(sid)
    if error is not None:
        frames.append(b"data: " + _dumps(error_body(error_type(error), public_message(error))) + b"\n\n")
    else:
        finish = "length" if result.metadata.get("finish_reason") == "length" else "stop"
        stop: dict[str, Any] = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
        if getattr(result, "status", None) == "paused":
            record = await state.registry.record_paused(target, kind, result)
            frames.append(prefix + _dumps(record.paused_text()) + suffix)
            stop["choices"][0]["finish_reason"] = PAUSED_FINISH
            stop["agentickit_run"] = record.paused_info()
        elif kind == "workflow":
            frames.append(prefix + _dumps(result.content) + suffix)
        frames.append(b"data: " + _dumps(stop) + b"\n\n")
        frames.append(b"data: " + _dumps({**head, "choices": [], "usage": _usage(result)}) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    yield Final(b"".join(frames))


async def models(request: Request) -> Response:
    """GET /v1/models: every agent and workflow this key may use."""
    state: ServerState = request.app.state.agentickit
    key = request.scope.get("agentickit.key")
    kinds = [*(("agent", n) for n in state.agents), *(("workflow", n) for n in state.workflows)]
    data = [
        {"id": n, "object": "model", "created": 0, "owned_by": "agentickit", "agentickit_kind": kind}
        for kind, n in kinds
        if key is None or key.allows(n)
    ]
    return json_response({"object": "list", "data": data})


def routes() -> list[Route]:
    """The OpenAI-compatible routes."""
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]
