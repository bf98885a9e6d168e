"""`UsageLimits`: a budget of requests, tokens, tool calls and cost for one run (or one workflow).

Checked before each model request (requests so far, tokens so far) and after each response
(tokens, cost, the tool calls it asks for), so a run stops before it spends past the budget, with
a `UsageLimitExceeded` that names the limit and the value reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from .errors import UsageLimitExceeded, UserError
from .messages import Usage

__all__ = ("UsageLimits",)


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
