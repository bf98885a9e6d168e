"""How a step calls what it wraps: an agent, a workflow, or a plain function.

Everything here is decided once, when the plan is compiled, so running a step is one indirect call
with no type checks. A workflow knows its steps only by shape ("has an async `run`", "is a function"),
never by an agent's internals.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._cancel import guarded
from .._threads import WorkerGate, run_in_worker
from ..errors import WorkflowError
from ..messages import Usage
from ..streaming import ChunkType
from ._stop import StopWorkflow

if TYPE_CHECKING:
    from .._result import Result
    from ..options import RunOptions
    from ..streaming._sink import ChunkSink
    from ._context import WorkflowContext

__all__ = ("AgentLike", "Invoker", "StepGate", "StepOutput", "StepTarget", "make_invoker")

StepTarget = Any
"""What a step runs: an `AgentLike` (an `Agent`, a workflow, `wf.as_agent()`), anything with
`async run(query) -> Result`, or a function `str -> str` (async, or sync and then run in a worker
thread), optionally taking the `WorkflowContext` second."""

StepOutput = tuple[str, Any, "Usage | None"]
"""(text output, the raw result object, its usage if it has one)."""

_DONE = ChunkType.DONE
_ERROR = ChunkType.ERROR


@runtime_checkable
class AgentLike(Protocol):
    """What a workflow runs as a step and streams straight into its own sink: an `Agent`, a workflow, `wf.as_agent()`.

    The workflow hands its sink to the step: the step's chunks go to the workflow's stream, tagged
    with `tag` (the step's path), with no stream of its own in between.
    """

    name: str

    async def run_step(
        self,
        query: str,
        *,
        options: RunOptions | None,
        sink: ChunkSink | None,
        tag: str,
    ) -> Result:
        """Run as a step of an enclosing workflow; chunks go to `sink` tagged under `tag`.

        Raises:
            RunError: the run failed (a workflow's `WorkflowError` holds what finished in `result`).

        """
        ...


class Invoker:
    """Calls one step's target on an input."""

    __slots__ = ()

    async def __call__(
        self,
        text: str,
        ctx: WorkflowContext,
        options: RunOptions | None,
        sink: ChunkSink | None,
        tag: str,
    ) -> StepOutput:
        raise NotImplementedError


def _normalize(value: Any) -> StepOutput:
    if value.__class__ is str:
        return value, value, None
    if isinstance(value, StopWorkflow):
        raise value
    content = getattr(value, "content", None)
    if isinstance(content, str):
        usage = getattr(value, "usage", None)
        return content, value, usage if isinstance(usage, Usage) else None
    if value is None:
        return "", None, None
    return str(value), value, None


class _AgentLikeInvoker(Invoker):
    __slots__ = ("target",)

    def __init__(self, target: AgentLike) -> None:
        self.target = target

    async def __call__(
        self, text: str, ctx: WorkflowContext, options: RunOptions | None, sink: ChunkSink | None, tag: str
    ) -> StepOutput:
        # A failure raises already a WorkflowError (or WorkflowTimeoutError) naming the inner steps.
        result = await self.target.run_step(text, options=options, sink=sink, tag=tag)
        return result.content, result, result.usage


class _RunnableInvoker(Invoker):
    __slots__ = ("target",)

    def __init__(self, target: Any) -> None:
        self.target = target

    async def __call__(
        self, text: str, ctx: WorkflowContext, options: RunOptions | None, sink: ChunkSink | None, tag: str
    ) -> StepOutput:
        target = self.target
        if sink is not None:
            run_stream = getattr(target, "run_stream", None)
            if run_stream is not None:
                return await _forward_stream(
                    run_stream(text) if options is None else run_stream(text, options=options), sink, tag
                )
        result = await (target.run(text) if options is None else target.run(text, options=options))
        return _normalize(result)


async def _forward_stream(stream: Any, sink: ChunkSink, tag: str) -> StepOutput:
    """Forward an agent's stream to the workflow's sink, each chunk tagged with the step.

    The agent's DONE is dropped (the workflow ends with its own single DONE) and so is its ERROR:
    the scheduler reports the step's failure once, after its retries, as the step's ERROR chunk.
    """
    try:
        async for chunk in stream:
            kind = chunk.type
            if kind is _DONE or kind is _ERROR:
                continue
            chunk.step_name = tag
            w = sink.send(chunk)
            if w is not None:
                await w
        result = await stream.wait()
    except BaseException:
        # Cancelled (fail_fast, a timeout) or failed: close the agent's upstream request and wait
        # until its task has ended, so nothing of this step outlives it.
        stream.cancel()
        await stream.aclose()
        raise
    return _normalize(result)


class _AsyncFnInvoker(Invoker):
    __slots__ = ("fn", "label", "with_ctx")

    def __init__(self, fn: Callable[..., Any], with_ctx: bool, step_name: str) -> None:
        self.fn = fn
        self.with_ctx = with_ctx
        self.label = f"workflow step {step_name!r}"

    async def __call__(
        self, text: str, ctx: WorkflowContext, options: RunOptions | None, sink: ChunkSink | None, tag: str
    ) -> StepOutput:
        # In a task of its own: a step function that swallows CancelledError cannot defeat the
        # step's or the workflow's timeout, nor fail_fast (see _cancel.py).
        value = await guarded(self.fn(text, ctx) if self.with_ctx else self.fn(text), self.label)
        return _normalize(value)


class StepGate(WorkerGate):
    """A sync function step's standing with the worker threads: its calls still running after a timeout."""

    __slots__ = ()

    def refused(self) -> Exception:
        """The error for a new attempt while `HUNG_LIMIT` attempts of the step are hung."""
        return WorkflowError(
            f"step {self.name!r} has {self.hung} calls still running in worker threads after their timeout; "
            "new attempts are refused until some return (make the function give up by itself, e.g. a timeout "
            "on its socket or subprocess)"
        )


_NO_KWARGS: dict[str, Any] = {}


class _SyncFnInvoker(Invoker):
    __slots__ = ("fn", "gate", "with_ctx")

    def __init__(self, fn: Callable[..., Any], with_ctx: bool, gate: StepGate) -> None:
        self.fn = fn
        self.with_ctx = with_ctx
        self.gate = gate

    async def __call__(
        self, text: str, ctx: WorkflowContext, options: RunOptions | None, sink: ChunkSink | None, tag: str
    ) -> StepOutput:
        # Sync user code runs in one of the process's worker threads (the pool sync tools use, see
        # _threads.py), so it can never stall the other steps; not asyncio.to_thread, whose executor
        # `asyncio.run()` waits for, and whose queued calls run even after their step timed out.
        call = functools.partial(self.fn, text, ctx) if self.with_ctx else functools.partial(self.fn, text)
        value = await run_in_worker(call, _NO_KWARGS, self.gate)
        if inspect.isawaitable(value):  # a plain function that returns a coroutine, e.g. `lambda t: agent.run(t)`
            value = await value
        return _normalize(value)


def _positional_arity(fn: Callable[..., Any]) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    return sum(1 for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))


def make_invoker(target: Any, step_name: str, gate: StepGate | None = None) -> Invoker:
    """Classify `target` once and return the callable that runs it.

    `gate` counts the hung calls of a sync function step (the `Step`'s own, so every plan of the
    workflow shares it).

    Raises:
        WorkflowError: `target` is not agent-like.

    """
    if isinstance(target, AgentLike):
        return _AgentLikeInvoker(target)
    run = getattr(target, "run", None)
    if run is not None and inspect.iscoroutinefunction(run):
        return _RunnableInvoker(target)
    if callable(target):
        is_async = inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
            getattr(target, "__call__", None)  # noqa: B004  # async callable objects
        )
        arity = _positional_arity(target)
        if arity not in (1, 2):
            raise WorkflowError(
                f"step {step_name!r}: a function step takes the input text, and optionally the WorkflowContext "
                f"as a second argument; {getattr(target, '__name__', target)!r} takes {arity} positional arguments"
            )
        if is_async:
            return _AsyncFnInvoker(target, arity == 2, step_name)
        return _SyncFnInvoker(target, arity == 2, StepGate(step_name) if gate is None else gate)
    raise WorkflowError(
        f"step {step_name!r}: {type(target).__name__} is not agent-like; use an Agent, a workflow "
        "(or wf.as_agent()), an object with `async def run(query)`, or a function `str -> str`"
    )
