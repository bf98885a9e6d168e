"""What agents and workflows share: the default store, opening a journal for a resume, listing runs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .._utils import new_id
from ..errors import UserError
from ..stores._base import Store
from ..stores._memory import InMemory
from ._journal import NS, Journal
from ._types import (
    ApprovalError,
    ApprovalRequest,
    Durability,
    Edit,
    JournalMismatchError,
    RunFinishedError,
    RunInfo,
    RunNotFoundError,
    check_durability,
)

__all__ = ("cancel", "default_store", "list_runs", "new_journal", "open_journal", "pause", "settle")

_default: InMemory | None = None


def default_store() -> Store:
    """The process-wide in-memory store used when neither `store=` nor a persistent memory is given."""
    global _default
    if _default is None:
        _default = InMemory()
    return _default


def check_store(store: object, owner: str) -> Store | None:
    """Validate a `store=` argument.

    Raises:
        UserError: not an `ak.stores` store.

    """
    if store is None or isinstance(store, Store):
        return store
    raise UserError(f"{owner}: store= takes an ak.stores store (e.g. ak.stores.SQLite('runs.db')), got {store!r}")


async def new_journal(
    store: Store, mode: Durability, kind: str, name: str, fingerprint: Any, start: dict[str, Any], prefix: str
) -> Journal:
    """Open the journal of a new run and record its start (the input and options it needs to resume)."""
    run_id = new_id(prefix)
    meta = {"status": "running", "kind": kind, "name": name, "fp": fingerprint, "mode": mode}
    journal = Journal(store, run_id, mode, meta=meta)
    start = {"k": "start", **start}
    journal.starts.append(start)
    if mode == "step":
        await store.append(NS, run_id, (start,))
        await store.put_meta(NS, run_id, meta)
    else:
        journal._buffer.append(start)  # pyright: ignore[reportPrivateUsage]
    return journal


async def open_journal(
    store: Store,
    run_id: str,
    kind: str,
    name: str,
    fingerprint: Any,
    approvals: Mapping[str, Any] | None,
    mode: Durability | None,
    describe: Any,
) -> Journal:
    """Read a run's journal for `resume`, checking that it can and may be resumed.

    Raises:
        RunNotFoundError: no such run in the store.
        RunFinishedError: it finished.
        JournalMismatchError: another agent/workflow (or another definition of it) wrote it.
        ApprovalError: `approvals` names ids that are not pending, or a value that cannot answer.

    """
    if not isinstance(run_id, str) or not run_id:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise RunNotFoundError(f"resume() needs a run id (Result.run_id), got {run_id!r}")
    info = await store.info(NS, run_id)
    if info is None:
        raise RunNotFoundError(
            f"no journal for run {run_id!r} in {store!r}; was it run with durability 'exit' or 'step' "
            "on this store (an 'exit' run that crashed leaves none)?"
        )
    meta = dict(info.meta)
    if meta.get("kind") != kind or meta.get("name") != name:
        raise JournalMismatchError(
            f"run {run_id!r} belongs to {meta.get('kind')} {meta.get('name')!r}, not {kind} {name!r}"
        )
    if meta.get("status") == "finished":
        raise RunFinishedError(f"run {run_id!r} already finished; there is nothing to resume")
    if meta.get("status") == "cancelled":
        raise RunFinishedError(
            f"run {run_id!r} was cancelled ({meta.get('error') or 'no reason given'}); it resumes no more"
        )
    if meta.get("fp") != fingerprint:
        raise JournalMismatchError(
            f"run {run_id!r} was written by a different definition of {kind} {name!r}: {describe(meta.get('fp'))}"
        )
    pending = [ApprovalRequest.from_dict(p) for p in meta.get("pending") or ()]
    if approvals:
        known = {p.id: p for p in pending}
        unknown = [k for k in approvals if k not in known]
        if unknown:
            listed = ", ".join(repr(p) for p in known) or "none"
            raise ApprovalError(
                f"run {run_id!r}: approvals for {', '.join(map(repr, unknown))}, which are not pending "
                f"(pending: {listed})"
            )
        for key, value in approvals.items():
            req = known[key]
            ok = isinstance(value, str) if req.kind == "input" else isinstance(value, bool | Edit)
            if not ok or (req.kind == "uncertain" and isinstance(value, Edit)):
                want = (
                    "the answer text"
                    if req.kind == "input"
                    else "True, False" + (" or ak.Edit(args=...)" if req.kind == "approval" else "")
                )
                raise ApprovalError(f"run {run_id!r}: approvals[{key!r}] must be {want}, got {value!r}")
    records = [r.data for r in await store.read(NS, run_id)]
    resume_mode = mode if mode is not None else check_durability(meta.get("mode", "step"))
    journal = Journal(store, run_id, resume_mode, records, meta)
    if not journal.starts:
        raise JournalMismatchError(f"run {run_id!r}: its journal has no start record; it cannot be resumed")
    if approvals:
        await journal.answer(approvals)
    await journal.set_status("running", write=resume_mode == "step")
    return journal


async def cancel(store: Store, run_id: str, kind: str, name: str, reason: str) -> None:
    """Mark a journaled run cancelled: a later resume raises `RunFinishedError` naming `reason`.

    Raises:
        RunNotFoundError: no such run in the store.
        RunFinishedError: it finished, or was cancelled already.
        JournalMismatchError: another agent/workflow wrote it.

    """
    info = await store.info(NS, run_id)
    if info is None:
        raise RunNotFoundError(f"no journal for run {run_id!r} in {store!r}; nothing to cancel")
    meta = dict(info.meta)
    if meta.get("kind") != kind or meta.get("name") != name:
        raise JournalMismatchError(
            f"run {run_id!r} belongs to {meta.get('kind')} {meta.get('name')!r}, not {kind} {name!r}"
        )
    if meta.get("status") in ("finished", "cancelled"):
        raise RunFinishedError(f"run {run_id!r} already {meta.get('status')}; there is nothing to cancel")
    meta.pop("pending", None)
    meta.update(status="cancelled", error=reason[:500], written=True)
    await store.put_meta(NS, run_id, meta)


async def pause(journal: Journal, pending: list[ApprovalRequest]) -> None:
    """Record that the run waits for `pending` (written in every mode: a pause must be resumable)."""
    await journal.set_status("paused", pending=[p.to_dict() for p in pending])


async def settle(journal: Journal, exc: BaseException | None) -> None:
    """Record how the run ended: finished, or failed with `exc` (cancellations included; resumable)."""
    if exc is None:
        # With durability "off" a run that never paused leaves nothing behind.
        if journal.mode != "off" or journal.meta.get("written"):
            await journal.set_status("finished")
        return
    if journal.mode == "off" and not journal.meta.get("written"):
        return
    await journal.set_status("failed", error=f"{type(exc).__name__}: {exc}"[:500])


async def list_runs(store: Store, kind: str, name: str, status: str | None, limit: int) -> list[RunInfo]:
    """Runs of one agent/workflow in the store, most recently updated first."""
    out: list[RunInfo] = []
    cursor: str | None = None
    while len(out) < limit:
        page = await store.list(NS, limit=200, cursor=cursor)
        for info in page.items:
            meta = info.meta
            if meta.get("kind") != kind or meta.get("name") != name:
                continue
            if status is not None and meta.get("status") != status:
                continue
            out.append(
                RunInfo(
                    run_id=info.id,
                    name=name,
                    kind=kind,  # type: ignore[arg-type]
                    status=meta.get("status", "running"),
                    created_at=info.created_at,
                    updated_at=info.updated_at,
                    pending=[ApprovalRequest.from_dict(p) for p in meta.get("pending") or ()],
                    error=meta.get("error"),
                )
            )
            if len(out) >= limit:
                break
        cursor = page.next_cursor
        if cursor is None:
            break
    return out


def now() -> float:
    """Wall-clock seconds."""
    return time.time()
