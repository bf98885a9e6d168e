"""Operations endpoints: `/healthz`, `/readyz`, `/metrics` (Prometheus text) and `/openapi.json`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._version import __version__
from . import _responses
from ._http import SSE_EVENT_SCHEMA, json_response
from ._state import BUCKETS, ServerState

__all__ = ("openapi_document", "prometheus_text", "routes")


async def healthz(request: Request) -> Response:
    """The process answers."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready for traffic: started, and not shutting down."""
    state: ServerState = request.app.state.agentickit
    if not state.ready:
        return json_response({"status": "unavailable", "closing": state.closing}, 503)
    return json_response({"status": "ready"})


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(state: ServerState) -> str:
    """Every target's counters (from `agentickit.metrics`) and the server's, in the Prometheus text format."""
    out: list[str] = []

    def family(name: str, kind: str, help_: str) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")

    snaps: list[tuple[str, Any]] = [("agent", a.metrics()) for a in state.agents.values()]
    snaps += [("workflow", w.metrics()) for w in state.workflows.values()]
    family("agentickit_runs_total", "counter", "Finished runs, successful or not.")
    for kind, s in snaps:
        out.append(f'agentickit_runs_total{{kind="{kind}",target="{_label(s.name)}"}} {s.runs}')
    family("agentickit_run_errors_total", "counter", "Failed runs by error type.")
    for kind, s in snaps:
        for err, n in sorted(s.errors_by_type.items()):
            out.append(
                f'agentickit_run_errors_total{{kind="{kind}",target="{_label(s.name)}",type="{_label(err)}"}} {n}'
            )
    family("agentickit_runs_cancelled_total", "counter", "Cancelled runs.")
    for kind, s in snaps:
        out.append(f'agentickit_runs_cancelled_total{{kind="{kind}",target="{_label(s.name)}"}} {s.cancelled}')
    family("agentickit_run_latency_seconds", "summary", "Run latency over the most recent runs.")
    for kind, s in snaps:
        labels = f'kind="{kind}",target="{_label(s.name)}"'
        for q, v in (("0.5", s.latency_p50), ("0.95", s.latency_p95), ("0.99", s.latency_p99)):
            if v is not None:
                out.append(f'agentickit_run_latency_seconds{{{labels},quantile="{q}"}} {v:.6f}')
        out.append(f"agentickit_run_latency_seconds_count{{{labels}}} {s.runs}")
    family("agentickit_tokens_total", "counter", "Tokens by direction.")
    for kind, s in snaps:
        labels = f'kind="{kind}",target="{_label(s.name)}"'
        out.append(f'agentickit_tokens_total{{{labels},direction="input"}} {s.tokens_in}')
        out.append(f'agentickit_tokens_total{{{labels},direction="output"}} {s.tokens_out}')
    family("agentickit_cost_usd_total", "counter", "Cost of every run so far, in US dollars.")
    for kind, s in snaps:
        out.append(f'agentickit_cost_usd_total{{kind="{kind}",target="{_label(s.name)}"}} {s.cost_usd:.8f}')
    reg = state.registry
    family("agentickit_inflight_runs", "gauge", "Runs in progress.")
    out.append(f"agentickit_inflight_runs {len(reg.live)}")
    family("agentickit_inflight_streams", "gauge", "Clients reading a stream right now.")
    out.append(f"agentickit_inflight_streams {reg.readers + len(state.streams)}")
    stats = state.stats
    family("agentickit_http_requests_total", "counter", "HTTP requests by route and status.")
    for (method, route, status), n in sorted(stats.counts.items()):
        out.append(f'agentickit_http_requests_total{{method="{method}",route="{_label(route)}",status="{status}"}} {n}')
    family("agentickit_http_request_duration_seconds", "histogram", "HTTP request duration (to the end of the body).")
    for route, h in sorted(stats.histograms.items()):
        cumulative = 0.0
        for bound, n in zip(BUCKETS, h, strict=False):
            cumulative += n
            out.append(
                f'agentickit_http_request_duration_seconds_bucket{{route="{_label(route)}",le="{bound:g}"}} {cumulative:g}'
            )
        cumulative += h[len(BUCKETS)]
        out.append(
            f'agentickit_http_request_duration_seconds_bucket{{route="{_label(route)}",le="+Inf"}} {cumulative:g}'
        )
        out.append(f'agentickit_http_request_duration_seconds_sum{{route="{_label(route)}"}} {h[-1]:.6f}')
        out.append(f'agentickit_http_request_duration_seconds_count{{route="{_label(route)}"}} {cumulative:g}')
    return "\n".join(out) + "\n"


async def metrics(request: Request) -> Response:
    """GET /metrics."""
    return Response(prometheus_text(request.app.state.agentickit), media_type="text/plain; version=0.0.4")


_ERROR = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    str(code): {"description": why, "content": {"application/json": {"schema": _ERROR}}}
    for code, why in (
        (400, "invalid request"),
        (401, "missing or unknown API key"),
        (403, "the key's scopes do not include this target"),
        (404, "no such target or run"),
        (413, "request body too large"),
        (503, "shutting down"),
    )
}
# What a run itself can end with (the error body says which typed failure it was).
_RUN_ERRORS = {
    str(code): {"description": why, "content": {"application/json": {"schema": _ERROR}}}
    for code, why in (
        (409, "the run was cancelled"),
        (429, "a usage limit was exceeded"),
        (502, "the model, a tool or a workflow step failed"),
        (504, "the run timed out"),
    )
}


def openapi_document(state: ServerState) -> dict[str, Any]:
    """The OpenAPI 3.1 description of this server's HTTP API."""
    names = sorted(state.agents)
    wf_names = sorted(state.workflows)
    run_body = {
        "type": "object",
        "required": ["input"],
        "properties": {
            "input": {"type": "string", "minLength": 1},
            "session_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 256},
            "stream": {"type": ["boolean", "null"]},
            "options": {
                "type": ["object", "null"],
                "additionalProperties": False,
                # null is "not set", as everywhere in RunOptions.
                "properties": {
                    k: {**v, "type": [v["type"], "null"]}
                    for k, v in {
                        "max_tokens": {"type": "integer", "minimum": 1},
                        "temperature": {"type": "number", "minimum": 0},
                        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                        "stop": {"type": "array", "items": {"type": "string"}},
                        "history_limit": {"type": "integer", "minimum": 0},
                        "max_tool_rounds": {"type": "integer", "minimum": 0},
                        "timeout": {"type": "number", "exclusiveMinimum": 0},
                        "metadata": {"type": "object"},
                    }.items()
                },
            },
        },
    }
    run_out = {
        "200": {
            "description": "the run's record and result (JSON), or its events (text/event-stream)",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Run"}},
                "text/event-stream": {"schema": SSE_EVENT_SCHEMA},
            },
        },
        **_ERRORS,
        **_RUN_ERRORS,
    }

    def start(kind: str, choices: list[str]) -> dict[str, Any]:
        return {
            "post": {
                "summary": f"Run a {kind}",
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": choices or ["-"]},
                    },
                    {"name": "stream", "in": "query", "required": False, "schema": {"type": "boolean"}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": run_body}}},
                "responses": run_out,
            }
        }

    run_id = [{"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    # {request id: true | false | {"args": {...}} (an edited call) | "text" (an input)}
    answer = {"oneOf": [{"type": "boolean"}, {"type": "string"}, {"type": "object", "required": ["args"]}]}
    resume_body = {
        "type": "object",
        "properties": {
            "approvals": {"type": "object", "additionalProperties": answer},
            "stream": {"type": ["boolean", "null"]},
        },
    }
    session = [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": names or ["-"]}},
        {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    chat_body = {
        "type": "object",
        "required": ["model", "messages"],
        "properties": {
            "model": {"type": "string", "enum": (names + wf_names) or ["-"]},
            "messages": {
                "type": "array",
                "minItems": 1,
                "maxItems": state.settings.max_messages,
                "items": {
                    "type": "object",
                    "required": ["role", "content"],
                    "properties": {
                        "role": {"enum": ["system", "developer", "user", "assistant"]},
                        "content": {"type": "string", "minLength": 1},
                    },
                },
            },
            # null is "not given", as the OpenAI API takes it.
            "stream": {"type": ["boolean", "null"]},
            "max_tokens": {"type": ["integer", "null"], "minimum": 1},
            "temperature": {"type": ["number", "null"], "minimum": 0},
        },
    }
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    # A chat stream's events are JSON chunks, then `data: [DONE]` (not JSON).
    chat_event = {"type": "object", "required": ["data"], "properties": {"data": {"type": "string"}}}
    chat_ok = {
        "description": "a chat.completion (JSON), or chat.completion.chunk events then [DONE] (text/event-stream)",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/event-stream": {"schema": chat_event},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "agentickit", "version": __version__},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["type", "message"],
                            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                },
                "Run": {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"enum": ["running", "paused", "completed", "failed", "cancelled", "timeout"]},
                        "pending": {"type": ["array", "null"], "items": {"type": "object"}},
                        "target": {"type": "string"},
                        "result": {"type": ["object", "null"]},
                        "error": {"type": ["object", "null"]},
                    },
                },
            },
        },
        "security": [{"bearer": []}] if state.settings.auth else [],
        "paths": {
            "/v1/agents/{name}/runs": start("agent", names),
            "/v1/workflows/{name}/runs": start("workflow", wf_names),
            "/v1/runs/{run_id}": {
                "get": {
                    "summary": "A run's status and result",
                    "parameters": run_id,
                    "responses": {"200": json_ok, **_ERRORS},
                },
                "delete": {
                    "summary": "Cancel a run",
                    "parameters": run_id,
                    "responses": {"200": json_ok, "409": _ERRORS["400"], **_ERRORS},
                },
            },
            "/v1/runs/{run_id}/resume": {
                "post": {
                    "summary": "Answer a paused run's pending requests and continue it",
                    "parameters": [
                        *run_id,
                        {"name": "stream", "in": "query", "required": False, "schema": {"type": "boolean"}},
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": resume_body}}},
                    "responses": {**run_out, "409": _ERRORS["400"]},
                }
            },
            "/v1/runs/{run_id}/events": {
                "get": {
                    "summary": "A run's events after Last-Event-ID, then live",
                    "parameters": [
                        *run_id,
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "pattern": "^[0-9]+$"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "text/event-stream",
                            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
                        },
                        "410": _ERRORS["404"],
                        **_ERRORS,
                    },
                }
            },
            "/v1/chat/completions": {
                "post": {
                    "summary": "OpenAI-compatible chat completion (model = agent or workflow name)",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": chat_body}}},
                    "responses": {"200": chat_ok, **_ERRORS, **_RUN_ERRORS},
                }
            },
            "/v1/agents/{name}/sessions/{session_id}": {
                "get": {
                    "summary": "A session's messages",
                    "parameters": session,
                    "responses": {"200": json_ok, **_ERRORS},
                },
                "delete": {
                    "summary": "Forget a session",
                    "parameters": session,
                    "responses": {"200": json_ok, **_ERRORS},
                },
            },
            **_responses.openapi_paths(state, _ERRORS, _RUN_ERRORS),
            "/v1/models": {
                "get": {"summary": "The agents and workflows, as models", "responses": {"200": json_ok, **_ERRORS}}
            },
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": json_ok}}},
            "/readyz": {"get": {"summary": "Readiness", "security": [], "responses": {"200": json_ok, "503": json_ok}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text/plain"}}}},
        },
    }


async def openapi(request: Request) -> Response:
    """GET /openapi.json."""
    return json_response(openapi_document(request.app.state.agentickit))


def routes() -> list[Route]:
    """The operations routes."""
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
