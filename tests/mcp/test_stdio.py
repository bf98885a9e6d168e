from __future__ import annotations

import asyncio
import os

import pytest

import agentickit as ak
from agentickit.errors import MCPError, UserError
from agentickit.mcp import MCPServer
from agentickit.providers.simulated import call
from agentickit.tools import ToolOutput, ToolTimeoutError
from tests.mcp.conftest import BASIC, PYTHON, SERVERS
from tests.tools._tool_helpers import calls


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_lazy_connect_discovery_results_and_cleanup() -> None:
    server = MCPServer.stdio(
        PYTHON, [BASIC], prefix="m", tool_filter=["add", "weather", "picture", "fail", "pid"], timeout=10
    )
    turn = calls(
        ("m_add", {"a": 2, "b": 3}),
        ("m_weather", {"city": "Oslo"}),
        ("m_picture", {}),
        ("m_fail", {"message": "no such city"}),
        ("m_pid", {}),
    )
    model = ak.SimulatedModel(script=[turn, "ok"], record=True)
    agent = ak.Agent("a", llm=model, tools=[server])
    assert not server.connected  # building the agent started nothing
    async with agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
        assert server.connected
        offered = [t.name for t in model.requests[0].tools]
        assert sorted(offered) == ["m_add", "m_fail", "m_picture", "m_pid", "m_weather"]
        assert "echo" not in offered and "m_echo" not in offered
        add, weather, picture, fail, pid = result.tool_calls
        assert isinstance(add.result, ToolOutput) and add.result.text == "5" and add.result.data == {"result": 5}
        assert weather.result.data == {"city": "Oslo", "temp": 21}
        image = picture.result.attachments[0]
        assert image["type"] == "image" and image["mime_type"] == "image/png" and image["data"]
        assert picture.result.text.startswith("[image: image/png")
        assert fail.error is not None and "no such city" in fail.error
        assert fail.error.startswith("tool 'm_fail' failed")
        server_pid = pid.result.data["result"]
        assert _alive(server_pid)
        sent = [m.content for m in model.requests[-1].messages if m.role == "tool"]
        assert sent[0] == "5" and (sent[3] or "").startswith("Error: ")
    assert not server.connected
    assert not _alive(server_pid)  # cleanup() stopped the process
    await server.aclose()  # idempotent


async def test_server_dying_mid_call_gives_a_clear_error_and_the_next_call_respawns() -> None:
    server = MCPServer.stdio(PYTHON, [BASIC], timeout=10)
    model = ak.SimulatedModel(script=[call("pid"), call("crash"), call("pid"), "ok"])
    async with ak.Agent("a", llm=model, tools=[server]) as agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
    before, crash, after = result.tool_calls
    assert crash.error is not None
    assert "closed the connection" in crash.error and "about to crash" in crash.error  # the server's stderr
    assert crash.duration < 5
    assert after.ok and after.result.data["result"] != before.result.data["result"]  # a new process


async def test_hanging_tool_times_out_and_the_server_keeps_serving() -> None:
    server = MCPServer.stdio(PYTHON, [BASIC], timeout=0.5, cache_tools_list=True)
    model = ak.SimulatedModel(script=[call("pid"), call("hang"), call("pid"), "ok"])
    async with ak.Agent("a", llm=model, tools=[server]) as agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
        metrics = agent.tool_metrics()
    before, hung, after = result.tool_calls
    assert hung.error is not None and "'hang'" in hung.error and "0.5 s" in hung.error
    assert after.ok and after.result.data == before.result.data  # same process: no reconnect needed
    assert metrics.timeouts == 1 and metrics.errors == 1


async def test_a_wedged_server_is_replaced() -> None:
    server = MCPServer.stdio(PYTHON, [BASIC], timeout=0.5)
    try:
        async with asyncio.timeout(30):
            first = (await server.call_tool("pid")).data
            with pytest.raises(ToolTimeoutError, match=r"did not answer tool 'wedge' within 0.5 s"):
                await server.call_tool("wedge")  # blocks the server's event loop for 30 s
            second = (await server.call_tool("pid")).data
        assert second != first
    finally:
        await server.aclose()


async def test_server_that_cannot_start_names_the_command_and_its_stderr() -> None:
    missing = MCPServer.stdio("agentickit-no-such-command", ["--flag"])
    with pytest.raises(MCPError, match=r"`agentickit-no-such-command --flag` could not be started: FileNotFoundError"):
        await missing.list_tools()
    broken = MCPServer.stdio(PYTHON, [str(SERVERS / "broken.py")])
    with pytest.raises(MCPError) as info:
        async with asyncio.timeout(30):
            await broken.list_tools()
    message = str(info.value)
    assert "broken.py" in message and "exited before finishing the MCP handshake" in message
    assert "cannot open the database at /nowhere/db.sqlite" in message
    # in an agent run, the same error ends the run (the model cannot be offered the tools)
    async with ak.Agent("a", tools=[broken]) as agent:
        with pytest.raises(MCPError, match="cannot open the database"):
            await agent.run("go")


async def test_silent_server_fails_at_connect_timeout_instead_of_hanging() -> None:
    silent = MCPServer.stdio(PYTHON, [str(SERVERS / "silent.py")], connect_timeout=0.5)
    async with asyncio.timeout(15):
        errors = await asyncio.gather(*(silent.list_tools() for _ in range(3)), return_exceptions=True)
    await silent.aclose()
    errors = [e for e in errors if isinstance(e, MCPError)]
    assert len(errors) == 3
    assert all("did not finish the MCP handshake within 0.5 s (connect_timeout)" in str(e) for e in errors)
    # one attempt: the callers that queued behind it share its error instead of each waiting 0.5 s more
    first = next(e for e in errors if e.__cause__ is None or not isinstance(e.__cause__, MCPError))
    assert all(e is first or e.__cause__ is first for e in errors)


async def test_tool_list_is_cached_only_when_asked() -> None:
    server = MCPServer.stdio(PYTHON, [BASIC], cache_tools_list=True, tool_filter=lambda d: d.name != "wedge")
    try:
        async with asyncio.timeout(30):
            first = ak.Agent("a", llm=ak.SimulatedModel(script=[call("add_tool", name="fresh"), "ok"]), tools=[server])
            await first.run("go")
            names = {t.name for t in await server.list_tools()}
            assert "fresh" not in names and "wedge" not in names  # cached list, filtered
            server.cache_tools_list = False
            second = ak.SimulatedModel(script=[call("fresh"), "ok"], record=True)
            result = await ak.Agent("b", llm=second, tools=[server]).run("go")
        assert "fresh" in {t.name for t in second.requests[0].tools}
        assert result.tool_calls[0].result.text == "fresh"
    finally:
        await server.aclose()


def test_bad_settings_are_rejected_with_what_to_do() -> None:
    with pytest.raises(UserError, match="needs a command"):
        MCPServer.stdio("")
    with pytest.raises(UserError, match="list of strings"):
        MCPServer.stdio("python", "server.py --port 1")
    with pytest.raises(UserError, match="needs a url"):
        MCPServer.http("")
    with pytest.raises(UserError, match="timeouts must be > 0"):
        MCPServer.stdio("python", timeout=0)
    with pytest.raises(UserError, match="prefix"):
        MCPServer.stdio("python", prefix="bad prefix")
    with pytest.raises(UserError, match="not a string"):
        MCPServer.stdio("python", tool_filter="add")
    with pytest.raises(UserError, match="unknown MCP transport"):
        MCPServer("websocket", url="ws://x")  # type: ignore[arg-type]


async def test_malformed_result_is_a_clear_tool_error_and_the_run_goes_on() -> None:
    server = MCPServer.stdio(PYTHON, [str(SERVERS / "malformed.py")], timeout=5)
    model = ak.SimulatedModel(script=[call("bad"), call("bad"), "went on"])
    async with ak.Agent("a", llm=model, tools=[server]) as agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
    assert result.content == "went on"
    for record in result.tool_calls:
        assert record.error is not None
        assert "returned a malformed result for tool 'bad'" in record.error and "CallToolResult" in record.error


async def test_a_connected_server_pickles_as_configuration_only() -> None:
    import pickle

    server = MCPServer.stdio(PYTHON, [BASIC], prefix="p", timeout=7, cache_tools_list=True)
    try:
        async with asyncio.timeout(30):
            await server.list_tools()
            copy = pickle.loads(pickle.dumps(server))
        assert server.connected
        assert not copy.connected and copy.prefix == "p" and copy.timeout == 7 and copy.args == server.args
        assert copy._tools is None and copy._connector.current is None  # no live state travels
    finally:
        await server.aclose()


async def test_a_server_that_dies_while_idle_is_respawned_by_the_next_call() -> None:
    import signal

    server = MCPServer.stdio(PYTHON, [BASIC], timeout=10)
    try:
        async with asyncio.timeout(30):
            first = (await server.call_tool("pid")).data["result"]
            conn = server._connector.current
            assert conn is not None and conn.stderr is not None
            os.kill(first, signal.SIGKILL)
            await conn.stderr.done  # its stderr closed: the process is gone
            second = (await server.call_tool("pid")).data["result"]  # no error: a new process answers
        assert second != first and not _alive(first)
    finally:
        await server.aclose()
