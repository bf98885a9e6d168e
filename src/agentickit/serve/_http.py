"""The HTTP plumbing every surface shares: typed errors, bounded JSON bodies, auth and access logs."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..telemetry import _hooks as _tel
from ._settings import APIKey, RateLimiter, ServeSettings, is_loopback
from ._wire import error_body

__all__ = (
    "SSE_EVENT_SCHEMA",
    "HTTPError",
    "ServeMiddleware",
    "by_method",
    "error_response",
    "flag",
    "integral",
    "json_response",
    "read_json",
    "require_scope",
)

access_log = logging.getLogger("agentickit.serve.access")

# Paths anyone may read: probes, the API description and the playground page (which asks for a key).
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/", "/favicon.ico"})


class HTTPError(Exception):
    """An error a handler answers with: status, a stable `type`, and a message that says what to fix."""

    def __init__(self, status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = headers


SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
"""One event of a `text/event-stream` response (its `data` is JSON), as schemathesis reads such a schema."""


INTEGER_OPTIONS = frozenset({"max_tokens", "history_limit", "max_tool_rounds"})


def integral(opts: dict[str, Any]) -> dict[str, Any]:
    """`opts` with integer-valued floats (`174.0`, which JSON Schema counts as an integer) as ints."""
    for key in INTEGER_OPTIONS & opts.keys():
        value = opts[key]
        if isinstance(value, float) and value.is_integer():
            opts[key] = int(value)
    return opts


def flag(body: dict[str, Any], name: str) -> bool:
    """A boolean field of a JSON body (null or absent is false).

    Raises:
        HTTPError: the field is there and not a boolean (400).

    """
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise HTTPError(400, "invalid_request", f'"{name}" must be true or false, got {value!r}')
    return value


def by_method(path: str, **handlers: Any) -> Any:
    """One route for `path` whose handler depends on the method (`GET=get, DELETE=delete`).

    Two routes on one path would answer a third method with the first route's `Allow` header only.
    """
    from starlette.routing import Route

    table = {m.upper(): h for m, h in handlers.items()}

    async def endpoint(request: Any) -> Any:
        return await table[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, endpoint, methods=list(table))


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson."""
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


def error_response(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """`{"error": {"type", "message"}}` with `status`."""
    return json_response(error_body(kind, message), status, headers)


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The request's JSON object, read up to `limit` bytes.

    Raises:
        HTTPError: 413 past the limit, 400 when it is not a JSON object.

    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, "request_too_large", f"the request body is over the server's limit of {limit} bytes")
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise HTTPError(413, "request_too_large", f"the request body is over the server's limit of {limit} bytes")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPError(400, "invalid_request", f"the request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise HTTPError(400, "invalid_request", "the request body must be a JSON object")
    return data  # pyright: ignore[reportUnknownVariableType]


def require_scope(request: Request, target: str) -> None:
    """Raise 403 unless the request's key may use `target` (no key: auth is off, everything is allowed).

    Raises:
        HTTPError: the key's scopes do not include `target`.

    """
    key: APIKey | None = request.scope.get("agentickit.key")
    if key is not None and not key.allows(target):
        raise HTTPError(403, "permission_denied", f"API key {key.name!r} may not use {target!r}; add it to its scopes")


class ServeMiddleware:
    """Pure ASGI middleware (no per-chunk cost on streams): authentication, then one access-log line.

    With API keys configured every request but the public paths needs `Authorization: Bearer KEY`.
    Without keys, auth is off and only loopback clients are served, whatever address the server
    is bound to.
    """

    def __init__(self, app: ASGIApp, settings: ServeSettings, stats: Any) -> None:
        self.app = app
        self.settings = settings
        self.stats = stats
        limiter = RateLimiter(settings)
        self.limiter = limiter if limiter.active else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        path: str = scope["path"]
        status = [0]
        key_name = "-"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            denial = None
            retry = 0
            if path not in PUBLIC_PATHS:
                settings = self.settings
                if settings.auth:
                    key = settings.authenticate(_header(scope, b"authorization"))
                    if key is None:
                        denial = (
                            401,
                            "authentication_error",
                            "missing or unknown API key: send Authorization: Bearer KEY",
                        )
                    else:
                        scope["agentickit.key"] = key
                        key_name = key.name
                else:
                    client = scope.get("client")
                    if client is None or not is_loopback(client[0]):
                        denial = (
                            403,
                            "permission_denied",
                            "this server has no API keys configured, so it serves loopback clients only; "
                            "configure api_keys to serve other hosts",
                        )
                limiter = self.limiter
                if denial is None and limiter is not None:
                    client = scope.get("client")
                    who = f"key:{key_name}" if key_name != "-" else f"ip:{client[0] if client else '-'}"
                    wait = limiter.check(who, key_name if key_name != "-" else None)
                    if wait > 0:
                        retry = max(1, math.ceil(wait))
                        denial = (
                            429,
                            "rate_limit_exceeded",
                            f"over the rate limit of {'key ' + repr(key_name) if key_name != '-' else 'this client'}; "
                            f"retry in {retry} s",
                        )
            if denial is not None:
                code = denial[0]
                headers = {"www-authenticate": "Bearer"} if code == 401 else None
                if code == 429:
                    headers = {"retry-after": str(retry)}
                await error_response(code, denial[1], denial[2], headers=headers)(scope, receive, send_wrapper)
            elif _tel.active is not None and (parent := _header(scope, b"traceparent")) is not None:
                # The caller's trace context is current while the request is handled, so the run
                # (its task copies this context) is a child of the caller's span.
                carrier = {"traceparent": parent}
                state = _header(scope, b"tracestate")
                if state is not None:
                    carrier["tracestate"] = state
                tel = _tel.active
                token = tel.attach_incoming(carrier)
                try:
                    await self.app(scope, receive, send_wrapper)
                finally:
                    if token is not None:
                        tel.detach(token)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - t0
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/mcp" if path.startswith("/mcp") else "other")
            self.stats.observe(scope["method"], template, status[0], elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(
                    '%s "%s %s" %d %.1fms key=%s',
                    client[0] if client else "-",
                    scope["method"],
                    path,
                    status[0],
                    elapsed * 1e3,
                    key_name,
                )


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None
