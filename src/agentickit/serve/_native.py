"""The native API: runs of agents and workflows as JSON or SSE, resumable with `Last-Event-ID`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..durable import DurableError
from ..errors import UserError
from ..memory._sessions import message_to_dict
from ..options import RunOptions
from ._http import HTTPError, by_method, flag, integral, json_response, read_json, require_scope
from ._runs import NotPausedError, ReplayGoneError, RunRecord, ServerClosingError
from ._sse import Final, SSEResponse
from ._state import ServerState
from ._wire import error_body, error_type, public_message

__all__ = ("routes", "run_options", "sse_response", "status_for")

# The run options a client may set; the rest (tool_choice, timeout beyond the server's) stay server-side.
CLIENT_OPTIONS = frozenset(
    {"max_tokens", "temperature", "top_p", "stop", "history_limit", "max_tool_rounds", "timeout", "metadata"}
)


def status_for(kind: str) -> int:
    """The HTTP status of a failed run by its error type."""
    return {
        "timeout": 504,
        "cancelled": 409,
        "invalid_request": 400,
        "usage_limit_exceeded_error": 429,
        "internal_error": 500,
    }.get(kind, 502)


def run_options(body: dict[str, Any], session_id: Any = None) -> RunOptions | None:
    """The `RunOptions` a request asks for.

    Raises:
        HTTPError: an unknown or invalid option (400).

    """
    raw: Any = body.get("options")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise HTTPError(400, "invalid_request", "options must be a JSON object")
    raw = cast(dict[str, Any], raw)
    given = set(raw)
    unknown = sorted(given - CLIENT_OPTIONS)
    if unknown:
        raise HTTPError(
            400, "invalid_request", f"unknown or server-side options {unknown}; allowed: {sorted(CLIENT_OPTIONS)}"
        )
    opts: dict[str, Any] = integral(dict(raw))
    if opts.get("stop") is not None and not isinstance(opts["stop"], list):
        raise HTTPError(400, "invalid_request", 'options.stop must be a list of strings, e.g. ["END"]')
    if session_id is not None:
        if not isinstance(session_id, str) or not session_id or len(session_id) > 256:
            raise HTTPError(400, "invalid_request", "session_id must be a non-empty string of at most 256 characters")
        opts["session_id"] = session_id
    if not opts:
        return None
    try:
        return RunOptions(**opts)
    except (UserError, TypeError, ValueError) as exc:
        raise HTTPError(400, "invalid_request", f"invalid options: {exc}") from exc


def _wants_stream(request: Request, body: dict[str, Any]) -> bool:
    in_body = flag(body, "stream")
    query = request.query_params.getlist("stream")
    if query:
        values = {v.lower() for v in query}
        if not values <= {"1", "true", "yes", "0", "false", "no"} or len(values) > 1:
            raise HTTPError(400, "invalid_request", f"?stream= must be true or false, got {query}")
        return values <= {"1", "true", "yes"}
    if in_body:
        return True
    return "text/event-stream" in request.headers.get("accept", "")


def sse_response(state: ServerState, record: RunRecord, after: int) -> SSEResponse:
    """Follow `record`'s events after id `after` as `text/event-stream`."""
    try:
        record.read(after)
    except ReplayGoneError as exc:
        raise HTTPError(410, "replay_gone", str(exc)) from exc
    registry = state.registry

    async def body() -> AsyncIterator[bytes | Final]:
        registry.readers += 1
        try:
            async for frames, last in record.follow(after):
                yield Final(frames) if last else frames
        finally:
            registry.readers -= 1

    return SSEResponse(body(), {"x-run-id": record.id})


async def _start(request: Request, kind: str) -> Response | SSEResponse:
    state: ServerState = request.app.state.agentickit
    name: str = request.path_params["name"]
    target = (state.agents if kind == "agent" else state.workflows).get(name)
    if target is None:
        known = sorted(state.agents if kind == "agent" else state.workflows)
        raise HTTPError(404, "not_found", f"no {kind} named {name!r}; this server has {known}")
    require_scope(request, name)
    body = await read_json(request, state.settings.max_body_bytes)
    query = body.get("input")
    if not isinstance(query, str) or not query:
        raise HTTPError(400, "invalid_request", 'the body needs "input": a non-empty string')
    options = run_options(body, body.get("session_id"))
    stream = _wants_stream(request, body)
    try:
        record = state.registry.start(target, kind, query, options, stream=stream)
    except ServerClosingError as exc:
        raise HTTPError(503, "unavailable", str(exc)) from exc
    if stream:
        record.append("run", {"type": "run", "run_id": record.id, "target": name, "kind": kind})
        return sse_response(state, record, 0)
    return await _answer(record, kind)


async def _answer(record: RunRecord, kind: str) -> Response:
    await record.wait()
    summary = record.summary()
    if record.status in ("completed", "paused") or (record.result is not None and kind == "workflow"):
        return json_response(summary, headers={"x-run-id": record.id})
    err = record.error
    kind_ = error_type(err) if err is not None else "internal_error"
    out = error_body(kind_, public_message(err) if err is not None else "the run failed")
    out["id"] = record.id
    return json_response(out, status_for(kind_), headers={"x-run-id": record.id})


async def run_agent(request: Request) -> Response | SSEResponse:
    """POST /v1/agents/{name}/runs."""
    return await _start(request, "agent")


async def run_workflow(request: Request) -> Response | SSEResponse:
    """POST /v1/workflows/{name}/runs."""
    return await _start(request, "workflow")


async def _record(request: Request) -> RunRecord | dict[str, Any]:
    state: ServerState = request.app.state.agentickit
    run_id: str = request.path_params["run_id"]
    found = await state.registry.get(run_id)
    if found is None:
        raise HTTPError(
            404, "not_found", f"no run {run_id!r} (finished runs are kept for the last {state.settings.max_runs})"
        )
    target = found.target if isinstance(found, RunRecord) else found.get("target", "")
    require_scope(request, target)
    return found


async def get_run(request: Request) -> Response:
    """GET /v1/runs/{run_id}: the run's status and result."""
    found = await _record(request)
    return json_response(found.summary() if isinstance(found, RunRecord) else found)


async def run_events(request: Request) -> SSEResponse:
    """GET /v1/runs/{run_id}/events: the run's events after `Last-Event-ID` (or `?after=`), then live."""
    found = await _record(request)
    if not isinstance(found, RunRecord):
        raise HTTPError(410, "replay_gone", f"run {found.get('id')!r} finished and its events are no longer buffered")
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    if not raw.isdigit():
        raise HTTPError(400, "invalid_request", f"Last-Event-ID must be an event id (an integer), got {raw!r}")
    return sse_response(request.app.state.agentickit, found, int(raw))


async def cancel_run(request: Request) -> Response:
    """DELETE /v1/runs/{run_id}: cancel a running run (its upstream model request is closed) or a paused one."""
    state: ServerState = request.app.state.agentickit
    found = await _record(request)
    reason = "cancelled by DELETE /v1/runs/{id}"
    status = found.status if isinstance(found, RunRecord) else found.get("status")
    if status == "paused":
        # Its journal is marked cancelled too, so no later resume (here or on another server) continues it.
        summary = found.summary() if isinstance(found, RunRecord) else found
        target = (state.agents if summary.get("kind") == "agent" else state.workflows).get(str(summary.get("target")))
        if target is None:
            raise HTTPError(
                404,
                "not_found",
                f"run {summary['id']!r} belongs to {summary.get('target')!r}, which is not served here",
            )
        try:
            return json_response(await state.registry.cancel_paused(found, target, reason))
        except NotPausedError as exc:
            raise HTTPError(409, "conflict", str(exc)) from exc
        except DurableError as exc:
            raise HTTPError(409, "conflict", str(exc)) from exc
    if not isinstance(found, RunRecord) or not found.cancel(reason):
        raise HTTPError(409, "conflict", f"the run has already ended ({status})")
    await found.wait()
    return json_response(found.summary())


def _approvals(raw: Any, pending: list[dict[str, Any]], run_id: str) -> dict[str, Any]:
    """The `approvals=` of a resume, from JSON: `true`/`false`, `{"args": {...}}` (an edit), or text (an input).

    Raises:
        HTTPError: an id that is not pending, an answer of the wrong kind, or a request left unanswered (400).

    """
    from ..durable import Edit

    if not isinstance(raw, dict):
        raise HTTPError(400, "invalid_request", '"approvals" must be an object: {request id: answer}')
    answers = cast(dict[str, Any], raw)
    known = {str(p["id"]): p for p in pending}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise HTTPError(
            400, "invalid_request", f"run {run_id}: {unknown} are not pending; it waits for {sorted(known)}"
        )
    missing = sorted(set(known) - set(answers))
    if missing:
        raise HTTPError(400, "invalid_request", f"run {run_id}: answer every pending request; missing {missing}")
    out: dict[str, Any] = {}
    for rid, value in answers.items():
        kind = known[rid].get("kind")
        if kind == "input":
            if not isinstance(value, str):
                raise HTTPError(400, "invalid_request", f"approvals[{rid!r}] answers an input: give the text")
            out[rid] = value
        elif isinstance(value, bool):
            out[rid] = value
        elif kind == "approval" and isinstance(value, dict) and isinstance(value.get("args"), dict):  # pyright: ignore[reportUnknownMemberType]
            out[rid] = Edit(args=cast(dict[str, Any], value["args"]))
        else:
            edit = ' or {"args": {...}} to change the call' if kind == "approval" else ""
            raise HTTPError(400, "invalid_request", f"approvals[{rid!r}] must be true or false{edit}")
    return out


async def resume_run(request: Request) -> Response | SSEResponse:
    """POST /v1/runs/{run_id}/resume: answer a paused run's pending requests and continue it (JSON or SSE)."""
    state: ServerState = request.app.state.agentickit
    found = await _record(request)
    summary = found.summary() if isinstance(found, RunRecord) else found
    if summary.get("status") != "paused" or not summary.get("journal_id"):
        raise HTTPError(409, "conflict", f"run {summary.get('id')!r} is {summary.get('status')}, not paused")
    body = await read_json(request, state.settings.max_body_bytes)
    approvals = _approvals(body.get("approvals", {}), summary.get("pending") or [], str(summary["id"]))
    name = str(summary.get("target"))
    kind = str(summary.get("kind"))
    target = (state.agents if kind == "agent" else state.workflows).get(name)
    if target is None:
        raise HTTPError(404, "not_found", f"run {summary['id']!r} belongs to {kind} {name!r}, which is not served here")
    stream = _wants_stream(request, body)
    try:
        record = state.registry.resume(found, target, approvals, stream=stream)
    except ServerClosingError as exc:
        raise HTTPError(503, "unavailable", str(exc)) from exc
    except NotPausedError as exc:
        raise HTTPError(409, "conflict", str(exc)) from exc
    if stream:
        after = record.next_seq - 1
        record.append("run", {"type": "run", "run_id": record.id, "target": name, "kind": kind, "resumed": True})
        return sse_response(state, record, after)
    return await _answer(record, kind)


async def _memory(request: Request) -> tuple[Any, str]:
    state: ServerState = request.app.state.agentickit
    name: str = request.path_params["name"]
    agent = state.agents.get(name)
    if agent is None:
        raise HTTPError(404, "not_found", f"no agent named {name!r}; this server has {sorted(state.agents)}")
    require_scope(request, name)
    memory = getattr(agent, "memory", None)
    if memory is None:
        raise HTTPError(404, "not_found", f"agent {name!r} keeps no sessions: give it memory (ak.Memory())")
    return memory, request.path_params["session_id"]


async def get_session(request: Request) -> Response:
    """GET /v1/agents/{name}/sessions/{session_id}: the session's messages, oldest first."""
    memory, sid = await _memory(request)
    messages = await memory.load(sid)
    if not messages:
        raise HTTPError(404, "not_found", f"no session {sid!r} (or it is empty, or it has expired)")
    return json_response({"id": sid, "messages": [message_to_dict(m) for m in messages]})


async def delete_session(request: Request) -> Response:
    """DELETE /v1/agents/{name}/sessions/{session_id}: forget a session."""
    memory, sid = await _memory(request)
    if not await memory.delete(sid):
        raise HTTPError(404, "not_found", f"no session {sid!r}")
    return json_response({"id": sid, "deleted": True})


def routes() -> list[Route]:
    """The native API's routes."""
    return [
        Route("/v1/agents/{name}/runs", run_agent, methods=["POST"]),
        Route("/v1/workflows/{name}/runs", run_workflow, methods=["POST"]),
        by_method("/v1/runs/{run_id}", get=get_run, delete=cancel_run),
        Route("/v1/runs/{run_id}/events", run_events, methods=["GET"]),
        Route("/v1/runs/{run_id}/resume", resume_run, methods=["POST"]),
        by_method("/v1/agents/{name}/sessions/{session_id}", get=get_session, delete=delete_session),
    ]
