"""Calling tools: an agent's resolved `ToolSet`, and `call_tool`, the one place a tool call is run.

A tool's failure never escapes the run loop as an exception: it becomes an error result the model
can read and a `ToolCallRecord` with `error` set. Only cancellation propagates. The policies a call
goes through (timeout, retries, cache, rate limit, concurrency caps) are its `CallChain`
(`_chain.py`), compiled once per agent and tool.

Both the run loop (`execute_tool_calls`, every call of one model turn) and a handler's
`caps.tools.call` go through `call_tool`, so both stream the same chunks, keep the same records
and count the same metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from .._cancel import UserCancelledItself, UserExit
from .._utils import first_leaf
from ..content import AudioUrl, BinaryContent, ContentPart, DocumentUrl, ImageUrl
from ..errors import ModelRetry, ToolArgumentsError, ToolError, ToolTimeoutError, UserError
from ..messages import Message, ToolCall, ToolCallRecord, ToolDefinition
from ..streaming._chunk import Chunk, ChunkType
from ..streaming._sink import ChunkSink
from ..telemetry import _hooks as _tel
from ._cache import MemoryToolCache, ToolCache
from ._callctx import bind_call, call_context, unbind_call
from ._chain import CallChain, CallInfo, LoopSemaphore, compile_chain
from ._context import RunContext
from ._metrics import ToolMetrics
from ._source import ToolSource
from ._tool import Tool, result_text

__all__ = ("AgentTools", "ToolSet", "call_tool", "execute_tool_calls", "result_message")


class ToolSet(dict[str, Tool]):
    """An agent's resolved tools by name, with each tool's compiled chain and the agent's metrics.

    It is a plain `dict[str, Tool]` to anyone who only needs the tools.
    """

    __slots__ = ("chains", "default_timeout", "definitions", "dynamic", "metrics")

    def __init__(
        self,
        tools: Iterable[Tool],
        *,
        default_timeout: float | None = None,
        cache: ToolCache | None = None,
        agent_cap: LoopSemaphore | None = None,
        metrics: ToolMetrics | None = None,
        dynamic: bool = False,
        previous: ToolSet | None = None,
        agent_name: str = "",
    ) -> None:
        super().__init__()
        chains: dict[str, CallChain] = {}
        old = previous.chains if previous is not None else {}
        for t in tools:
            if t.name in self:
                owner = f"agent {agent_name!r}" if agent_name else "the tool set"
                raise UserError(f"{owner} has two tools named {t.name!r}; rename one (MCP servers take a `prefix`)")
            self[t.name] = t
            reuse = old.get(t.name)
            chains[t.name] = (
                reuse if reuse is not None and reuse.tool is t else compile_chain(t, default_timeout, cache, agent_cap)
            )
        self.chains = chains
        self.definitions: tuple[ToolDefinition, ...] = tuple(t.definition for t in self.values())
        self.default_timeout = default_timeout
        self.metrics = metrics
        self.dynamic = dynamic


class AgentTools:
    """An agent's tool runtime: the resolved `ToolSet`, metrics, default cache and concurrency cap."""

    __slots__ = ("agent_cap", "cache", "metrics", "toolset")

    def __init__(self, cache: ToolCache | None, max_concurrent_tools: int | None) -> None:
        self.toolset: ToolSet | None = None
        self.metrics = ToolMetrics()
        self.cache: ToolCache | None = cache
        self.agent_cap = LoopSemaphore(max_concurrent_tools) if max_concurrent_tools is not None else None

    def cache_for(self, tools: Sequence[Tool]) -> ToolCache | None:
        # Tools with cache_ttl work without configuring a cache: they share a small in-process one.
        if self.cache is None and any(t.cache_ttl is not None for t in tools):
            self.cache = MemoryToolCache(max_entries=1024)
        return self.cache

    async def resolve(self, items: Sequence[Any], *, default_timeout: float | None, agent_name: str) -> ToolSet:
        """Resolve an agent's tools: wrap functions, ask tool sources (MCP servers, registries), compile chains.

        Sources are asked concurrently. The result is kept here; the agent rebuilds it on later runs
        only when a source is `dynamic` (its tool list may change).
        """
        sources = [item for item in items if isinstance(item, ToolSource)]
        listed: dict[int, Sequence[Tool]] = {}
        if sources:
            if len(sources) == 1:
                listed[id(sources[0])] = await sources[0].list_tools()
            else:
                try:
                    async with asyncio.TaskGroup() as tg:
                        tasks = {id(s): tg.create_task(s.list_tools()) for s in sources}
                except ExceptionGroup as group:
                    # The run fails with the first source's own error (an MCPError naming the server),
                    # not a group the caller would have to unpack.
                    raise first_leaf(group) from group
                listed = {k: t.result() for k, t in tasks.items()}
        tools: list[Tool] = []
        previous = self.toolset
        static = {id(t.function): t for t in previous.values()} if previous is not None else {}
        for item in items:
            if isinstance(item, ToolSource):
                tools.extend(listed[id(item)])
            elif isinstance(item, Tool):
                tools.append(item)
            else:
                # Keep the same wrapper across rebuilds so its compiled chain (and schema) is reused.
                tools.append(static.get(id(item)) or Tool(item))
        toolset = ToolSet(
            tools,
            default_timeout=default_timeout,
            cache=self.cache_for(tools),
            agent_cap=self.agent_cap,
            metrics=self.metrics,
            dynamic=any(s.dynamic for s in sources),
            previous=previous,
            agent_name=agent_name,
        )
        self.toolset = toolset
        return toolset


async def call_tool(
    call_id: str,
    name: str,
    args: dict[str, Any],
    chain: CallChain | None,
    *,
    sink: ChunkSink | None = None,
    metrics: ToolMetrics | None = None,
    error: str | None = None,
    ctx: RunContext[Any] | None = None,
    message_out: list[Message] | None = None,
) -> tuple[ToolCallRecord, BaseException | None]:
    """Run one tool call through its chain, streaming TOOL_CALL / TOOL_RESULT and counting it.

    `args` are already validated. With `chain=None` or `error` set (an unknown tool, arguments that
    failed validation) nothing runs and the call is recorded as failed with that error. `ctx` is the
    run's context, handed (as a copy naming this call) to a tool whose first parameter asks for it.
    With `message_out`, a successful result is also turned into the tool message the model gets and
    appended there; a result that cannot be (`10**5000`, a `__str__` that raises) makes the call fail instead.

    Returns:
        The call's record, and the exception the tool raised (`None` when it succeeded).

    """
    start = time.perf_counter()
    info = CallInfo(ctx, call_id)
    if sink is not None:
        w = sink.send(Chunk(ChunkType.TOOL_CALL, tool_name=name, tool_args=args, tool_call_id=call_id))
        if w is not None:
            await w
    value: Any = None
    failure: BaseException | None = None
    timed_out = False
    span = (
        None
        if _tel.active is None
        else _tel.active.tool_start(name, call_id, chain.tool if chain is not None else None)
    )
    if chain is not None and error is None:
        try:
            value = await chain.run(args, info)
        except ToolTimeoutError as exc:
            error = _text(exc)
            failure = exc
            timed_out = True
        except ToolError as exc:
            error = f"tool {name!r} failed: {_text(exc)}"
            failure = exc
        except ModelRetry as exc:
            # The tool's correction for the model (wrong arguments, try another value): its own words.
            error = f"tool {name!r} asks you to try again: {exc}"
            failure = exc
        except Exception as exc:
            error = f"tool {name!r} failed: {_describe(exc)}"
            failure = exc
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A real cancellation (a deadline, the caller): its span ends with it and it goes on.
                if span is not None:
                    span.fail(exc)
                raise
            # A sync tool raised CancelledError itself: nobody cancelled this run.
            error = f"tool {name!r} failed: it raised CancelledError without being cancelled"
            failure = ToolError(error, tool_name=name)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt) and chain.tool.is_async:
                # Ctrl-C reaches the main thread wherever it runs, an async tool included: not the tool's.
                if span is not None:
                    span.fail(exc)
                raise
            # SystemExit (sys.exit() in a tool), GeneratorExit...: the tool failed; the run goes on.
            error = f"tool {name!r} failed: {_describe(exc)}"
            failure = ToolError(error, tool_name=name)
            failure.__cause__ = exc
        if message_out is not None and failure is None:
            try:
                message_out.append(result_message(call_id, name, value))
            except Exception as exc:
                error = f"tool {name!r} returned a value that cannot be sent to the model: {_describe(exc)}"
                failure = exc
                value = None
    duration = time.perf_counter() - start
    cache_hit = info.cache is True
    record = ToolCallRecord(
        id=call_id,
        name=name,
        args=args,
        result=value,
        error=error,
        duration=duration,
        attempts=info.attempts,
        cache_hit=cache_hit,
    )
    if metrics is not None:
        metrics.record(
            name if chain is not None else "(unknown)",
            duration,
            error=error is not None,
            timed_out=timed_out,
            attempts=info.attempts,
            cache=info.cache,
        )
    if span is not None:
        span.tool_end(record, failure)
    if sink is not None:
        w = sink.send(
            Chunk(
                ChunkType.TOOL_RESULT,
                tool_name=name,
                tool_call_id=call_id,
                tool_result=value if error is None else None,
                metadata={
                    "duration": duration,
                    "error": error,
                    "attempts": info.attempts,
                    "cache_hit": cache_hit,
                    "timed_out": timed_out,
                },
            )
        )
        if w is not None:
            await w
    return record, failure


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} that cannot be printed>"


def _describe(exc: BaseException) -> str:
    """`Type: message`, even for an exception whose `__str__` raises or whose message is huge."""
    if isinstance(exc, UserCancelledItself):
        return "it raised CancelledError without being cancelled"
    if isinstance(exc, UserExit):
        return _text(exc)
    return f"{type(exc).__name__}: {_text(exc)}"


async def _run_one(
    call: ToolCall,
    tools: Mapping[str, Tool],
    chains: Mapping[str, CallChain],
    metrics: ToolMetrics | None,
    sink: ChunkSink | None,
    ctx: RunContext[Any] | None,
) -> tuple[Message, ToolCallRecord]:
    chain = chains.get(call.name)
    args: dict[str, Any] = {}
    error: str | None = None
    if chain is None:
        available = ", ".join(sorted(tools)) or "none"
        error = f"unknown tool {call.name!r}; available tools: {available}"
    else:
        try:
            args = chain.tool.validate(call.arguments)
        except ToolArgumentsError as exc:
            error = str(exc)
    out: list[Message] = []
    if error is None and chain is not None and chain.tool.side_effect:
        # Outside a journaled run the tool still gets its call context (and idempotency key).
        token = bind_call(call_context(chain.tool, call.id, args, None, False))
        try:
            record, _ = await call_tool(
                call.id, call.name, args, chain, sink=sink, metrics=metrics, error=error, ctx=ctx, message_out=out
            )
        finally:
            unbind_call(token)
    else:
        record, _ = await call_tool(
            call.id, call.name, args, chain, sink=sink, metrics=metrics, error=error, ctx=ctx, message_out=out
        )
    if record.error is not None:
        return Message.tool(call.id, call.name, f"Error: {record.error}"), record
    return out[0], record


def result_message(call_id: str, name: str, value: Any) -> Message:
    """The tool message that carries a tool's value to the model.

    A content part (`BinaryContent` with an image, audio or a PDF; an `ImageUrl`, ...), or a list of
    them with text, rides on the message's `parts`; each provider sends them the way its API allows
    (Anthropic inside the tool result, OpenAI in a user message after the turn's tool messages).
    """
    if type(value) is str:
        return Message.tool(call_id, name, value)
    if isinstance(value, _PARTS):
        return Message("tool", _attached(value), (), call_id, name, (value,))
    if isinstance(value, list | tuple):
        items = cast("Sequence[Any]", value)
        parts: tuple[ContentPart, ...] = tuple(v for v in items if isinstance(v, _PARTS))
        if parts:
            texts = [_attached(v) if isinstance(v, _PARTS) else result_text(v) for v in items]
            return Message("tool", "\n".join(texts), (), call_id, name, parts)
    return Message.tool(call_id, name, result_text(value))


_PARTS = (BinaryContent, ImageUrl, DocumentUrl, AudioUrl)


def _attached(part: ContentPart) -> str:
    # What the tool message's text says in the part's place (the part itself follows as a part).
    return f"[{part.media_type} attached]" if isinstance(part, BinaryContent) else f"[{part.kind} {part.url} attached]"


async def execute_tool_calls(
    calls: Sequence[ToolCall],
    tools: Mapping[str, Tool],
    default_timeout: float | None,
    sink: ChunkSink | None,
    ctx: RunContext[Any] | None = None,
) -> list[tuple[Message, ToolCallRecord]]:
    """Run every call of one turn concurrently; results come back in the order of `calls`.

    `tools` is normally the agent's `ToolSet` (chains compiled once); any other mapping of tools
    works too, compiled for this turn only and with timeouts but no cache or metrics. `ctx` is the
    run's `RunContext` (see `call_tool`).
    """
    if type(tools) is ToolSet and tools.default_timeout == default_timeout:
        chains = tools.chains
        metrics = tools.metrics
    else:
        chains = {name: compile_chain(t, default_timeout, None, None) for name, t in tools.items()}
        metrics = None
    if len(calls) == 1:
        return [await _run_one(calls[0], tools, chains, metrics, sink, ctx)]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(_run_one(c, tools, chains, metrics, sink, ctx)) for c in calls]
    return [t.result() for t in tasks]
