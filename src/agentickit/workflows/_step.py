"""`Step`: one node of a workflow: what runs, after what, on which input, under which limits."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .._utils import is_seconds
from ..errors import WorkflowError
from ._context import WorkflowContext
from ._invoke import StepGate, StepTarget, make_invoker

__all__ = ("Condition", "Step", "Transform", "check_signature")

Condition = Callable[[WorkflowContext], "bool | Awaitable[bool]"]
"""`condition(context) -> bool` (or an awaitable of one): false skips the step."""

Transform = Callable[[Any, WorkflowContext], Any]
"""`transform(previous, context) -> str` (or an awaitable of one, or `ak.stop(...)`): the step's input.

`previous` is the default input text, or, after a single step whose agent has an `output_type`,
that step's validated object."""


def check_signature(fn: object, arity: int, what: str, expected: str) -> None:
    """Check that `fn` can be called with `arity` positional arguments, so a wrong one fails when defined.

    Raises:
        WorkflowError: `fn` is not callable or takes other arguments; the message names `what` and `expected`.

    """
    if not callable(fn):
        raise WorkflowError(f"{what} must be a function {expected}, got {type(fn).__name__}")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable without a signature: trust it
    try:
        sig.bind(*(None,) * arity)
    except TypeError as exc:
        raise WorkflowError(f"{what} must be a function {expected}; {_callable_name(fn)}{sig} cannot: {exc}") from None


def _callable_name(fn: object) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


class Step:
    """One step of a workflow.

    Args:
        name: unique within the workflow (no `/`: it separates nested workflows in stream tags).
        agent: what runs: an `Agent`, a workflow or `wf.as_agent()`, anything with
            `async def run(query) -> Result`, or a function `str -> str` (async, or sync and then run in
            a worker thread) that may take the `WorkflowContext` as a second argument.
        depends_on: names of the steps whose outputs this one needs (DAG workflows).
        condition: `condition(context) -> bool`; when false the step is skipped and its input passes
            through to its dependents. Runs on the event loop: keep it quick.
        transform: `transform(previous, context) -> str` builds the step's input from the default one
            (the previous output, or the labelled outputs of its dependencies). Runs on the event loop.
        timeout: seconds each attempt may take before it is cancelled (status `timed_out`).
        retries: extra attempts after a failure or a timeout. In a stream, a retried agent step
            streams its answer again from the start (the failed attempt's chunks were already sent).
        retry_delay: seconds before the first retry, doubling for each further one.
        description: what the step does.
        executor: run the step elsewhere, e.g. `ak.executors.RayExecutor(...)` for a heavy tool: anything
            with `async run_one(agent, text, *, options)`. The agent is shipped to the executor's workers
            once and kept warm there; the step's answer arrives whole (its deltas are not streamed).

    Raises:
        WorkflowError: a bad name, a non-agent-like `agent`, a bad timeout or retry count, or an
            executor without `run_one`.

    """

    __slots__ = (
        "_gate",
        "agent",
        "condition",
        "depends_on",
        "description",
        "executor",
        "name",
        "retries",
        "retry_delay",
        "timeout",
        "transform",
    )

    def __init__(
        self,
        name: str,
        agent: StepTarget,
        *,
        depends_on: Iterable[str] = (),
        condition: Condition | None = None,
        transform: Transform | None = None,
        timeout: float | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        description: str = "",
        executor: Any = None,
    ) -> None:
        if not isinstance(name, str) or not name or "/" in name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise WorkflowError(f"a step name must be a non-empty string without '/', got {name!r}")
        if isinstance(depends_on, str):
            raise WorkflowError(
                f"step {name!r}: depends_on must be a list of step names, not the string {depends_on!r}"
            )
        if timeout is not None and not is_seconds(timeout):
            raise WorkflowError(f"step {name!r}: timeout must be > 0 seconds (a number, not NaN), got {timeout!r}")
        if retries < 0:
            raise WorkflowError(f"step {name!r}: retries must be >= 0, got {retries}")
        if not is_seconds(retry_delay, zero=True):
            raise WorkflowError(f"step {name!r}: retry_delay must be >= 0 seconds, got {retry_delay}")
        if condition is not None:
            check_signature(condition, 1, f"step {name!r}: condition", "condition(context) -> bool")
        if transform is not None:
            check_signature(transform, 2, f"step {name!r}: transform", "transform(previous: str, context) -> str")
        make_invoker(agent, name)  # fail now, not at the first run
        if executor is not None:
            if not callable(getattr(executor, "run_one", None)):
                raise WorkflowError(f"step {name!r}: executor {executor!r} has no `run_one(agent, text, *, options)`")
            agent = _OnExecutor(agent, executor)
        self.executor = executor
        self.name = name
        self.agent = agent
        self.depends_on = tuple(dict.fromkeys(depends_on))
        self.condition = condition
        self.transform = transform
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self.description = description
        self._gate = StepGate(name)
        """Counts the hung calls of a sync function step; every plan of the workflow shares it."""

    @property
    def hung_calls(self) -> int:
        """Attempts of this (sync function) step still running in a worker thread after they timed out.

        At `HUNG_LIMIT` (16) new attempts fail at once with a `WorkflowError` until some return.
        """
        return self._gate.hung

    def __repr__(self) -> str:
        deps = f", depends_on={list(self.depends_on)!r}" if self.depends_on else ""
        agent = getattr(self.agent, "name", None) or getattr(self.agent, "__name__", type(self.agent).__name__)
        return f"Step({self.name!r}, {agent}{deps})"


class _OnExecutor:
    """A step target run through an executor: looks like an agent to the scheduler (an async `run`)."""

    __slots__ = ("executor", "name", "target")

    def __init__(self, target: StepTarget, executor: Any) -> None:
        self.target = target
        self.executor = executor
        self.name = getattr(target, "name", None) or getattr(target, "__name__", type(target).__name__)

    async def run(self, query: str, *, options: Any = None) -> Any:
        return await self.executor.run_one(self.target, query, options=options)
