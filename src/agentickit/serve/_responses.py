"""`/v1/responses` in the Open Responses shape: a response object, or semantic SSE events with `sequence_number`.

The model name is an agent's or workflow's name. Every response is kept as a session of the
server's `ak.stores` store (`app(sessions=...)`, in-process by default): its id is the session id,
its records the conversation so far (earlier turns, this input, the agent's tool rounds and
answer), its meta the response object (`GET /v1/responses/{id}`). `previous_response_id` reads that
session back as the next run's `message_history`, so a conversation branches from any earlier
response and survives a restart when the store does.

A stream is `response.created`, `response.in_progress`, then its output items as they happen, then
`response.completed` (or `response.failed` with the typed error); no `[DONE]`. The agent's tools run
on the server; each call is a `function_call` item (`response.output_item.added`,
`response.function_call_arguments.delta` and `.done`, `response.output_item.done`) and its result a
`function_call_output` item (added, done), so a client sees what the agent did, in order. Text is a
`message` item (`output_item.added`, `content_part.added`, one `response.output_text.delta` per
delta, the matching `.done` events), opened at its first delta and closed before a tool call; the
response's `output` lists the same items in the same order. Without a stream, `output` is each tool
call and its output, then the answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AgentickitError
from ..memory._sessions import SESSION_NS, SessionStore
from ..messages import Message
from ..options import RunOptions
from ..streaming import ChunkType
from ._http import SSE_EVENT_SCHEMA, HTTPError, by_method, flag, integral, json_response, read_json, require_scope
from ._native import status_for
from ._sse import Final, SSEResponse
from ._state import ServerState
from ._wire import error_body, error_type, public_message, timeout_error

__all__ = ("openapi_paths", "routes")

_dumps = orjson.dumps
_ERROR = ChunkType.ERROR
PAUSED_REASON = "requires_action"
"""`incomplete_details.reason` of a durable run that paused for a person (its run id is in `agentickit_run`)."""
_TOOL_CALL = ChunkType.TOOL_CALL
_TOOL_RESULT = ChunkType.TOOL_RESULT
_ROLES = frozenset({"system", "developer", "user", "assistant"})
# Accepted without effect: they describe the client, or ask for what an agent does anyway.
_HARMLESS = frozenset({"model", "input", "stream", "store", "metadata", "user", "previous_response_id"})
_OPTIONS = {"max_output_tokens": "max_tokens", "temperature": "temperature", "top_p": "top_p"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in cast(list[Any], content):
            p = cast(dict[str, Any], part) if isinstance(part, dict) else {}
            if p.get("type") in ("input_text", "output_text", "text") and isinstance(p.get("text"), str):
                parts.append(p["text"])
            else:
                raise HTTPError(400, "invalid_request", "only input_text / output_text content parts are supported")
        return "".join(parts)
    raise HTTPError(400, "invalid_request", "message content must be a string or a list of input_text parts")


def _input(raw: Any, limit: int) -> list[Message]:
    if isinstance(raw, str):
        if not raw:
            raise HTTPError(400, "invalid_request", '"input" must not be empty')
        return [Message.user(raw)]
    if not isinstance(raw, list) or not raw:
        raise HTTPError(400, "invalid_request", '"input" must be a string or a non-empty list of messages')
    items = cast(list[Any], raw)
    if len(items) > limit:
        raise HTTPError(400, "invalid_request", f"{len(items)} input items is over the server's limit of {limit}")
    out: list[Message] = []
    for item in items:
        m = cast(dict[str, Any], item) if isinstance(item, dict) else {}
        if m.get("type", "message") != "message" or not isinstance(m.get("role"), str) or m["role"] not in _ROLES:
            raise HTTPError(
                400, "invalid_request", f"each input item must be a message with a role in {sorted(_ROLES)}"
            )
        role: str = "system" if m["role"] == "developer" else m["role"]
        text = _text(m.get("content"))
        if not text:
            raise HTTPError(400, "invalid_request", "every input message needs non-empty text content")
        out.append(Message(role=role, content=text))  # pyright: ignore[reportArgumentType]
    return out


class _Request:
    __slots__ = ("body", "history", "kind", "options", "previous", "query", "store", "target")

    def __init__(self, body: dict[str, Any], state: ServerState) -> None:
        unsupported = sorted(k for k in body if k not in _HARMLESS and k not in _OPTIONS)
        if unsupported:
            raise HTTPError(
                400,
                "invalid_request",
                f"unsupported parameters {unsupported}: the agent's own instructions, tools and settings apply "
                f"(supported: {sorted(_HARMLESS | set(_OPTIONS))})",
            )
        name = body.get("model")
        if not isinstance(name, str):
            raise HTTPError(400, "invalid_request", '"model" must be the name of an agent or workflow (see /v1/models)')
        found = state.target(name)
        if found is None:
            raise HTTPError(404, "model_not_found", f"no agent or workflow named {name!r}; GET /v1/models lists them")
        self.kind, self.target = found
        self.body = body
        messages = _input(body.get("input"), state.settings.max_messages)
        last = messages.pop()
        if last.role != "user" or not last.content:
            raise HTTPError(400, "invalid_request", "the last input item must be a non-empty user message")
        self.query: str = last.content
        self.history = messages
        previous = body.get("previous_response_id")  # null means none, as the OpenAI API takes it
        if previous is not None and (not isinstance(previous, str) or not previous):
            raise HTTPError(400, "invalid_request", "previous_response_id must be a response id string")
        self.previous: str | None = previous
        if (previous is not None or messages) and self.kind != "agent":
            raise HTTPError(
                400,
                "invalid_request",
                f"{name!r} is a workflow: it takes one user message and no previous_response_id",
            )
        flag(body, "stream")
        self.store = body.get("store") is None or flag(body, "store")
        opts: dict[str, Any] = {}
        for key, field in _OPTIONS.items():
            if body.get(key) is not None:
                opts[field] = body[key]
        self.options = integral(opts)

    async def run_options(self, sessions: SessionStore, limit: int) -> RunOptions | None:
        history = list(self.history)
        if self.previous is not None:
            info = await sessions.backend.info(SESSION_NS, self.previous)
            if info is None or info.meta.get("kind") != "response":
                raise HTTPError(404, "not_found", f"no response {self.previous!r} to continue (or it has expired)")
            if info.meta.get("model") != self.target.name:
                raise HTTPError(
                    400,
                    "invalid_request",
                    f"response {self.previous!r} was made by {info.meta.get('model')!r}, not {self.target.name!r}",
                )
            history = [*await sessions.get(self.previous), *history]
        if len(history) + 1 > limit:
            raise HTTPError(400, "invalid_request", f"the conversation is over the server's limit of {limit} messages")
        opts = dict(self.options)
        if history:
            opts["message_history"] = history
        try:
            return RunOptions(**opts) if opts else None
        except (AgentickitError, TypeError, ValueError) as exc:
            raise HTTPError(400, "invalid_request", f"invalid parameters: {exc}") from exc


def _usage(result: Any) -> dict[str, Any]:
    u = result.usage
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(item_id: str, text: str, status: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [_part(text)] if status != "added" else []
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "in_progress" if status == "added" else status,
        "content": content,
    }


def _response(req: _Request, rid: str, created: int, status: str) -> dict[str, Any]:
    body = req.body
    metadata: Any = body.get("metadata")
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "model": req.target.name,
        "output": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "parallel_tool_calls": True,
        "previous_response_id": req.previous,
        "store": req.store,
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "max_output_tokens": body.get("max_output_tokens"),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "truncation": "disabled",
        "usage": None,
    }


def _tool_output(value: Any, error: str | None) -> str:
    if error is not None:
        return f"error: {error}"
    value = getattr(value, "text", value)
    return value if isinstance(value, str) else _dumps(value, default=str).decode()


def _call_item(item_id: str, call_id: str, name: str, args: Any, status: str) -> dict[str, Any]:
    arguments = _dumps(args, default=str).decode() if status == "completed" else ""
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def _output_item(item_id: str, call_id: str, output: str, status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "function_call_output", "call_id": call_id, "output": output, "status": status}


def _new_id(prefix: str) -> str:
    return f"{prefix}_{os.urandom(12).hex()}"


def _finish(resp: dict[str, Any], result: Any, item_id: str, items: list[dict[str, Any]] | None = None) -> None:
    """Complete `resp` from `result`; `items` are a stream's output items (else made from the result)."""
    length = result.metadata.get("finish_reason") == "length"
    resp["status"] = "incomplete" if length else "completed"
    if length:
        resp["incomplete_details"] = {"reason": "max_output_tokens"}
    if items is None:
        items = []
        for c in getattr(result, "tool_calls", ()) if getattr(result, "steps", None) is None else ():
            items.append(_call_item(_new_id("fc"), c.id, c.name, c.args, "completed"))
            items.append(_output_item(_new_id("fco"), c.id, _tool_output(c.result, c.error), "completed"))
        items.append(_message(item_id, result.content, "incomplete" if length else "completed"))
    resp["output"] = items
    resp["usage"] = _usage(result)
    resp["completed_at"] = int(time.time())


def _approval_items(record: Any) -> list[dict[str, Any]]:
    # The Responses API's own shape for a tool call waiting for a person (`mcp_approval_request`).
    return [
        {
            "id": str(p["id"]),
            "type": "mcp_approval_request",
            "server_label": "agentickit",
            "name": str(p.get("tool") or p.get("kind") or ""),
            "arguments": _dumps(p.get("args") or {}).decode(),
        }
        for p in record.pending or ()
    ]


def _paused(resp: dict[str, Any], result: Any, record: Any, items: list[dict[str, Any]] | None) -> dict[str, Any]:
    """`resp` for a durable run that paused: `incomplete`, why, what it waits for, and its run id."""
    if items is None:
        items = []
        for c in result.tool_calls if getattr(result, "steps", None) is None else ():
            items.append(_call_item(_new_id("fc"), c.id, c.name, c.args, "completed"))
            items.append(_output_item(_new_id("fco"), c.id, _tool_output(c.result, c.error), "completed"))
        items.extend(_approval_items(record))
    resp["status"] = "incomplete"
    resp["incomplete_details"] = {"reason": PAUSED_REASON}
    resp["output"] = items
    resp["usage"] = _usage(result)
    resp["agentickit_run"] = record.paused_info()
    return resp


async def _keep(sessions: SessionStore, req: _Request, resp: dict[str, Any], result: Any) -> None:
    # The conversation so far (no system prompt: the agent adds its own on every run) and the response.
    if not req.store:
        return
    if req.kind == "agent":
        turn = [m for m in result.messages if m.role != "system"]
    else:
        turn = [Message.user(req.query), Message.assistant(result.content)]
    await sessions.append(resp["id"], turn)
    await sessions.backend.put_meta(
        SESSION_NS, resp["id"], {"kind": "response", "model": req.target.name, "response": resp}
    )


def _failed(resp: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    kind = error_type(exc)
    code = {"timeout": "server_error", "usage_limit_exceeded_error": "rate_limit_exceeded"}.get(kind, "server_error")
    resp["status"] = "failed"
    resp["error"] = {"code": code, "message": public_message(exc), "type": kind}
    return resp


async def create_response(request: Request) -> Response | SSEResponse:
    """POST /v1/responses."""
    state: ServerState = request.app.state.agentickit
    body = await read_json(request, state.settings.max_body_bytes)
    req = _Request(body, state)
    require_scope(request, req.target.name)
    if state.closing:
        raise HTTPError(503, "unavailable", "the server is shutting down; retry on another instance")
    sessions: SessionStore = state.sessions
    options = await req.run_options(sessions, state.settings.max_messages)
    rid = f"resp_{os.urandom(12).hex()}"
    item_id = f"msg_{os.urandom(12).hex()}"
    created = int(time.time())
    resp = _response(req, rid, created, "in_progress")
    if body.get("stream"):
        return SSEResponse(_stream(state, req, options, resp))
    timeout = state.settings.request_timeout
    try:
        try:
            async with asyncio.timeout(timeout):
                result = await req.target.run(req.query, options=options)
        except TimeoutError as exc:
            if isinstance(exc, AgentickitError):
                raise
            raise timeout_error(timeout) from exc
        if req.kind == "workflow":
            result.raise_for_error()
    except Exception as exc:  # the API boundary: a typed error body, never a trace
        k = error_type(exc)
        return json_response(error_body(k, public_message(exc)), status_for(k))
    if getattr(result, "status", None) == "paused":
        record = await state.registry.record_paused(req.target, req.kind, result)
        return json_response(_paused(resp, result, record, None), headers={"x-run-id": record.id})
    _finish(resp, result, item_id)
    await _keep(sessions, req, resp, result)
    return json_response(resp)


def _event(kind: str, seq: int, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + _dumps({"type": kind, "sequence_number": seq, **data}) + b"\n\n"


class _Items:
    """The output items of one streamed response and the events that open and close them, numbered."""

    __slots__ = ("head", "items", "message", "middle", "parts", "seq", "tail", "where")

    def __init__(self) -> None:
        self.seq = -1
        self.items: list[dict[str, Any]] = []
        self.message: str | None = None
        """The id of the message item being streamed, if one is open."""
        self.parts: list[str] = []
        self.where: dict[str, Any] = {}
        self.head = self.middle = self.tail = b""

    def event(self, kind: str, data: dict[str, Any]) -> bytes:
        self.seq += 1
        return _event(kind, self.seq, data)

    def open_message(self) -> bytes:
        item_id = self.message = _new_id("msg")
        index = len(self.items)
        self.parts = []
        where = self.where = {"item_id": item_id, "output_index": index, "content_index": 0}
        frames = self.event(
            "response.output_item.added", {"output_index": index, "item": _message(item_id, "", "added")}
        )
        frames += self.event("response.content_part.added", {**where, "part": _part("")})
        # One template per message split around the delta and the sequence number: a token costs two encodes.
        template = _event("response.output_text.delta", 0, {**where, "delta": "\x00", "logprobs": []})
        head, tail = template.split(b'"sequence_number":0', 1)
        self.middle, self.tail = tail.split(b'"\\u0000"', 1)
        self.head = head + b'"sequence_number":'
        return frames

    def delta(self, text: str) -> bytes:
        self.seq += 1
        self.parts.append(text)
        return self.head + str(self.seq).encode() + self.middle + _dumps(text) + self.tail

    def close_message(self, status: str = "completed") -> bytes:
        item_id = self.message
        assert item_id is not None
        self.message = None
        text = "".join(self.parts)
        where = self.where
        item = _message(item_id, text, status)
        frames = self.event("response.output_text.done", {**where, "text": text, "logprobs": []})
        frames += self.event("response.content_part.done", {**where, "part": _part(text)})
        frames += self.event("response.output_item.done", {"output_index": where["output_index"], "item": item})
        self.items.append(item)
        return frames

    def tool_call(self, call_id: str, name: str, args: Any) -> bytes:
        frames = self.close_message() if self.message is not None else b""
        item_id, index = _new_id("fc"), len(self.items)
        item = _call_item(item_id, call_id, name, args, "completed")
        where = {"item_id": item_id, "output_index": index}
        added = _call_item(item_id, call_id, name, args, "in_progress")
        frames += self.event("response.output_item.added", {"output_index": index, "item": added})
        frames += self.event("response.function_call_arguments.delta", {**where, "delta": item["arguments"]})
        frames += self.event("response.function_call_arguments.done", {**where, "arguments": item["arguments"]})
        frames += self.event("response.output_item.done", {"output_index": index, "item": item})
        self.items.append(item)
        return frames

    def tool_output(self, call_id: str, output: str) -> bytes:
        frames = self.close_message() if self.message is not None else b""
        item_id, index = _new_id("fco"), len(self.items)
        added = _output_item(item_id, call_id, output, "in_progress")
        item = _output_item(item_id, call_id, output, "completed")
        frames += self.event("response.output_item.added", {"output_index": index, "item": added})
        frames += self.event("response.output_item.done", {"output_index": index, "item": item})
        self.items.append(item)
        return frames


async def _stream(
    state: ServerState, req: _Request, options: RunOptions | None, resp: dict[str, Any]
) -> AsyncIterator[bytes | Final]:
    out = _Items()
    yield out.event("response.created", {"response": resp}) + out.event("response.in_progress", {"response": resp})
    stream = req.target.run_stream(req.query, options=options, timeout=state.settings.request_timeout)
    state.streams.add(stream)
    error: BaseException | None = None
    result: Any = None
    agent = req.kind == "agent"
    try:
        # A batch is what the stream has buffered (top-level deltas as their text): one send for all of it.
        async for batch in stream.batches():
            frames: list[bytes] = []
            add = frames.append
            for chunk in batch:
                if type(chunk) is str:
                    if agent:
                        if out.message is None:
                            add(out.open_message())
                        add(out.delta(chunk))
                    continue
                t = chunk.type
                if chunk.step_name is not None:
                    continue
                if t is _TOOL_CALL and agent:
                    add(out.tool_call(chunk.tool_call_id or "", chunk.tool_name or "", chunk.tool_args or {}))
                elif t is _TOOL_RESULT and agent:
                    meta: dict[str, Any] = chunk.metadata or {}
                    output = _tool_output(chunk.tool_result, meta.get("error"))
                    add(out.tool_output(chunk.tool_call_id or "", output))
                elif t is _ERROR:
                    error = chunk.error
            if frames:
                yield frames[0] if len(frames) == 1 else b"".join(frames)
        try:
            result = await stream.wait()
            if not agent:
                result.raise_for_error()
        except Exception as exc:  # reported to the client as response.failed
            error = error or exc
    finally:
        # The client left (or the server is closing): the run must not outlive its reader.
        stream.cancel("the client disconnected")
        state.stream_ended(stream)
    if error is not None:
        yield Final(out.event("response.failed", {"response": _failed(resp, error)}))
        return
    end: list[bytes] = []
    if getattr(result, "status", None) == "paused":
        if out.message is not None:
            end.append(out.close_message())
        record = await state.registry.record_paused(req.target, req.kind, result)
        for item in _approval_items(record):
            index = len(out.items)
            end.append(out.event("response.output_item.added", {"output_index": index, "item": item}))
            end.append(out.event("response.output_item.done", {"output_index": index, "item": item}))
            out.items.append(item)
        end.append(out.event("response.incomplete", {"response": _paused(resp, result, record, out.items)}))
        yield Final(b"".join(end))
        return
    if out.message is None:
        # A workflow's answer comes whole at the end (its steps stream on the native API); an agent's
        # last round may have sent no deltas. Either way the response ends with its answer.
        end.append(out.open_message())
        if result.content:
            end.append(out.delta(result.content))
    length = result.metadata.get("finish_reason") == "length"
    end.append(out.close_message("incomplete" if length else "completed"))
    _finish(resp, result, "", out.items)
    await _keep(state.sessions, req, resp, result)
    end.append(out.event(f"response.{resp['status']}", {"response": resp}))
    yield Final(b"".join(end))


async def get_response(request: Request) -> Response:
    """GET /v1/responses/{response_id}: a stored response."""
    state: ServerState = request.app.state.agentickit
    rid: str = request.path_params["response_id"]
    info = await state.sessions.backend.info(SESSION_NS, rid)
    if info is None or info.meta.get("kind") != "response":
        raise HTTPError(404, "not_found", f"no response {rid!r} (it was not stored, or it has expired)")
    require_scope(request, str(info.meta.get("model", "")))
    return json_response(info.meta["response"])


async def delete_response(request: Request) -> Response:
    """DELETE /v1/responses/{response_id}: forget a stored response (its conversation session too)."""
    state: ServerState = request.app.state.agentickit
    rid: str = request.path_params["response_id"]
    info = await state.sessions.backend.info(SESSION_NS, rid)
    if info is None or info.meta.get("kind") != "response":
        raise HTTPError(404, "not_found", f"no response {rid!r} (it was not stored, or it has expired)")
    require_scope(request, str(info.meta.get("model", "")))
    await state.sessions.clear(rid)
    return json_response({"id": rid, "object": "response", "deleted": True})


def openapi_paths(state: ServerState, errors: dict[str, Any], run_errors: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI description of `/v1/responses` and `/v1/responses/{id}`."""
    part = {
        "type": "object",
        "required": ["type", "text"],
        "properties": {"type": {"enum": ["input_text", "output_text"]}, "text": {"type": "string", "minLength": 1}},
    }
    message = {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "type": {"enum": ["message"]},
            "role": {"enum": sorted(_ROLES)},
            "content": {"oneOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1, "items": part}]},
        },
    }
    body = {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "enum": sorted(state.agents) + sorted(state.workflows) or ["-"]},
            "input": {
                "oneOf": [
                    {"type": "string", "minLength": 1},
                    {"type": "array", "minItems": 1, "maxItems": state.settings.max_messages, "items": message},
                ]
            },
            "previous_response_id": {"type": ["string", "null"], "minLength": 1},
            # null is "not given", as the OpenAI API takes it.
            "stream": {"type": ["boolean", "null"]},
            "store": {"type": ["boolean", "null"]},
            "max_output_tokens": {"type": ["integer", "null"], "minimum": 1},
            "temperature": {"type": ["number", "null"], "minimum": 0},
            "top_p": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "metadata": {"type": ["object", "null"]},
        },
    }
    ok = {
        "description": "a response object (JSON), or its events (text/event-stream)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": SSE_EVENT_SCHEMA},
        },
    }
    rid = [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "/v1/responses": {
            "post": {
                "summary": "Open Responses (model = agent or workflow name)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {"200": ok, **errors, **run_errors},
            }
        },
        "/v1/responses/{response_id}": {
            "get": {"summary": "A stored response", "parameters": rid, "responses": {"200": json_ok, **errors}},
            "delete": {"summary": "Forget a response", "parameters": rid, "responses": {"200": json_ok, **errors}},
        },
    }


def routes() -> list[Route]:
    """The Responses API routes."""
    return [
        Route("/v1/responses", create_response, methods=["POST"]),
        by_method("/v1/responses/{response_id}", get=get_response, delete=delete_response),
    ]
