from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

import agentickit as ak
from tests.serve.conftest import Watchdog, make_agent, make_workflow, serving


async def sse(resp: aiohttp.ClientResponse, limit: int | None = None) -> list[dict[str, Any]]:
    """Parse SSE frames from a response, stopping after `limit` events."""
    events: list[dict[str, Any]] = []
    buf = b""
    async for part in resp.content.iter_any():
        buf += part
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            ev: dict[str, Any] = {}
            for line in frame.decode().split("\n"):
                k, _, v = line.partition(": ")
                ev[k] = v
            ev["data"] = orjson.loads(ev["data"])
            events.append(ev)
            if limit is not None and len(events) >= limit:
                return events
    return events


async def test_run_returns_result_json(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent()])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/assistant/runs", json={"input": "weather in Paris"}) as r:
            body = await r.json()
            assert r.status == 200, body
        assert body["status"] == "completed"
        result = body["result"]
        assert "sunny in Paris" in result["content"]
        assert result["tool_calls"][0]["name"] == "weather"
        assert result["usage"]["output_tokens"] > 0
        async with http.get(f"{url}/v1/runs/{body['id']}") as r:
            assert (await r.json())["result"]["content"] == result["content"]
    loop_watchdog.check()


async def test_stream_every_event_has_an_id_and_one_done(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent(tokens_per_s=2000)])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/assistant/runs?stream=true", json={"input": "weather in Oslo"}) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = await sse(r)
    ids = [int(e["id"]) for e in events]
    assert ids == list(range(1, len(ids) + 1))
    types = [e["data"]["type"] for e in events]
    assert types[0] == "run" and types[-1] == "done" and types.count("done") == 1
    assert "tool_call" in types and "tool_result" in types
    text = "".join(e["data"]["delta"] for e in events if e["data"]["type"] == "delta")
    assert text == events[-1]["data"]["result"]["content"]
    loop_watchdog.check()


async def test_accept_header_selects_sse() -> None:
    app = ak.serve.app(agents=[make_agent()])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        headers = {"accept": "text/event-stream"}
        async with http.post(f"{url}/v1/agents/assistant/runs", json={"input": "hi"}, headers=headers) as r:
            events = await sse(r)
    assert events[-1]["data"]["status"] == "completed"


async def test_reconnect_with_last_event_id_loses_and_repeats_nothing(loop_watchdog: Watchdog) -> None:
    reply = " ".join(f"w{i}" for i in range(60))
    agent = ak.Agent("slow", llm=ak.SimulatedModel(reply=reply, tokens_per_s=400))
    app = ak.serve.app(agents=[agent])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        # The client drops the connection after 10 events...
        async with http.post(f"{url}/v1/agents/slow/runs?stream=true", json={"input": "go"}) as r:
            first = await sse(r, limit=10)
        run_id = first[0]["data"]["run_id"]
        last = first[-1]["id"]
        # ...and reconnects with the last id it saw.
        async with http.get(f"{url}/v1/runs/{run_id}/events", headers={"Last-Event-ID": last}) as r:
            assert r.status == 200
            rest = await sse(r)
    ids = [int(e["id"]) for e in first + rest]
    assert ids == list(range(1, len(ids) + 1)), "an event was lost or repeated"
    text = "".join(e["data"]["delta"] for e in first + rest if e["data"]["type"] == "delta")
    assert text == reply == rest[-1]["data"]["result"]["content"]
    loop_watchdog.check()


async def test_replay_older_than_the_buffer_is_a_typed_410() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="one two three four five six"))
    app = ak.serve.app(agents=[agent], replay_buffer=3)
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/a/runs?stream=true", json={"input": "go"}) as r:
            events = await sse(r)
        run_id = events[0]["data"]["run_id"]
        async with http.get(f"{url}/v1/runs/{run_id}/events", headers={"Last-Event-ID": "1"}) as r:
            assert r.status == 410
            assert (await r.json())["error"]["type"] == "replay_gone"
        async with http.get(f"{url}/v1/runs/{run_id}/events", headers={"Last-Event-ID": events[-3]["id"]}) as r:
            assert [e["id"] for e in await sse(r)] == [e["id"] for e in events[-2:]]


async def test_delete_cancels_the_run_upstream(loop_watchdog: Watchdog) -> None:
    model = ak.SimulatedModel(reply=" ".join(["tok"] * 500), tokens_per_s=50)
    app = ak.serve.app(agents=[ak.Agent("slow", llm=model)])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/slow/runs?stream=true", json={"input": "go"}) as r:
            head = await sse(r, limit=3)
            run_id = head[0]["data"]["run_id"]
            async with http.delete(f"{url}/v1/runs/{run_id}") as d:
                assert d.status == 200
                assert (await d.json())["status"] == "cancelled"
            rest = await sse(r)
        types = [e["data"]["type"] for e in rest]
        assert types[-2:] == ["error", "done"]
        assert rest[-2]["data"]["error"]["type"] == "cancelled"
        async with http.delete(f"{url}/v1/runs/{run_id}") as d:
            assert d.status == 409
    assert app.state.agentickit.registry.live == {}
    loop_watchdog.check()


async def test_workflow_stream_has_step_tagged_events() -> None:
    app = ak.serve.app(workflows=[make_workflow()])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/workflows/pipeline/runs?stream=true", json={"input": "topic"}) as r:
            events = await sse(r)
        starts = [e["data"]["step"] for e in events if e["data"]["type"] == "agent_start"]
        assert set(starts) == {"left", "right", "write"}
        assert all("step" in e["data"] for e in events if e["data"]["type"] == "delta")
        done = events[-1]["data"]
        assert done["status"] == "completed" and set(done["result"]["steps"]) == {"left", "right", "write"}
        async with http.post(f"{url}/v1/workflows/pipeline/runs", json={"input": "topic"}) as r:
            body = await r.json()
        assert body["result"]["steps"]["write"]["status"] == "ok"


@pytest.mark.parametrize(
    ("path", "body", "status", "kind"),
    [
        ("/v1/agents/nope/runs", {"input": "x"}, 404, "not_found"),
        ("/v1/agents/assistant/runs", {"input": ""}, 400, "invalid_request"),
        ("/v1/agents/assistant/runs", {"input": "x", "options": {"tool_choice": "none"}}, 400, "invalid_request"),
        ("/v1/agents/assistant/runs", {"input": "x", "options": {"max_tokens": -1}}, 400, "invalid_request"),
        ("/v1/agents/assistant/runs", {"input": "x" * 5000}, 413, "request_too_large"),
        ("/v1/nothing", {}, 404, "not_found"),
    ],
)
async def test_errors_are_typed_json(path: str, body: dict[str, Any], status: int, kind: str) -> None:
    app = ak.serve.app(agents=[make_agent()], max_body_bytes=4096)
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}{path}", json=body) as r:
            out = await r.json()
    assert r.status == status, out
    assert set(out["error"]) == {"type", "message"} and out["error"]["type"] == kind
    assert "Traceback" not in out["error"]["message"]


async def test_request_timeout_ends_the_run_with_a_timeout_error() -> None:
    agent = ak.Agent("slow", llm=ak.SimulatedModel(ttft=5))
    app = ak.serve.app(agents=[agent], request_timeout=0.2)
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/slow/runs", json={"input": "x"}) as r:
            assert r.status == 504
            assert (await r.json())["error"]["type"] == "timeout"
        async with http.post(f"{url}/v1/agents/slow/runs?stream=true", json={"input": "x"}) as r:
            events = await sse(r)
        assert [e["data"]["type"] for e in events[-2:]] == ["error", "done"]
        assert events[-1]["data"]["status"] == "timeout"


async def test_session_id_reaches_the_agents_memory() -> None:
    agent = ak.Agent("mem", llm="simulated:echo", memory=ak.Memory())
    app = ak.serve.app(agents=[agent])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        for text in ("first", "second"):
            async with http.post(f"{url}/v1/agents/mem/runs", json={"input": text, "session_id": "s1"}) as r:
                assert r.status == 200
    assert agent.memory is not None
    history = await agent.memory.store.get("s1")
    assert [m.content for m in history if m.role == "user"] == ["first", "second"]


async def test_graceful_shutdown_ends_open_streams_with_error_and_done() -> None:
    model = ak.SimulatedModel(reply=" ".join(["tok"] * 1000), tokens_per_s=20)
    app = ak.serve.app(agents=[ak.Agent("slow", llm=model)], shutdown_deadline=0.3)
    async with serving(app) as (url, server), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/slow/runs?stream=true", json={"input": "go"}) as r:
            await sse(r, limit=2)
            server.begin_shutdown()
            async with http.get(f"{url}/readyz") as ready:
                assert ready.status == 503
            async with http.post(f"{url}/v1/agents/slow/runs", json={"input": "go"}) as refused:
                assert refused.status == 503
            async with asyncio.timeout(10):
                rest = await sse(r)
    assert [e["data"]["type"] for e in rest[-2:]] == ["error", "done"]
    assert rest[-1]["data"]["status"] == "cancelled"
    assert "shut down" in rest[-2]["data"]["error"]["message"]
