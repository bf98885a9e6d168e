"""The values and errors of durable runs: approval requests, decisions, run listings.

Kept free of heavy imports: `Result` refers to `ApprovalRequest`, so `import agentickit` loads this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import AgentickitError, UserError

__all__ = (
    "ApprovalError",
    "ApprovalRequest",
    "Durability",
    "DurableError",
    "Edit",
    "JournalMismatchError",
    "RunFinishedError",
    "RunInfo",
    "RunNotFoundError",
    "RunPaused",
    "RunStatus",
    "check_durability",
)

Durability = Literal["off", "exit", "step"]
"""`off`: no journal (a run that pauses for approval still keeps one, to resume from); `exit`: the
journal is written when the run ends (finished, failed, cancelled, paused), so a hard crash loses it;
`step`: every entry is appended as it happens, so a crash loses nothing that was recorded."""

RunStatus = Literal["running", "paused", "failed", "finished", "cancelled"]
"""Where a journaled run stands. `running` after a crash means it died mid-run: resume it. `cancelled`
is final: `cancel_run()` gave it up (a paused run nobody will approve), and it resumes no more."""

_MODES = ("off", "exit", "step")


def check_durability(value: object, where: str = "durability") -> Durability:
    """Validate a durability mode.

    Raises:
        UserError: not one of `off`, `exit`, `step`.

    """
    if value not in _MODES:
        raise UserError(f"{where} must be 'off', 'exit' or 'step', got {value!r}")
    return value


@dataclass(slots=True, frozen=True, kw_only=True)
class ApprovalRequest:
    """Something a paused run waits for: a tool call to approve, an uncertain call to settle, an input.

    Answer it with `resume(run_id, approvals={request.id: ...})`.
    """

    id: str
    """What to key the answer by in `approvals=`."""
    tool: str
    """The tool the call is for (for `kind="input"`, the workflow step that asked)."""
    args: dict[str, Any] = field(default_factory=dict[str, Any])
    """The call's arguments (for `kind="input"`, `{"question": ...}`)."""
    kind: Literal["approval", "uncertain", "input"] = "approval"
    """`approval`: a `requires_approval` tool call (answer `True`, `False` or `ak.Edit(args=...)`);
    `uncertain`: a `side_effect` call without an idempotency key that started but was never recorded
    finished before a crash (`True` runs it again, `False` tells the model its outcome is unknown);
    `input`: a workflow step's `ctx.request_input(question)` (answer with the text)."""

    def to_dict(self) -> dict[str, Any]:
        """The request as JSON."""
        return {"id": self.id, "tool": self.tool, "args": self.args, "kind": self.kind}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ApprovalRequest:
        """The inverse of `to_dict`."""
        return ApprovalRequest(id=str(d["id"]), tool=str(d["tool"]), args=dict(d.get("args") or {}), kind=d["kind"])


@dataclass(slots=True, frozen=True, kw_only=True)
class Edit:
    """An approval that changes the call: `approvals={id: ak.Edit(args={"amount": 50})}`."""

    args: dict[str, Any]
    """The arguments to call the tool with instead (validated like the model's)."""


@dataclass(slots=True, frozen=True, kw_only=True)
class RunInfo:
    """One journaled run, as `agent.runs()` / `wf.runs()` list it."""

    run_id: str
    name: str
    """The agent's or workflow's name."""
    kind: Literal["agent", "workflow"]
    status: RunStatus
    created_at: float
    updated_at: float
    pending: list[ApprovalRequest] = field(default_factory=list[ApprovalRequest])
    error: str | None = None
    """Why it failed (`status="failed"`)."""


class DurableError(AgentickitError):
    """A durable run cannot be resumed as asked; the message names the run id."""


class RunNotFoundError(DurableError, UserError):
    """No journal for this run id in the store."""


class RunFinishedError(DurableError, UserError):
    """The run already finished (or was cancelled); there is nothing to resume."""


class ApprovalError(DurableError, UserError):
    """`approvals=` names ids that are not pending, or holds a value that cannot answer the request."""


class JournalMismatchError(DurableError, UserError):
    """The journal was written by a different agent or workflow definition (names the difference)."""


class RunPaused(Exception):
    """Raised inside a run to stop it for a person; the durable layer turns it into `status="paused"`."""

    def __init__(self, pending: list[ApprovalRequest]) -> None:
        super().__init__(", ".join(p.id for p in pending))
        self.pending = pending
