"""`SSEResponse`: a `text/event-stream` response as a plain ASGI callable, one task per response.

Starlette's `StreamingResponse` opens an anyio task group per response on ASGI < 2.4 (uvicorn speaks
2.3): a cancel scope, a task for the body and one listening for the disconnect. This one sends from
the request's own task and adds one watcher task. Each item the body yields goes out in one
`http.response.body` message, so a body that joins what is already buffered (a run record's frames,
a stream's `batches()`) costs one send, and one socket write, per batch rather than per event.

A client that leaves is noticed by the watcher (uvicorn's `send` on a closed connection returns
without an error, so only `receive()` tells): it cancels the request's task while, and only while,
the body is being sent, and the response takes that one cancellation back (`Task.uncancel`) when it
ends, so no stray cancellation is left for the server's code after it. The body is closed
(`aclose()`) either way, so its `finally` (cancelling an upstream run) runs in the request's task.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

from starlette.types import Message, Receive, Scope, Send

__all__ = ("SSE_HEADERS", "Final", "SSEResponse")

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_BASE = ((b"content-type", b"text/event-stream; charset=utf-8"),) + tuple(
    (k.encode(), v.encode()) for k, v in SSE_HEADERS.items()
)


class Final:
    """The last frames of a body: sent with the end of the response, in one message (one socket write)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Watch:
    """Cancels `task` when the client disconnects while `live`; `fired` says it did."""

    __slots__ = ("fired", "live", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.live = True
        self.fired = False

    async def run(self, receive: Receive) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                if self.live:
                    self.fired = True
                    self.task.cancel("the client disconnected")
                return


class SSEResponse:
    """Send `body`'s byte strings (whole SSE frames) as they come, each in one body message.

    Args:
        body: the frames; a `Final` ends the response with its frames (else the end of the body
            does, in a message of its own). An async generator is closed when the response ends.
        headers: extra response headers (the SSE ones are always sent).

    """

    __slots__ = ("body", "headers")

    def __init__(self, body: AsyncIterator[bytes | Final], headers: Mapping[str, str] | None = None) -> None:
        self.body = body
        raw = list(_BASE)
        if headers:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.body
        task = asyncio.current_task()
        assert task is not None
        watch = _Watch(task)
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        watcher = asyncio.get_running_loop().create_task(watch.run(receive))
        end = b""
        try:
            try:
                async for frames in body:
                    if type(frames) is Final:
                        end = frames.data
                        break
                    await send({"type": "http.response.body", "body": frames, "more_body": True})
            finally:
                # From here on a disconnect cancels nothing: the watcher goes, the body is closed.
                watch.live = False
                watcher.cancel()
                aclose = getattr(body, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            # Ours alone (the client left): taken back, and the response simply ends. Anyone else's
            # (a server shutdown, a timeout around us) goes on up.
            if watch.fired and task.uncancel() == 0:
                return
            raise
        if watch.fired:
            # The body swallowed the cancellation it was sent: take the request back all the same.
            task.uncancel()
            return
        await send({"type": "http.response.body", "body": end, "more_body": False})
