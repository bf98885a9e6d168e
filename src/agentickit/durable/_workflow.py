"""Durable workflow runs: a journaled run, `resume`, `runs`. The engine only replays (`Journal.step_output`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..streaming._chunk import Chunk, ChunkType
from ._journal import Journal
from ._runs import cancel, default_store, list_runs, new_journal, open_journal, pause, settle
from ._types import Durability, RunInfo

if TYPE_CHECKING:
    from ..options import RunOptions
    from ..stores._base import Store
    from ..streaming._sink import ChunkSink
    from ..workflows._result import WorkflowResult
    from ..workflows._workflow import Workflow

__all__ = ("cancel_workflow_run", "resume_workflow", "run_workflow", "workflow_runs")


def store_of(wf: Workflow) -> Store:
    """The workflow's `store=`, else the process-wide in-memory one."""
    return wf.store if wf.store is not None else default_store()


def fingerprint(wf: Workflow) -> dict[str, Any]:
    """What a journal must match to be replayed by `wf`: its shape and its steps (names and dependencies)."""
    deps = wf._dependencies()  # pyright: ignore[reportPrivateUsage]
    return {"shape": type(wf).__name__, "steps": [[s.name, list(d)] for s, d in zip(wf.steps, deps, strict=True)]}


def _describe(mine: dict[str, Any]) -> Any:
    def describe(theirs: Any) -> str:
        if not isinstance(theirs, dict):
            return "its journal has no definition"
        old: list[str] = [str(s[0]) for s in theirs.get("steps") or ()]  # pyright: ignore[reportUnknownVariableType, reportUnknownMemberType, reportUnknownArgumentType]
        new = [s[0] for s in mine["steps"]]
        parts = [f"journal steps {old}, this workflow's {new}"]
        if missing := [n for n in old if n not in new]:
            parts.append(f"missing: {missing}")
        if added := [n for n in new if n not in old]:
            parts.append(f"new: {added}")
        if theirs.get("shape") != mine["shape"]:  # pyright: ignore[reportUnknownMemberType]
            parts.append(f"shape {theirs.get('shape')} vs {mine['shape']}")  # pyright: ignore[reportUnknownMemberType]
        if not missing and not added and old == new:
            parts.append("the dependencies differ")
        return "; ".join(parts)

    return describe


async def _drive(
    wf: Workflow,
    query: str,
    options: RunOptions | None,
    sink: ChunkSink | None,
    state: dict[str, Any] | None,
    max_depth: int,
    journal: Journal,
    **kw: Any,
) -> WorkflowResult:
    try:
        result = await wf._run_in(  # pyright: ignore[reportPrivateUsage]
            query, options=options, sink=sink, tag="", state=state, max_depth=max_depth, journal=journal, **kw
        )
    except BaseException as exc:
        try:
            await settle(journal, exc)
        except Exception as store_exc:
            exc.add_note(f"the run journal could not record this failure: {store_exc!r}")
        raise
    if result.status == "paused":
        await pause(journal, result.pending)
        if sink is not None:
            meta = {"run_id": journal.run_id, "pending": [p.to_dict() for p in result.pending]}
            w = sink.send(Chunk(ChunkType.APPROVAL_REQUIRED, metadata=meta))
            if w is not None:
                await w
    else:
        await settle(journal, result.error)
    return result


async def run_workflow(
    wf: Workflow,
    query: str,
    options: RunOptions | None,
    sink: ChunkSink | None,
    state: dict[str, Any] | None,
    max_depth: int,
    mode: Durability,
    **kw: Any,
) -> WorkflowResult:
    """Run `wf` with a journal (a new run); `kw` are `_run_in`'s `deps` and `usage_limits`."""
    if state:
        # Steps may share objects in `state`; only what JSON can hold is kept for a resume.
        try:
            import orjson

            orjson.dumps(state)
        except TypeError as exc:
            raise UserError(f"workflow {wf.name!r}: a durable run's state= must be JSON ({exc})") from exc
    start = {"kind": "workflow", "query": query, "state": state or {}}
    journal = await new_journal(store_of(wf), mode, "workflow", wf.name, fingerprint(wf), start, "wf")
    return await _drive(wf, query, options, sink, state, max_depth, journal, **kw)


async def resume_workflow(
    wf: Workflow,
    run_id: str,
    approvals: Mapping[str, Any] | None,
    options: RunOptions | None,
    sink: ChunkSink | None,
    max_depth: int,
    mode: Durability | None,
    **kw: Any,
) -> WorkflowResult:
    """Continue a journaled run of `wf` (see `Workflow.resume`)."""
    mine = fingerprint(wf)
    journal = await open_journal(store_of(wf), run_id, "workflow", wf.name, mine, approvals, mode, _describe(mine))
    start = journal.starts[0]
    state = dict(start.get("state") or {})
    return await _drive(wf, start["query"], options, sink, state, max_depth, journal, **kw)


async def cancel_workflow_run(wf: Workflow, run_id: str, reason: str) -> None:
    """Mark a journaled run of `wf` cancelled (see `Workflow.cancel_run`)."""
    await cancel(store_of(wf), run_id, "workflow", wf.name, reason)


async def workflow_runs(wf: Workflow, status: str | None, limit: int) -> list[RunInfo]:
    """The workflow's journaled runs (see `Workflow.runs`)."""
    if status is not None and status not in ("running", "paused", "failed", "finished", "cancelled"):
        raise UserError(f"runs(status=...) must be running, paused, failed, finished or cancelled, got {status!r}")
    return await list_runs(store_of(wf), "workflow", wf.name, status, limit)
