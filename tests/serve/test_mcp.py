"""The official mcp client against /mcp: every agent and workflow is a tool."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

import httpx2
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

import agentickit as ak
from tests.serve.conftest import Watchdog, make_agent, make_workflow, serving


def text_of(result: Any) -> str:
    return str(getattr(result.content[0], "text", ""))


@contextlib.asynccontextmanager
async def mcp_client(url: str, key: str | None = None) -> AsyncGenerator[Client]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(10, read=60)) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield client


async def test_agents_and_workflows_are_mcp_tools(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent()], workflows=[make_workflow()])
    async with serving(app) as (url, _):
        # One task enters and exits the client session (the SDK's task groups require it).
        async with asyncio.timeout(30), mcp_client(url) as client:
            tools = await client.list_tools()
            by_name: dict[str, Any] = {t.name: t for t in tools.tools}
            out = await client.call_tool("assistant", {"input": "weather in Paris"})
            wf = await client.call_tool("pipeline", {"input": "topic"})
    assert set(by_name) == {"assistant", "pipeline"}
    assert by_name["assistant"].description == "Answers with the weather tool."
    assert by_name["assistant"].input_schema["required"] == ["input"]
    assert not out.is_error and "sunny in Paris" in text_of(out)
    assert not wf.is_error and text_of(wf)
    loop_watchdog.check()


async def test_a_failing_agent_is_an_error_result() -> None:
    agent = ak.Agent("slow", llm=ak.SimulatedModel(ttft=5))
    app = ak.serve.app(agents=[agent], request_timeout=0.2)
    async with serving(app) as (url, _), asyncio.timeout(30), mcp_client(url) as client:
        out = await client.call_tool("slow", {"input": "x"})
    assert out.is_error and "request_timeout" in text_of(out)


async def test_mcp_needs_a_key_with_every_scope() -> None:
    keys = [
        ak.serve.APIKey(name="all", sha256=ak.serve.hash_key("k-all")),
        ak.serve.APIKey(name="one", sha256=ak.serve.hash_key("k-one"), scopes=("assistant",)),
    ]
    app = ak.serve.app(agents=[make_agent()], api_keys=keys)
    async with serving(app) as (url, _):
        async with asyncio.timeout(30), mcp_client(url, "k-all") as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["assistant"]
        async with httpx2.AsyncClient() as http:
            for key, status in ((None, 401), ("k-one", 403), ("wrong", 401)):
                headers = {"authorization": f"Bearer {key}"} if key else {}
                r = await http.post(
                    f"{url}/mcp", json={}, headers={**headers, "accept": "application/json, text/event-stream"}
                )
                assert r.status_code == status, r.text
                assert r.json()["error"]["type"] in ("authentication_error", "permission_denied")


async def test_the_mcp_sdk_does_not_configure_the_applications_logging() -> None:
    import logging

    # The SDK's MCPServer() calls logging.basicConfig(level=INFO, handlers=[RichHandler]) when the root
    # logger has none: every access-log record would then be rendered (~1 ms per request).
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    root.handlers[:] = []
    root.setLevel(logging.WARNING)
    try:
        app = ak.serve.app(agents=[make_agent()])
        async with serving(app):
            assert root.handlers == [] and root.level == logging.WARNING
            assert not logging.getLogger("agentickit.serve.access").isEnabledFor(logging.INFO)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
