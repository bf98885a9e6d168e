"""The server's own SSE response: a client that leaves mid-stream, on every streaming surface, over real HTTP.

The served agent streams from the simulator over real HTTP, so "the upstream run is cancelled" is
seen where it matters: the simulator counts the agent's request as disconnected, never completed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

import agentickit as ak
import agentickit.providers.openai  # pyright: ignore[reportUnusedImport]  # else imported in the first request (13 ms)
from agentickit.simulator import SimulatorServer
from tests.serve.conftest import Watchdog, serving
from tests.serve.test_native import sse

LONG = " ".join(f"word{i}" for i in range(400))


@pytest.fixture
async def srv() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(tokens_per_s=200, tools_mode="never") as server:
        yield server


def _agent(srv: SimulatorServer) -> ak.Agent:
    llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="x")
    return ak.Agent("remote", llm)


async def _read_some(resp: aiohttp.ClientResponse, frames: int) -> bytes:
    got = b""
    async for part in resp.content.iter_any():
        got += part
        if got.count(b"\n\n") >= frames:
            break
    return got


def _body(path: str, text: str) -> dict[str, Any]:
    if path == "/v1/chat/completions":
        return {"model": "remote", "messages": [{"role": "user", "content": text}], "stream": True}
    return {"model": "remote", "input": text, "stream": True}


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
async def test_a_client_that_leaves_cancels_the_upstream_run(
    srv: SimulatorServer, path: str, loop_watchdog: Watchdog, caplog: pytest.LogCaptureFixture
) -> None:
    app = ak.serve.app(agents=[_agent(srv)])
    state = app.state.agentickit
    uvicorn_log = logging.getLogger("uvicorn.error")
    async with serving(app) as (url, _):
        # After the server configured its logging (which replaces the handlers); it does not propagate.
        uvicorn_log.addHandler(caplog.handler)
        try:
            await _leave_then_stream(srv, state, url, path)
        finally:
            uvicorn_log.removeHandler(caplog.handler)
    # The left request's handler returned normally (a CancelledError out of the app is logged by uvicorn).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    loop_watchdog.check()


async def _leave_then_stream(srv: SimulatorServer, state: Any, url: str, path: str) -> None:
    idle = state.streams_idle = asyncio.Event()  # set when the last stream in flight has ended
    async with aiohttp.ClientSession() as http, http.post(url + path, json=_body(path, LONG)) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert b"word" in await _read_some(r, 8)
        r.close()  # the client goes away mid-answer
    async with asyncio.timeout(5):
        await srv.wait_disconnect()
        await idle.wait()
    assert srv.completed == 0 and srv.disconnects == 1
    # No cancellation was left behind: the same server answers the next stream to its end, one DONE.
    async with aiohttp.ClientSession() as http, http.post(url + path, json=_body(path, "hi")) as r:
        text = (await r.read()).decode()
    if path == "/v1/chat/completions":
        assert text.count("data: [DONE]") == 1 and text.endswith("data: [DONE]\n\n")
    else:
        assert text.count("event: response.completed") == 1


async def test_a_reader_that_leaves_a_native_run_leaves_the_run_running(
    srv: SimulatorServer, loop_watchdog: Watchdog
) -> None:
    # A native run is decoupled from its connection: the reader goes, the run goes on, a reconnect reads on.
    app = ak.serve.app(agents=[_agent(srv)])
    registry = app.state.agentickit.registry
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/remote/runs?stream=true", json={"input": "a b c d e f g h"}) as r:
            head = await sse(r, limit=3)
            r.close()
        run_id = head[0]["data"]["run_id"]
        async with http.get(f"{url}/v1/runs/{run_id}/events", headers={"last-event-id": head[-1]["id"]}) as r:
            rest = await sse(r)
    ids = [int(e["id"]) for e in head + rest]
    assert ids == list(range(1, len(ids) + 1))
    assert [e["data"]["type"] for e in rest].count("done") == 1 and rest[-1]["data"]["status"] == "completed"
    assert srv.completed == 1 and srv.disconnects == 0 and registry.readers == 0
    loop_watchdog.check()
