"""`Workflow`, the base every shape shares (definition, the one run entry, streams, sync runs), and `as_agent`.

The shapes themselves (sequential, parallel, DAG, loop) are in `_shapes.py`: each only says how its
steps depend on each other and, for the loop, how iterations repeat; the scheduler is `_engine.py`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, Unpack

from .._usage_limits import UsageLimits, budget_scope
from .._utils import is_seconds, new_id, run_blocking
from ..durable._journal import bind_scope, current_scope, reset_scope
from ..durable._runs import check_store
from ..durable._types import Durability, Edit, RunInfo, RunStatus, check_durability
from ..errors import UserError, WorkflowDepthError, WorkflowError
from ..metrics import Metrics, MetricsSnapshot, metrics_for, record_failure, record_result
from ..options import RunOptions, check_run_options
from ..streaming import Stream, StreamOptions
from ..streaming._options import StreamOptionsDict, resolve_stream_options
from ..telemetry import _hooks as _tel
from ._context import WorkflowContext, bind_context, unbind_context
from ._engine import Plan, Run, compile_plan
from ._invoke import StepTarget
from ._result import StepResult, StepStatus, WorkflowResult
from ._step import Step

if TYPE_CHECKING:
    from ..durable._journal import Journal
    from ..executors import BatchResult, Executor, ProgressCallback
    from ..stores._base import Store
    from ..streaming._sink import ChunkSink

__all__ = ("DEFAULT_MAX_DEPTH", "Workflow", "WorkflowAgent", "not_run")

DEFAULT_MAX_DEPTH = 5


# The names of the workflows the current code runs inside, outermost first; nesting depth is its length.
_PATH: ContextVar[tuple[str, ...]] = ContextVar("agentickit_workflow_path", default=())


class Workflow:
    """Base class of the workflows: a named set of steps run by the one scheduler.

    A workflow is usable wherever an agent is: it has a `name`, `async run(query) -> Result`
    (a `WorkflowResult`), `run_stream`, `run_batch`, and it can be a step of another workflow
    (directly, or through `as_agent` to name it and bound its nesting). Every shape takes
    `usage_limits=`: one `ak.UsageLimits` budget shared by all the steps of each run (see `run`).
    """

    __slots__ = ("_metrics", "_plan", "_steps", "description", "durability", "name", "store", "timeout", "usage_limits")

    _accepts_depends_on: ClassVar[bool] = False

    def __init__(
        self,
        name: str,
        *,
        timeout: float | None = None,
        steps: Iterable[Step] = (),
        description: str = "",
        usage_limits: UsageLimits | None = None,
        durability: Durability = "off",
        store: Store | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or "/" in name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise WorkflowError(f"a workflow name must be a non-empty string without '/', got {name!r}")
        if timeout is not None and not is_seconds(timeout):
            raise WorkflowError(f"workflow {name!r}: timeout must be > 0 seconds (a number, not NaN), got {timeout!r}")
        if usage_limits is not None and not isinstance(usage_limits, UsageLimits):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise WorkflowError(f"workflow {name!r}: usage_limits must be an ak.UsageLimits, got {usage_limits!r}")
        self.name = name
        self.timeout = timeout
        self.usage_limits = usage_limits
        """One budget for all the steps of each run (a run's own `usage_limits=` replaces it)."""
        self.description = description
        self.durability: Durability = check_durability(durability, f"workflow {name!r}: durability")
        self.store = check_store(store, f"workflow {name!r}")
        self._steps: list[Step] = []
        self._plan: Plan | None = None
        self._metrics: Metrics | None = None
        for step in steps:
            self.add_step(step)

    # -- definition ---------------------------------------------------------------------------------

    def add_step(self, step: Step | str, agent: StepTarget = None, /, **options: Any) -> Self:
        """Add a step; returns the workflow, so calls chain.

        Either `add_step(ak.Step("a", agent, ...))` or the shorthand `add_step("a", agent, **step_options)`.

        Raises:
            WorkflowError: a duplicate name, a bad step, or `depends_on` in a workflow that orders its own steps.

        """
        if isinstance(step, Step):
            if agent is not None or options:
                raise WorkflowError(
                    f"add_step({step.name!r}): pass either a Step or (name, agent, **options), not both"
                )
        else:
            if agent is None:
                raise WorkflowError(f"add_step({step!r}): missing the agent; use add_step(name, agent)")
            step = Step(step, agent, **options)
        if any(s.name == step.name for s in self._steps):
            raise WorkflowError(
                f"workflow {self.name!r} already has a step named {step.name!r}; step names must be unique"
            )
        if step.depends_on and not self._accepts_depends_on:
            raise WorkflowError(
                f"step {step.name!r}: {type(self).__name__} orders its steps itself, so depends_on is not allowed; "
                "use a DAGWorkflow for explicit dependencies"
            )
        self._steps.append(step)
        self._plan = None
        return self

    @property
    def steps(self) -> tuple[Step, ...]:
        """The steps, in the order they were added."""
        return tuple(self._steps)

    def _dependencies(self) -> list[tuple[str, ...]]:
        # The shape of the graph: a chain by default (sequential, loop); subclasses override.
        names = [s.name for s in self._steps]
        return [(names[i - 1],) if i else () for i in range(len(names))]

    def _compiled(self) -> Plan:
        plan = self._plan
        if plan is None:
            plan = self._plan = compile_plan(self.name, self._steps, self._dependencies())
        return plan

    def validate(self) -> None:
        """Check the workflow without running it (also done by every run).

        Raises:
            WorkflowError: no steps, duplicate names, unknown dependencies, or a cycle (with its path).

        """
        self._compiled()

    # -- running ------------------------------------------------------------------------------------

    async def run(
        self,
        query: str,
        *,
        options: RunOptions | None = None,
        state: dict[str, Any] | None = None,
        raise_on_error: bool = True,
        deps: Any = None,
        usage_limits: UsageLimits | None = None,
        durability: Durability | None = None,
    ) -> WorkflowResult:
        """Run the workflow on `query` and return every step's outcome.

        A failed step, a timeout or nesting past `max_depth` raises a `WorkflowError` whose `result`
        is the partial `WorkflowResult` (every step's status and output: nothing finished is lost).
        With `raise_on_error=False` that result is returned instead, its `error` set.
        `options` go to every agent step; `state` seeds the shared key/value store (`context.state`).
        `deps` reach every agent step's tools (`ctx.deps`, as `agent.run(..., deps=)`). `usage_limits`
        is ONE budget for all the steps together (nested workflows included); a limit in `options`
        instead applies to each agent run on its own. A step that breaks it fails with
        `UsageLimitExceeded` (its `StepResult.error`), which the `WorkflowError` names.
        `durability` (default: the workflow's) journals the run in `store` so `resume(run_id)` can continue it;
        a durable run whose step calls `ctx.request_input()` returns `status="paused"` with `pending`.

        Raises:
            WorkflowTimeoutError: the workflow's timeout ran out (also a `RunTimeoutError`).
            WorkflowDepthError: a nested workflow ran deeper than its `max_depth`.
            WorkflowError: a step failed, or the workflow is malformed (no steps, unknown
                dependencies, a cycle).

        """
        mode = self._mode(durability)
        if mode == "off":
            result = await self._run_in(
                query, options=options, sink=None, tag="", state=state, deps=deps, usage_limits=usage_limits
            )
        else:
            from ..durable._workflow import run_workflow

            result = await run_workflow(
                self, query, options, None, state, DEFAULT_MAX_DEPTH, mode, deps=deps, usage_limits=usage_limits
            )
        if raise_on_error and result.error is not None:
            raise result.error
        return result

    def _mode(self, durability: Durability | None) -> Durability:
        if durability is None:
            return self.durability
        return check_durability(durability)

    async def resume(
        self,
        run_id: str,
        *,
        approvals: Mapping[str, bool | Edit | str] | None = None,
        options: RunOptions | None = None,
        raise_on_error: bool = True,
        durability: Durability | None = None,
        deps: Any = None,
    ) -> WorkflowResult:
        """Continue a journaled run (paused, failed, cancelled or crashed), in this process or another.

        Steps the journal has finished are not run again (their outputs are replayed), nor are the model
        responses and tool results of agent steps. `approvals` answers the run's `pending` requests:
        `{id: "text"}` for `ctx.request_input`, `{id: True | False | ak.Edit(args=...)}` for tool approvals.

        Raises:
            RunNotFoundError: no journal for `run_id` in the workflow's store.
            RunFinishedError: the run already finished.
            ApprovalError: `approvals` names ids that are not pending.
            JournalMismatchError: the journal was written by a different definition (steps renamed, ...).
            WorkflowError: a step failed (as `run()`).

        """
        from ..durable._workflow import resume_workflow

        mode = None if durability is None else check_durability(durability)
        result = await resume_workflow(self, run_id, approvals, options, None, DEFAULT_MAX_DEPTH, mode, deps=deps)
        if raise_on_error and result.error is not None:
            raise result.error
        return result

    def resume_stream(
        self,
        run_id: str,
        *,
        approvals: Mapping[str, bool | Edit | str] | None = None,
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
        deps: Any = None,
    ) -> Stream[WorkflowResult]:
        """`resume()` as a stream: replayed steps send their AGENT_COMPLETE, then the run streams live."""
        from ..durable._workflow import resume_workflow

        sopts = resolve_stream_options(stream_options)

        async def produce(sink: ChunkSink) -> WorkflowResult:
            return _raise_error(
                await resume_workflow(self, run_id, approvals, options, sink, DEFAULT_MAX_DEPTH, None, deps=deps)
            )

        return Stream(
            produce,
            sopts,
            {"agent_name": self.name, "workflow_name": self.name},
            on_sync_close=self._close_loop_bound,
        )

    async def cancel_run(self, run_id: str, *, reason: str = "cancelled") -> None:
        """Give up a journaled run that is not running here (paused, failed or crashed): it resumes no more.

        The journal is marked `cancelled` with `reason`; a later `resume()` raises `RunFinishedError`
        saying so. (A run in progress in this process is cancelled through its task or stream.)

        Raises:
            RunNotFoundError: no journal for `run_id` in the store.
            RunFinishedError: the run already finished or was cancelled.
            JournalMismatchError: another workflow (or another definition of it) wrote the journal.

        """
        from ..durable._workflow import cancel_workflow_run

        await cancel_workflow_run(self, run_id, reason)

    async def runs(self, *, status: RunStatus | None = None, limit: int = 100) -> list[RunInfo]:
        """This workflow's journaled runs in its store, most recent first; `status` filters them."""
        from ..durable._workflow import workflow_runs

        return await workflow_runs(self, status, limit)

    def run_stream(
        self,
        query: str,
        *,
        options: RunOptions | None = None,
        state: dict[str, Any] | None = None,
        stream_options: StreamOptions | None = None,
        deps: Any = None,
        usage_limits: UsageLimits | None = None,
        durability: Durability | None = None,
        **kwargs: Unpack[StreamOptionsDict],
    ) -> Stream[WorkflowResult]:
        """Run the workflow and stream it: AGENT_START / AGENT_COMPLETE per step and every step's chunks.

        ```python
        async for chunk in wf.run_stream("topic"):
            if chunk.type is ak.ChunkType.DELTA:
                print(chunk.step_name, chunk.delta)
        ```

        Every chunk carries its step in `step_name` (`outer/inner` inside a subworkflow); steps that
        run at the same time interleave. AGENT_COMPLETE has the step's output in `content` and
        `status` and `duration` in `metadata`; a failed or timed-out step sends an ERROR chunk before
        its AGENT_COMPLETE. The stream ends with exactly one DONE, after an ERROR when the workflow
        did not complete; `wait()` then raises its `WorkflowError` (whose `result` has the partial
        results), otherwise it returns the `WorkflowResult`. The stream keywords are those of
        `StreamOptions` (as for `Agent.run_stream`); `timeout` is the stream's deadline (the workflow's own `timeout` applies too).
        `deps`, `usage_limits` and `durability` are those of `run()`; a durable run that pauses sends one
        APPROVAL_REQUIRED chunk (`metadata`: `run_id`, `pending`) before its DONE.

        Raises:
            UserError: a stream option is out of range.

        """
        sopts = resolve_stream_options(stream_options, **kwargs)
        return _stream(
            self, self.name, query, options, state, DEFAULT_MAX_DEPTH, sopts, deps, usage_limits, self._mode(durability)
        )

    def run_sync(
        self,
        query: str,
        *,
        options: RunOptions | None = None,
        state: dict[str, Any] | None = None,
        raise_on_error: bool = True,
        deps: Any = None,
        usage_limits: UsageLimits | None = None,
    ) -> WorkflowResult:
        """Blocking `run()` for scripts without a running event loop.

        Raises:
            UserError: called from inside a running event loop.
            WorkflowError: the run failed (as `run()`; not with `raise_on_error=False`).

        """
        return run_blocking(
            lambda: self.run(
                query, options=options, state=state, raise_on_error=raise_on_error, deps=deps, usage_limits=usage_limits
            ),
            self._close_loop_bound,
            "workflow",
        )

    async def run_batch(
        self,
        queries: Sequence[str],
        *,
        concurrency: int = 10,
        on_progress: ProgressCallback | None = None,
        executor: Executor | None = None,
        options: RunOptions | None = None,
    ) -> BatchResult:
        """Run the workflow on many inputs, at most `concurrency` at a time, in input order.

        A failed workflow run is a failed item (`item.error` is a `WorkflowError` whose `result`
        holds the partial `WorkflowResult`); the others go on.
        """
        return await self.as_agent().run_batch(
            queries, concurrency=concurrency, on_progress=on_progress, executor=executor, options=options
        )

    def as_agent(
        self, name: str | None = None, *, max_depth: int = DEFAULT_MAX_DEPTH, description: str = ""
    ) -> WorkflowAgent:
        """This workflow as an agent: a step of another workflow, or anything that runs agents.

        Args:
            name: the agent's name (defaults to the workflow's).
            max_depth: how many workflows deep this one may run, counting every enclosing workflow
                and itself; checked at run time, so a workflow that contains itself fails clearly.
            description: what it does.

        """
        return WorkflowAgent(self, name=name, max_depth=max_depth, description=description)

    async def run_step(
        self, query: str, *, options: RunOptions | None, sink: ChunkSink | None, tag: str
    ) -> WorkflowResult:
        """Run as a step of an enclosing workflow (`AgentLike`); chunks go to `sink` tagged under `tag`.

        Raises:
            WorkflowError: a step failed or timed out; its `result` holds the partial `WorkflowResult`.

        """
        return _raise_error(await self._run_in(query, options=options, sink=sink, tag=tag))

    async def _run_in(
        self,
        query: str,
        *,
        options: RunOptions | None,
        sink: ChunkSink | None,
        tag: str,
        state: dict[str, Any] | None = None,
        max_depth: int = DEFAULT_MAX_DEPTH,
        deps: Any = None,
        usage_limits: UsageLimits | None = None,
        scoped: bool = False,
        journal: Journal | None = None,
    ) -> WorkflowResult:
        """Run inside an enclosing workflow (or at the top): the single entry of every run."""
        check_run_options(options)
        if deps is not None:
            options = replace(options, deps=deps) if options is not None else RunOptions(deps=deps)
        limits = usage_limits if usage_limits is not None else self.usage_limits
        if limits is not None and not scoped:
            if not isinstance(limits, UsageLimits):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise UserError(f"usage_limits= takes an ak.UsageLimits, got {type(limits).__name__}")
            with budget_scope(limits, f"workflow {self.name!r}"):
                return await self._run_in(
                    query,
                    options=options,
                    sink=sink,
                    tag=tag,
                    state=state,
                    max_depth=max_depth,
                    scoped=True,
                    journal=journal,
                )
        plan = self._compiled()
        path = _PATH.get()
        depth = len(path) + 1
        run_id = new_id("wf") if journal is None else journal.run_id
        if depth > max_depth:
            chain = " > ".join((*path, self.name))
            err = WorkflowDepthError(
                f"workflow {self.name!r} would run {depth} workflows deep ({chain}), over its max_depth={max_depth}; "
                "check for a workflow that contains itself, or raise max_depth in as_agent()"
            )
            err.result = not_run(self.name, run_id, plan, err)
            record_failure(self, err, 0.0)
            return err.result
        ctx = WorkflowContext(self.name, run_id, query, state)
        ctx.journal = journal
        path_token = _PATH.set((*path, self.name))
        ctx_token = bind_context(ctx)
        # A workflow nested in a durable step has no journal of its own: its agents must not take the step's.
        scope_token = bind_scope(None) if journal is None and current_scope() is not None else None
        start = time.perf_counter()
        span = None if _tel.active is None else _tel.active.workflow_start(self)
        try:
            result = await self._execute(plan, query, ctx, options, sink, f"{tag}/" if tag else "")
        except BaseException as exc:  # cancelled from outside: counted, never swallowed
            record_failure(self, exc, time.perf_counter() - start)
            if span is not None:
                span.fail(exc)
            raise
        finally:
            if scope_token is not None:
                reset_scope(scope_token)
            unbind_context(ctx_token)
            _PATH.reset(path_token)
        if span is not None:
            span.workflow_end(result)
        if result.error is None:
            record_result(self, result)
        else:
            record_failure(self, result.error, result.duration)
        return result

    def metrics(self, *, reset: bool = False) -> MetricsSnapshot:
        """A snapshot of this workflow's counters: runs, errors by type, latency percentiles, tokens, cost.

        A run that ends with `error` set counts as an error; cost is priced when every agent step of a
        run used one model (each agent's own `metrics()` has the per-agent detail).

        Args:
            reset: start counting from zero after taking the snapshot.

        """
        m = metrics_for(self)
        snap = m.snapshot()
        if reset:
            m.reset()
        return snap

    def _new_run(
        self,
        plan: Plan,
        query: str,
        ctx: WorkflowContext,
        options: RunOptions | None,
        sink: ChunkSink | None,
        prefix: str,
    ) -> Run:
        max_concurrency, fail_fast = self._limits()
        return Run(
            self.name,
            plan,
            query,
            ctx,
            options=options,
            sink=sink,
            prefix=prefix,
            max_concurrency=max_concurrency,
            fail_fast=fail_fast,
        )

    def _limits(self) -> tuple[int | None, bool]:
        """`max_concurrency` and `fail_fast` of a run: unbounded and run-to-the-end unless a shape says otherwise."""
        return None, False

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
        run = self._new_run(plan, query, ctx, options, sink, prefix)
        timeout = self.timeout
        if timeout is None:
            await run.execute()
            return await run.finish(timed_out=False, limit=None, run_id=ctx.run_id, start=start)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                await run.execute()
        except TimeoutError:
            if not deadline.expired():
                raise
        return await run.finish(timed_out=deadline.expired(), limit=timeout, run_id=ctx.run_id, start=start)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Release what the steps hold: calls `cleanup()` on every step's agent (and nested workflows'). Idempotent."""
        await _each_target([s.agent for s in self._steps], {id(self)}, "cleanup")

    async def _close_loop_bound(self) -> None:
        # What agent steps opened on a private loop (run_sync, `for chunk in stream`): their HTTP pools.
        await _each_target([s.agent for s in self._steps], {id(self)}, "_close_loop_bound")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cleanup()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, steps={[s.name for s in self._steps]})"


class WorkflowAgent:
    """A workflow dressed as an agent (`wf.as_agent()`): it raises on failure, like an agent run.

    As a step of another workflow it runs inside that workflow's scheduler, its chunks tagged
    `outer_step/inner_step`, and `max_depth` bounds how deep workflows may nest at run time.

    Attributes:
        workflow: the wrapped workflow.
        name: the agent's name.
        max_depth: the deepest nesting (enclosing workflows plus this one) allowed when it runs.
        description: what it does.

    """

    __slots__ = ("description", "max_depth", "name", "workflow")

    def __init__(
        self, workflow: Workflow, *, name: str | None = None, max_depth: int = DEFAULT_MAX_DEPTH, description: str = ""
    ) -> None:
        if max_depth < 1:
            raise WorkflowError(f"as_agent({workflow.name!r}): max_depth must be >= 1, got {max_depth}")
        self.workflow = workflow
        self.name = name if name is not None else workflow.name
        self.max_depth = max_depth
        self.description = description or workflow.description

    async def run(self, query: str, *, options: RunOptions | None = None) -> WorkflowResult:
        """Run the workflow; unlike `Workflow.run`, a failure raises.

        Raises:
            WorkflowError: a step failed, timed out, or nesting went past `max_depth`; its `result` holds
                the partial `WorkflowResult`.

        """
        return _raise_error(
            await self.workflow._run_in(query, options=options, sink=None, tag="", max_depth=self.max_depth)  # pyright: ignore[reportPrivateUsage]
        )

    def run_stream(
        self,
        query: str,
        *,
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
        **kwargs: Unpack[StreamOptionsDict],
    ) -> Stream[WorkflowResult]:
        """Stream the workflow (see `Workflow.run_stream`; the same stream keywords)."""
        sopts = resolve_stream_options(stream_options, **kwargs)
        return _stream(self.workflow, self.name, query, options, None, self.max_depth, sopts)

    async def run_batch(
        self,
        queries: Sequence[str],
        *,
        concurrency: int = 10,
        on_progress: ProgressCallback | None = None,
        executor: Executor | None = None,
        options: RunOptions | None = None,
    ) -> BatchResult:
        """Run many inputs through the workflow (see `Workflow.run_batch`)."""
        from ..executors import LocalExecutor

        runner = executor if executor is not None else LocalExecutor()
        return await runner.run_batch(self, queries, concurrency=concurrency, options=options, on_progress=on_progress)

    async def run_step(
        self, query: str, *, options: RunOptions | None, sink: ChunkSink | None, tag: str
    ) -> WorkflowResult:
        """Run as a step of an enclosing workflow (`AgentLike`; see `Workflow.run_step`)."""
        return _raise_error(
            await self.workflow._run_in(query, options=options, sink=sink, tag=tag, max_depth=self.max_depth)  # pyright: ignore[reportPrivateUsage]
        )

    def metrics(self, *, reset: bool = False) -> MetricsSnapshot:
        """The wrapped workflow's counters (see `Workflow.metrics`)."""
        return self.workflow.metrics(reset=reset)

    async def cleanup(self) -> None:
        """Release what the workflow's steps hold (see `Workflow.cleanup`)."""
        await self.workflow.cleanup()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cleanup()

    def __repr__(self) -> str:
        return f"WorkflowAgent({self.name!r}, {self.workflow!r}, max_depth={self.max_depth})"


def not_run(name: str, run_id: str, plan: Plan, error: BaseException | None) -> WorkflowResult:
    """The result of a run that never started a step: each step skipped, naming why."""
    why = f"not started: {error}" if error is not None else "not started"
    steps = {n: StepResult(name=n, status=StepStatus.SKIPPED, reason=why) for n in plan.names}
    stop_reason = "max_depth" if isinstance(error, WorkflowDepthError) else "failed"
    return WorkflowResult(
        content="",
        run_id=run_id,
        agent_name=name,
        metadata={"workflow": name},
        steps=steps,
        error=error,
        stop_reason=stop_reason,
    )


def _raise_error(result: WorkflowResult) -> WorkflowResult:
    """`result`, or its error raised (a WorkflowError naming the failed steps, holding `result`)."""
    if result.error is not None:
        raise result.error
    return result


def _stream(
    workflow: Workflow,
    name: str,
    query: str,
    options: RunOptions | None,
    state: dict[str, Any] | None,
    max_depth: int,
    sopts: StreamOptions,
    deps: Any = None,
    usage_limits: UsageLimits | None = None,
    mode: Durability = "off",
) -> Stream[WorkflowResult]:
    async def produce(sink: ChunkSink) -> WorkflowResult:
        # A failure raises: the stream turns it into its single ERROR before DONE, and `wait()` raises it.
        if mode != "off":
            from ..durable._workflow import run_workflow

            return _raise_error(
                await run_workflow(
                    workflow, query, options, sink, state, max_depth, mode, deps=deps, usage_limits=usage_limits
                )
            )
        return _raise_error(
            await workflow._run_in(  # pyright: ignore[reportPrivateUsage]
                query,
                options=options,
                sink=sink,
                tag="",
                state=state,
                max_depth=max_depth,
                deps=deps,
                usage_limits=usage_limits,
            )
        )

    return Stream(
        produce,
        sopts,
        {"agent_name": name, "workflow_name": workflow.name},
        on_sync_close=workflow._close_loop_bound,  # pyright: ignore[reportPrivateUsage]
    )


async def _each_target(targets: Sequence[Any], seen: set[int], method: str) -> None:
    """Await `target.<method>()` on every step target, nested workflows' included, each once."""
    # A workflow can contain itself (through as_agent) or share agents between steps: visit each once.
    for target in targets:
        inner = target.workflow if isinstance(target, WorkflowAgent) else target
        if id(inner) in seen:
            continue
        seen.add(id(inner))
        if isinstance(inner, Workflow):
            await _each_target([s.agent for s in inner.steps], seen, method)
            continue
        fn = getattr(inner, method, None)
        if fn is not None and inspect.iscoroutinefunction(fn):
            await fn()
