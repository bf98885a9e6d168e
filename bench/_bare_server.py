"""Child process: the floor for `serve.rps`, a bare starlette endpoint calling the same agent under uvicorn.

`python -m bench._bare_server CONFIG PORT`: POST /run with `{"input": ...}` answers `{"content": ...}`,
POST /stream streams the agent's deltas as SSE events; no auth, no limits, no run records, no replay
buffer, no metrics: what a hand-written endpoint would do.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator


def main() -> None:
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    from agentickit.config import load_runnable
    from agentickit.streaming import ChunkType

    agent = load_runnable(sys.argv[1])

    async def run(request: Request) -> Response:
        body = orjson.loads(await request.body())
        result = await agent.run(body["input"])
        return Response(orjson.dumps({"content": result.content}), media_type="application/json")

    async def stream(request: Request) -> Response:
        body = orjson.loads(await request.body())

        async def events() -> AsyncIterator[bytes]:
            async for chunk in agent.run_stream(body["input"]):
                if chunk.type is ChunkType.DELTA:
                    yield b"event: delta\ndata: " + orjson.dumps({"type": "delta", "delta": chunk.delta}) + b"\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def healthz(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    app = Starlette(
        routes=[
            Route("/run", run, methods=["POST"]),
            Route("/stream", stream, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
