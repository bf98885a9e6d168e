"""`UsageLimits`: a budget of requests, tokens, tool calls and cost for one run (or one workflow).

Checked before each model request (requests so far, tokens so far) and after each response
(tokens, cost, the tool calls it asks for), so a run stops before it spends past the budget, with
a `UsageLimitExceeded` that names the limit and the value reached.

A `Budget` is what was spent against one `UsageLimits`. A workflow run with `usage_limits=` opens
one for all its steps (`budget_scope`); the runs inside find it through a context variable, so
parallel steps and nested workflows draw on it too.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any

from .errors import UsageLimitExceeded, UserError
from .messages import ModelResponse, Usage
from .metrics import price_for

__all__ = ("BUDGET", "Budget", "UsageLimits", "budget_scope")


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageLimits:
    """Limits on what one run may spend; `None` means no limit.

    Args:
        request_limit: model requests (each retry-free request counts once).
        input_tokens_limit: input (prompt) tokens over the run.
        output_tokens_limit: output (completion) tokens over the run.
        total_tokens_limit: input plus output tokens.
        tool_calls_limit: tool calls the model may make.
        cost_limit: US dollars, priced with `agentickit.metrics.set_price` for the answering model
            (a model without a price cannot be checked, which is an error when this is set).

    Raises:
        UserError: a limit is negative, not a number, or NaN.

    """

    request_limit: int | None = None
    input_tokens_limit: int | None = None
    output_tokens_limit: int | None = None
    total_tokens_limit: int | None = None
    tool_calls_limit: int | None = None
    cost_limit: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) or value < 0:
                raise UserError(f"UsageLimits.{f.name} must be a number >= 0 (or None for no limit), got {value!r}")
            if f.name != "cost_limit" and not isinstance(value, int):
                raise UserError(f"UsageLimits.{f.name} must be an int, got {value!r}")

    @property
    def has_token_limits(self) -> bool:
        """Whether any token limit is set (the run loop skips the token checks otherwise)."""
        return (
            self.input_tokens_limit is not None
            or self.output_tokens_limit is not None
            or self.total_tokens_limit is not None
        )

    def check_before_request(self, usage: Usage) -> None:
        """Raise if one more model request would break the request limit or tokens already did.

        Raises:
            UsageLimitExceeded: naming the limit and the value.

        """
        if self.request_limit is not None and usage.requests + 1 > self.request_limit:
            _exceeded("request_limit", usage.requests + 1, self.request_limit, "model requests")
        if self.has_token_limits:
            self._check_tokens(usage)

    def check_after_response(self, usage: Usage, tool_calls: int, cost: float | None) -> None:
        """Raise if the usage so far breaks a token or cost limit, or the tool calls asked for break theirs.

        Args:
            usage: the run's usage including the latest response.
            tool_calls: tool calls made so far plus the ones the latest response asks for.
            cost: the run's cost so far in US dollars, or None when the model has no price.

        Raises:
            UsageLimitExceeded: naming the limit and the value.

        """
        if self.has_token_limits:
            self._check_tokens(usage)
        if self.tool_calls_limit is not None and tool_calls > self.tool_calls_limit:
            _exceeded("tool_calls_limit", tool_calls, self.tool_calls_limit, "tool calls")
        if self.cost_limit is not None:
            if cost is None:
                raise UsageLimitExceeded(
                    "cost_limit is set but the model has no price: call agentickit.metrics.set_price(model, ...)",
                    limit="cost_limit",
                )
            if cost > self.cost_limit:
                _exceeded("cost_limit", cost, self.cost_limit, "US dollars")

    def _check_tokens(self, usage: Usage) -> None:
        if self.input_tokens_limit is not None and usage.input_tokens > self.input_tokens_limit:
            _exceeded("input_tokens_limit", usage.input_tokens, self.input_tokens_limit, "input tokens")
        if self.output_tokens_limit is not None and usage.output_tokens > self.output_tokens_limit:
            _exceeded("output_tokens_limit", usage.output_tokens, self.output_tokens_limit, "output tokens")
        total = usage.input_tokens + usage.output_tokens
        if self.total_tokens_limit is not None and total > self.total_tokens_limit:
            _exceeded("total_tokens_limit", total, self.total_tokens_limit, "tokens")


def _exceeded(name: str, value: float, limit: float, what: str) -> None:
    raise UsageLimitExceeded(
        f"usage limit {name}={limit:g} exceeded: the run reached {value:g} {what}; raise the limit or shorten the task",
        limit=name,
        value=value,
    )


class Budget:
    """Usage spent so far against one `UsageLimits` (a run's, or a workflow's shared by its steps)."""

    __slots__ = ("cost", "limits", "owner", "parent", "tool_calls", "usage")

    def __init__(self, limits: UsageLimits, parent: Budget | None = None, owner: str = "") -> None:
        self.limits = limits
        self.parent = parent
        self.owner = owner
        """`""` for a run's own budget, else what shares it (`workflow 'name'`), for the error message."""
        self.usage = Usage()
        self.tool_calls = 0
        """Tool calls asked for so far (counted when the model asks, before they run)."""
        self.cost: float | None = 0.0
        """US dollars so far; None once a response came from a model without a price."""

    def before_request(self) -> None:
        """Count one more model request, unless it (or the tokens so far) breaks a limit.

        Raises:
            UsageLimitExceeded: naming the limit and the value.

        """
        b: Budget | None = self
        while b is not None:
            if b.owner:
                b._guard(b.limits.check_before_request, b.usage)
            else:  # a run's own budget: its errors need no prefix (the common case, kept direct)
                b.limits.check_before_request(b.usage)
            b = b.parent
        b = self
        while b is not None:
            b.usage.requests += 1
            b = b.parent

    def after_response(self, response: ModelResponse, model_name: str) -> None:
        """Add a response's tokens, cost and the tool calls it asks for, and check them.

        Args:
            response: the model's latest response.
            model_name: the model to price the response with when it does not name one.

        Raises:
            UsageLimitExceeded: naming the limit and the value.

        """
        usage = response.usage
        asked = len(response.tool_calls)
        b: Budget | None = self
        while b is not None:
            b.usage.input_tokens += usage.input_tokens
            b.usage.output_tokens += usage.output_tokens
            b.tool_calls += asked
            if b.limits.cost_limit is not None and b.cost is not None:
                price = price_for(response.model or model_name)
                b.cost = None if price is None else b.cost + price.cost(usage.input_tokens, usage.output_tokens)
            if b.owner:
                b._guard(b.limits.check_after_response, b.usage, b.tool_calls, b.cost)
            else:
                b.limits.check_after_response(b.usage, b.tool_calls, b.cost)
            b = b.parent

    def _guard(self, check: Any, *args: Any) -> None:
        try:
            check(*args)
        except UsageLimitExceeded as exc:
            raise UsageLimitExceeded(f"{self.owner}: {exc}", limit=exc.limit, value=exc.value) from None


BUDGET: ContextVar[Budget | None] = ContextVar("agentickit_budget", default=None)
"""The budget that runs started here draw on (set by a workflow run with `usage_limits=`)."""


@contextmanager
def budget_scope(limits: UsageLimits | None, owner: str) -> Generator[Budget | None]:
    """Every run inside the `with` block draws on one budget of `limits` (a no-op with None)."""
    if limits is None:
        yield None
        return
    budget = Budget(limits, BUDGET.get(), owner)
    token = BUDGET.set(budget)
    try:
        yield budget
    finally:
        BUDGET.reset(token)
