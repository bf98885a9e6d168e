"""Middleware: `before_run` / `after_run` hooks around every run of an agent.

Hooks compose like an onion: `before_run` hooks run in the order given, `after_run` hooks in the
reverse order, so the first middleware sees the run first and the result last. A `before_run` hook
may short-circuit the run by returning a result (a `str` or a `Result`); the model (or handler) is
then not called, and only the `after_run` hooks of the middleware that already ran see the result.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from .._result import Result
from ..errors import UserError
from ..options import RunOptions
from ..streaming._sink import ChunkSink, send_answer

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = ("Middleware", "RunBody", "MiddlewareContext", "check_middleware", "run_middleware")

RunBody = Callable[["Agent[Any]", str, RunOptions, "ChunkSink | None", str], Awaitable[Result[Any]]]
"""What the middleware wraps: the agent's handler or the default loop, `(agent, input, options, sink, run_id)`."""


@dataclass(slots=True, kw_only=True)
class MiddlewareContext:
    """What a middleware hook knows about the run it wraps.

    Attributes:
        agent: the agent that runs.
        input: the user's input; a `before_run` hook may replace it (e.g. to redact it).
        options: the run's merged options.
        run_id: the run's id (the same as `Result.run_id`).
        state: scratch space shared by the hooks of one run (e.g. a start time for metrics).

    """

    agent: Agent[Any]
    input: str
    options: RunOptions
    run_id: str
    state: dict[str, Any] = field(default_factory=dict[str, Any])


@runtime_checkable
class Middleware(Protocol):
    """Cross-cutting behaviour around runs: logging, guardrails, metrics, caching.

    Implement either hook or both (subclass `Middleware` to inherit no-op defaults). Both are
    coroutines: a hook never blocks the event loop.

    Example:
        ```python
        class Guard(ak.Middleware):
            async def before_run(self, ctx: ak.MiddlewareContext) -> str | None:
                if "password" in ctx.input:
                    return "I can't help with that."  # short-circuit: the model is not called
                return None
        ```

    """

    async def before_run(self, ctx: MiddlewareContext) -> str | Result | None:
        """Called before the run; return `None` to go on, or a `str`/`Result` to finish the run with it."""
        return None

    async def after_run(self, ctx: MiddlewareContext, result: Result) -> Result | None:
        """Called with the run's result; return a replacement `Result`, or `None` to keep it.

        In `run_stream` the caller has already seen the run's chunks; a replacement is what the
        stream's `wait()` returns. Not called when the run raised.
        """
        return None


def check_middleware(items: Sequence[Any]) -> tuple[Any, ...]:
    """Validate middleware at build time: each needs an async `before_run` and/or `after_run`.

    Raises:
        UserError: an item has neither hook, or a hook is not a coroutine function.

    """
    out = tuple(items)
    for i, mw in enumerate(out):
        before = getattr(mw, "before_run", None)
        after = getattr(mw, "after_run", None)
        if before is None and after is None:
            raise UserError(
                f"middleware[{i}] ({type(mw).__name__}) has neither `before_run` nor `after_run`; implement "
                "`async def before_run(self, ctx) -> str | Result | None` and/or "
                "`async def after_run(self, ctx, result) -> Result | None` (see ak.Middleware)"
            )
        for hook_name, hook in (("before_run", before), ("after_run", after)):
            if hook is not None and not inspect.iscoroutinefunction(hook):
                raise UserError(
                    f"middleware[{i}] ({type(mw).__name__}).{hook_name} must be a coroutine function "
                    f"(`async def {hook_name}(...)`), got {type(hook).__name__}"
                )
    return out


def _result_from(value: str | Result[Any], agent: Agent[Any], run_id: str, source: str) -> Result[Any]:
    if isinstance(value, Result):
        if not value.run_id:
            value.run_id = run_id
        if not value.agent_name:
            value.agent_name = agent.name
        return value
    if isinstance(value, str):  # pyright: ignore[reportUnnecessaryIsInstance] - user code may return anything
        return Result(content=value, run_id=run_id, agent_name=agent.name, metadata={"short_circuit": source})
    raise UserError(f"{source} returned {type(value).__name__}; return a str or an ak.Result (or None to go on)")


async def run_middleware(
    agent: Agent[Any], query: str, opts: RunOptions, sink: ChunkSink | None, run_id: str, body: RunBody
) -> Result:
    """Run `body` (the handler or the default loop) inside the agent's middleware.

    Called only when the agent has middleware, so plain agents pay nothing.
    """
    middleware = agent.middleware
    ctx = MiddlewareContext(agent=agent, input=query, options=opts, run_id=run_id)
    start = time.perf_counter()
    entered = 0
    result: Result | None = None
    for mw in middleware:
        entered += 1
        before = getattr(mw, "before_run", None)
        if before is None:
            continue
        out = await before(ctx)
        if out is not None:
            result = _result_from(out, agent, run_id, f"{type(mw).__name__}.before_run")
            result.duration = time.perf_counter() - start
            if sink is not None:
                await send_answer(sink, result.content, False)
            break
    if result is None:
        result = await body(agent, ctx.input, ctx.options, sink, run_id)
    for mw in reversed(middleware[:entered]):
        after = getattr(mw, "after_run", None)
        if after is None:
            continue
        replaced = await after(ctx, result)
        if replaced is not None:
            if not isinstance(replaced, Result):
                raise UserError(
                    f"{type(mw).__name__}.after_run returned {type(replaced).__name__}; return an ak.Result or None"
                )
            result = cast("Result[Any]", replaced)
    return result
