"""Child process: the floors for `serve.*`, a bare endpoint calling the same agent under uvicorn.

`python -m bench._bare_server CONFIG PORT [starlette|asgi]`: POST /run with `{"input": ...}` answers
`{"content": ...}`, POST /stream streams the agent's deltas as SSE events (the first one carries the
agent's own `ttft` in this process, for `serve.ttfb`); no auth, no limits, no run records, no replay
buffer, no metrics: what a hand-written endpoint would do. `starlette` (the default) is a Starlette
app with a `StreamingResponse`; `asgi` is a plain ASGI callable (no framework, no disconnect watcher):
the floor of the server alone.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from typing import Any


def _events(agent: Any, query: str) -> AsyncIterator[bytes]:
    import orjson

    from agentickit.streaming import ChunkType

    delta = ChunkType.DELTA

    async def events() -> AsyncIterator[bytes]:
        t0 = time.perf_counter()
        first = True
        async for chunk in agent.run_stream(query):
            if chunk.type is delta:
                data: dict[str, Any] = {"type": "delta", "delta": chunk.delta}
                if first:
                    first = False
                    data["ttft"] = time.perf_counter() - t0
                yield b"event: delta\ndata: " + orjson.dumps(data) + b"\n\n"

    return events()


def _starlette(agent: Any) -> Any:
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def run(request: Request) -> Response:
        body = orjson.loads(await request.body())
        result = await agent.run(body["input"])
        return Response(orjson.dumps({"content": result.content}), media_type="application/json")

    async def stream(request: Request) -> Response:
        body = orjson.loads(await request.body())
        return StreamingResponse(_events(agent, body["input"]), media_type="text/event-stream")

    async def healthz(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    return Starlette(
        routes=[
            Route("/run", run, methods=["POST"]),
            Route("/stream", stream, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def _asgi(agent: Any) -> Any:
    import orjson

    json = [(b"content-type", b"application/json")]
    sse = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        path = scope["path"]
        if path == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": json})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = orjson.loads(body)["input"]
        if path == "/run":
            result = await agent.run(query)
            await send({"type": "http.response.start", "status": 200, "headers": json})
            await send({"type": "http.response.body", "body": orjson.dumps({"content": result.content})})
            return
        await send({"type": "http.response.start", "status": 200, "headers": sse})
        async for frame in _events(agent, query):
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    import uvicorn

    from agentickit.config import load_runnable

    agent = load_runnable(sys.argv[1])
    kind = sys.argv[3] if len(sys.argv) > 3 else "starlette"
    app = _asgi(agent) if kind == "asgi" else _starlette(agent)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
