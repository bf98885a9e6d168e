"""Run context and usage limits (issue 14): what `ak.RunContext` adds to a tool call, and limits to a run.

Context: the same async tool dispatched through the agent's compiled `ToolSet`, once as a plain
function and once taking `ctx: ak.RunContext` first (an empty context: `deps=None`), interleaved;
the difference is the context's cost per call. The construction of one context alone
(`RunContext.for_call`) is timed with `timeit` as well.

Limits: the same 0-latency run with no limits and with every token/request/tool-call limit set
(cost needs a price lookup per response and is timed separately), interleaved; the difference is
what checking them costs per run (one model request here, so one check before and one after).
"""

from __future__ import annotations

import timeit
from typing import Any

from ._util import QUICK, Budget, Row, Stat, interleaved

GROUP = "core"
US = 1e6
NS = 1e9


async def plain(a: int) -> int:
    return a


def _with_ctx_tool() -> Any:
    import agentickit as ak

    async def takes(ctx: ak.RunContext[None], a: int) -> int:
        return a

    return ak.Tool(takes, name="takes")


async def run_context() -> list[Row]:
    import agentickit as ak
    from agentickit.messages import ToolCall
    from agentickit.tools._call import execute_tool_calls

    from .core import toolset_for

    ctx_tool = _with_ctx_tool()
    agent, tools = await toolset_for([ak.Tool(plain), ctx_tool])
    timeout = agent.tool_timeout
    plain_calls = [ToolCall("c1", "plain", '{"a": 1}')]
    ctx_calls = [ToolCall("c2", "takes", '{"a": 1}')]
    run_ctx = ak.RunContext(None, "run_1", None, None, "tools")
    number = 500 if QUICK else 3_000
    st = await interleaved(
        {
            "plain": lambda: execute_tool_calls(plain_calls, tools, timeout, None, run_ctx),
            "ctx": lambda: execute_tool_calls(ctx_calls, tools, timeout, None, run_ctx),
        },
        number=number,
        repeats=5 if QUICK else 11,
    )
    p, c = st["plain"], st["ctx"]
    env = {"ctx": run_ctx}
    n_micro = 100_000 if QUICK else 500_000
    micro = Stat.of(
        [t / n_micro for t in timeit.repeat("ctx.for_call('t', 'c', 0)", globals=env, number=n_micro, repeat=5)]
    )
    rows = [
        Row(
            id="core.run_context_per_call",
            group=GROUP,
            title="ak.RunContext per tool call (empty context, async tool)",
            value=(c.median - p.median) * US,
            min=(c.min - p.median) * US,
            max=(c.max - p.median) * US,
            n=c.n,
            unit="us",
            baseline={"name": "the same call of a tool without a context", "value": p.median * US, "unit": "us"},
            note=f"building one context alone (for_call): {micro.median * NS:.0f} ns; "
            "tools that do not ask for a context pay nothing",
        ).judge(Budget("<=", 1.0, "<= 1 us per call")),
    ]
    rows.extend(await _limits_rows())
    return rows


async def _limits_rows() -> list[Row]:
    import agentickit as ak
    from agentickit.metrics import PRICES, set_price
    from agentickit.providers.simulated import SimulatedModel

    set_price("bench-limits", input_per_mtok=0.1, output_per_mtok=0.1)
    try:
        model = SimulatedModel(reply="ok", tools_mode="never", model_name="bench-limits")
        free = ak.Agent("free", llm=model)
        limits = ak.UsageLimits(
            request_limit=100,
            input_tokens_limit=10**9,
            output_tokens_limit=10**9,
            total_tokens_limit=10**9,
            tool_calls_limit=100,
        )
        limited = ak.Agent("limited", llm=model, usage_limits=limits)
        priced = ak.Agent("priced", llm=model, usage_limits=ak.UsageLimits(cost_limit=1e6))
        number = 500 if QUICK else 2_000
        st = await interleaved(
            {
                "free": lambda: free.run("hello"),
                "limited": lambda: limited.run("hello"),
                "priced": lambda: priced.run("hello"),
            },
            number=number,
            repeats=5 if QUICK else 11,
        )
    finally:
        PRICES.pop("bench-limits", None)
    f, lim, pr = st["free"], st["limited"], st["priced"]
    return [
        Row(
            id="core.usage_limits_per_run",
            group=GROUP,
            title="usage limits checked per run (requests, tokens, tool calls)",
            value=(lim.median - f.median) * US,
            min=(lim.min - f.median) * US,
            max=(lim.max - f.median) * US,
            n=lim.n,
            unit="us",
            baseline={"name": "the same run without limits", "value": f.median * US, "unit": "us"},
            note=f"one request per run: one check before it, one after; with cost_limit (a price lookup per "
            f"response) {(pr.median - f.median) * US:.1f} us",
        ).judge(Budget("<=", 5.0, "<= 5 us per run")),
    ]
