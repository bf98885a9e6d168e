"""The playground: one static HTML page at `/` (no build step), talking to the native API."""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ("routes",)

# Read once, at import: serving it is then a memory copy, never file I/O on the event loop.
PAGE = files("agentickit.serve").joinpath("playground.html").read_bytes()


async def playground(request: Request) -> Response:
    """GET /: the playground page."""
    return Response(PAGE, media_type="text/html; charset=utf-8", headers={"cache-control": "no-cache"})


def routes() -> list[Route]:
    """The playground route."""
    return [Route("/", playground, methods=["GET"])]
