"""`OpenAIModel`: our lean OpenAI-compatible client on aiohttp (the default transport).

Measured against a local OpenAI-compatible server, a plain aiohttp client does ~3x the runs/s and
~10x the streamed chunks/s of the official SDK, so this transport stays close to that floor: one
pooled `ClientSession` per model (opened lazily inside the running loop), orjson both ways, tool
schemas encoded once, and SSE parsed straight from the response buffers into our stream events,
with no per-chunk model objects.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import orjson
from yarl import URL

from ..._redact import redact_url
from ..._utils import LoopBound
from ..._version import __version__
from ...errors import (
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderTimeoutError,
    ResponseTooLargeError,
    ServerError,
)
from ...messages import Message, ModelResponse, ToolDefinition, Usage
from ...options import ModelSettings
from ...telemetry import _hooks as _tel
from .._base import (
    TEXT_BLOCK,
    BatchItem,
    EncodedTools,
    ModelStream,
    StreamEvent,
    ThoughtDelta,
    ToolCallDelta,
    UsageEvent,
    flatten_batches,
)
from .._http import decode_body, is_local_url, server_message, status_error
from ._endpoint import OpenAICompatible, OpenAIEndpoint
from ._wire import bad_response, call_delta, checked_str, parse_completion, tools_json, truncated

__all__ = ("DEFAULT_MAX_RESPONSE_BYTES", "OpenAIModel", "env_proxy")

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError
_DONE = b"[DONE]"
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The largest response body (streamed or not) a model may send: 64 MiB, ~60x a long answer."""
_WINDOW = 64
_SMALL_BODY = 4096


def env_proxy(url: str) -> str | None:
    """The proxy the environment asks for to reach `url` (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), if any."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if is_local_url(url) or urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _encode_tools(tools: Sequence[ToolDefinition]) -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(tools_json(tools)))


class OpenAIModel(OpenAICompatible):
    """A model behind any OpenAI-compatible `/chat/completions` endpoint, over our aiohttp client.

    Build it through `ak.LLMConfig(provider="openai", ...)` (or `azure`, `ollama`) rather than
    directly. One instance serves any number of concurrent runs over one connection pool.

    Args:
        model_name: the model (or Azure deployment) name.
        endpoint: where the API is and how to talk to it (`OpenAIEndpoint`).
        max_response_bytes: the largest response body accepted (`None`: no cap); past it the request
            fails with `ResponseTooLargeError` and the connection is dropped.

    """

    transport = "aiohttp"
    supports_native_output = True  # `response_format` with a `json_schema` (strict when the schema allows)

    def __init__(
        self,
        model_name: str,
        endpoint: OpenAIEndpoint,
        *,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        super().__init__(model_name, endpoint)
        self.max_response_bytes = max_response_bytes
        self._url = URL(self.url).update_query(endpoint.query) if endpoint.query else URL(self.url)
        # The pool belongs to the loop that opened it; a new loop (run_sync) gets a new one.
        self._session: LoopBound[aiohttp.ClientSession] = LoopBound(self._open)
        self._watch: LoopBound[_ReadWatch] = LoopBound(_ReadWatch)
        self._tools = EncodedTools(_encode_tools)
        self._complete_timeout = aiohttp.ClientTimeout(total=endpoint.timeout, sock_connect=endpoint.timeout)
        self._stream_timeout = aiohttp.ClientTimeout(
            total=endpoint.request_timeout, sock_connect=endpoint.timeout, sock_read=endpoint.timeout
        )

    # -- the pool --------------------------------------------------------------------------------------

    def _open(self) -> aiohttp.ClientSession:
        e = self.endpoint
        headers = {"Content-Type": "application/json", "User-Agent": f"agentickit/{__version__}"}
        if e.api_key:
            if e.auth == "api-key":
                headers["api-key"] = e.api_key
            else:
                headers["Authorization"] = f"Bearer {e.api_key}"
        headers.update(e.headers)
        connector = aiohttp.TCPConnector(limit=e.max_connections, limit_per_host=0, keepalive_timeout=30.0)
        proxy = e.proxy if e.proxy is not None else env_proxy(self.url)
        return aiohttp.ClientSession(connector=connector, headers=headers, proxy=proxy or None)

    def _pool(self) -> aiohttp.ClientSession:
        session = self._session.get()
        return self._session.renew() if session.closed else session

    async def aclose(self) -> None:
        """Close the connection pool. Idempotent; the next request opens a new one."""
        session = self._session.pop()
        if session is not None and not session.closed:
            await session.close()

    # -- requests --------------------------------------------------------------------------------------

    def _body(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings, stream: bool
    ) -> bytes:
        body = self._request_fields(messages, self._tools.get(tools), settings, stream)
        extra = self.endpoint.extra_body
        if extra:
            body.update(extra)
        raw = orjson.dumps(body)
        # orjson hands back small outputs in its 4 KiB working buffer; a live stream holds its body
        # until the answer starts, so an exact-size copy saves ~4 KiB per stream in flight (~40 ns).
        return bytes(memoryview(raw)) if len(raw) < _SMALL_BODY else raw

    def _status_error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderHTTPError:
        return status_error(
            status,
            decode_body(raw),
            headers,
            provider=self.provider,
            model=self.model_name,
            where=self.url,
            key_hint=self.endpoint.key_hint,
        )

    def _timeout_error(self, timeout: float | None, started: float | None = None) -> ProviderTimeoutError:
        limit = self.endpoint.request_timeout
        if started is not None and limit is not None and time.monotonic() - started >= limit * 0.99:
            return ProviderTimeoutError(
                f"{self.provider} model {self.model_name!r} did not finish its answer within {limit:g} s "
                f"at {redact_url(self.url)} (LLMConfig.request_timeout; None removes the limit)",
                provider=self.provider,
                model=self.model_name,
            )
        return ProviderTimeoutError(
            f"{self.provider} model {self.model_name!r} did not answer within {timeout or self.endpoint.timeout:g} s "
            f"at {redact_url(self.url)}; raise LLMConfig.timeout or check the server",
            provider=self.provider,
            model=self.model_name,
        )

    def _too_large(self) -> ResponseTooLargeError:
        return ResponseTooLargeError(
            f"{self.provider} model {self.model_name!r} sent a response larger than {self.max_response_bytes} bytes "
            f"at {redact_url(self.url)}; raise LLMConfig(options={{'max_response_bytes': ...}}) or lower max_tokens",
            provider=self.provider,
            model=self.model_name,
        )

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body, refusing one past `max_response_bytes` before holding it in memory."""
        cap = self.max_response_bytes
        length = resp.content_length
        if cap is None or (length is not None and length <= cap):
            return await resp.read()
        if length is not None:
            raise self._too_large()
        parts: list[bytes] = []
        size = 0
        async for data in resp.content.iter_any():
            size += len(data)
            if size > cap:
                raise self._too_large()
            parts.append(data)
        return b"".join(parts)

    def _connection_error(self, exc: BaseException) -> ProviderConnectionError:
        return ProviderConnectionError(
            f"could not talk to {self.provider} at {redact_url(self.url)} ({type(exc).__name__}: {exc}); "
            "check base_url and that the server is running and reachable",
            provider=self.provider,
            model=self.model_name,
        )

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Send one non-streamed request.

        Raises:
            ProviderError: `AuthenticationError`, `BadRequestError`, `RateLimitError`, `ServerError`,
                `ProviderTimeoutError`, `ProviderConnectionError` or `BadResponseError`.

        """
        session = self._pool()
        body = self._body(messages, tools, settings, False)
        timeout = (
            self._complete_timeout
            if settings.timeout is None
            else aiohttp.ClientTimeout(total=settings.timeout, sock_connect=settings.timeout)
        )
        try:
            headers = None if _tel.active is None else _tel.active.carrier()  # W3C traceparent when tracing
            async with session.post(self._url, data=body, timeout=timeout, headers=headers) as resp:
                raw = await self._read(resp)
                if resp.status >= 400:
                    raise self._status_error(resp.status, raw, resp.headers)
        except TimeoutError as exc:
            raise self._timeout_error(settings.timeout) from exc
        except aiohttp.ClientError as exc:
            raise self._connection_error(exc) from exc
        return parse_completion(raw, self.provider, self.model_name)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Start a streamed request (sent on first iteration); closing the stream closes the HTTP response."""
        timeout = (
            self._stream_timeout
            if settings.timeout is None
            else aiohttp.ClientTimeout(
                total=self.endpoint.request_timeout, sock_connect=settings.timeout, sock_read=settings.timeout
            )
        )
        return _OpenAIStream(self, self._body(messages, tools, settings, True), timeout, settings.timeout)


_TICKS = 8
"""A read timeout is checked every 1/8 of it: a stalled stream fails between 1 and 1.125 times its timeout."""


class _ReadWatch:
    """The read timeouts (`LLMConfig.timeout` between two reads) of one loop's live streams, on one timer.

    aiohttp's `sock_read` is a timer per response, cancelled and made again on every network read:
    ~600 bytes per live stream on uvloop (a `TimerHandle` with its libuv timer), the largest single
    thing a stream waiting for its first token held beyond what a bare aiohttp client does. aiohttp
    keeps it while the request is sent and its headers awaited (the pool wait and the connect are not
    counted, as before); from the headers on, a stream is timed here: a stream waiting for a network
    read longer than its timeout has its task cancelled, which its `batches()` turns into the same
    `ProviderTimeoutError`. Time the stream spends handing a read to a slow consumer is not counted
    (aiohttp stops its timer while reading is paused, too).
    """

    __slots__ = ("due", "handle", "streams")

    def __init__(self) -> None:
        self.streams: set[_OpenAIStream] = set()
        self.handle: asyncio.TimerHandle | None = None
        self.due = 0.0

    def add(self, stream: _OpenAIStream, limit: float) -> None:
        self.streams.add(stream)
        due = time.monotonic() + limit / _TICKS
        if self.handle is None or due < self.due:
            self._arm(due)

    def _arm(self, due: float) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.due = due
        self.handle = asyncio.get_running_loop().call_later(max(due - time.monotonic(), 0.0), self._check)

    def _check(self) -> None:
        self.handle = None
        streams = self.streams
        if not streams:
            return  # the timer stops with the last stream; the next one arms it again
        now = time.monotonic()
        tick = 0.0
        for stream in list(streams):
            limit = stream._read_limit  # pyright: ignore[reportPrivateUsage]
            since = stream._since  # pyright: ignore[reportPrivateUsage]
            if since and now - since >= limit:
                stream._stall()  # pyright: ignore[reportPrivateUsage]
            if not tick or limit < tick:
                tick = limit
        self._arm(now + tick / _TICKS)


class _OpenAIStream(ModelStream):
    __slots__ = (
        "_base",
        "_body",
        "_closed",
        "_deadline",
        "_done",
        "_model",
        "_pending",
        "_read_limit",
        "_resp",
        "_since",
        "_size",
        "_stalled",
        "_tail",
        "_task",
        "_timeout",
    )

    def __init__(self, model: OpenAIModel, body: bytes, timeout: aiohttp.ClientTimeout, deadline: float | None) -> None:
        super().__init__()
        self._model = model
        self._body = body
        self._timeout = timeout
        self._deadline = deadline
        self._resp: aiohttp.ClientResponse | None = None
        self._closed = False
        self._done = False
        """Whether the `[DONE]` line arrived."""
        self._size = 0
        self._tail = b""
        """The start of a line whose end has not arrived yet."""
        self._pending: list[bytes] = []
        """A line longer than one read, collected piece by piece and joined once its end arrives."""
        self._read_limit: float = timeout.sock_read or 0.0
        self._since = 0.0
        """`time.monotonic()` when the stream began waiting for a network read (0: not waiting); see `_ReadWatch`."""
        self._task: asyncio.Task[Any] | None = None
        self._stalled = False
        self._base = 0

    def _stall(self) -> None:
        """The read timeout passed (see `_ReadWatch`): cancel the task waiting for the read."""
        self._since = 0.0
        task = self._task
        if task is not None and not task.done():
            self._stalled = True
            self._base = task.cancelling()
            task.cancel()

    def _watched(self, resp: aiohttp.ClientResponse) -> _ReadWatch | None:
        """Take the read timeout over from aiohttp (see `_ReadWatch`); `None` where it cannot be."""
        limit = self._read_limit
        conn = resp.connection
        proto = conn.protocol if conn is not None else None
        drop = getattr(proto, "_drop_timeout", None)
        if not limit or proto is None or drop is None:
            return None  # aiohttp keeps timing the reads itself
        proto.read_timeout = None
        drop()
        watch = self._model._watch.get()  # pyright: ignore[reportPrivateUsage]
        watch.add(self, limit)
        return watch

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        # `batches` records what it yields itself, so the base class's bookkeeping layer (one more
        # generator hop per token) is skipped.
        return self._events()

    def _events(self) -> AsyncIterator[StreamEvent]:
        return flatten_batches(self.batches())

    async def aclose(self) -> None:
        """Close the HTTP response at once (the server sees the disconnect). Idempotent."""
        self._closed = True
        resp = self._resp
        if resp is not None:
            resp.close()

    def _replay(self, reply: ModelResponse) -> list[BatchItem]:
        self._finish_reason = reply.finish_reason
        batch: list[BatchItem] = []
        if reply.thoughts:
            self._thoughts.append(reply.thoughts)
            batch.append(ThoughtDelta(reply.thoughts))
        if reply.content:
            self._text.append(reply.content)
            batch.append(reply.content)
        for index, call in enumerate(reply.tool_calls):
            delta = ToolCallDelta(index, call.id, call.name, call.arguments)
            self._add_call_delta(delta)
            batch.append(delta)
        self._usage = reply.usage
        batch.append(UsageEvent(reply.usage))
        return batch

    async def batches(self) -> AsyncGenerator[list[BatchItem], None]:
        """The events of each network read as one batch (see `ModelStream.batches`)."""
        model = self._model
        started = time.monotonic()
        try:
            resp = await model._pool().post(  # pyright: ignore[reportPrivateUsage]
                model._url,  # pyright: ignore[reportPrivateUsage]
                data=self._body,
                timeout=self._timeout,
                headers=None if _tel.active is None else _tel.active.carrier(),  # W3C traceparent when tracing
            )
        except TimeoutError as exc:
            raise model._timeout_error(self._deadline) from exc  # pyright: ignore[reportPrivateUsage]
        except aiohttp.ClientError as exc:
            raise model._connection_error(exc) from exc  # pyright: ignore[reportPrivateUsage]
        self._resp = resp
        # Sent: the body is not needed while the answer streams (a stream is sent once).
        self._body = b""
        finished = False
        try:
            if self._closed:
                return
            if resp.status >= 400:
                raw = await model._read(resp)  # pyright: ignore[reportPrivateUsage]
                finished = True
                raise model._status_error(resp.status, raw, resp.headers)  # pyright: ignore[reportPrivateUsage]
            if resp.content_type == "application/json":
                # A server that ignores `stream: true` and answers in one piece.
                reply = parse_completion(await model._read(resp), model.provider, model.model_name)  # pyright: ignore[reportPrivateUsage]
                finished = True
                yield self._replay(reply)
                return
            # One batch per network read: the consumer awaits once per read, not once per event.
            feed = self.feed
            status = resp.status
            watch = self._watched(resp)
            if watch is None:
                async for data in resp.content.iter_any():
                    batch = feed(data, status)
                    if batch:
                        yield batch
            else:
                readany = resp.content.readany
                now = time.monotonic
                try:
                    while True:
                        self._task = asyncio.current_task()
                        self._since = now()
                        try:
                            data = await readany()
                        except asyncio.CancelledError:
                            if self._stalled:
                                self._stalled = False
                                task = self._task
                                if task is not None and task.uncancel() <= self._base:
                                    raise TimeoutError("no data within the read timeout") from None
                            raise
                        self._since = 0.0
                        if not data:
                            break
                        batch = feed(data, status)
                        if batch:
                            yield batch
                finally:
                    self._since = 0.0
                    self._task = None
                    watch.streams.discard(self)
            self.end()
            finished = True
        except TimeoutError as exc:
            if not self._closed:
                raise model._timeout_error(self._deadline, started) from exc  # pyright: ignore[reportPrivateUsage]
        except aiohttp.ClientError as exc:
            if not self._closed:
                raise model._connection_error(exc) from exc  # pyright: ignore[reportPrivateUsage]
        finally:
            if finished:
                resp.release()
            else:
                # Half-read: drop the connection rather than return it to the pool, so the server
                # sees the client go away (this is how a cancelled stream stops upstream work).
                resp.close()

    def feed(self, data: bytes, status: int = 200) -> list[BatchItem] | None:
        """The events of the SSE lines that one network read completes (`None`: it ended no line).

        Any split of a stream into reads gives the same events (`tests/providers/test_sse_fuzz.py`).

        Raises:
            ResponseTooLargeError: the stream passed `max_response_bytes`.
            BadResponseError: an event is not valid JSON or has a wrong shape.
            ServerError: the server reported an error in the middle of the stream.

        """
        size = self._size = self._size + len(data)
        cap = self._model.max_response_bytes
        if cap is not None and size > cap:
            raise self._model._too_large()  # pyright: ignore[reportPrivateUsage]
        tail = self._tail
        pending = self._pending
        if b"\n" not in data:
            # `tail + data` per read made a 50 MB line quadratic (3.5 s): collect, join once.
            if tail:
                pending.append(tail)
                self._tail = b""
            pending.append(data)
            return None
        # The unfinished line before this read goes onto the first line, not in front of the read:
        # `tail + data` copied the whole read (up to ~1 MB at full speed) while the caller still
        # held the original, one more copy of it at the stream's memory peak.
        lines = data.split(b"\n")
        if pending:
            pending.append(lines[0])
            lines[0] = b"".join(pending)
            pending.clear()
        elif tail:
            lines[0] = tail + lines[0]
        self._tail = lines.pop()
        return self._parse(lines, status)

    def end(self) -> None:
        """Check how the stream ended: on a line boundary, with `[DONE]` or a `finish_reason`.

        Raises:
            BadResponseError: the stream ended in the middle of an event.
            TruncatedResponseError: the stream closed before the answer was complete.

        """
        model = self._model
        tail = b"".join(self._pending) + self._tail if self._pending else self._tail
        if tail.strip():
            raise bad_response(model.provider, model.model_name, "the stream ended in the middle of an event", tail)
        if not self._closed and not self._done and self._finish_reason is None:
            raise truncated(model.provider, model.model_name)

    def _parse(self, lines: list[bytes], status: int) -> list[BatchItem]:
        """The events of whole SSE lines, recorded for `response()`; text as bare strings."""
        batch: list[BatchItem] = []
        add = batch.append
        # Text is recorded once per read (see the end), not appended per token; `pure` says the
        # batch is all text, the usual case, so it can be joined as it is.
        pure = True
        # A window of lines at a time (an event is a `data:` line and a blank one): the payloads of a
        # whole read, a copy of it, are never all alive at once.
        step = 2 * _WINDOW
        for w in range(0, len(lines), step):
            # SSE: only `data:` lines matter here; blank lines, comments and `event:` are skipped.
            # orjson skips the space after `data:` and a trailing `\r` itself.
            window = [line[5:] for line in lines[w : w + step] if line.startswith(b"data:")]
            if not window:
                continue
            # A window of events in one parse, as one JSON array: ~50 ns an event less than a parse
            # per event. A window, not the whole read: a read can hold thousands of events, and
            # their parsed trees all alive at once fall out of the CPU cache (measured slower than
            # one parse per event). When it fails (the `[DONE]` line, a malformed event) or splits
            # differently, the events are parsed and taken one by one, in order, so the first
            # problem of the stream is the one reported whichever reads it arrived in (an error
            # event before a malformed line is a `ServerError`, as when they arrive apart). Lines
            # that are not JSON alone but join into as many values are taken as those values: only
            # a server crafting them could send that, and it could as well send the values.
            objs: Any = None
            try:
                objs = _loads(b"[" + b",".join(window) + b"]")
            except _JSONDecodeError:
                pass
            if objs is None or len(objs) != len(window):
                for payload in window:
                    one = self._parse_one(payload)
                    if one is not None:
                        pure = self._take(one, add, status) and pure
            else:
                pure = self._take(objs, add, status) and pure
        if batch:
            text = self._text
            text.append("".join(cast("list[str]", batch) if pure else [t for t in batch if isinstance(t, str)]))
            if len(text) >= TEXT_BLOCK:
                self._fold_text()
        return batch

    def _take(self, objs: list[Any], add: Callable[[BatchItem], None], status: int) -> bool:
        """Turn parsed events into batch items; whether they were all text."""
        model = self._model
        pure = True
        for obj in objs:
            try:
                choices = obj.get("choices")
                if choices:
                    choice = choices[0]
                    delta = choice.get("delta")
                    if delta:
                        text = delta.get("content")
                        if type(text) is str and len(delta) == 1:
                            # The common case, a text-only delta, skips the other lookups.
                            if text:
                                add(text)
                        else:
                            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                            if reasoning:
                                checked_str(reasoning, "choices[0].delta.reasoning_content")
                                self._thoughts.append(reasoning)
                                add(ThoughtDelta(reasoning))
                                pure = False
                            if text is not None:
                                if checked_str(text, "choices[0].delta.content"):
                                    add(text)
                            calls = delta.get("tool_calls")
                            if calls:
                                pure = False
                                for c in calls:
                                    call = call_delta(c)
                                    self._add_call_delta(call)
                                    add(call)
                    reason = choice.get("finish_reason")
                    if reason:
                        self._finish_reason = checked_str(reason, "choices[0].finish_reason")
                elif choices is None:
                    if "error" in obj:
                        raise ServerError(
                            f"{model.provider} reported an error in the middle of the stream: {server_message(obj)}",
                            status=status,
                            body=obj,
                            provider=model.provider,
                            model=model.model_name,
                        )
                    if not obj.get("usage"):
                        raise TypeError("the event has no 'choices'")
                usage = obj.get("usage")
                if usage:
                    self._usage = Usage(
                        int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), 1
                    )
                    add(UsageEvent(self._usage))
                    pure = False
                if self._model_name is None:
                    name = obj.get("model")
                    self._model_name = name if type(name) is str else None
            except (AttributeError, TypeError, KeyError, IndexError, ValueError, OverflowError) as exc:
                raise bad_response(
                    model.provider, model.model_name, f"a stream event has a wrong shape: {exc}", _dumps(obj)
                ) from exc
        return pure

    def _parse_one(self, payload: bytes) -> list[Any] | None:
        """One event (as a list of one), or `None` for `[DONE]`; a malformed one is a `BadResponseError`."""
        try:
            return [_loads(payload)]
        except _JSONDecodeError:
            if payload.strip() == _DONE:
                self._done = True
                return None
            model = self._model
            raise bad_response(model.provider, model.model_name, "a stream event is not valid JSON", payload) from None
