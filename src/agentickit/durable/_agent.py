"""Durable agent runs: a journaled `run`, `resume`, `runs`. The run loop itself only replays (`Scope`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import orjson

from .._result import Result
from ..errors import UserError, WorkflowError
from ..memory._sessions import message_from_dict, message_to_dict
from ..messages import Message
from ..options import RunOptions
from ..streaming._chunk import Chunk, ChunkType
from ..tools._source import ToolSource
from ..tools._tool import Tool
from ..workflows._context import current_context
from ._journal import Journal, bind_scope, current_scope, reset_scope
from ._runs import cancel, default_store, list_runs, new_journal, open_journal, pause, settle
from ._types import Durability, RunInfo, RunPaused

if TYPE_CHECKING:
    from ..agent._agent import Agent
    from ..stores._base import Store
    from ..streaming._sink import ChunkSink

__all__ = ("agent_runs", "cancel_agent_run", "resume_agent", "run_durable")


def store_of(agent: Agent[Any]) -> Store:
    """The agent's `store=`, else its memory's store, else the process-wide in-memory one."""
    if agent.store is not None:
        return agent.store
    memory = agent.memory
    if memory is not None and memory.backend is not None:
        return memory.backend
    return default_store()


def _fingerprint(agent: Agent[Any]) -> list[str]:
    names: list[str] = []
    for t in agent.tools:
        if isinstance(t, ToolSource):
            continue
        names.append(t.name if isinstance(t, Tool) else getattr(t, "__name__", "tool"))
    return sorted(names)


def _options_to_dict(opts: RunOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(opts):
        value = getattr(opts, f.name)
        if value is None or f.name == "durability":
            continue
        if f.name == "message_history":
            out[f.name] = [message_to_dict(m) for m in value]
            continue
        try:
            orjson.dumps(value)
        except TypeError:
            continue  # not JSON (a callable, an object): give it again with resume(options=...)
        out[f.name] = list(value) if isinstance(value, tuple) else value  # pyright: ignore[reportUnknownArgumentType]
    return out


def _options_from_dict(d: Mapping[str, Any]) -> RunOptions:
    known = {f.name for f in fields(RunOptions)}
    kwargs = {k: v for k, v in d.items() if k in known}
    if "message_history" in kwargs:
        kwargs["message_history"] = [message_from_dict(m) for m in kwargs["message_history"]]
    return RunOptions(**kwargs)


async def run_durable(
    agent: Agent[Any], prompt: str | Message, opts: RunOptions, sink: ChunkSink | None, mode: Durability
) -> Result:
    """Run `agent` with a journal (a new run)."""
    from ..agent._run import run_agent

    if current_scope() is not None:
        # A step of a durable workflow: the step's scope of the workflow's journal is this run's journal.
        return await run_agent(agent, prompt, opts, sink)
    if agent.handler is not None:
        raise UserError(
            f"agent {agent.name!r}: durability and approvals need the default loop; a custom handler is not journaled"
        )
    query: dict[str, Any] = {"q": prompt} if isinstance(prompt, str) else {"m": message_to_dict(prompt)}
    start = {"kind": "agent", "query": query, "opts": _options_to_dict(opts)}
    journal = await new_journal(store_of(agent), mode, "agent", agent.name, _fingerprint(agent), start, "run")
    return await _drive(agent, prompt, opts, sink, journal)


async def resume_agent(
    agent: Agent[Any],
    run_id: str,
    approvals: Mapping[str, Any] | None,
    options: RunOptions | None,
    sink: ChunkSink | None,
) -> Result:
    """Continue a journaled run of `agent` (see `Agent.resume`)."""
    if agent.handler is not None:
        raise UserError(f"agent {agent.name!r} has a custom handler; its runs are not journaled, so none resumes")
    mine = _fingerprint(agent)

    def describe(theirs: Any) -> str:
        old = set(theirs or ())
        return f"its tools were {sorted(old)}, this agent has {mine} (missing: {sorted(old - set(mine))})"

    mode = options.durability if options is not None else None
    journal = await open_journal(store_of(agent), run_id, "agent", agent.name, mine, approvals, mode, describe)
    start = journal.starts[0]
    q = start["query"]
    prompt: str | Message = q["q"] if "q" in q else message_from_dict(q["m"])
    opts = _options_from_dict(start.get("opts") or {})
    if options is not None:
        opts = options.over(opts)
    return await _drive(agent, prompt, opts, sink, journal)


async def _drive(
    agent: Agent[Any], prompt: str | Message, opts: RunOptions, sink: ChunkSink | None, journal: Journal
) -> Result:
    from ..agent._run import run_agent

    token = bind_scope(journal.scope(""))
    try:
        result = await run_agent(agent, prompt, opts, sink)
    except RunPaused as paused:
        if current_context() is not None:
            # A step of a workflow that keeps no journal: a silent empty answer would be worse than failing.
            raise WorkflowError(
                f"agent {agent.name!r} paused for approval ({', '.join(p.id for p in paused.pending)}) inside "
                f"workflow {current_context().workflow!r}, which is not durable; give the workflow "  # pyright: ignore[reportOptionalMemberAccess]
                "durability='exit' or 'step' to pause and resume it"
            ) from None
        await pause(journal, paused.pending)
        if sink is not None:
            meta = {"run_id": journal.run_id, "pending": [p.to_dict() for p in paused.pending]}
            w = sink.send(Chunk(ChunkType.APPROVAL_REQUIRED, metadata=meta))
            if w is not None:
                await w
        return Result(content="", run_id=journal.run_id, agent_name=agent.name, status="paused", pending=paused.pending)
    except BaseException as exc:
        # Failed, timed out or cancelled: record it (the run stays resumable), then let it go on.
        try:
            await settle(journal, exc)
        except Exception as store_exc:
            exc.add_note(f"the run journal could not record this failure: {store_exc!r}")
        raise
    finally:
        reset_scope(token)
    await settle(journal, None)
    return result


async def cancel_agent_run(agent: Agent[Any], run_id: str, reason: str) -> None:
    """Mark a journaled run of `agent` cancelled (see `Agent.cancel_run`)."""
    await cancel(store_of(agent), run_id, "agent", agent.name, reason)


async def agent_runs(agent: Agent[Any], status: str | None, limit: int) -> list[RunInfo]:
    """The agent's journaled runs (see `Agent.runs`)."""
    if status is not None and status not in ("running", "paused", "failed", "finished", "cancelled"):
        raise UserError(f"runs(status=...) must be running, paused, failed, finished or cancelled, got {status!r}")
    return await list_runs(store_of(agent), "agent", agent.name, status, limit)
