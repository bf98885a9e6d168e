"""What a workflow run produces: `StepStatus`, `StepResult` and `WorkflowResult`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .._result import Result
from ..errors import WorkflowDepthError, WorkflowError
from ..messages import Usage

__all__ = ("StepResult", "StepStatus", "WorkflowResult")


class StepStatus(enum.StrEnum):
    """How a step ended."""

    OK = "ok"
    """The step ran and produced its output."""
    FAILED = "failed"
    """The step raised (after its retries); `error` says why."""
    SKIPPED = "skipped"
    """The step never ran: its condition was false, an upstream step failed, or the workflow ended first."""
    CANCELLED = "cancelled"
    """The step was running when the workflow cancelled it (`fail_fast`, early stop)."""
    TIMED_OUT = "timed_out"
    """The step's own timeout, or the workflow's, ran out while it was running."""


@dataclass(slots=True, kw_only=True)
class StepResult:
    """What became of one step of a workflow run.

    Attributes:
        name: the step's name.
        status: how it ended.
        output: its output (`None` unless it ran to the end): the text, or the validated object of a
            step whose agent has an `output_type`.
        error: what it raised, or why it timed out or was cancelled.
        reason: why it was skipped or cancelled, in words.
        duration: wall seconds it ran (0 if it never started).
        usage: tokens its agent used.
        result: the step's own result object (an agent's `Result`, a function's return value).
        attempts: how many times it was tried (retries included).

    """

    name: str
    status: StepStatus
    output: Any = None
    error: BaseException | None = None
    reason: str | None = None
    duration: float = 0.0
    usage: Usage = field(default_factory=Usage)
    result: Any = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """Whether the step ran and succeeded."""
        return self.status is StepStatus.OK


@dataclass(slots=True, kw_only=True)
class WorkflowResult(Result):
    """The outcome of a workflow run: a `Result` (so a workflow fits wherever an agent does) plus its steps.

    When a run fails, `run()` raises a `WorkflowError` that carries this result as `err.result`
    (nothing that finished is lost); `run(..., raise_on_error=False)` returns it with `error` set.

    Attributes:
        steps: every step's `StepResult`, in the order the steps were added.
        error: why the workflow did not complete (`None` when it did).
        iterations: how many iterations ran (loops; 1 for other workflows).
        stop_reason: why the run ended: `completed`, `stopped` (a step called `stop()`), `failed`,
            `timeout`, and for loops `until` or `max_iterations`.

    """

    steps: dict[str, StepResult] = field(default_factory=dict[str, StepResult])
    error: BaseException | None = None
    iterations: int = 1
    stop_reason: str = "completed"

    @property
    def ok(self) -> bool:
        """Whether the workflow completed without a failed, timed-out or cancelled step."""
        return self.error is None

    @property
    def outputs(self) -> dict[str, Any]:
        """The outputs of the steps that succeeded, by name."""
        return {n: s.output for n, s in self.steps.items() if s.output is not None and s.status is StepStatus.OK}

    def steps_with(self, status: StepStatus) -> list[str]:
        """The names of the steps that ended with `status`, in step order."""
        return [n for n, s in self.steps.items() if s.status is status]

    def raise_for_error(self) -> WorkflowResult:
        """Return self if the workflow completed; otherwise raise its `error` (a `WorkflowError` or `RunTimeoutError`).

        Raises:
            WorkflowError: a step failed, or the workflow was malformed.
            RunTimeoutError: the workflow's timeout ran out.

        """
        if self.error is not None:
            raise self.error
        return self


def failure_error(workflow: str, steps: dict[str, StepResult]) -> WorkflowError | None:
    """The error a run ends with when steps failed, timed out or were cancelled, naming them."""
    bad = [s for s in steps.values() if s.status in (StepStatus.FAILED, StepStatus.TIMED_OUT, StepStatus.CANCELLED)]
    if not bad:
        return None
    first = next((s for s in bad if s.error is not None and s.status is not StepStatus.CANCELLED), bad[0])
    parts = ", ".join(f"{s.name!r} {s.status.value}" for s in bad)
    detail = f": {type(first.error).__name__}: {first.error}" if first.error is not None else ""
    # Too deep anywhere inside is too deep here too: the caller can catch the one type.
    cls = WorkflowDepthError if isinstance(first.error, WorkflowDepthError) else WorkflowError
    return cls(f"workflow {workflow!r}: step {parts} (first error in {first.name!r}{detail})")
