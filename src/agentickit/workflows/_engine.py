"""The one scheduler behind every workflow: a DAG engine driven by dependency counters.

Sequential, parallel and loop workflows are shapes of the same graph (a chain, no edges, a chain run
again). When a step finishes it decrements its dependents' counters; each one that reaches zero is
ready at that moment. The finishing task carries on with the first ready dependent itself and starts a
task for each other one, so a chain runs in one task and a fan-out costs one task per extra branch.
There is no polling and no level-by-level barrier: a step starts the moment its last dependency is done.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from .._result import Result
from ..durable._journal import scoped_invoker
from ..durable._types import ApprovalRequest, RunPaused
from ..errors import RunTimeoutError, WorkflowError, WorkflowTimeoutError
from ..messages import Usage
from ..streaming import Chunk, ChunkType
from ..telemetry import _hooks as _tel
from ._invoke import Invoker, make_invoker
from ._result import StepResult, StepStatus, WorkflowResult, failure_error
from ._stop import StopWorkflow

if TYPE_CHECKING:
    from ..options import RunOptions
    from ..streaming._sink import ChunkSink
    from ._context import WorkflowContext
    from ._step import Step

__all__ = ("Plan", "Run", "compile_plan")

_OK = StepStatus.OK
_FAILED = StepStatus.FAILED
_SKIPPED = StepStatus.SKIPPED
_CANCELLED = StepStatus.CANCELLED
_TIMED_OUT = StepStatus.TIMED_OUT
_NONE: tuple[int, ...] = ()


class Plan:
    """A validated, compiled workflow graph (built once per set of steps, reused by every run)."""

    __slots__ = ("dependents", "deps", "indegree", "invokers", "names", "order", "roots", "sinks", "steps")

    def __init__(self, steps: Sequence[Step], deps: Sequence[tuple[int, ...]], order: Sequence[int]) -> None:
        n = len(steps)
        self.steps = tuple(steps)
        self.names = tuple(s.name for s in steps)
        self.invokers: tuple[Invoker, ...] = tuple(
            make_invoker(s.agent, s.name, s._gate)  # pyright: ignore[reportPrivateUsage]
            for s in steps
        )
        self.deps = tuple(deps)
        dependents: list[list[int]] = [[] for _ in range(n)]
        for i, ds in enumerate(deps):
            for d in ds:
                dependents[d].append(i)
        self.dependents = tuple(tuple(x) for x in dependents)
        self.indegree = tuple(len(d) for d in deps)
        self.roots = tuple(i for i in range(n) if not deps[i])
        self.sinks = tuple(i for i in range(n) if not dependents[i])
        self.order = tuple(order)


def compile_plan(workflow: str, steps: Sequence[Step], deps_of: Sequence[Sequence[str]]) -> Plan:
    """Check the graph and compile it.

    Raises:
        WorkflowError: no steps, duplicate names, unknown dependencies, or a cycle (with its path).

    """
    if not steps:
        raise WorkflowError(f"workflow {workflow!r} has no steps; add them with add_step()")
    index: dict[str, int] = {}
    for i, s in enumerate(steps):
        if s.name in index:
            raise WorkflowError(f"workflow {workflow!r} has two steps named {s.name!r}; step names must be unique")
        index[s.name] = i
    unknown = [(s.name, d) for s, ds in zip(steps, deps_of, strict=True) for d in ds if d not in index]
    if unknown:
        listed = "; ".join(f"step {s!r} depends on unknown step {d!r}" for s, d in unknown)
        raise WorkflowError(f"workflow {workflow!r}: {listed} (its steps are: {', '.join(index)})")
    deps = [tuple(index[d] for d in ds) for ds in deps_of]
    # Kahn's algorithm gives a topological order; whatever it cannot order lies on or behind a cycle.
    indegree = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in steps]
    for i, ds in enumerate(deps):
        for d in ds:
            dependents[d].append(i)
    order = [i for i, k in enumerate(indegree) if k == 0]
    for i in order:  # `order` grows while we walk it
        for j in dependents[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                order.append(j)
    if len(order) < len(steps):
        raise WorkflowError(f"workflow {workflow!r} has a dependency cycle: {_cycle_path(steps, deps, indegree)}")
    return Plan(steps, deps, order)


def _cycle_path(steps: Sequence[Step], deps: Sequence[tuple[int, ...]], left: Sequence[int]) -> str:
    # Every step Kahn could not order has an unordered dependency, so walking those dependencies
    # from any such step must revisit one: that loop is the cycle.
    node = next(i for i, k in enumerate(left) if k > 0)
    seen: dict[int, int] = {}
    walk: list[int] = []
    while node not in seen:
        seen[node] = len(walk)
        walk.append(node)
        node = next(d for d in deps[node] if left[d] > 0)
    cycle = walk[seen[node] :]
    cycle.reverse()  # walked against the edges; print in the direction the data flows
    names = [steps[i].name for i in cycle]
    return " -> ".join([*names, names[0]]) + " (each step depends on the one before it)"


class _Abort(Exception):
    """Raised inside the task group to cancel the other steps (fail_fast, early stop)."""


class Run:
    """One execution of a plan: the counters, the outputs and what became of each step."""

    __slots__ = (
        "ctx",
        "fail_fast",
        "failed_first",
        "options",
        "outputs",
        "pending",
        "plan",
        "prefix",
        "query",
        "remaining",
        "results",
        "sem",
        "sink",
        "started",
        "stop_content",
        "stopped_by",
        "tg",
        "typed",
        "workflow",
    )

    def __init__(
        self,
        workflow: str,
        plan: Plan,
        query: str,
        ctx: WorkflowContext,
        *,
        options: RunOptions | None,
        sink: ChunkSink | None,
        prefix: str,
        max_concurrency: int | None,
        fail_fast: bool,
    ) -> None:
        n = len(plan.steps)
        self.workflow = workflow
        self.plan = plan
        self.query = query
        self.ctx = ctx
        self.options = options
        self.sink = sink
        self.prefix = prefix
        self.fail_fast = fail_fast
        self.sem = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.remaining = list(plan.indegree)
        self.outputs: list[str | None] = [None] * n
        self.typed: list[Any] = [None] * n
        """A step's typed output (its agent's `output_type`), where it has one; `transform` gets it."""
        self.results: list[StepResult | None] = [None] * n
        self.started = [0.0] * n
        self.stopped_by = -1
        self.stop_content = ""
        self.failed_first = -1
        self.pending: list[ApprovalRequest] = []
        self.tg: asyncio.TaskGroup | None = None

    # -- scheduling ---------------------------------------------------------------------------------

    async def execute(self) -> None:
        """Run every step that becomes ready, until none is left or the run is aborted."""
        roots = self.plan.roots
        try:
            async with asyncio.TaskGroup() as tg:
                self.tg = tg
                for i in roots[1:]:
                    tg.create_task(self._drive(i))
                # The first root runs in the caller's task: a sequential workflow creates no task at all.
                await self._drive(roots[0])
        except* _Abort:
            pass

    async def _drive(self, i: int) -> None:
        while True:
            ready = await self._run_step(i)
            if not ready:
                return
            if len(ready) > 1:
                tg = self.tg
                assert tg is not None
                for j in ready[1:]:
                    tg.create_task(self._drive(j))
            i = ready[0]

    def _release(self, i: int) -> Sequence[int]:
        ready: list[int] | None = None
        remaining = self.remaining
        for d in self.plan.dependents[i]:
            remaining[d] -= 1
            if remaining[d] == 0:
                if ready is None:
                    ready = [d]
                else:
                    ready.append(d)
        return ready if ready is not None else _NONE

    def _input(self, i: int) -> str:
        deps = self.plan.deps[i]
        if not deps:
            return self.query
        outputs = self.outputs
        if len(deps) == 1:
            return outputs[deps[0]] or ""
        names = self.plan.names
        return "\n\n".join(f"[{names[d]}]\n{outputs[d] or ''}" for d in deps)

    async def _emit(self, chunk: Chunk) -> None:
        sink = self.sink
        assert sink is not None
        w = sink.send(chunk)
        if w is not None:
            await w

    # -- one step -----------------------------------------------------------------------------------

    async def _run_step(self, i: int) -> Sequence[int]:
        plan = self.plan
        step = plan.steps[i]
        ctx = self.ctx
        sink = self.sink
        tag = self.prefix + step.name if sink is not None else step.name
        journal = ctx.journal
        if journal is not None:
            done = journal.step_output(step.name, ctx.iteration)
            if done is not None:  # finished before: its recorded output, not run again
                return await self._replayed(i, tag, done)
        text = self._input(i)
        try:
            condition = step.condition
            if condition is not None:
                go: Any = condition(ctx)
                if inspect.isawaitable(go):
                    go = await go
                if not go:
                    # A skipped step passes its input through, so a chain keeps flowing around it.
                    self.outputs[i] = text
                    self._record(i, StepResult(name=step.name, status=_SKIPPED, reason="its condition was false"))
                    if sink is not None:
                        await self._emit(_complete(tag, step.name, _SKIPPED, 0.0, None))
                    return self._release(i)
            transform = step.transform
            if transform is not None:
                deps = plan.deps[i]
                previous: Any = text
                if len(deps) == 1 and (typed := self.typed[deps[0]]) is not None:
                    previous = typed  # a typed step's object, not its JSON
                new: Any = transform(previous, ctx)
                if inspect.isawaitable(new):
                    new = await new
                if isinstance(new, StopWorkflow):
                    raise new
                if not isinstance(new, str):
                    raise WorkflowError(
                        f"step {step.name!r}: transform must return a str (or ak.stop(...)), got {type(new).__name__}"
                    )
                text = new
        except StopWorkflow as stop:
            await self._stop(i, tag, stop, 0.0, 0)
            raise _Abort from None
        except Exception as exc:
            return await self._fail(i, tag, _FAILED, exc, 0.0, 0)

        sem = self.sem
        if sem is not None:
            await sem.acquire()
        span = None if _tel.active is None else _tel.active.step_start(self.workflow, step.name)
        try:
            invoke = plan.invokers[i]
            if journal is not None:
                invoke = scoped_invoker(invoke, journal, step.name, ctx.iteration)
            options = self.options
            timeout = step.timeout
            start = time.perf_counter()
            self.started[i] = start
            if sink is not None:
                await self._emit(Chunk(ChunkType.AGENT_START, step_name=tag, metadata={"step": step.name}))
            attempts = 0
            while True:
                attempts += 1
                try:
                    if timeout is None:
                        output, raw, usage = await invoke(text, ctx, options, sink, tag)
                    else:
                        async with asyncio.timeout(timeout):
                            output, raw, usage = await invoke(text, ctx, options, sink, tag)
                    break
                except StopWorkflow as stop:
                    await self._stop(i, tag, stop, time.perf_counter() - start, attempts)
                    raise _Abort from None
                except RunPaused as paused:
                    # Waits for a person: its dependents wait too; other branches run on.
                    self.pending.extend(paused.pending)
                    reason = "paused: waiting for " + ", ".join(p.id for p in paused.pending)
                    self._record(i, StepResult(name=step.name, status=_SKIPPED, reason=reason))
                    return _NONE
                except Exception as exc:
                    if attempts > step.retries:
                        if isinstance(exc, TimeoutError):
                            if timeout is not None and not isinstance(exc, RunTimeoutError):
                                exc = RunTimeoutError(
                                    f"step {step.name!r} did not finish within its timeout of {timeout:g} s"
                                    + (f" ({attempts} attempts)" if attempts > 1 else "")
                                )
                            return await self._fail(i, tag, _TIMED_OUT, exc, time.perf_counter() - start, attempts)
                        return await self._fail(i, tag, _FAILED, exc, time.perf_counter() - start, attempts)
                    if _tel.active is not None:
                        _tel.active.retry(attempts + 1, exc, step.retry_delay * 2 ** (attempts - 1))
                    if step.retry_delay:
                        await asyncio.sleep(step.retry_delay * 2 ** (attempts - 1))
        finally:
            if span is not None:
                span.step_end(self.results[i], sys.exc_info()[1])
            if sem is not None:
                sem.release()
        duration = time.perf_counter() - start
        self.outputs[i] = output
        value: Any = output
        if isinstance(raw, Result):
            structured: Any = cast("Result[Any]", raw).output
            if structured is not output:
                # A step whose agent has an output_type: its object is the step's output; its JSON
                # stays the text the next step reads when no transform picks the object.
                value = self.typed[i] = structured
        result = StepResult(
            name=step.name,
            status=_OK,
            output=value,
            duration=duration,
            usage=usage if usage is not None else Usage(),
            result=raw,
            attempts=attempts,
        )
        if journal is not None:
            await journal.step_done(step.name, ctx.iteration, output)
        self._record(i, result)
        ctx.outputs[step.name] = value
        if sink is not None:
            await self._emit(_complete(tag, step.name, _OK, duration, output))
        return self._release(i)

    async def _replayed(self, i: int, tag: str, output: str) -> Sequence[int]:
        name = self.plan.names[i]
        self.outputs[i] = output
        self._record(i, StepResult(name=name, status=_OK, output=output, reason="replayed from the journal"))
        self.ctx.outputs[name] = output
        if self.sink is not None:
            await self._emit(_complete(tag, name, _OK, 0.0, output))
        return self._release(i)

    def _record(self, i: int, result: StepResult) -> None:
        self.results[i] = result
        self.ctx.results[result.name] = result

    async def _fail(
        self, i: int, tag: str, status: StepStatus, exc: Exception, duration: float, attempts: int
    ) -> Sequence[int]:
        name = self.plan.names[i]
        self.results[i] = result = StepResult(
            name=name, status=status, error=exc, duration=duration, attempts=attempts, reason=str(exc)
        )
        self.ctx.results[name] = result
        if self.sink is not None:
            meta = {"step": name, "status": status.value, "duration": duration}
            await self._emit(Chunk(ChunkType.ERROR, step_name=tag, error=exc, metadata=meta))
            await self._emit(_complete(tag, name, status, duration, None))
        if self.fail_fast:
            self.failed_first = i
            raise _Abort
        return _NONE

    async def _stop(self, i: int, tag: str, stop: StopWorkflow, duration: float, attempts: int) -> None:
        name = self.plan.names[i]
        content = stop.content
        self.stopped_by = i
        self.stop_content = content
        self.outputs[i] = content
        self.results[i] = result = StepResult(
            name=name,
            status=_OK,
            output=content,
            duration=duration,
            result=stop.result,
            attempts=attempts,
            reason="stopped the workflow",
        )
        self.ctx.results[name] = result
        self.ctx.outputs[name] = content
        if self.sink is not None:
            await self._emit(_complete(tag, name, _OK, duration, content, stopped=True))

    # -- the outcome --------------------------------------------------------------------------------

    async def finish(self, *, timed_out: bool, limit: float | None, run_id: str, start: float) -> WorkflowResult:
        """Settle every step's status and build the result; nothing that finished is lost."""
        plan = self.plan
        names = plan.names
        results = self.results
        now = time.perf_counter()
        stopped = self.stopped_by >= 0
        if timed_out:
            why = f"the workflow's timeout of {limit:g} s ran out"
        elif stopped:
            why = f"step {names[self.stopped_by]!r} stopped the workflow early"
        elif self.failed_first >= 0:
            why = f"step {names[self.failed_first]!r} failed and fail_fast is on"
        elif self.pending:
            why = "the workflow paused for a person"
        else:
            why = "the workflow ended before it could run"
        late: list[StepResult] = []
        for i in plan.order:
            if results[i] is not None:
                continue
            started = self.started[i]
            if started:
                status = _TIMED_OUT if timed_out else _CANCELLED
                err = RunTimeoutError(f"step {names[i]!r} was still running when {why}") if timed_out else None
                results[i] = r = StepResult(
                    name=names[i], status=status, error=err, duration=now - started, reason=f"cancelled: {why}"
                )
                late.append(r)
            else:
                results[i] = StepResult(name=names[i], status=_SKIPPED, reason=self._skip_reason(i, why))
        if self.sink is not None:
            for r in late:
                tag = self.prefix + r.name
                meta = {"step": r.name, "status": r.status.value, "duration": r.duration}
                if r.error is not None:
                    await self._emit(Chunk(ChunkType.ERROR, step_name=tag, error=r.error, metadata=meta))
                await self._emit(_complete(tag, r.name, r.status, r.duration, None))
        steps: dict[str, StepResult] = {}
        usage = Usage()
        models: set[str] = set()
        for r in results:
            assert r is not None
            steps[r.name] = r
            usage.add(r.usage)
            res: Any = r.result
            if isinstance(res, Result) and (model := cast("Result[Any]", res).metadata.get("model")):
                models.add(model)
        error: BaseException | None = None
        if stopped:
            content = self.stop_content
            reason = "stopped"
        else:
            content = self._content()
            if timed_out:
                error = _timeout_error(self.workflow, limit, steps)
                reason = "timeout"
            else:
                error = failure_error(self.workflow, steps)
                reason = "failed" if error is not None else "completed"
        metadata: dict[str, Any] = {"workflow": self.workflow}
        if len(models) == 1:
            # One model priced the whole run (metrics read `model`); with several, the steps' results tell.
            metadata["model"] = models.pop()
        if stopped:
            metadata["stopped_by"] = names[self.stopped_by]
        result = WorkflowResult(
            content=content,
            usage=usage,
            duration=now - start,
            run_id=run_id,
            agent_name=self.workflow,
            metadata=metadata,
            steps=steps,
            error=error,
            stop_reason=reason,
        )
        if self.pending and not timed_out and not stopped:
            result.status = "paused"
            result.pending = list(self.pending)
            result.stop_reason = "paused"
            result.error = None
        if isinstance(result.error, WorkflowError):
            result.error.result = result
        return result

    def _skip_reason(self, i: int, why: str) -> str:
        results = self.results
        names = self.plan.names
        for d in self.plan.deps[i]:
            r = results[d]
            if r is None or r.status is _OK:
                continue
            if r.status is _SKIPPED:
                if r.reason and r.reason.startswith("upstream"):
                    return f"upstream step {names[d]!r} was skipped ({r.reason})"
                continue
            return f"upstream step {names[d]!r} {r.status.value.replace('_', ' ')}"
        return f"not started: {why}"

    def _content(self) -> str:
        plan = self.plan
        outputs = self.outputs
        sinks = plan.sinks
        if len(sinks) == 1:
            return outputs[sinks[0]] or ""
        names = plan.names
        results = self.results
        # Only steps that ran: a skipped step's pass-through input is not an answer of its own.
        return "\n\n".join(
            f"[{names[i]}]\n{outputs[i]}" for i in sinks if (r := results[i]) is not None and r.status is _OK
        )


def _complete(
    tag: str, name: str, status: StepStatus, duration: float, output: str | None, *, stopped: bool = False
) -> Chunk:
    metadata: dict[str, Any] = {"step": name, "status": status.value, "duration": duration}
    if stopped:
        metadata["stopped"] = True
    return Chunk(ChunkType.AGENT_COMPLETE, content=output, step_name=tag, metadata=metadata)


def _timeout_error(workflow: str, timeout: float | None, steps: dict[str, StepResult]) -> WorkflowTimeoutError:
    def names(status: StepStatus) -> str:
        found = [n for n, s in steps.items() if s.status is status]
        return ", ".join(found) if found else "none"

    return WorkflowTimeoutError(
        f"workflow {workflow!r} did not finish within its timeout of {timeout:g} s; "
        f"finished: {names(_OK)}; timed out: {names(_TIMED_OUT)}; not started: {names(_SKIPPED)}"
    )
