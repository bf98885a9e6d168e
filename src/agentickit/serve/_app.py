"""`app()`: every surface of agentickit's server in one ASGI app."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator, Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import UserError
from ..memory._sessions import SessionStore
from . import _native, _openai, _ops, _playground, _responses
from ._http import HTTPError, ServeMiddleware, error_response
from ._mcp import MCPEndpoint
from ._runs import InMemoryRunStore, RunStore, StoreRunStore
from ._settings import ServeSettings
from ._state import ServerState
from ._wire import public_message

__all__ = ("app",)


def _named(items: Iterable[Any], kind: str, taken: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name or not callable(getattr(item, "run_stream", None)):
            raise UserError(f"serve: {item!r} is not an agent or workflow (it needs a name, run() and run_stream())")
        if name in taken:
            raise UserError(f"serve: two targets are named {name!r} ({taken[name]} and {kind}); names must be unique")
        taken[name] = kind
        out[name] = item
    return out


def app(
    agents: Iterable[Any] = (),
    workflows: Iterable[Any] = (),
    *,
    settings: ServeSettings | None = None,
    store: Any = None,
    sessions: Any = None,
    **overrides: Any,
) -> Starlette:
    """An ASGI app serving `agents` and `workflows`: native runs, OpenAI-compatible APIs, MCP, playground.

    ```python
    import agentickit as ak

    app = ak.serve.app(agents=[agent], workflows=[wf])     # uvicorn module:app, or mount it
    app = ak.serve.app(agents=[agent], api_keys=[ak.serve.APIKey(name="ci", sha256=ak.serve.hash_key(key))])
    ```

    Args:
        agents: the agents to serve, by name.
        workflows: the workflows to serve, by name (names are unique across both).
        settings: limits, deadlines, CORS and keys as one object.
        store: where finished (and paused) runs' summaries go: a `RunStore`, or an `ak.stores` store
            (`SQLite(path)`, ...) so they survive a restart (default: in-process, the last `max_runs`).
        sessions: the `ak.stores` store (`InMemory()`, `SQLite(path)`, `Postgres(dsn)`, `Redis(url)`) where
            `/v1/responses` keeps each response and its conversation for `previous_response_id`
            (default: `ak.stores.InMemory()`, gone on restart).
        **overrides: any `ServeSettings` field as a keyword (wins over `settings`).

    Raises:
        UserError: an unknown setting, a duplicate name, something that is not an agent or workflow,
            or a `sessions` that is not an `ak.stores` store.

    """
    base = settings or ServeSettings()
    known = {f.name for f in dataclasses.fields(ServeSettings) if not f.name.startswith("_")}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UserError(f"serve: unknown settings {unknown}; known: {sorted(known)}")
    if overrides:
        base = dataclasses.replace(base, **overrides)
    taken: dict[str, str] = {}
    agent_map = _named(agents, "agent", taken)
    workflow_map = _named(workflows, "workflow", taken)
    state = ServerState(agent_map, workflow_map, base, _run_store(store, base.max_runs))
    state.sessions = SessionStore(_session_backend(sessions))
    mcp = MCPEndpoint(state)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncGenerator[None]:
        async with mcp.lifespan():
            state.ready = True
            try:
                yield
            finally:
                await state.finish_shutdown()

    routes: list[Any] = [*_ops.routes(), *_native.routes(), *_openai.routes(), *_responses.routes()]
    routes.append(Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]))
    if base.playground:
        routes.extend(_playground.routes())
    middleware = [Middleware(ServeMiddleware, settings=base, stats=state.stats)]
    if base.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=list(base.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["authorization", "content-type", "last-event-id"],
            ),
        )
    handlers: dict[Any, Any] = {HTTPError: _http_error, HTTPException: _starlette_error, Exception: _internal_error}
    out = Starlette(routes=routes, middleware=middleware, lifespan=lifespan, exception_handlers=handlers)
    out.state.agentickit = state
    return out


def _run_store(store: Any, max_runs: int) -> RunStore:
    if store is None:
        return InMemoryRunStore(max_runs=max_runs)
    if isinstance(store, RunStore):
        return store
    if all(callable(getattr(store, m, None)) for m in ("put_meta", "info")):
        return StoreRunStore(store)
    raise UserError(
        f"serve: store={store!r} is neither a RunStore (save/load) nor an ak.stores store; "
        "pass ak.stores.SQLite(path), Postgres(dsn) or Redis(url) to keep run records across restarts"
    )


def _session_backend(sessions: Any) -> Any:
    if sessions is None:
        from ..stores import InMemory

        return InMemory()
    if not all(callable(getattr(sessions, m, None)) for m in ("append", "read", "info", "put_meta", "delete")):
        raise UserError(
            f"serve: sessions={sessions!r} is not an ak.stores store; "
            "pass ak.stores.InMemory(), SQLite(path), Postgres(dsn) or Redis(url)"
        )
    return sessions


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPError)
    return error_response(exc.status, exc.kind, exc.message, exc.headers)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_request")
    # A 405 keeps starlette's `Allow` header (RFC 9110 requires it).
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, kind, f"{request.method} {request.url.path}: {exc.detail}", headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal_error", public_message(exc))
