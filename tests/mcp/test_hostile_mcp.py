"""Hostile MCP stdio servers as real subprocesses (issue 11, items 4 and 20)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

import agentickit as ak
from agentickit.errors import MCPError, RunTimeoutError
from agentickit.mcp import MCPServer
from tests.mcp.conftest import PYTHON, SERVERS

DEAF = str(SERVERS / "deaf.py")


def _deaf_children() -> list[psutil.Process]:
    out: list[psutil.Process] = []
    for p in psutil.Process().children(recursive=True):
        try:
            if any("deaf.py" in part for part in p.cmdline()) and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


async def _gone(check: object, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_run_deadline_wins_over_a_server_that_never_answers_initialize() -> None:
    server = MCPServer.stdio(PYTHON, [DEAF])  # connect_timeout 10 s: the run's 1 s deadline comes first
    async with ak.Agent("a", tools=[server]) as agent:
        t0 = time.perf_counter()
        with pytest.raises(RunTimeoutError):
            await agent.run("go", timeout=1.0)
        assert time.perf_counter() - t0 < 1.8
    assert await _gone(_deaf_children), "the deaf server outlived cleanup"


async def test_an_outside_cancel_wins_over_a_server_that_never_answers_initialize() -> None:
    server = MCPServer.stdio(PYTHON, [DEAF])
    task = asyncio.create_task(server.list_tools())
    assert await _gone(lambda: not _deaf_children())  # it has started
    t0 = time.perf_counter()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.perf_counter() - t0 < 0.5
    await server.aclose()
    assert await _gone(_deaf_children)


async def test_the_handshake_timeout_is_what_it_says() -> None:
    server = MCPServer.stdio(PYTHON, [DEAF], connect_timeout=1.0)
    t0 = time.perf_counter()
    with pytest.raises(MCPError, match=r"did not finish the MCP handshake within 1 s"):
        await server.list_tools()
    took = time.perf_counter() - t0
    assert took < 1.6, took
    await server.aclose()
    assert await _gone(_deaf_children)


async def test_processes_a_stdio_server_started_end_with_it(tmp_path: Path) -> None:
    pidfile = tmp_path / "helper.pid"
    server = MCPServer.stdio(PYTHON, [str(SERVERS / "spawner.py"), str(pidfile)])
    async with asyncio.timeout(30):
        tools = await server.list_tools()
        assert [t.name for t in tools] == ["ping"]
        helper = psutil.Process(int(pidfile.read_text()))
        assert helper.is_running()
        await server.aclose()

    def alive() -> bool:
        try:
            return helper.is_running() and helper.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    assert await _gone(alive), "the server's helper process survived cleanup()"


@pytest.mark.parametrize("field", ["timeout", "connect_timeout"])
@pytest.mark.parametrize("value", [float("nan"), -1.0, 0.0])
def test_nan_and_negative_mcp_timeouts_are_rejected(field: str, value: float) -> None:
    options: dict[str, Any] = {field: value}
    with pytest.raises(ak.errors.UserError, match="MCP timeouts must be > 0"):
        MCPServer.stdio(PYTHON, [DEAF], **options)
