"""A run's usage budget: which `Budget` it draws on, and the checks around each model request.

A run gets a budget of its own when it has limits (the run's `usage_limits` option, else the
agent's `usage_limits`), inside the budget of an enclosing workflow if there is one (see
`_usage_limits.budget_scope`). A run without limits inside no budgeted workflow pays one
context-variable read.

The run loop calls `check_budget` before each model request and after each response;
an exceeded limit raises `UsageLimitExceeded` carrying the run's partial `Result`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .._result import Result
from .._usage_limits import BUDGET, Budget, UsageLimits
from ..errors import UsageLimitExceeded, UserError
from ..messages import Message, ModelResponse, ToolCallRecord, Usage

if TYPE_CHECKING:
    from ._agent import Agent

__all__ = ("check_budget", "check_limits", "partial_result", "run_budget")


def check_limits(value: object, where: str) -> UsageLimits | None:
    """Reject a `usage_limits=` that is not an `ak.UsageLimits`.

    Raises:
        UserError: naming `where` and the type given.

    """
    if value is None or isinstance(value, UsageLimits):
        return value
    raise UserError(f"{where} takes an ak.UsageLimits(request_limit=..., ...), got {type(value).__name__}")


def run_budget(agent: Agent, opts: Any) -> Budget | None:
    """The budget a run draws on: its own limits (inside any shared one), the shared one, or None."""
    limits: UsageLimits | None = opts.usage_limits
    if limits is None:
        limits = agent.usage_limits
    parent = BUDGET.get()
    if limits is None:
        return parent
    return Budget(limits, parent)


def partial_result(
    agent: Agent,
    run_id: str,
    start: float,
    messages: list[Message],
    usage: Usage,
    records: list[ToolCallRecord],
    response: ModelResponse | None,
) -> Result:
    """What a run had when it stopped early: messages, usage and tool calls so far."""
    model = response.model if response is not None else None
    metadata: dict[str, Any] = {"partial": True, "model": model or agent.model.model_name}
    return Result(
        content=response.content if response is not None else "",
        usage=usage,
        duration=time.perf_counter() - start,
        tool_calls=records,
        messages=messages,
        metadata=metadata,
        run_id=run_id,
        agent_name=agent.name,
    )


def check_budget(
    budget: Budget,
    response: ModelResponse | None,
    agent: Agent,
    run_id: str,
    start: float,
    messages: list[Message],
    usage: Usage,
    records: list[ToolCallRecord],
) -> None:
    """Before a request (`response=None`) or after `response`: check the budget, the partial result on the error.

    Raises:
        UsageLimitExceeded: the next request would break a limit, or the response broke a token or
            cost limit or asks for too many tool calls; its `result` has what the run had (the
            latest response included).

    """
    try:
        if response is None:
            budget.before_request()
        else:
            budget.after_response(response, agent.model.model_name)
    except UsageLimitExceeded as exc:
        exc.result = partial_result(agent, run_id, start, messages, usage, records, response)
        raise
