"""`POST /v1/runs/{id}/resume`: served durable runs that pause for approval or input, over real HTTP.

The journals and the server's run records are in real SQLite files; the restart test serves the same
files from a second app (as a second process would) and resumes the run the first one paused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

import agentickit as ak
from agentickit.testing import FunctionModel, SimRequest, SimTurn, call
from tests.serve.conftest import Watchdog, serving
from tests.serve.test_native import sse


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


async def test_a_paused_run_resumes_on_a_restarted_server(tmp_path: Path) -> None:
    paid: list[int] = []
    journals = ak.stores.SQLite(tmp_path / "runs.db")
    records = ak.stores.SQLite(tmp_path / "serve.db")
    try:
        async with serving(ak.serve.app(agents=[_payer(journals, paid)], store=records)) as (url, _):
            async with (
                aiohttp.ClientSession() as http,
                http.post(f"{url}/v1/agents/payer/runs", json={"input": "pay"}) as r,
            ):
                paused = await r.json()
        assert paused["status"] == "paused"
    finally:
        await journals.aclose()
        await records.aclose()
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
