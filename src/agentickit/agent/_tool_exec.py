"""Running the tool calls of one model turn: concurrently, each through the policies its tool asks for.

A tool's failure never escapes as an exception: it becomes an error result the model can read and
a `ToolCallRecord` with `error` set. Only cancellation propagates.

Each tool gets a *plan* once per agent (when the agent resolves its tools): a chain of small async
wrappers holding only the policies that tool configures, from the outside in:

```
cache (cache_ttl)  ->  agent cap (max_concurrent_tools)  ->  tool cap (max_concurrency)
  ->  retries with backoff (retries, retry_on)  ->  rate limit (rate_limit)  ->  timeout  ->  the function
```

A policy that is not configured is not in the chain at all, so an unconfigured async tool costs one
call of its function. Queueing for a concurrency slot or a rate-limit token does not count against
the timeout; each retry attempt gets the full timeout and takes a rate-limit token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ToolArgumentsError, ToolError, UserError
from ..messages import Message, ToolCall, ToolCallRecord, ToolDefinition
from ..streaming._chunk import Chunk, ChunkType
from ..tools._cache import MISS, MemoryToolCache, ToolCache, cache_key
from ..tools._metrics import ToolMetrics
from ..tools._policies import TokenBucket, ToolTimeoutError, loop_semaphore
from ..tools._source import ToolSource
from ..tools._tool import Tool, result_text
from ._sink import ChunkSink

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = ("AgentTools", "ToolSet", "execute_tool_calls", "resolve_toolset")

_log = logging.getLogger("agentickit.tools")

Step = Callable[[dict[str, Any], "_CallInfo"], Awaitable[Any]]


class _CallInfo:
    """What the policies learned about one call (attempts, cache hit), filled in as it runs."""

    __slots__ = ("attempts", "cache")

    def __init__(self) -> None:
        self.attempts = 1
        self.cache: bool | None = None


class _LoopSemaphore:
    """A semaphore re-created for each event loop (asyncio primitives cannot cross loops)."""

    __slots__ = ("_current", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._current: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def get(self) -> asyncio.Semaphore:
        current = self._current = loop_semaphore(self._current, self.size)
        return current[1]


class _LoopDict:
    """Calls in flight by cache key, for the running event loop (futures cannot cross loops)."""

    __slots__ = ("_current",)

    def __init__(self) -> None:
        self._current: tuple[asyncio.AbstractEventLoop, dict[bytes, asyncio.Future[Any]]] | None = None

    def get(self) -> dict[bytes, asyncio.Future[Any]]:
        loop = asyncio.get_running_loop()
        current = self._current
        if current is None or current[0] is not loop:
            current = self._current = (loop, {})
        return current[1]


class _ToolRuntime:
    """A tool's shared policy state: one token bucket and one semaphore for all agents using it."""

    __slots__ = ("bucket", "semaphore")

    def __init__(self, tool: Tool) -> None:
        limit = tool._rate_limit  # pyright: ignore[reportPrivateUsage]
        self.bucket = TokenBucket(limit) if limit is not None else None
        self.semaphore = _LoopSemaphore(tool.max_concurrency) if tool.max_concurrency is not None else None


def _runtime(tool: Tool) -> _ToolRuntime:
    state = tool._state  # pyright: ignore[reportPrivateUsage]
    if state is None:
        state = tool._state = _ToolRuntime(tool)  # pyright: ignore[reportPrivateUsage]
    return state


class _Plan:
    """How one tool is called by one agent: its validated policies as a precomputed wrapper chain."""

    __slots__ = ("cached", "run", "timeout", "tool")

    def __init__(self, tool: Tool, run: Step, timeout: float | None, cached: bool) -> None:
        self.tool = tool
        self.run = run
        self.timeout = timeout
        self.cached = cached


def _compile(
    tool: Tool, default_timeout: float | None, cache: ToolCache | None, agent_cap: _LoopSemaphore | None
) -> _Plan:
    invoke = tool.invoke
    name = tool.name
    timeout = tool.timeout if tool.timeout is not None else default_timeout

    def direct(args: dict[str, Any], info: _CallInfo) -> Awaitable[Any]:
        return invoke(args)

    step: Step = direct
    if timeout is not None:
        limit = timeout
        hint = "" if tool.is_async else "; its worker thread runs on until the function returns"

        async def timed(args: dict[str, Any], info: _CallInfo) -> Any:
            cm = asyncio.timeout(limit)
            try:
                async with cm:
                    return await invoke(args)
            except TimeoutError:
                if cm.expired():
                    raise ToolTimeoutError(
                        f"tool {name!r} timed out after {limit:g} s (its timeout) and was cancelled{hint}",
                        tool_name=name,
                        timeout=limit,
                    ) from None
                raise

        step = timed

    runtime = _runtime(tool)
    if runtime.bucket is not None:
        bucket = runtime.bucket
        inner_rl = step

        async def rate_limited(args: dict[str, Any], info: _CallInfo) -> Any:
            await bucket.acquire()
            return await inner_rl(args, info)

        step = rate_limited

    if tool.retries > 0:
        retries = tool.retries
        backoff = tool.retry_backoff
        retry_on = tool.retry_on
        inner_rt = step

        async def retrying(args: dict[str, Any], info: _CallInfo) -> Any:
            attempt = 1
            while True:
                try:
                    return await inner_rt(args, info)
                except retry_on as exc:
                    if attempt > retries or isinstance(exc, asyncio.CancelledError | ToolArgumentsError):
                        raise
                    delay = backoff * (2 ** (attempt - 1))
                    attempt += 1
                    info.attempts = attempt
                    if delay > 0:
                        await asyncio.sleep(delay)

        step = retrying

    if runtime.semaphore is not None:
        tool_cap = runtime.semaphore
        inner_tc = step

        async def tool_capped(args: dict[str, Any], info: _CallInfo) -> Any:
            async with tool_cap.get():
                return await inner_tc(args, info)

        step = tool_capped

    if agent_cap is not None:
        inner_ac = step
        cap = agent_cap

        async def agent_capped(args: dict[str, Any], info: _CallInfo) -> Any:
            async with cap.get():
                return await inner_ac(args, info)

        step = agent_capped

    cached = tool.cache_ttl is not None and cache is not None
    if cached:
        ttl: float = tool.cache_ttl  # type: ignore[assignment]
        store: ToolCache = cache  # type: ignore[assignment]
        inner_c = step
        inflight = _LoopDict()

        async def caching(args: dict[str, Any], info: _CallInfo) -> Any:
            key = cache_key(name, args)
            try:
                value = await store.get(key)
            except Exception as exc:  # a cache outage must not fail the tool: run it uncached
                _log.warning("tool cache lookup failed for %r: %s: %s", name, type(exc).__name__, exc)
                return await inner_c(args, info)
            if value is not MISS:
                info.cache = True
                return value
            # Identical calls already running share that call's result instead of running again
            # (several runs asking the same thing at once would otherwise all miss).
            running = inflight.get()
            leader = running.get(key)
            if leader is not None:
                try:
                    value = await asyncio.shield(leader)
                except Exception:
                    pass  # the leader failed: errors are not shared or cached, so try ourselves
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if not leader.cancelled() or (task is not None and task.cancelling()):
                        raise  # we were cancelled ourselves, not just the leader
                else:
                    info.cache = True
                    return value
            info.cache = False
            mine: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            running[key] = mine
            try:
                value = await inner_c(args, info)
            except BaseException:
                mine.cancel()  # followers run the call themselves
                raise
            finally:
                if running.get(key) is mine:
                    del running[key]
            mine.set_result(value)
            try:
                await store.set(key, value, ttl)
            except Exception as exc:
                _log.warning("tool cache store failed for %r: %s: %s", name, type(exc).__name__, exc)
            return value

        step = caching

    return _Plan(tool, step, timeout, cached)


class ToolSet(dict[str, Tool]):
    """An agent's resolved tools by name, with each tool's compiled plan and the agent's metrics.

    It is a plain `dict[str, Tool]` to anyone who only needs the tools.
    """

    __slots__ = ("default_timeout", "definitions", "dynamic", "metrics", "plans")

    def __init__(
        self,
        tools: Iterable[Tool],
        *,
        default_timeout: float | None = None,
        cache: ToolCache | None = None,
        agent_cap: _LoopSemaphore | None = None,
        metrics: ToolMetrics | None = None,
        dynamic: bool = False,
        previous: ToolSet | None = None,
        agent_name: str = "",
    ) -> None:
        super().__init__()
        plans: dict[str, _Plan] = {}
        old = previous.plans if previous is not None else {}
        for t in tools:
            if t.name in self:
                owner = f"agent {agent_name!r}" if agent_name else "the tool set"
                raise UserError(f"{owner} has two tools named {t.name!r}; rename one (MCP servers take a `prefix`)")
            self[t.name] = t
            reuse = old.get(t.name)
            plans[t.name] = (
                reuse if reuse is not None and reuse.tool is t else _compile(t, default_timeout, cache, agent_cap)
            )
        self.plans = plans
        self.definitions: tuple[ToolDefinition, ...] = tuple(t.definition for t in self.values())
        self.default_timeout = default_timeout
        self.metrics = metrics
        self.dynamic = dynamic


class AgentTools:
    """An agent's tool runtime: the resolved `ToolSet`, metrics, default cache and concurrency cap."""

    __slots__ = ("agent_cap", "cache", "metrics", "toolset")

    def __init__(self, agent: Agent) -> None:
        self.toolset: ToolSet | None = None
        self.metrics = ToolMetrics()
        self.cache: ToolCache | None = agent.tool_cache
        limit = agent.max_concurrent_tools
        self.agent_cap = _LoopSemaphore(limit) if limit is not None else None

    def cache_for(self, tools: Sequence[Tool]) -> ToolCache | None:
        # Tools with cache_ttl work without configuring a cache: they share a small in-process one.
        if self.cache is None and any(t.cache_ttl is not None for t in tools):
            self.cache = MemoryToolCache(max_entries=1024)
        return self.cache


def first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first leaf error inside (possibly nested) exception groups."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and error.exceptions:  # pyright: ignore[reportUnknownMemberType]
        error = error.exceptions[0]  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return error  # pyright: ignore[reportUnknownVariableType]


async def resolve_toolset(agent: Agent) -> ToolSet:
    """Resolve the agent's tools: wrap functions, ask tool sources (MCP servers, registries), compile plans.

    Sources are asked concurrently. The result is kept on the agent; it is rebuilt on later runs
    only when a source is `dynamic` (its tool list may change).
    """
    state = agent._tools_state  # pyright: ignore[reportPrivateUsage]
    if state is None:
        state = agent._tools_state = AgentTools(agent)  # pyright: ignore[reportPrivateUsage]
    items = agent.tools
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
                raise first_error(group) from group
            listed = {k: t.result() for k, t in tasks.items()}
    tools: list[Tool] = []
    previous = state.toolset
    static = {id(t.function): t for t in previous.values()} if previous is not None else {}
    for item in items:
        if isinstance(item, ToolSource):
            tools.extend(listed[id(item)])
        elif isinstance(item, Tool):
            tools.append(item)
        else:
            # Keep the same wrapper across rebuilds so its compiled plan (and schema) is reused.
            tools.append(static.get(id(item)) or Tool(item))
    toolset = ToolSet(
        tools,
        default_timeout=agent.tool_timeout,
        cache=state.cache_for(tools),
        agent_cap=state.agent_cap,
        metrics=state.metrics,
        dynamic=any(s.dynamic for s in sources),
        previous=previous,
        agent_name=agent.name,
    )
    state.toolset = toolset
    return toolset


async def _run_one(
    call: ToolCall,
    tools: Mapping[str, Tool],
    plans: Mapping[str, _Plan],
    metrics: ToolMetrics | None,
    sink: ChunkSink | None,
) -> tuple[Message, ToolCallRecord]:
    start = time.perf_counter()
    plan = plans.get(call.name)
    args: dict[str, Any] = {}
    error: str | None = None
    value: Any = None
    timed_out = False
    info = _CallInfo()
    if plan is None:
        available = ", ".join(sorted(tools)) or "none"
        error = f"unknown tool {call.name!r}; available tools: {available}"
    else:
        try:
            args = plan.tool.validate(call.arguments)
        except ToolArgumentsError as exc:
            error = str(exc)
    if sink is not None:
        w = sink.send(Chunk(ChunkType.TOOL_CALL, tool_name=call.name, tool_args=args, tool_call_id=call.id))
        if w is not None:
            await w
    if plan is not None and error is None:
        try:
            value = await plan.run(args, info)
        except ToolTimeoutError as exc:
            error = str(exc)
            timed_out = True
        except ToolError as exc:
            error = f"tool {call.name!r} failed: {exc}"
        except Exception as exc:
            error = f"tool {call.name!r} failed: {type(exc).__name__}: {exc}"
    duration = time.perf_counter() - start
    cache_hit = info.cache is True
    record = ToolCallRecord(
        id=call.id,
        name=call.name,
        args=args,
        result=value,
        error=error,
        duration=duration,
        attempts=info.attempts,
        cache_hit=cache_hit,
    )
    if metrics is not None:
        metrics.record(
            call.name if plan is not None else "(unknown)",
            duration,
            error=error is not None,
            timed_out=timed_out,
            attempts=info.attempts,
            cache=info.cache,
        )
    text = f"Error: {error}" if error is not None else result_text(value)
    if sink is not None:
        w = sink.send(
            Chunk(
                ChunkType.TOOL_RESULT,
                tool_name=call.name,
                tool_call_id=call.id,
                tool_result=value if error is None else None,
                error=None,
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
    return Message.tool(call.id, call.name, text), record


async def execute_tool_calls(
    calls: Sequence[ToolCall], tools: Mapping[str, Tool], default_timeout: float | None, sink: ChunkSink | None
) -> list[tuple[Message, ToolCallRecord]]:
    """Run every call of one turn concurrently; results come back in the order of `calls`.

    `tools` is normally the agent's `ToolSet` (plans compiled once); any other mapping of tools
    works too, compiled for this turn only and with timeouts but no cache or metrics.
    """
    if type(tools) is ToolSet and tools.default_timeout == default_timeout:
        plans = tools.plans
        metrics = tools.metrics
    else:
        plans = {name: _compile(t, default_timeout, None, None) for name, t in tools.items()}
        metrics = None
    if len(calls) == 1:
        return [await _run_one(calls[0], tools, plans, metrics, sink)]
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(_run_one(c, tools, plans, metrics, sink)) for c in calls]
    return [t.result() for t in tasks]
