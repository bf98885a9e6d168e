"""The workflow shapes: sequential, parallel, DAG and loop, each a `Workflow` over the one scheduler.

A shape says only how its steps depend on each other (`_dependencies`) and what limits a run has
(`_limits`); the loop also repeats whole runs. Everything else is the base class in `_workflow.py`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import WorkflowError, WorkflowTimeoutError
from ..messages import Usage
from ._context import WorkflowContext
from ._engine import Plan, Run
from ._result import WorkflowResult
from ._step import Step, check_signature
from ._workflow import Workflow, not_run

if TYPE_CHECKING:
    from .._usage_limits import UsageLimits
    from ..durable._types import Durability
    from ..options import RunOptions
    from ..stores._base import Store
    from ..streaming._sink import ChunkSink

__all__ = ("DAGWorkflow", "LoopWorkflow", "ParallelWorkflow", "SequentialWorkflow", "Until")

Until = Callable[[WorkflowResult], "bool | Awaitable[bool]"]
"""`until(iteration_result) -> bool`: true ends a loop."""


class SequentialWorkflow(Workflow):
    """Runs its steps one after another, each on the previous step's output (or its `transform` of it).

    Wall time is the sum of the steps. The result's `content` is the last step's output.

    Args:
        name: the workflow's name.
        timeout: seconds the whole run may take; what finished by then is kept.
        steps: initial steps (more with `add_step`).
        description: what it does.

    """

    __slots__ = ()


class _Concurrent(Workflow):
    __slots__ = ("fail_fast", "max_concurrency")

    def __init__(
        self,
        name: str,
        *,
        max_concurrency: int | None = None,
        fail_fast: bool = False,
        timeout: float | None = None,
        steps: Iterable[Step] = (),
        description: str = "",
        usage_limits: UsageLimits | None = None,
        durability: Durability = "off",
        store: Store | None = None,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise WorkflowError(f"workflow {name!r}: max_concurrency must be >= 1 or None, got {max_concurrency}")
        self.max_concurrency = max_concurrency
        self.fail_fast = fail_fast
        super().__init__(
            name,
            timeout=timeout,
            steps=steps,
            description=description,
            usage_limits=usage_limits,
            durability=durability,
            store=store,
        )

    def _limits(self) -> tuple[int | None, bool]:
        return self.max_concurrency, self.fail_fast


class ParallelWorkflow(_Concurrent):
    """Starts every step at once on the same input (at most `max_concurrency` running at a time).

    Wall time is the slowest step. The result's `content` is the steps' outputs, each under a
    `[step name]` label, in step order.

    Args:
        name: the workflow's name.
        max_concurrency: at most this many steps run at once (`None`: all of them).
        fail_fast: on the first failure, cancel the running steps (status `cancelled`) and skip the rest;
            otherwise every step finishes and failures are reported per step.
        timeout: seconds the whole run may take; what finished by then is kept.
        steps: initial steps (more with `add_step`).
        description: what it does.

    """

    __slots__ = ()

    def _dependencies(self) -> list[tuple[str, ...]]:
        return [() for _ in self._steps]


class DAGWorkflow(_Concurrent):
    """Runs each step the moment all of its `depends_on` steps have succeeded; independent branches run at once.

    Wall time is the critical path. A step's input is its dependency's output, or, with several,
    their outputs each under a `[step name]` label (`transform` to customise); steps without
    dependencies get the workflow's input. Steps downstream of a failure are skipped with the reason.
    The result's `content` is the output of the step nothing depends on (labelled outputs if several).

    Args:
        name: the workflow's name.
        max_concurrency: at most this many steps run at once (`None`: no limit).
        fail_fast: on the first failure, cancel the running steps and skip the rest.
        timeout: seconds the whole run may take; what finished by then is kept.
        steps: initial steps (more with `add_step`).
        description: what it does.

    """

    __slots__ = ()

    _accepts_depends_on = True

    def _dependencies(self) -> list[tuple[str, ...]]:
        return [s.depends_on for s in self._steps]


class LoopWorkflow(Workflow):
    """Runs its steps in sequence, again and again, each iteration on the previous one's output.

    It stops when `until(iteration_result)` is true, after `max_iterations`, when a step fails or calls
    `stop()`, or on timeout; `result.stop_reason` says which (`until`, `max_iterations`, `failed`,
    `stopped`, `timeout`) and `result.iterations` how many ran. `steps` hold the last iteration's.

    Args:
        name: the workflow's name.
        max_iterations: the most iterations to run (>= 1).
        until: `until(result) -> bool` (or an awaitable of one), given each iteration's `WorkflowResult`.
        timeout: seconds the whole loop may take; what finished by then is kept.
        steps: initial steps (more with `add_step`).
        description: what it does.

    """

    __slots__ = ("max_iterations", "until")

    def __init__(
        self,
        name: str,
        *,
        max_iterations: int = 5,
        until: Until | None = None,
        timeout: float | None = None,
        steps: Iterable[Step] = (),
        description: str = "",
        usage_limits: UsageLimits | None = None,
        durability: Durability = "off",
        store: Store | None = None,
    ) -> None:
        if max_iterations < 1:
            raise WorkflowError(f"workflow {name!r}: max_iterations must be >= 1, got {max_iterations}")
        if until is not None:
            check_signature(until, 1, f"workflow {name!r}: until", "until(result: WorkflowResult) -> bool")
        self.max_iterations = max_iterations
        self.until = until
        super().__init__(
            name,
            timeout=timeout,
            steps=steps,
            description=description,
            usage_limits=usage_limits,
            durability=durability,
            store=store,
        )

    async def _execute(
        self,
        plan: Plan,
        query: str,
        ctx: WorkflowContext,
        options: RunOptions | None,
        sink: ChunkSink | None,
        prefix: str,
    ) -> WorkflowResult:
        start = time.perf_counter()
        usage = Usage()
        state: list[Any] = [None, None, 0]  # the current run, the last result, iterations started
        reason = "max_iterations"
        error: BaseException | None = None

        async def iterate() -> None:
            nonlocal reason, error
            current = query
            for iteration in range(1, self.max_iterations + 1):
                ctx.iteration = iteration
                state[2] = iteration
                run = state[0] = self._new_run(plan, current, ctx, options, sink, prefix)
                t0 = time.perf_counter()
                await run.execute()
                result = state[1] = await run.finish(timed_out=False, limit=None, run_id=ctx.run_id, start=t0)
                state[0] = None
                usage.add(result.usage)
                if result.stop_reason != "completed":
                    reason = result.stop_reason
                    return
                if self.until is not None:
                    try:
                        done: Any = self.until(result)
                        if inspect.isawaitable(done):
                            done = await done
                    except Exception as exc:
                        reason = "failed"
                        error = WorkflowError(f"loop {self.name!r}: until() raised {type(exc).__name__}: {exc}")
                        error.__cause__ = exc
                        return
                    if done:
                        reason = "until"
                        return
                current = result.content

        timeout = self.timeout
        if timeout is None:
            await iterate()
        else:
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    await iterate()
            except TimeoutError:
                if not deadline.expired():
                    raise
                reason = "timeout"
                run: Run | None = state[0]
                if run is not None:  # the iteration that was running: keep what it finished
                    result = await run.finish(timed_out=True, limit=timeout, run_id=ctx.run_id, start=start)
                    usage.add(result.usage)
                    state[1] = result
                    error = result.error
                if error is None:
                    # The deadline passed between step runs (inside `until`, say): a timeout all the same.
                    error = WorkflowTimeoutError(
                        f"loop {self.name!r} did not finish within its timeout of {timeout:g} s "
                        f"(in iteration {state[2]}, after its steps had run)"
                    )
        result: WorkflowResult | None = state[1]
        if result is None:  # timed out before the first iteration finished anything (cannot happen today)
            result = not_run(self.name, ctx.run_id, plan, error)
        result.iterations = state[2]
        result.usage = usage
        result.duration = time.perf_counter() - start
        result.stop_reason = reason
        result.metadata["iterations"] = state[2]
        if error is not None:
            result.error = error
            if isinstance(error, WorkflowError):
                error.result = result
        return result
