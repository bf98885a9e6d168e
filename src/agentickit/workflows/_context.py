"""`WorkflowContext`: what conditions, transforms and function steps can read while a workflow runs."""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..durable._journal import Journal
    from ._result import StepResult

__all__ = ("WorkflowContext", "bind_context", "current_context", "unbind_context")


class WorkflowContext:
    """The shared state of one workflow run.

    One context lives for the whole run (all iterations of a loop); concurrent steps see the same
    object, and since they share one event loop thread, plain dict updates need no lock.

    Attributes:
        workflow: the workflow's name.
        run_id: the run's id.
        input: the workflow's input.
        outputs: outputs of the steps that finished successfully so far, by name (typed objects for
            steps whose agent has an `output_type`).
        results: `StepResult`s of the steps that finished so far, by name.
        state: a key/value store the caller (`run(..., state=...)`) and the steps share.
        iteration: the current iteration of a loop (1-based; 1 for other workflows).

    """

    __slots__ = ("input", "iteration", "journal", "outputs", "results", "run_id", "state", "workflow")

    def __init__(self, workflow: str, run_id: str, input: str, state: dict[str, Any] | None = None) -> None:
        self.workflow = workflow
        self.run_id = run_id
        self.input = input
        self.outputs: dict[str, Any] = {}
        self.results: dict[str, StepResult] = {}
        self.state: dict[str, Any] = state if state is not None else {}
        self.iteration = 1
        self.journal: Journal | None = None
        """The run's journal when the workflow is durable."""

    def get(self, key: str, default: Any = None) -> Any:
        """A value from the shared store."""
        return self.state.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Put a value into the shared store."""
        self.state[key] = value

    async def request_input(self, question: str) -> str:
        """Ask a person; the workflow pauses until they answer, then this returns the answer.

        The first time, the run ends with `status="paused"` and a `pending` request of kind `input`;
        `wf.resume(run_id, approvals={id: "the answer"})` runs the step again and this returns it.

        Raises:
            WorkflowError: the workflow is not durable (give it `durability="exit"` or `"step"`), or this is
                not called from inside one of its steps.

        """
        from ..durable._journal import current_step_scope
        from ..errors import WorkflowError

        scope = current_step_scope()
        if self.journal is None or scope is None or scope.journal is not self.journal:
            raise WorkflowError(
                f"workflow {self.workflow!r}: request_input() pauses the run until a person answers, which needs a "
                "journal: give the workflow durability='exit' or 'step' (and call it from inside a step)"
            )
        return scope.request_input(question)

    def __repr__(self) -> str:
        return f"WorkflowContext({self.workflow!r}, finished={list(self.outputs)}, state={list(self.state)})"


_current: ContextVar[WorkflowContext | None] = ContextVar("agentickit_workflow_context", default=None)


def current_context() -> WorkflowContext | None:
    """The context of the workflow run this code runs in (inside a step, handler or tool), or `None`."""
    return _current.get()


def bind_context(ctx: WorkflowContext) -> Token[WorkflowContext | None]:
    """Make `ctx` the current context (for `current_context()`) until `unbind_context`."""
    return _current.set(ctx)


def unbind_context(token: Token[WorkflowContext | None]) -> None:
    """Restore the context that was current before `bind_context`."""
    _current.reset(token)
