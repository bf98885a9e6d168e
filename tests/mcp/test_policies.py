"""MCP tools take the policies of `@ak.tool` (per server, and per tool name), from code and config.

Every test talks to a real MCP server (`servers/policies.py`, official SDK, over stdio) whose tools
report what reached them: call counts, attempts, calls in flight, arrival times.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import agentickit as ak
from agentickit.config import load_runnable, loads_config
from agentickit.errors import ConfigError, ToolError, UserError
from agentickit.mcp import MCPServer
from agentickit.providers.simulated import call
from agentickit.testing import ScriptedModel
from tests.mcp.conftest import PYTHON, SERVERS
from tests.tools._tool_helpers import calls

POLICIES = str(SERVERS / "policies.py")


def server(**options: Any) -> MCPServer:
    return MCPServer.stdio(PYTHON, [POLICIES], timeout=10, **options)


async def test_server_policies_reach_every_tool_and_tool_policies_replace_them() -> None:
    mcp = server(
        prefix="p",
        retries=2,
        retry_backoff=0,
        cache_ttl=60,
        tool_policies={
            "overlap": {"max_concurrency": 1, "cache_ttl": None},
            "stamp": {"rate_limit": "5/s", "cache_ttl": None},
            "hang": {"timeout": 0.3},
            "flaky": {"retries": 0, "cache_ttl": None},
        },
    )
    script = [
        calls(("p_count", {"key": "c"}), ("p_flaky", {"key": "once", "failures": 1})),
        call("p_count", key="c"),  # cached: the server sees one call
        calls(*(("p_overlap", {"seconds": 0.15 + i / 100}) for i in range(3))),
        calls(*(("p_stamp", {}) for _ in range(3))),
        call("p_hang"),
        "done",
    ]
    async with ak.Agent("a", ScriptedModel(script), tools=[mcp]) as agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
    count1, flaky, count2, *rest = result.tool_calls
    overlaps, stamps, (hang,) = rest[:3], rest[3:6], rest[6:]
    # cache_ttl (server-wide): the second identical call never reached the server
    assert count1.result.data == {"result": 1} and count2.cache_hit and count2.result.data == {"result": 1}
    # retries=0 for `flaky` replaces the server's 2: one attempt, the error goes to the model
    assert flaky.error is not None and "attempt 1 failed" in flaky.error and flaky.attempts == 1
    # max_concurrency=1 for `overlap`: the server never saw two calls at once
    assert [o.result.data["result"] for o in overlaps] == [1, 1, 1]
    # rate_limit "5/s" for `stamp`: arrivals 0.2 s apart (burst 1)
    arrivals = sorted(s.result.data["result"] for s in stamps)
    assert all(b - a >= 0.15 for a, b in itertools_pairwise(arrivals)), arrivals
    # timeout 0.3 s for `hang` replaces the server's 10 s
    assert hang.error is not None and "within 0.3 s" in hang.error and hang.duration < 5


def itertools_pairwise(values: list[float]) -> list[tuple[float, float]]:
    return list(zip(values, values[1:], strict=False))


async def test_server_wide_retries_retry_a_failing_tool() -> None:
    mcp = server(retries=2, retry_backoff=0)
    model = ScriptedModel([call("flaky", key="k", failures=2), "done"])
    async with ak.Agent("a", model, tools=[mcp]) as agent:
        async with asyncio.timeout(30):
            record = (await agent.run("go")).tool_calls[0]
    assert record.ok and record.result.text == "ok after 3" and record.attempts == 3
    without = server()
    async with ak.Agent("b", ScriptedModel([call("flaky", key="k", failures=2), "done"]), tools=[without]) as agent:
        async with asyncio.timeout(30):
            record = (await agent.run("go")).tool_calls[0]
    assert record.error is not None and record.attempts == 1


async def test_a_policy_for_a_tool_the_server_does_not_offer_is_an_error_naming_it() -> None:
    mcp = server(tool_policies={"cuont": {"cache_ttl": 5}})
    async with ak.Agent("a", tools=[mcp]) as agent:
        async with asyncio.timeout(30):
            with pytest.raises(UserError, match=r"tool_policies names 'cuont'.*its tools are: count, flaky"):
                await agent.run("go")


def test_bad_policies_are_rejected_when_the_server_is_built() -> None:
    with pytest.raises(UserError, match=r"unknown tool policy 'cache'.*valid: timeout, retries"):
        server(tool_policies={"count": {"cache": 5}})
    with pytest.raises(UserError, match=r"tool_policies\['count'\].*retries must be >= 0"):
        server(tool_policies={"count": {"retries": -1}})
    with pytest.raises(UserError, match="invalid rate_limit"):
        server(rate_limit="10 per second")
    with pytest.raises(UserError, match="max_concurrency must be >= 1"):
        server(max_concurrency=0)
    with pytest.raises(UserError, match="must map tool names"):
        server(tool_policies=[("count", {})])


def test_headers_and_env_never_show_in_repr() -> None:
    http = MCPServer.http("http://127.0.0.1:9/mcp", headers={"Authorization": "Bearer sekrit-token"})
    stdio = MCPServer.stdio(PYTHON, [POLICIES], env={"API_KEY": "sekrit-env"})
    assert "sekrit" not in repr(http) and "sekrit" not in repr(stdio)


TOOLS_MODULE = """
async def flaky(input, caps):
    return (await caps.tools.call("flaky", key=input, failures=2)).text

async def twice(input, caps):
    first = (await caps.tools.call("count", key=input)).data["result"]
    second = (await caps.tools.call("count", key=input)).data["result"]
    return f"{first},{second}"
"""


def _agent(tmp_path: Path, handler: str, tools: str, server_extra: str = "") -> ak.Agent:
    name = f"ak_mcp_policies_{handler}_{abs(hash((tools, server_extra))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(TOOLS_MODULE, encoding="utf-8")
    py = sys.executable.replace("\\", "/")
    script = POLICIES.replace("\\", "/")
    text = textwrap.dedent(
        f"""
        handler = '{name}:{handler}'
        {tools}
        [[mcp.servers]]
        name = 'p'
        command = '{py}'
        args = ['{script}']
        {server_extra}
        """
    )
    cfg = loads_config(text, env={}, base_dir=tmp_path)
    sys.path.insert(0, str(tmp_path))
    try:
        agent = load_runnable(cfg)
    finally:
        sys.path.remove(str(tmp_path))
    assert isinstance(agent, ak.Agent)
    return agent


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


async def test_tools_section_defaults_reach_mcp_tools_and_the_server_entry_wins(tmp_path: Path) -> None:
    async with asyncio.timeout(60):
        async with _agent(tmp_path, "flaky", "[tools]\nmax_retries = 2") as a:
            assert (await a.run("r1")).content == "ok after 3"
        async with _agent(tmp_path, "flaky", "[tools]\nmax_retries = 2", "retries = 0") as a:
            with pytest.raises(ToolError, match="attempt 1 failed"):
                await a.run("r2")
        cache = "[tools.cache]\nenabled = true\nttl = '1m'"
        async with _agent(tmp_path, "twice", cache) as a:
            assert (await a.run("c1")).content == "1,1"  # the [tools.cache] default reached the MCP tool
        async with _agent(tmp_path, "twice", "") as a:
            assert (await a.run("c2")).content == "1,2"


async def test_tool_policies_from_config(tmp_path: Path) -> None:
    policies = "[mcp.servers.tool_policies.count]\ncache_ttl = '1m'"
    async with asyncio.timeout(60), _agent(tmp_path, "twice", "", policies) as a:
        assert (await a.run("k")).content == "1,1"
    with pytest.raises(ConfigError, match=r"mcp.servers\[0\].tool_policies.count.cache: unknown key"):
        _agent(tmp_path, "twice", "", "[mcp.servers.tool_policies.count]\ncache = '1m'")
