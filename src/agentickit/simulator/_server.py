"""`SimulatorServer`: the simulated model served over real HTTP as an OpenAI-compatible API (aiohttp).

It decides what to answer exactly like the in-process `simulated` provider (`plan_turn`,
`failure_for`, `tokenize`), so a test or benchmark can swap one for the other. It is built to be
cheap per token (preencoded chunks, one write per pacing step) because benchmarks compare
clients against it at concurrency 100, and it records what tests need to observe: the request
bodies it received and the client disconnects it saw before a reply was complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, cast

import orjson
from aiohttp import web

from ..providers.simulated import Reply, ScriptEntry, SimTurn, failure_for, plan_turn, tokenize
from ._wire import DONE, ChunkWriter, WireError, completion_body, parse_request, prompt_tokens, stream_chunks

__all__ = ("RecordedRequest", "SimulatorServer", "serve")

Failure = Literal["429", "500", "401", "400", "timeout", "malformed"]
_FAILURES = frozenset(("429", "500", "401", "400", "timeout", "malformed"))
_JSON = "application/json"
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_MALFORMED_JSON = (
    b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"message": {"content": "trunc'
)
_MALFORMED_CHUNK = b'data: {"id": "chatcmpl-malformed", "choices": [{"delta": {"content": "bro\n\n'


@dataclass(slots=True, frozen=True)
class RecordedRequest:
    """A request the simulator received, for tests to inspect."""

    path: str
    body: dict[str, Any]
    """The decoded JSON body."""
    headers: Mapping[str, str]
    query: Mapping[str, str]


def _error(status: int, message: str, kind: str, code: str | None = None, headers: Mapping[str, str] | None = None):
    body = orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


class SimulatorServer:
    """The simulated model as an OpenAI-compatible HTTP server on `host:port` (`port=0` picks a free one).

    ```python
    async with SimulatorServer(ttft_ms=50, tokens_per_s=200) as srv:
        agent = ak.Agent("a", ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1"))
    ```

    Endpoints: `POST /v1/chat/completions` (`stream` false or true, with `stream_options.include_usage`),
    `POST /openai/deployments/{name}/chat/completions` and `POST /openai/v1/chat/completions` (Azure's
    shapes), `GET /v1/models`.
    A `[[sim:429]]`-style directive in the last user message makes that request fail (see
    `agentickit.providers.simulated`); `fail_first_n` makes the next n requests fail with `fail_with`.

    Args:
        host: the interface to listen on.
        port: the port; 0 picks a free one (read it back from `port` or `base_url`).
        ttft_ms: milliseconds before the first token.
        tokens_per_s: streaming speed; `None` sends every token at once.
        reply: `"echo"`, a fixed text, or a function of a `SimRequest`.
        script: scripted turns, as for `SimulatedModel`.
        thoughts: reasoning text sent as `reasoning_content` before the answer.
        tools_mode: `"auto"` calls offered tools on its own; `"never"` ignores them.
        model_name: the model id reported by `/v1/models` and in replies.
        fail_first_n: the next n requests fail with `fail_with`.
        fail_with: the failure `fail_first_n` injects: 429, 500, 401, 400, timeout or malformed.
        retry_after: seconds sent in `Retry-After` (and `retry-after-ms`) with a 429.
        hang_s: how long a `timeout` failure hangs if the client never gives up.
        api_key: when set, requests must carry it (`Authorization: Bearer ...` or `api-key`), else 401.
        record: keep the last `record` requests in `requests` (0 keeps none).

    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ttft_ms: float = 0.0,
        tokens_per_s: float | None = None,
        reply: Reply = "echo",
        script: Sequence[ScriptEntry] = (),
        thoughts: str = "",
        tools_mode: Literal["auto", "never"] = "auto",
        model_name: str = "sim",
        fail_first_n: int = 0,
        fail_with: Failure = "500",
        retry_after: float = 0.0,
        hang_s: float = 300.0,
        api_key: str | None = None,
        record: int = 1000,
    ) -> None:
        if ttft_ms < 0:
            raise ValueError("ttft_ms must be >= 0")
        if tokens_per_s is not None and tokens_per_s <= 0:
            raise ValueError("tokens_per_s must be > 0, or None to send every token at once")
        self.host = host
        self.port = port
        self.ttft = ttft_ms / 1000.0
        self.tokens_per_s = tokens_per_s
        self.reply = reply
        self.script = script
        self.thoughts = thoughts
        self.tools_mode: Literal["auto", "never"] = tools_mode
        self.model_name = model_name
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.api_key = api_key
        self.requests: deque[RecordedRequest] = deque(maxlen=max(record, 1))
        """The last requests received (bounded)."""
        self.disconnects = 0
        """Client disconnects seen before a reply was complete (a closed stream, a client timeout)."""
        self.completed = 0
        """Replies sent in full."""
        self._record = record > 0
        self._fail_remaining = 0
        self._fail_with: str = "500"
        self.fail_next(fail_first_n, fail_with)
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._disconnected: asyncio.Event | None = None
        self._models_body = orjson.dumps(
            {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0, "owned_by": "agentickit"}]}
        )

    # -- control ------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://host:port` (append `/v1` for OpenAI clients)."""
        return f"http://{self.host}:{self.port}"

    def fail_next(self, n: int, failure: Failure = "500") -> None:
        """Make the next `n` requests fail with `failure` (then answer normally again)."""
        if failure not in _FAILURES:
            raise ValueError(f"unknown failure {failure!r}; use one of {sorted(_FAILURES)}")
        if n < 0:
            raise ValueError("n must be >= 0")
        self._fail_remaining = n
        self._fail_with = failure

    async def wait_disconnect(self, count: int = 1) -> None:
        """Wait until at least `count` client disconnects were seen (bound it with `asyncio.timeout`)."""
        event = self._event()
        while self.disconnects < count:
            event.clear()
            await event.wait()

    def _event(self) -> asyncio.Event:
        if self._disconnected is None:
            self._disconnected = asyncio.Event()
        return self._disconnected

    def _saw_disconnect(self) -> None:
        self.disconnects += 1
        if self._disconnected is not None:
            self._disconnected.set()

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start listening. Idempotent."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/chat/completions", self._chat)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat)
        app.router.add_post("/openai/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/embeddings", self._embeddings)
        app.router.add_get("/models", self._models)
        # handler_cancellation: a client that goes away cancels its handler at once, which is how
        # the server notices (and counts) a stream closed early.
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, backlog=4096)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self._event()

    async def aclose(self) -> None:
        """Stop listening and close open connections. Idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- handlers -----------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        return web.Response(body=self._models_body, content_type=_JSON)

    async def _embeddings(self, request: web.Request) -> web.Response:
        # Deterministic vectors: the offline hashed n-gram features (the same as `HashEmbedder`),
        # so a client gets the same results over HTTP as in process.
        from ..memory._rag import hash_features

        try:
            raw: Any = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "the request body is not valid JSON", "invalid_request_error")
        data = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
        if self._record:
            self.requests.append(RecordedRequest(request.path, data, request.headers, request.query))
        if self.api_key is not None and not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        texts: Any = data.get("input")
        if isinstance(texts, str):
            texts = [texts]
        dim: Any = data.get("dimensions", 384)
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in cast(list[Any], texts)):
            return _error(400, "`input` must be a string or a non-empty list of strings", "invalid_request_error")
        if not isinstance(dim, int) or not 8 <= dim <= 4096:
            return _error(400, "`dimensions` must be an integer between 8 and 4096", "invalid_request_error")
        inputs = cast(list[str], texts)
        tokens = sum(len(t.split()) for t in inputs)
        body = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": hash_features(t, dim)} for i, t in enumerate(inputs)
            ],
            "model": str(cast(Any, data.get("model")) or "simulated-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.Response(body=orjson.dumps(body), content_type=_JSON)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "the request body is not valid JSON", "invalid_request_error")
        if self._record and isinstance(data, dict):
            self.requests.append(RecordedRequest(request.path, data, request.headers, request.query))  # pyright: ignore[reportUnknownArgumentType]
        if self.api_key is not None and not self._authorized(request):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        try:
            sim = parse_request(data)
        except WireError as exc:
            return _error(400, str(exc), "invalid_request_error")
        body = cast(dict[str, Any], data)
        stream = body.get("stream") is True
        failure = failure_for(sim.last_user)
        if failure is None and self._fail_remaining > 0:
            self._fail_remaining -= 1
            failure = self._fail_with
        if failure is not None:
            return await self._fail(request, failure, stream)
        turn = plan_turn(sim, reply=self.reply, script=self.script, tools_mode=self.tools_mode)
        if self.thoughts and not turn.thoughts:
            turn = SimTurn(turn.text, turn.tool_calls, self.thoughts)
        prompt = prompt_tokens(sim.messages)
        max_tokens = sim.settings.max_tokens
        if stream:
            options: Any = body.get("stream_options")
            usage = isinstance(options, dict) and bool(cast(dict[str, Any], options).get("include_usage"))
            return await self._stream(request, turn, max_tokens, usage, prompt)
        return await self._complete(turn, max_tokens, prompt)

    def _authorized(self, request: web.Request) -> bool:
        key = self.api_key
        return request.headers.get("Authorization") == f"Bearer {key}" or request.headers.get("api-key") == key

    async def _hang(self) -> None:
        try:
            await asyncio.sleep(self.hang_s)
        except asyncio.CancelledError:
            self._saw_disconnect()
            raise

    async def _fail(self, request: web.Request, failure: str, stream: bool) -> web.StreamResponse:
        if failure == "429":
            ra = self.retry_after
            headers = {"Retry-After": f"{ra:g}", "retry-after-ms": str(round(ra * 1000))}
            return _error(
                429, "Rate limit reached (simulated 429).", "rate_limit_error", "rate_limit_exceeded", headers
            )
        if failure == "500":
            return _error(500, "The server had an error while processing your request (simulated 500).", "server_error")
        if failure == "401":
            return _error(
                401, "Incorrect API key provided (simulated 401).", "invalid_request_error", "invalid_api_key"
            )
        if failure == "400":
            return _error(400, "Invalid request (simulated 400).", "invalid_request_error")
        if failure == "timeout":
            await self._hang()
            return _error(504, "the simulated timeout ended before the client gave up", "server_error")
        # malformed
        if not stream:
            return web.Response(body=_MALFORMED_JSON, content_type=_JSON)
        resp = web.StreamResponse(headers=_SSE_HEADERS)
        await resp.prepare(request)
        writer = ChunkWriter("chatcmpl-malformed", int(time.time()), self.model_name)
        await resp.write(writer.role() + _MALFORMED_CHUNK + DONE)
        await resp.write_eof()
        return resp

    def _limit(self, turn: SimTurn, max_tokens: int | None) -> tuple[list[str], str]:
        tokens = tokenize(turn.text)
        if max_tokens is not None and len(tokens) > max_tokens:
            return tokens[:max_tokens], "length"
        return tokens, "tool_calls" if turn.tool_calls else "stop"

    async def _complete(self, turn: SimTurn, max_tokens: int | None, prompt: int) -> web.Response:
        tokens, finish = self._limit(turn, max_tokens)
        delay = self.ttft + (len(tokens) / self.tokens_per_s if self.tokens_per_s else 0.0)
        if delay > 0:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self._saw_disconnect()
                raise
        text = "".join(tokens) if finish == "length" else turn.text
        completion = len(tokens) + 8 * len(turn.tool_calls)
        cid = f"chatcmpl-sim{next(self._ids)}"
        body = completion_body(cid, int(time.time()), self.model_name, turn, text, finish, prompt, completion)
        self.completed += 1
        return web.Response(body=body, content_type=_JSON)

    async def _stream(
        self, request: web.Request, turn: SimTurn, max_tokens: int | None, usage: bool, prompt: int
    ) -> web.StreamResponse:
        tokens, finish = self._limit(turn, max_tokens)
        writer = ChunkWriter(f"chatcmpl-sim{next(self._ids)}", int(time.time()), self.model_name)
        resp = web.StreamResponse(headers=_SSE_HEADERS)
        try:
            await resp.prepare(request)
            start = time.perf_counter()
            ttft = self.ttft
            if ttft > 0:
                await asyncio.sleep(ttft)
            buf = [writer.role()]
            if turn.thoughts:
                buf.extend(writer.reasoning(tok) for tok in tokenize(turn.thoughts))
            tps = self.tokens_per_s
            emitted = 0
            for tok in tokens:
                if tps is not None:
                    # Write and sleep only when more than 1 ms ahead of schedule: a write per token
                    # would cost more than the token at high rates.
                    ahead = start + ttft + emitted / tps - time.perf_counter()
                    if ahead > 0.001:
                        if buf:
                            await resp.write(b"".join(buf))
                            buf.clear()
                        await asyncio.sleep(ahead)
                emitted += 1
                buf.append(writer.content(tok))
            if turn.tool_calls:
                buf.extend(stream_chunks(writer, turn))
            buf.append(writer.finish(finish))
            if usage:
                buf.append(writer.usage(prompt, emitted + 8 * len(turn.tool_calls)))
            buf.append(DONE)
            await resp.write(b"".join(buf))
            await resp.write_eof()
        except asyncio.CancelledError:
            self._saw_disconnect()
            raise
        except ConnectionResetError:
            self._saw_disconnect()
            return resp
        self.completed += 1
        return resp


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    announce: Callable[[str], None] | None = print,
    **options: Any,
) -> None:
    """Serve the simulator until interrupted (Ctrl-C or SIGTERM); blocking, for the CLI.

    Args:
        host: the interface to listen on.
        port: the port (0 picks a free one; the announcement says which).
        announce: called with a one-line "listening on ..." message once the server accepts requests.
        **options: `SimulatorServer` keyword arguments (`ttft_ms`, `tokens_per_s`, `reply`, ...).

    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):  # signal handlers are unavailable on Windows
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with SimulatorServer(host, port, **options) as srv:
            if announce is not None:
                announce(f"agentickit simulate-llm: model {srv.model_name!r} listening on {srv.base_url}/v1")
            await stop.wait()

    try:
        import uvloop
    except ImportError:
        runner: Callable[[Any], None] = asyncio.run
    else:
        runner = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        runner(main())
