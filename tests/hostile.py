"""A hostile OpenAI-compatible server: one route per failure mode, over real HTTP on 127.0.0.1.

Each mode is a path prefix, so one server serves every test: `server.base_url("retry_after", "nan")`
is `http://127.0.0.1:PORT/retry_after/nan/v1`, and a model pointed at it misbehaves in that one way.
The server counts hits per mode and the streams it has open, so tests can see retries and whether a
client really went away.

| mode               | what the server does                                                         |
|--------------------|------------------------------------------------------------------------------|
| `ok`               | a normal answer "ok" (streamed or not, as asked)                               |
| `retry_after/V`    | the first request of the mode gets 429 with `Retry-After: V`, later ones `ok`  |
| `always_429/V`     | every request gets 429 with `Retry-After: V`                                   |
| `endless`          | a stream that sends a token every 10 ms forever (never `[DONE]`)               |
| `content/int`      | `content` is `123` (streamed and not)                                          |
| `content/list`     | `content` is a list                                                            |
| `arguments/object` | a tool call's `arguments` is a JSON object, not a string                       |
| `no_done/text`     | a few tokens, then the stream closes cleanly without `finish_reason`/`[DONE]`  |
| `no_done/empty`    | first request: a role-only chunk then a clean close; later requests `ok`       |
| `no_choices`       | stream events without `choices` (`{"foo": 1}`), then `[DONE]`                  |
| `not_json`         | a stream event that is not JSON                                               |
| `huge/N`           | an answer of N bytes of text (streamed: 64 KiB events; not: one body)           |
| `long_line/N`      | one SSE line of N bytes, sent in 64 KiB pieces, then `[DONE]`                   |
| `model_names`      | every reply reports a new model name (`m-1`, `m-2`, ...)                       |
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, unquote

import orjson
from aiohttp import web

__all__ = ("HostileServer",)

_SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _chunk(delta: dict[str, Any], finish: str | None = None, model: str = "hostile") -> bytes:
    event: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk", "model": model, "created": 0}
    event["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + orjson.dumps(event) + b"\n\n"


def _completion(message: dict[str, Any], model: str = "hostile", finish: str = "stop") -> bytes:
    body: dict[str, Any] = {"id": "c", "object": "chat.completion", "created": 0, "model": model}
    body["choices"] = [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}]
    body["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return orjson.dumps(body)


class HostileServer:
    """The hostile server as an async context manager; see the module docstring for its modes."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        """Requests received, by `mode/arg`."""
        self.open_streams = 0
        """Streamed responses in progress right now."""
        self.disconnects = 0
        """Streams the client left before they ended."""
        self._names = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._root = ""
        self._idle: asyncio.Event | None = None

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=1 << 24)
        app.router.add_post("/{mode}/{arg}/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._root = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._idle = asyncio.Event()
        self._idle.set()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def base_url(self, mode: str, arg: str = "-") -> str:
        """The `base_url` (ending in `/v1`) of one failure mode."""
        return f"{self._root}/{mode}/{quote(arg, safe='')}/v1"

    async def wait_idle(self) -> None:
        """Return once no streamed response is in progress (the client closed every stream)."""
        assert self._idle is not None
        await self._idle.wait()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        mode, arg = request.match_info["mode"], unquote(request.match_info["arg"])
        key = f"{mode}/{arg}"
        self.hits[key] += 1
        first = self.hits[key] == 1
        body: dict[str, Any] = orjson.loads(await request.read())
        stream = bool(body.get("stream"))
        if (mode == "retry_after" and first) or mode == "always_429":
            error = orjson.dumps({"error": {"message": "slow down", "type": "rate_limit"}})
            return web.Response(status=429, body=error, content_type="application/json", headers={"Retry-After": arg})
        if not stream:
            return web.Response(body=self._whole(mode, arg), content_type="application/json")
        resp = web.StreamResponse(headers=_SSE)
        await resp.prepare(request)
        assert self._idle is not None
        self.open_streams += 1
        self._idle.clear()
        try:
            await self._stream(resp, mode, arg, first)
            await resp.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            self.disconnects += 1
            raise
        finally:
            self.open_streams -= 1
            if not self.open_streams:
                self._idle.set()
        return resp

    def _whole(self, mode: str, arg: str) -> bytes:
        if mode == "content":
            return _completion({"content": 123 if arg == "int" else ["a", "b"]})
        if mode == "arguments":
            call = {"id": "t1", "type": "function", "function": {"name": "echo", "arguments": {"text": "hi"}}}
            return _completion({"content": None, "tool_calls": [call]}, finish="tool_calls")
        if mode == "huge":
            return _completion({"content": "x" * int(arg)})
        if mode == "model_names":
            return _completion({"content": "ok"}, model=f"m-{next(self._names)}")
        return _completion({"content": "ok"})

    async def _stream(self, resp: web.StreamResponse, mode: str, arg: str, first: bool) -> None:
        write = resp.write
        if mode == "endless":
            while True:
                await write(_chunk({"content": "x "}))
                await asyncio.sleep(0.01)
        if mode == "content":
            await write(_chunk({"content": 123 if arg == "int" else ["a", "b"]}, "stop"))
        elif mode == "arguments":
            call = {"index": 0, "id": "t1", "type": "function", "function": {"name": "echo", "arguments": {"t": 1}}}
            await write(_chunk({"tool_calls": [call]}, "tool_calls"))
        elif mode == "no_done":
            if arg == "text":
                for token in ("par", "tial"):
                    await write(_chunk({"content": token}))
                return
            if first:
                await write(_chunk({"role": "assistant"}))
                return
            await write(_chunk({"content": "ok"}, "stop"))
        elif mode == "no_choices":
            await write(b'data: {"foo": 1}\n\n')
        elif mode == "not_json":
            await write(b"data: {not json}\n\n")
        elif mode == "error_then_junk" and first:
            # One write: the client reads both lines at once, the error event first.
            await write(b'data: {"error": {"message": "overloaded"}}\n\ndata: {not json\n\n')
            return
        elif mode == "huge":
            left = int(arg)
            while left > 0:
                n = min(left, 65536)
                await write(_chunk({"content": "x" * n}))
                left -= n
            await write(_chunk({}, "stop"))
        elif mode == "long_line":
            left = int(arg)
            await write(b'data: {"choices":[{"index":0,"delta":{"content":"')
            while left > 0:
                n = min(left, 65536)
                await write(b"x" * n)
                left -= n
            await write(b'"},"finish_reason":"stop"}]}\n\n')
        elif mode == "model_names":
            await write(_chunk({"content": "ok"}, "stop", model=f"m-{next(self._names)}"))
        else:
            await write(_chunk({"content": "ok"}, "stop"))
        await write(b"data: [DONE]\n\n")
