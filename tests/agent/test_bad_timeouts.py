"""Issue 11, item 6: NaN and negative timeouts are rejected where they are given, everywhere."""

from __future__ import annotations

import math

import pytest

import agentickit as ak
from agentickit.errors import UserError, WorkflowError

BAD = [math.nan, -1.0, 0, -math.inf, "3", True]


def instant(x: str) -> str:
    """Echo."""
    return x


@pytest.mark.parametrize("bad", BAD)
async def test_bad_timeouts_fail_at_construction(bad: object) -> None:
    with pytest.raises(UserError, match="timeout"):
        ak.RunOptions(timeout=bad)  # type: ignore[arg-type]
    agent = ak.Agent("a", "simulated:echo")
    with pytest.raises(UserError, match="timeout"):
        await agent.run("q", timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="timeout"):
        ak.Tool(instant, timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="tool_timeout"):
        ak.Agent("a", "simulated", tool_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="tool_timeout"):
        ak.Agent.builder("a").with_tool_timeout(bad).build()  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="timeout"):
        ak.Step("s", agent, timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(WorkflowError, match="timeout"):
        ak.SequentialWorkflow("w", timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="timeout"):
        ak.LLMConfig(timeout=bad)  # type: ignore[arg-type]


def test_nan_backoffs_and_delays_are_rejected() -> None:
    with pytest.raises(UserError, match="retry_backoff"):
        ak.Tool(instant, retries=1, retry_backoff=math.nan)
    with pytest.raises(WorkflowError, match="retry_delay"):
        ak.Step("s", ak.Agent("a", "simulated"), retries=1, retry_delay=math.nan)
    with pytest.raises(UserError, match="cache_ttl"):
        ak.Tool(instant, cache_ttl=math.nan)


def test_infinite_http_timeouts_are_rejected_at_construction() -> None:
    # Found by tests/config/test_config_fuzz.py: `llm.timeout = inf` loaded, then the first request
    # failed with a raw OverflowError from the HTTP client's timer (both transports, streamed or not).
    with pytest.raises(UserError, match="LLMConfig.timeout must be a finite"):
        ak.LLMConfig(provider="openai", model="m", timeout=math.inf)
    with pytest.raises(UserError, match="None for no limit"):
        ak.LLMConfig(provider="openai", model="m", request_timeout=math.inf)
    assert ak.LLMConfig(provider="openai", model="m", request_timeout=None).request_timeout is None
