"""Custom handlers and the `Capabilities` bridge they receive.

A handler replaces the default LLM loop of an agent:

```python
async def handler(input: str, caps: ak.Capabilities) -> str:
    if (hit := quick_lookup(input)) is not None:
        return hit                                   # early exit: the model is never called
    return await caps.llm("You are terse.", input)
```

Unlike the Go original (where a handler only post-processes the model's reply and its tools and
memory are nil), a handler here gets the user's input and working capabilities: the agent's model
(`llm`, `llm_stream`), its tools (`tools.call`), its memory (`memory.history`, `memory.query`), and
the run's stream (`emit`). Everything it uses is accounted for in the run's `Result` (usage, tool
calls) and, in `run_stream`, reaches the stream.
"""

from __future__ import annotations

import inspect
import re
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import FunctionType, TracebackType
from typing import TYPE_CHECKING, Any, Self, TypedDict, Unpack

from .._result import Result, Source
from ..errors import ProviderError, ToolError, UsageLimitExceeded, UserError
from ..messages import Message, ModelResponse, ToolCallRecord, Usage
from ..options import ModelSettings, RunOptions
from ..providers._base import Model, TextDelta
from ..providers._retry import retry_call, retry_unstarted
from ..streaming._chunk import Chunk, ChunkType
from ..streaming._sink import ChunkSink, send_answer
from ..telemetry import _hooks as _tel
from ..tools._call import call_tool
from ..tools._context import RunContext
from ..tools._source import ToolSource
from ..tools._tool import Tool
from ._limits import partial_result, run_budget

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = (
    "EXPECTED_SIGNATURE",
    "Capabilities",
    "Handler",
    "LLMOptions",
    "LLMStream",
    "MemoryView",
    "ToolBox",
    "check_handler",
    "run_handler",
)

Handler = Callable[[str, "Capabilities"], Awaitable[str]]
"""`async def handler(input: str, caps: Capabilities) -> str`."""

EXPECTED_SIGNATURE = "async def handler(input: str, caps: ak.Capabilities) -> str"


class LLMOptions(TypedDict, total=False):
    """Options of `Capabilities.llm` / `llm_stream`; unset ones come from the run's options."""

    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stop: Sequence[str] | None


_LLM_OPTION_NAMES = frozenset(LLMOptions.__annotations__)

# Signature checks cost ~10 us (inspect.signature); an agent is built far more often than a
# handler is defined, so plain functions are checked once.
_checked: weakref.WeakKeyDictionary[Callable[..., Any], bool] = weakref.WeakKeyDictionary()


def check_handler(fn: Any) -> None:
    """Reject, at build time, a handler that cannot be called as `await fn(input, caps)`.

    Raises:
        UserError: `fn` is not callable, not a coroutine function, or takes other arguments;
            the message shows the expected signature.

    """
    plain = type(fn) is FunctionType
    if plain and fn in _checked:
        return
    if not callable(fn):
        raise UserError(f"handler must be a function `{EXPECTED_SIGNATURE}`, got {type(fn).__name__} {fn!r}")
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with an async __call__
    )
    if not is_async:
        raise UserError(
            f"handler {name!r} must be a coroutine function; write it as `{EXPECTED_SIGNATURE}` "
            "(a plain `def`, or a function returning an awaitable, is not accepted)"
        )
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins and some C callables have no signature: trust them
        sig = None
    if sig is not None:
        try:
            sig.bind(None, None)
        except TypeError as exc:
            raise UserError(
                f"handler {name!r} has the signature {name}{sig}, which cannot take (input, caps) ({exc}); "
                f"write it as `{EXPECTED_SIGNATURE}`"
            ) from None
    if plain:
        _checked[fn] = True


def _settings(opts: RunOptions, options: Mapping[str, Any]) -> ModelSettings:
    if options:
        unknown = options.keys() - _LLM_OPTION_NAMES
        if unknown:
            raise UserError(
                f"unknown option(s) {', '.join(sorted(map(repr, unknown)))} for caps.llm; "
                f"valid options are: {', '.join(sorted(_LLM_OPTION_NAMES))}"
            )
    return ModelSettings(
        max_tokens=options.get("max_tokens", opts.max_tokens),
        temperature=options.get("temperature", opts.temperature),
        top_p=options.get("top_p", opts.top_p),
        stop=options.get("stop", opts.stop),
    )


class LLMStream:
    """Text deltas of one streamed model call; use with `async for` (and optionally `async with`).

    Each delta is also forwarded to the run's stream as a DELTA chunk (unless `forward=False`).
    Leaving the `async with` block, or the handler returning, closes the upstream request.
    """

    __slots__ = ("_caps", "_forward", "_gen", "_messages", "_parts", "_settings", "response")

    def __init__(self, caps: Capabilities, messages: list[Message], settings: ModelSettings, forward: bool) -> None:
        self._caps = caps
        self._messages = messages
        self._settings = settings
        self._forward = forward
        self._parts: list[str] = []
        self._gen: AsyncGenerator[str, None] | None = None
        self.response: ModelResponse | None = None
        """The whole response, once the stream is exhausted."""

    @property
    def text(self) -> str:
        """The text received so far."""
        return "".join(self._parts)

    async def _deltas(self) -> AsyncGenerator[str, None]:
        caps = self._caps
        model = caps.model
        budget = caps._budget  # pyright: ignore[reportPrivateUsage]
        if budget is not None:
            try:
                budget.before_request()
            except UsageLimitExceeded as exc:
                raise caps._partial(exc) from None  # pyright: ignore[reportPrivateUsage]
        # The chat span is not made current: this generator's frames run in its consumer's context.
        chat = (
            None
            if _tel.active is None
            else _tel.active.chat_start(model, self._messages, (), self._settings, True, current=False)
        )
        attempt = 0
        try:
            while True:
                emitted = False
                try:
                    async with model.request_stream(self._messages, (), self._settings) as stream:
                        async for event in stream:
                            if type(event) is TextDelta:
                                if not emitted and chat is not None and not chat.first:
                                    chat.first = time.perf_counter()
                                emitted = True
                                self._parts.append(event.text)
                                if self._forward:
                                    await caps.emit(Chunk(ChunkType.DELTA, event.text))
                                yield event.text
                        self.response = response = stream.response()
                    caps.usage.add(response.usage)
                    if chat is not None:
                        chat.chat_end(response)
                        chat = None
                    if budget is not None:
                        try:
                            budget.after_response(response, model.model_name)
                        except UsageLimitExceeded as exc:
                            raise caps._partial(exc) from None  # pyright: ignore[reportPrivateUsage]
                    return
                except ProviderError as exc:
                    if not await retry_unstarted(exc, attempt, model.max_retries, emitted):
                        raise
                    attempt += 1
        except GeneratorExit:
            if chat is not None:  # the handler stopped reading: the call ended early, not in error
                chat.end()
                chat = None
            raise
        except BaseException as exc:
            if chat is not None:
                chat.fail(exc)
                chat = None
            raise

    def __aiter__(self) -> AsyncIterator[str]:
        if self._gen is None:
            self._gen = self._deltas()
            self._caps._streams.append(self)  # pyright: ignore[reportPrivateUsage]
        return self._gen

    async def aclose(self) -> None:
        """Close the upstream request. Idempotent."""
        gen = self._gen
        if gen is not None:
            await gen.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ToolBox:
    """The agent's tools, callable by a handler: `await caps.tools.call("search", query="x")`."""

    __slots__ = ("_caps", "_count")

    def __init__(self, caps: Capabilities) -> None:
        self._caps = caps
        self._count = 0

    def _names(self) -> list[str]:
        agent = self._caps.agent
        state = agent._tools_state  # pyright: ignore[reportPrivateUsage]
        resolved = state.toolset if state is not None else None
        if resolved is not None:
            return list(resolved)
        # Before the first resolution only plain tools are known, by name, without building schemas:
        # an early-exit handler that only asks `is_available` pays nothing for tools it does not call.
        names: list[str] = []
        for item in agent.tools:
            if isinstance(item, Tool):
                names.append(item.name)
            elif not isinstance(item, ToolSource):
                names.append(getattr(item, "__name__", "tool"))
        return names

    def available(self) -> list[str]:
        """The names of the agent's tools.

        Tools of sources (MCP servers, registries) are listed once they have been resolved: by a
        run of the default loop, by `await caps.tools.resolve()`, or by the first `call()`.
        """
        return self._names()

    def is_available(self, name: str) -> bool:
        """Whether the agent has a tool of that name (see `available` for tools of sources)."""
        return name in self._names()

    async def resolve(self) -> list[str]:
        """Resolve every tool (MCP servers connect and list theirs) and return all the names.

        Raises:
            MCPError: an MCP server could not be started or reached.

        """
        return list(await self._caps.agent.resolve_tools())

    async def call(self, name: str, /, **arguments: Any) -> Any:
        """Validate the arguments and call the tool through its policies, as the model's calls are.

        Timeouts (the tool's or the agent's `tool_timeout`), retries, rate limits, concurrency caps
        and the result cache all apply. The call is recorded in `Result.tool_calls` and the agent's
        tool metrics and, when streaming, sent as TOOL_CALL / TOOL_RESULT chunks.

        Raises:
            ToolError: there is no such tool, it failed (the cause is chained), or it timed out
                (`ToolTimeoutError`).
            ToolArgumentsError: the arguments fail the tool's validation.

        """
        caps = self._caps
        agent = caps.agent
        toolset = await agent.resolve_tools()
        chain = toolset.chains.get(name)
        if chain is None:
            available = ", ".join(sorted(toolset)) or "none"
            raise ToolError(
                f"agent {agent.name!r} has no tool {name!r}; available tools: {available} "
                "(check caps.tools.is_available(name) first)",
                tool_name=name,
            )
        args = chain.tool.validate(arguments)
        self._count += 1
        record, failure = await call_tool(
            f"{caps.run_id}_h{self._count}", name, args, chain, sink=caps.sink, metrics=toolset.metrics, ctx=caps.ctx
        )
        caps.tool_calls.append(record)
        if failure is not None:
            if isinstance(failure, ToolError):
                raise failure
            raise ToolError(record.error or "", tool_name=name) from failure
        return record.result


# Patterns, compiled on first use (re's cache) rather than at import: `import agentickit` stays lean.
_WORD = r"\w{3,}"


class MemoryView:
    """The conversation memory of the run's session, readable by a handler.

    Without a memory or a session (`session_id` option or the memory's default), history is empty
    and `enabled` is `False`; the methods still work.
    """

    __slots__ = ("_agent", "_opts", "session_id")

    def __init__(self, agent: Agent[Any], opts: RunOptions, session_id: str | None) -> None:
        self._agent = agent
        self._opts = opts
        self.session_id = session_id
        """The session this run reads and appends to, or `None` (stateless)."""

    @property
    def enabled(self) -> bool:
        """Whether the run has a memory and a session."""
        return self._agent.memory is not None and self.session_id is not None

    async def history(self, limit: int | None = None) -> list[Message]:
        """The session's history, oldest first, trimmed like the default loop trims it.

        `limit` defaults to the run's `history_limit`, then the memory's.
        """
        memory = self._agent.memory
        if memory is None or self.session_id is None:
            return []
        if limit is None:
            limit = self._opts.history_limit if self._opts.history_limit is not None else memory.history_limit
        return await memory.history(self.session_id, limit)

    async def query(self, text: str, k: int = 5, filter: Mapping[str, Any] | None = None) -> list[Source]:
        """Up to `k` items of memory relevant to `text`.

        With documents in the memory (`memory.add_documents`), the `k` most similar chunks, best
        first (exact vector search; `filter` matches their metadata). Otherwise past messages of the
        session (`kind="history"`), oldest first: relevance is shared words (3+ letters,
        case-insensitive), ties broken by recency; with no words in `text`, the `k` most recent.
        Each item has `.content` (= `.text`), `.score`, `.id` and `.metadata`.
        """
        memory = self._agent.memory
        if memory is None or k <= 0:
            return []
        if await memory.has_documents():
            return await memory.query(text, k=k, filter=filter)
        if self.session_id is None:
            return []
        messages = [m for m in await memory.store.get(self.session_id, None) if m.content and m.role != "tool"]
        word = re.compile(_WORD)
        words = {w.lower() for w in word.findall(text)}
        if not words:
            picked = [(0, i) for i in range(max(0, len(messages) - k), len(messages))]
        else:
            scored: list[tuple[int, int]] = []
            for i, m in enumerate(messages):
                score = len(words.intersection(w.lower() for w in word.findall(m.content or "")))
                if score:
                    scored.append((score, i))
            picked = sorted(sorted(scored, reverse=True)[:k], key=lambda s: s[1])
        return [
            Source(
                id=f"history#{i}",
                text=messages[i].content or "",
                score=float(sc),
                metadata={"role": messages[i].role},
                kind="history",
            )
            for sc, i in picked
        ]


class Capabilities:
    """What a handler can use: the agent's model, tools and memory, and the run's stream.

    Attributes:
        agent: the agent running the handler.
        options: the run's merged `RunOptions`.
        run_id: the run's id (the same as `Result.run_id`).
        tools: the agent's tools (`call`, `available`, `is_available`).
        memory: the session's memory (`history`, `query`).
        usage: tokens used by `llm`/`llm_stream` so far; becomes `Result.usage`.
        tool_calls: tool calls made so far; becomes `Result.tool_calls`.
        sink: the run's chunk sink when streaming, else `None`.
        ctx: the run's `ak.RunContext` (`ctx.deps` is the run's `deps`), the same one tools get.

    """

    __slots__ = (
        "_budget",
        "_deltas",
        "_start",
        "_streams",
        "agent",
        "ctx",
        "memory",
        "options",
        "run_id",
        "sink",
        "tool_calls",
        "tools",
        "usage",
    )

    def __init__(
        self, agent: Agent[Any], options: RunOptions, run_id: str, sink: ChunkSink | None, session_id: str | None
    ) -> None:
        self.agent = agent
        self.options = options
        self.run_id = run_id
        self.sink = sink
        self.usage = Usage()
        self.tool_calls: list[ToolCallRecord] = []
        self.tools = ToolBox(self)
        self.memory = MemoryView(agent, options, session_id)
        self._deltas = 0
        self._streams: list[LLMStream] = []
        self.ctx: RunContext[Any] = RunContext(options.deps, run_id, session_id, self.usage, agent.name)
        self._budget = run_budget(agent, options)
        self._start = time.perf_counter()

    def _partial(self, exc: UsageLimitExceeded) -> UsageLimitExceeded:
        exc.result = partial_result(self.agent, self.run_id, self._start, [], self.usage, self.tool_calls, None)
        return exc

    @property
    def model(self) -> Model:
        """The agent's model (created on first use)."""
        return self.agent.model

    @property
    def streaming(self) -> bool:
        """Whether the run is streamed (chunks given to `emit` reach a consumer)."""
        return self.sink is not None

    def _messages(self, system: str | None, user: str) -> list[Message]:
        if system is None:
            system = self.agent.system_prompt
        return [Message("system", system), Message("user", user)] if system else [Message("user", user)]

    async def llm(self, system: str | None, user: str, **options: Unpack[LLMOptions]) -> str:
        """Ask the agent's model once (no tools) and return its answer.

        `system=None` uses the agent's system prompt. Options not given come from the run's options.
        Retries 429/5xx/timeouts like the default loop; usage is added to the run's `Result.usage`.

        Raises:
            ProviderError: a typed subclass, after retries.
            UserError: an unknown option.

        """
        messages = self._messages(system, user)
        settings = _settings(self.options, options)
        model = self.model
        budget = self._budget
        if budget is not None:
            try:
                budget.before_request()
            except UsageLimitExceeded as exc:
                raise self._partial(exc) from None
        chat = None if _tel.active is None else _tel.active.chat_start(model, messages, (), settings, False)
        try:
            response = await retry_call(lambda: model.request(messages, (), settings), model.max_retries)
        except BaseException as exc:
            if chat is not None:
                chat.fail(exc)
            raise
        if chat is not None:
            chat.chat_end(response)
        self.usage.add(response.usage)
        if budget is not None:
            try:
                budget.after_response(response, model.model_name)
            except UsageLimitExceeded as exc:
                raise self._partial(exc) from None
        return response.content

    def llm_stream(
        self, system: str | None, user: str, *, forward: bool = True, **options: Unpack[LLMOptions]
    ) -> LLMStream:
        """Stream the model's answer: `async for text in caps.llm_stream(None, input): ...`.

        With `forward=True` (the default) each delta also goes to the run's stream as a DELTA chunk,
        so the caller sees the tokens as they come; the deltas of a run should add up to its answer.

        Raises:
            UserError: an unknown option.

        """
        return LLMStream(self, self._messages(system, user), _settings(self.options, options), forward)

    async def emit(self, chunk: Chunk | str) -> None:
        """Send a chunk (or text, as a DELTA) to the run's stream; a no-op in `run()`.

        Awaiting it applies the stream's backpressure. DELTA text should be part of the answer:
        a stream's deltas join to its `Result.content`.
        """
        sink = self.sink
        if sink is None:
            return
        if isinstance(chunk, str):
            chunk = Chunk(ChunkType.DELTA, chunk)
        if chunk.type is ChunkType.DELTA:
            self._deltas += 1
        w = sink.send(chunk)
        if w is not None:
            await w

    async def _aclose(self) -> None:
        streams, self._streams = self._streams, []
        for s in streams:
            await s.aclose()


async def run_handler(
    agent: Agent[Any], query: str, opts: RunOptions, sink: ChunkSink | None, run_id: str
) -> Result[Any]:
    """Run the agent's custom handler instead of the default loop (the agent has one)."""
    start = time.perf_counter()
    handler: Handler = agent.handler  # type: ignore[assignment]  # only called when one is set
    memory = agent.memory
    session_id = opts.session_id
    if session_id is None and memory is not None:
        session_id = memory.session_id
    caps = Capabilities(agent, opts, run_id, sink, session_id)
    try:
        out = await handler(query, caps)
    finally:
        await caps._aclose()  # pyright: ignore[reportPrivateUsage]
    if not isinstance(out, str):  # pyright: ignore[reportUnnecessaryIsInstance] - user code may return anything
        name = getattr(handler, "__qualname__", type(handler).__name__)
        raise UserError(f"handler {name!r} returned {type(out).__name__}; it must return a str ({EXPECTED_SIGNATURE})")
    if sink is not None:
        await send_answer(sink, out, caps._deltas > 0)  # pyright: ignore[reportPrivateUsage]
    messages = [Message("user", query), Message("assistant", out)]
    if memory is not None and session_id is not None:
        await memory.store.append(session_id, messages)
    metadata = dict(opts.metadata) if opts.metadata else {}
    metadata["handler"] = getattr(handler, "__qualname__", type(handler).__name__)
    if session_id is not None:
        metadata["session_id"] = session_id
    return Result(
        content=out,
        usage=caps.usage,
        duration=time.perf_counter() - start,
        tool_calls=caps.tool_calls,
        messages=messages,
        metadata=metadata,
        run_id=run_id,
        agent_name=agent.name,
    )
