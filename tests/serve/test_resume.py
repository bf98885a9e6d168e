"""`POST /v1/runs/{id}/resume`: served durable runs that pause for approval or input, over real HTTP.

The journals and the server's run records are in real SQLite files; the restart test serves the same
files from a second app (as a second process would) and resumes the run the first one paused.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openai.types.responses import ResponseIncompleteEvent, ResponseOutputItemAddedEvent

import agentickit as ak
from agentickit.testing import FunctionModel, SimRequest, SimTurn, call
from tests.serve.conftest import Watchdog, serving
from tests.serve.test_mcp import mcp_client, text_of
from tests.serve.test_native import sse
from tests.serve.test_openai import client


def _payer(store: Any, paid: list[int], durability: str = "step") -> ak.Agent:
    @ak.tool(requires_approval=lambda args: args["amount"] > 100)
    def pay(amount: int) -> str:
        paid.append(amount)
        return f"paid {amount}"

    def fn(req: SimRequest) -> str | SimTurn:
        last = req.messages[-1]
        if last.role == "tool":
            return f"answer: {last.content}"
        return call("pay", amount=500)

    return ak.Agent("payer", FunctionModel(fn), tools=[pay], store=store, durability=durability)  # pyright: ignore[reportArgumentType]


def _signing(store: Any) -> ak.DAGWorkflow:
    async def ask(text: str, ctx: ak.WorkflowContext) -> str:
        return f"{text} signed by {await ctx.request_input('Who signs?')}"

    wf = ak.DAGWorkflow("sign", store=store, durability="step")
    wf.add_step("draft", lambda text: f"{text}>draft")
    wf.add_step("ask", ask, depends_on=["draft"])
    return wf


async def test_paused_run_reports_what_it_waits_for_and_resumes(tmp_path: Path, loop_watchdog: Watchdog) -> None:
    paid: list[int] = []
    store = ak.stores.SQLite(tmp_path / "runs.db")
    app = ak.serve.app(agents=[_payer(store, paid)])
    try:
        async with serving(app) as (url, _), aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/agents/payer/runs", json={"input": "pay ACME"}) as r:
                body = await r.json()
                assert r.status == 200, body
            assert body["status"] == "paused" and paid == []
            [req] = body["pending"]
            assert (req["kind"], req["tool"], req["args"]) == ("approval", "pay", {"amount": 500})
            assert body["result"]["status"] == "paused" and body["result"]["pending"] == [req]
            run = body["id"]
            async with http.get(f"{url}/v1/runs/{run}") as r:
                got = await r.json()
            assert got["status"] == "paused" and got["pending"] == [req] and got["journal_id"]

            # Answers the run does not wait for, or of the wrong kind, are typed 400s; nothing runs.
            for bad, why in (
                ({"nope": True}, "not pending"),
                ({}, "missing"),
                ({req["id"]: "yes"}, "true or false"),
            ):
                async with http.post(f"{url}/v1/runs/{run}/resume", json={"approvals": bad}) as r:
                    err = await r.json()
                    assert r.status == 400 and why in err["error"]["message"], err
            assert paid == []

            edit = {req["id"]: {"args": {"amount": 150}}}
            async with http.post(f"{url}/v1/runs/{run}/resume", json={"approvals": edit}) as r:
                done = await r.json()
                assert r.status == 200, done
            assert done["id"] == run and done["status"] == "completed" and done["pending"] is None
            assert done["result"]["content"] == "answer: paid 150" and paid == [150]
            async with http.get(f"{url}/v1/runs/{run}") as r:
                assert (await r.json())["status"] == "completed"
            async with http.post(f"{url}/v1/runs/{run}/resume", json={"approvals": edit}) as r:
                assert r.status == 409 and "not paused" in (await r.json())["error"]["message"]
    finally:
        await store.aclose()
    loop_watchdog.check()


async def test_streamed_pause_and_streamed_resume_continue_one_event_sequence(
    tmp_path: Path, loop_watchdog: Watchdog
) -> None:
    paid: list[int] = []
    store = ak.stores.SQLite(tmp_path / "runs.db")
    app = ak.serve.app(agents=[_payer(store, paid)])
    try:
        async with serving(app) as (url, _), aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/agents/payer/runs?stream=true", json={"input": "pay"}) as r:
                first = await sse(r)
            types = [e["data"]["type"] for e in first]
            assert types[0] == "run" and "approval_required" in types and types[-1] == "done"
            done = first[-1]["data"]
            assert done["status"] == "paused" and done["result"]["pending"]
            [req] = done["result"]["pending"]
            run = done["run_id"]

            async with http.post(
                f"{url}/v1/runs/{run}/resume?stream=true", json={"approvals": {req["id"]: False}}
            ) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                second = await sse(r)
            assert second[0]["data"] == {
                "type": "run",
                "run_id": run,
                "target": "payer",
                "kind": "agent",
                "resumed": True,
            }
            assert second[-1]["data"]["status"] == "completed"
            assert second[-1]["data"]["result"]["content"].startswith("answer: Denied") and paid == []
            # One sequence across the pause: the resumed events' ids follow the first part's DONE.
            ids = [int(e["id"]) for e in first + second]
            assert ids == list(range(1, len(ids) + 1))
            # A reader that saw the first DONE reconnects with its id and reads the rest, nothing repeated.
            async with http.get(f"{url}/v1/runs/{run}/events", headers={"last-event-id": first[-1]["id"]}) as r:
                assert [e["id"] for e in await sse(r)] == [e["id"] for e in second]
    finally:
        await store.aclose()
    loop_watchdog.check()


async def test_workflow_input_request_is_answered_with_text(tmp_path: Path, loop_watchdog: Watchdog) -> None:
    store = ak.stores.SQLite(tmp_path / "runs.db")
    app = ak.serve.app(workflows=[_signing(store)])
    try:
        async with serving(app) as (url, _), aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/workflows/sign/runs", json={"input": "doc"}) as r:
                body = await r.json()
            assert body["status"] == "paused"
            [req] = body["pending"]
            assert (req["kind"], req["args"]) == ("input", {"question": "Who signs?"})
            async with http.post(f"{url}/v1/runs/{body['id']}/resume", json={"approvals": {req["id"]: True}}) as r:
                assert r.status == 400 and "give the text" in (await r.json())["error"]["message"]
            async with http.post(
                f"{url}/v1/runs/{body['id']}/resume", json={"approvals": {req["id"]: "Ada"}, "stream": True}
            ) as r:
                events = await sse(r)
            assert events[-1]["data"]["status"] == "completed"
            assert events[-1]["data"]["result"]["content"] == "doc>draft signed by Ada"
            assert any(e["data"].get("step") == "ask" for e in events)
    finally:
        await store.aclose()
    loop_watchdog.check()


async def _paused_on_a_first_server(tmp_path: Path, paid: list[int]) -> dict[str, Any]:
    """A run paused by a server on SQLite files that is then gone (as a process that exited)."""
    journals = ak.stores.SQLite(tmp_path / "runs.db")
    records = ak.stores.SQLite(tmp_path / "serve.db")
    try:
        async with serving(ak.serve.app(agents=[_payer(journals, paid)], store=records)) as (url, _):
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{url}/v1/agents/payer/runs", json={"input": "pay"}) as r,
            ):
                paused: dict[str, Any] = await r.json()
        assert paused["status"] == "paused"
    finally:
        await journals.aclose()
        await records.aclose()
    return paused


async def test_a_paused_run_resumes_on_a_restarted_server(tmp_path: Path) -> None:
    paid: list[int] = []
    paused = await _paused_on_a_first_server(tmp_path, paid)
    # A new server (a new process, as far as it can tell) on the same files.
    journals = ak.stores.SQLite(tmp_path / "runs.db")
    records = ak.stores.SQLite(tmp_path / "serve.db")
    try:
        async with serving(ak.serve.app(agents=[_payer(journals, paid)], store=records)) as (url, _):
            async with aiohttp.ClientSession() as http:
                run = paused["id"]
                async with http.get(f"{url}/v1/runs/{run}") as r:
                    got = await r.json()
                assert got["status"] == "paused" and got["pending"] == paused["pending"]
                answer = {"approvals": {paused["pending"][0]["id"]: True}}
                async with http.post(f"{url}/v1/runs/{run}/resume?stream=true", json=answer) as r:
                    events = await sse(r)
                # Event ids go on from the first server's: a client's Last-Event-ID stays meaningful.
                assert int(events[0]["id"]) == paused["events"] + 1
                assert events[-1]["data"]["status"] == "completed" and paid == [500]
                async with http.get(f"{url}/v1/runs/{run}") as r:
                    assert (await r.json())["result"]["content"] == "answer: paid 500"
    finally:
        await journals.aclose()
        await records.aclose()


async def test_resume_of_a_run_that_is_not_paused_is_a_conflict() -> None:
    app = ak.serve.app(agents=[ak.Agent("plain", llm="simulated:echo")])
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        async with http.post(f"{url}/v1/agents/plain/runs", json={"input": "hi"}) as r:
            run = (await r.json())["id"]
        async with http.post(f"{url}/v1/runs/{run}/resume", json={"approvals": {}}) as r:
            body = await r.json()
        assert r.status == 409 and body["error"]["type"] == "conflict" and "completed" in body["error"]["message"]
        async with http.post(f"{url}/v1/runs/run_missing/resume", json={}) as r:
            assert r.status == 404


def test_store_must_be_a_run_store_or_an_ak_store() -> None:
    with pytest.raises(ak.errors.UserError, match="neither a RunStore"):
        ak.serve.app(agents=[ak.Agent("a")], store=object())


async def test_delete_cancels_a_paused_run_and_its_journal(tmp_path: Path, loop_watchdog: Watchdog) -> None:
    paid: list[int] = []
    store = ak.stores.SQLite(tmp_path / "runs.db")
    agent = _payer(store, paid)
    app = ak.serve.app(agents=[agent])
    try:
        async with serving(app) as (url, _), aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/agents/payer/runs", json={"input": "pay ACME"}) as r:
                paused = await r.json()
            run, journal_id = paused["id"], paused["result"]["run_id"]
            async with http.delete(f"{url}/v1/runs/{run}") as r:
                gone = await r.json()
                assert r.status == 200, gone
            assert gone["status"] == "cancelled" and gone["pending"] is None
            assert gone["error"]["type"] == "cancelled"
            async with http.get(f"{url}/v1/runs/{run}") as r:
                assert (await r.json())["status"] == "cancelled"
            [req] = paused["pending"]
            async with http.post(f"{url}/v1/runs/{run}/resume", json={"approvals": {req["id"]: True}}) as r:
                err = await r.json()
                assert r.status == 409 and "cancelled" in err["error"]["message"], err
            async with http.delete(f"{url}/v1/runs/{run}") as r:
                assert r.status == 409
        # The journal says so too: the agent itself refuses to resume it, in this process or another.
        with pytest.raises(ak.durable.RunFinishedError, match="was cancelled"):
            await agent.resume(journal_id, approvals={req["id"]: True})
        assert [i.status for i in await agent.runs()] == ["cancelled"] and paid == []
        assert [i.run_id for i in await agent.runs(status="cancelled")] == [journal_id]
    finally:
        await store.aclose()
    loop_watchdog.check()


async def test_a_paused_run_from_a_restarted_servers_store_is_cancelled_too(tmp_path: Path) -> None:
    paid: list[int] = []
    paused = await _paused_on_a_first_server(tmp_path, paid)
    journals = ak.stores.SQLite(tmp_path / "runs.db")
    records = ak.stores.SQLite(tmp_path / "serve.db")
    try:
        agent = _payer(journals, paid)
        async with serving(ak.serve.app(agents=[agent], store=records)) as (url, _):
            async with aiohttp.ClientSession() as http:
                async with http.delete(f"{url}/v1/runs/{paused['id']}") as r:
                    assert r.status == 200 and (await r.json())["status"] == "cancelled"
                async with http.get(f"{url}/v1/runs/{paused['id']}") as r:
                    assert (await r.json())["status"] == "cancelled"
        assert [i.status for i in await agent.runs()] == ["cancelled"]
    finally:
        await journals.aclose()
        await records.aclose()


async def _resume_over_http(url: str, info: dict[str, Any], answer: bool = True) -> dict[str, Any]:
    [req] = info["pending"]
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/v1/runs/{info['run_id']}/resume", json={"approvals": {req["id"]: answer}}) as r,
    ):
        done: dict[str, Any] = await r.json()
        assert r.status == 200, done
    return done


async def test_chat_completions_reports_a_paused_run_and_it_resumes(tmp_path: Path, loop_watchdog: Watchdog) -> None:
    paid: list[int] = []
    store = ak.stores.SQLite(tmp_path / "runs.db")
    app = ak.serve.app(agents=[_payer(store, paid)])
    try:
        async with serving(app) as (url, _), client(url) as oa:
            raw = await oa.chat.completions.with_raw_response.create(
                model="payer", messages=[{"role": "user", "content": "pay ACME"}]
            )
            out = raw.parse()
            [choice] = out.choices
            assert choice.finish_reason == "requires_action"
            info: dict[str, Any] = (out.model_extra or {})["agentickit_run"]
            assert info["status"] == "paused" and info["pending"][0]["tool"] == "pay"
            assert raw.headers["x-run-id"] == info["run_id"] and raw.headers["x-run-status"] == "paused"
            assert (
                choice.message.content
                and info["run_id"] in choice.message.content
                and "resume" in choice.message.content
            )
            assert paid == []
            done = await _resume_over_http(url, info)
            assert done["status"] == "completed" and done["result"]["content"] == "answer: paid 500"

            stream = await oa.chat.completions.create(
                model="payer", messages=[{"role": "user", "content": "pay again"}], stream=True
            )
            chunks = [c async for c in stream]
            last = [c for c in chunks if c.choices][-1]
            assert last.choices[0].finish_reason == "requires_action"
            info = (last.model_extra or {})["agentickit_run"]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert info["run_id"] in text
            done = await _resume_over_http(url, info, answer=False)
            assert done["result"]["content"].startswith("answer: Denied") and paid == [500]
    finally:
        await store.aclose()
    loop_watchdog.check()


async def test_responses_report_a_paused_run_as_incomplete_with_approval_requests(
    tmp_path: Path, loop_watchdog: Watchdog
) -> None:
    paid: list[int] = []
    store = ak.stores.SQLite(tmp_path / "runs.db")
    app = ak.serve.app(agents=[_payer(store, paid)])
    try:
        async with serving(app) as (url, _), client(url) as oa:
            resp = await oa.responses.create(model="payer", input="pay ACME")
            assert resp.status == "incomplete" and resp.incomplete_details is not None
            assert resp.incomplete_details.reason == "requires_action"
            [item] = [i for i in resp.output if i.type == "mcp_approval_request"]
            assert item.name == "pay" and item.arguments == '{"amount":500}'
            info: dict[str, Any] = (resp.model_extra or {})["agentickit_run"]
            assert item.id == info["pending"][0]["id"]
            assert (await _resume_over_http(url, info))["result"]["content"] == "answer: paid 500"

            events = [e async for e in await oa.responses.create(model="payer", input="pay", stream=True)]
            last = events[-1]
            assert isinstance(last, ResponseIncompleteEvent)
            final = last.response
            assert final.status == "incomplete"
            added = [e.item for e in events if isinstance(e, ResponseOutputItemAddedEvent)]
            assert [i.type for i in added][-1] == "mcp_approval_request"
            info = (final.model_extra or {})["agentickit_run"]
            assert (await _resume_over_http(url, info))["status"] == "completed"
    finally:
        await store.aclose()
    assert paid == [500, 500]
    loop_watchdog.check()


async def test_mcp_reports_a_paused_run_as_an_error_result_naming_it(tmp_path: Path) -> None:
    paid: list[int] = []
    store = ak.stores.SQLite(tmp_path / "runs.db")
    app = ak.serve.app(agents=[_payer(store, paid)])
    try:
        async with serving(app) as (url, _):
            async with asyncio.timeout(30), mcp_client(url) as mcp:
                out = await mcp.call_tool("payer", {"input": "pay ACME"})
            assert out.is_error
            text = text_of(out)
            assert "paused" in text and "/resume" in text
            found = re.search(r"POST /v1/runs/(\S+)/resume", text)
            assert found is not None, text
            run_id = found.group(1)
            async with aiohttp.ClientSession() as http, http.get(f"{url}/v1/runs/{run_id}") as r:
                summary = await r.json()
            assert summary["status"] == "paused" and paid == []
            info = {"run_id": run_id, "pending": summary["pending"]}
            assert (await _resume_over_http(url, info))["result"]["content"] == "answer: paid 500"
    finally:
        await store.aclose()
