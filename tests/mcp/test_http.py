from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import MCPError
from agentickit.mcp import MCPServer
from agentickit.providers.simulated import call
from tests.mcp.conftest import HTTPServer


async def test_streamable_http_server_tools_run_in_an_agent(http_server: HTTPServer) -> None:
    server = MCPServer.http(http_server.url, headers={"X-Test": "1"}, prefix="web", timeout=10)
    model = ak.SimulatedModel(script=[call("web_add", a=20, b=22), call("web_echo", text="hi"), "ok"])
    agent = ak.Agent("a", llm=model, tools=[server])
    assert not server.connected
    async with agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
        assert server.connected
    assert not server.connected
    add, echo = result.tool_calls
    assert add.result.text == "42" and echo.result.text == "hi"


async def test_http_server_restart_gives_a_clear_error_then_reconnects(own_http_server: HTTPServer) -> None:
    server = MCPServer.http(own_http_server.url, timeout=3, connect_timeout=5)
    try:
        async with asyncio.timeout(60):
            first = (await server.call_tool("pid")).data
            await asyncio.to_thread(own_http_server.stop)
            with pytest.raises(MCPError, match=own_http_server.url.replace("/", ".")):
                await server.call_tool("pid")
            await asyncio.to_thread(own_http_server.start)  # off the loop: it waits for the port
            second = (await server.call_tool("pid")).data
        assert second != first  # a new server process answered over a new connection
    finally:
        await server.aclose()


async def test_unreachable_http_server_fails_fast_with_the_url() -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/mcp"
    server = MCPServer.http(url, connect_timeout=5)
    with pytest.raises(MCPError, match=f"MCP server at {url}"):
        async with asyncio.timeout(15):
            await server.list_tools()
    await server.aclose()


async def test_sse_transport(sse_server: HTTPServer) -> None:
    server = MCPServer.sse(sse_server.url, timeout=10)
    try:
        async with asyncio.timeout(30):
            out = await server.call_tool("add", {"a": 1, "b": 1})
        assert out.text == "2"
    finally:
        await server.aclose()
