"""Child process: the floor for `serve.rps`, a bare starlette endpoint calling the same agent under uvicorn.

`python -m bench._bare_server CONFIG PORT`: POST /run with `{"input": ...}` answers `{"content": ...}`;
no auth, no limits, no run records, no metrics: what a hand-written endpoint would do.
"""

from __future__ import annotations

import sys


def main() -> None:
    import orjson
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from agentickit.config import load_runnable

    agent = load_runnable(sys.argv[1])

    async def run(request: Request) -> Response:
        body = orjson.loads(await request.body())
        result = await agent.run(body["input"])
        return Response(orjson.dumps({"content": result.content}), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    app = Starlette(routes=[Route("/run", run, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
