"""Tools that cannot hang a run, and MCP servers as tools, offline: `python examples/tools_and_mcp.py`.

Shows per-tool timeouts (a hanging tool is cancelled, the run goes on), retries with backoff,
result caching, rate limits and concurrency caps, a lazy `ToolRegistry`, an MCP server started
on first use over stdio (this file serves it when run with `--serve`), and the agent's tool metrics.
Needs the mcp extra: `pip install "agentickit[mcp]"`.
"""

from __future__ import annotations

import asyncio
import sys

import agentickit as ak
from agentickit.messages import ToolCall
from agentickit.providers.simulated import SimTurn, call


class Flaky(Exception):
    """A transient failure worth retrying."""


@ak.tool(timeout=0.2)
async def slow_search(query: str) -> str:
    """A search backend that hangs today."""
    await asyncio.sleep(3600)
    return "never"


_quote_calls = 0


@ak.tool(retries=3, retry_backoff=0.05, retry_on=(Flaky,))
async def flaky_quote(symbol: str) -> float:
    """A stock quote from an API that drops the first two requests."""
    global _quote_calls
    _quote_calls += 1
    if _quote_calls <= 2:
        raise Flaky("connection reset by peer")
    return 101.5


@ak.tool(cache_ttl=300, rate_limit="20/s", max_concurrency=2)
def geocode(city: str) -> dict[str, float]:
    """Coordinates of a city (a sync function: it runs in a worker thread)."""
    return {"lat": 48.85, "lon": 2.35}


def build_translator() -> ak.Tool:
    """Expensive to build (imagine loading a model), so it is built on first use."""

    def translate(text: str, to: str) -> str:
        """Translate text."""
        return f"[{to}] {text}"

    return ak.Tool(translate)


def serve() -> None:
    """This file as an MCP server, written with the official SDK."""
    from mcp.server.mcpserver import MCPServer

    app = MCPServer("example", log_level="WARNING")

    @app.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    app.run()


def turn(*calls: tuple[str, dict[str, object]]) -> SimTurn:
    """One model turn asking for several tools at once (they run concurrently)."""
    import orjson

    return SimTurn(tool_calls=tuple(ToolCall(f"c{i}", n, orjson.dumps(a).decode()) for i, (n, a) in enumerate(calls)))


async def main() -> None:
    registry = ak.ToolRegistry()
    registry.register_lazy("translate", build_translator)
    mcp = ak.MCPServer.stdio(sys.executable, [__file__, "--serve"], prefix="calc", timeout=5, cache_tools_list=True)

    model = ak.SimulatedModel(
        script=[
            turn(("slow_search", {"query": "x"}), ("flaky_quote", {"symbol": "ACME"}), ("geocode", {"city": "Paris"})),
            turn(("geocode", {"city": "Paris"}), ("translate", {"text": "hello", "to": "fr"})),
            call("calc_add", a=2, b=40),
            "All done.",
        ]
    )
    agent = ak.Agent("tools", llm=model, tools=[slow_search, flaky_quote, geocode, registry, mcp], tool_timeout=30)
    print(f"built the agent; MCP server connected: {mcp.connected}")  # False: nothing started yet
    async with agent:  # cleanup() stops the MCP server
        result = await agent.run("Do all the things")
        print(f"answer: {result.content}  (MCP server connected: {mcp.connected})")
        for r in result.tool_calls:
            status = "ok" if r.ok else f"error: {r.error}"
            shown = r.result.text if isinstance(r.result, ak.ToolOutput) else r.result
            print(
                f"  {r.name:12} {r.duration * 1000:7.1f} ms  attempts={r.attempts} cache_hit={r.cache_hit}  {shown!r}  {status}"
            )
        m = agent.tool_metrics()
        print(
            f"tool metrics: {m.calls} calls, {m.errors} errors, {m.timeouts} timeouts, {m.retries} retries, "
            f"cache hit rate {m.cache_hit_rate:.0%}, p50 {m.p50 * 1000:.1f} ms, p95 {m.p95 * 1000:.1f} ms"
        )


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        asyncio.run(main())
