"""The policy chain of one tool: timeout, rate limit, retries, concurrency caps and cache, as layers.

Each tool gets a *chain* once per agent (when the agent resolves its tools): small async layers
holding only the policies that tool configures, from the outside in:

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
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._cancel import guarded
from .._utils import LoopBound
from ..errors import ModelRetry, ToolArgumentsError, ToolTimeoutError
from ._cache import MISS, ToolCache, cache_key
from ._context import EMPTY_CONTEXT, RunContext
from ._policies import TokenBucket
from ._tool import Tool

__all__ = ("CallChain", "CallInfo", "Layer", "LoopSemaphore", "ToolRuntime", "compile_chain", "tool_runtime")

_log = logging.getLogger("agentickit.tools")

Layer = Callable[[dict[str, Any], "CallInfo"], Awaitable[Any]]
"""One layer of a chain: validated arguments and the call's bookkeeping in, the tool's value out."""


class CallInfo:
    """One call's bookkeeping: the run's context and the call's id going in; attempts and cache hit coming out."""

    __slots__ = ("attempts", "cache", "call_id", "ctx")

    def __init__(self, ctx: RunContext[Any] | None = None, call_id: str = "") -> None:
        self.attempts = 1
        self.cache: bool | None = None
        self.ctx = ctx
        self.call_id = call_id


class _Expiry:
    """A tool call's timeout: the task to cancel when it expires, and whether it did."""

    __slots__ = ("fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.fired = False


def _expire(expiry: _Expiry) -> None:
    expiry.fired = True
    expiry.task.cancel()


class LoopSemaphore(LoopBound[asyncio.Semaphore]):
    """A semaphore of `size` slots per event loop (asyncio primitives cannot cross loops)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        super().__init__(functools.partial(asyncio.Semaphore, size))
        self.size = size

    def __reduce__(self) -> tuple[Any, ...]:
        return (LoopSemaphore, (self.size,))


class ToolRuntime:
    """A tool's shared policy state: one token bucket and one semaphore for all agents using it."""

    __slots__ = ("bucket", "semaphore")

    def __init__(self, tool: Tool) -> None:
        limit = tool.parsed_rate_limit
        self.bucket = TokenBucket(limit) if limit is not None else None
        self.semaphore = LoopSemaphore(tool.max_concurrency) if tool.max_concurrency is not None else None


def tool_runtime(tool: Tool) -> ToolRuntime:
    """The tool's shared policy state, created on its first call."""
    return tool.shared_state(ToolRuntime)


class CallChain:
    """How one tool is called by one agent: its validated policies as a precomputed wrapper chain."""

    __slots__ = ("cached", "run", "timeout", "tool")

    def __init__(self, tool: Tool, run: Layer, timeout: float | None, cached: bool) -> None:
        self.tool = tool
        self.run = run
        self.timeout = timeout
        self.cached = cached


def compile_chain(
    tool: Tool, default_timeout: float | None, cache: ToolCache | None, agent_cap: LoopSemaphore | None
) -> CallChain:
    invoke = tool.invoke
    name = tool.name
    if tool.is_async:
        # In a task of its own, so that a tool swallowing CancelledError cannot defeat its timeout,
        # the run's deadline or an outside cancel (see _cancel.py). Sync tools run in worker threads.
        function = tool.function
        label = f"tool {name!r}"

        def invoke(kwargs: dict[str, Any]) -> Awaitable[Any]:
            return guarded(function(**kwargs), label)

    timeout = tool.timeout if tool.timeout is not None else default_timeout

    def direct(args: dict[str, Any], info: CallInfo) -> Awaitable[Any]:
        return invoke(args)

    if tool.takes_ctx:
        invoke_ctx = tool.invoke_ctx

        # Innermost, so each retry attempt sees its own `retry` count; deps never reach the cache key.
        def direct(args: dict[str, Any], info: CallInfo) -> Awaitable[Any]:
            ctx = info.ctx if info.ctx is not None else EMPTY_CONTEXT
            return invoke_ctx(ctx.for_call(name, info.call_id, info.attempts - 1), args)

    layer: Layer = direct
    if not tool.is_async:
        # A sync function: the worker future keeps the timeout itself (`_threads.py`), so the call
        # needs no coroutine, task lookup or cancel of its own; ~2 us of a ~13 us dispatch.
        in_worker = tool._in_worker  # pyright: ignore[reportPrivateUsage]
        expired: Callable[[], BaseException] | None = None
        if timeout is not None:
            sync_limit = timeout

            def timeout_error() -> BaseException:
                return ToolTimeoutError(
                    f"tool {name!r} timed out after {sync_limit:g} s (its timeout) and was cancelled; "
                    "its worker thread runs on until the function returns",
                    tool_name=name,
                    timeout=sync_limit,
                )

            expired = timeout_error

        if tool.takes_ctx:

            def direct(args: dict[str, Any], info: CallInfo) -> Awaitable[Any]:
                ctx = info.ctx if info.ctx is not None else EMPTY_CONTEXT
                return in_worker(args, ctx.for_call(name, info.call_id, info.attempts - 1), timeout, expired)

        else:

            def direct(args: dict[str, Any], info: CallInfo) -> Awaitable[Any]:
                return in_worker(args, None, timeout, expired)

        layer = direct
    elif timeout is not None:
        limit = timeout
        call = direct

        async def timed(args: dict[str, Any], info: CallInfo) -> Any:
            # asyncio.timeout's semantics (cancel the task; a TimeoutError only for our own expiry, the
            # task's cancel count restored) without its context manager: a bare timer handle costs
            # ~2 us a call on uvloop against ~15 us for `async with asyncio.timeout()` around a wait.
            task = asyncio.current_task()
            if task is None:  # pragma: no cover - the run loop always runs in a task
                return await call(args, info)
            base = task.cancelling()
            expiry = _Expiry(task)
            handle = asyncio.get_running_loop().call_later(limit, _expire, expiry)
            try:
                return await call(args, info)
            except asyncio.CancelledError:
                if expiry.fired:
                    expiry.fired = False  # its cancel is taken back here, not again below
                    if task.uncancel() <= base:
                        raise ToolTimeoutError(
                            f"tool {name!r} timed out after {limit:g} s (its timeout) and was cancelled",
                            tool_name=name,
                            timeout=limit,
                        ) from None
                raise
            finally:
                handle.cancel()
                if expiry.fired:
                    task.uncancel()  # it expired, and the tool returned or failed anyway

        layer = timed

    runtime = tool_runtime(tool)
    if runtime.bucket is not None:
        bucket = runtime.bucket
        inner_rl = layer

        async def rate_limited(args: dict[str, Any], info: CallInfo) -> Any:
            await bucket.acquire()
            return await inner_rl(args, info)

        layer = rate_limited

    if tool.retries > 0:
        retries = tool.retries
        backoff = tool.retry_backoff
        retry_on = tool.retry_on
        inner_rt = layer

        async def retrying(args: dict[str, Any], info: CallInfo) -> Any:
            attempt = 1
            while True:
                try:
                    return await inner_rt(args, info)
                except retry_on as exc:
                    # ModelRetry is a message for the model, not a failure to retry here.
                    if attempt > retries or isinstance(exc, asyncio.CancelledError | ToolArgumentsError | ModelRetry):
                        raise
                    delay = backoff * (2 ** (attempt - 1))
                    attempt += 1
                    info.attempts = attempt
                    if delay > 0:
                        await asyncio.sleep(delay)

        layer = retrying

    if runtime.semaphore is not None:
        tool_cap = runtime.semaphore
        inner_tc = layer

        async def tool_capped(args: dict[str, Any], info: CallInfo) -> Any:
            async with tool_cap.get():
                return await inner_tc(args, info)

        layer = tool_capped

    if agent_cap is not None:
        inner_ac = layer
        cap = agent_cap

        async def agent_capped(args: dict[str, Any], info: CallInfo) -> Any:
            async with cap.get():
                return await inner_ac(args, info)

        layer = agent_capped

    cached = tool.cache_ttl is not None and cache is not None
    if cached:
        ttl: float = tool.cache_ttl  # type: ignore[assignment]
        store: ToolCache = cache  # type: ignore[assignment]
        inner_c = layer
        # Calls in flight by cache key, for the running loop (futures cannot cross loops).
        inflight: LoopBound[dict[bytes, asyncio.Future[Any]]] = LoopBound(dict)
        scope = tool.cache_scope

        async def caching(args: dict[str, Any], info: CallInfo) -> Any:
            key = cache_key(name, args)
            if scope is not None:
                # The scope's value (say the tenant in deps) keys the entry beside the arguments.
                key += b"\x00" + scope(info.ctx or EMPTY_CONTEXT).encode()
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

        layer = caching

    return CallChain(tool, layer, timeout, cached)
