"""Durable agent runs: journal, resume, approvals, idempotency keys, bad input, on every store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

import agentickit as ak
from agentickit.durable import ApprovalError, JournalMismatchError, RunFinishedError, RunNotFoundError
from agentickit.durable._journal import NS
from agentickit.errors import RunTimeoutError
from agentickit.stores import Store
from agentickit.testing import FunctionModel, SimRequest, SimTurn, call


def _tool_then_answer(tool: str, **args: Any) -> FunctionModel:
    """A model that calls `tool` once, then answers with what the tool said."""

    def fn(req: SimRequest) -> str | SimTurn:
        last = req.messages[-1]
        if last.role == "tool":
            return f"answer: {last.content}"
        return call(tool, **args)

    return FunctionModel(fn)


async def test_step_journal_replays_model_and_tools_after_a_failure(store: Store) -> None:
    ran: list[int] = []
    asked: list[int] = []

    @ak.tool
    def add(a: int, b: int) -> int:
        ran.append(a + b)
        return a + b

    fail = [True]

    def fn(req: SimRequest) -> str | SimTurn:
        asked.append(len(req.messages))
        tools_done = sum(1 for m in req.messages if m.role == "tool")
        if tools_done == 2 and fail[0]:
            fail[0] = False
            raise RuntimeError("the model's host fell over")
        if tools_done < 3:
            return call("add", a=tools_done, b=1)
        return "sum done"

    agent = ak.Agent("calc", FunctionModel(fn), tools=[add], durability="step", store=store)
    with pytest.raises(RuntimeError):
        await agent.run("go")
    [failed] = await agent.runs(status="failed")
    assert "fell over" in (failed.error or "")
    assert ran == [1, 2]
    asked.clear()
    result = await agent.resume(failed.run_id)
    assert result.content == "sum done" and result.status == "finished"
    assert result.run_id == failed.run_id
    assert ran == [1, 2, 3]  # the two recorded tool results were replayed, not run again
    assert len(asked) == 2  # only the request that failed and the one after it reached the model
    assert [r.status for r in await agent.runs()] == ["finished"]
    assert [c.result for c in result.tool_calls] == [1, 2, 3]
    with pytest.raises(RunFinishedError, match=failed.run_id):
        await agent.resume(failed.run_id)


async def test_approval_pause_approve_edit_deny(store: Store) -> None:
    paid: list[int] = []

    @ak.tool(requires_approval=lambda args: args["amount"] > 100)
    def pay(amount: int) -> str:
        paid.append(amount)
        return f"paid {amount}"

    def agent_for(amount: int) -> ak.Agent:
        return ak.Agent("payer", _tool_then_answer("pay", amount=amount), tools=[pay], store=store)

    small = await agent_for(5).run("pay a little")  # the predicate says no approval needed
    assert small.status == "finished" and paid == [5]

    agent = agent_for(500)
    paused = await agent.run("pay a lot")
    assert paused.status == "paused" and paid == [5]
    [req] = paused.pending
    assert (req.tool, req.args, req.kind) == ("pay", {"amount": 500}, "approval")
    assert [r.run_id for r in await agent.runs(status="paused")] == [paused.run_id]

    done = await agent.resume(paused.run_id, approvals={req.id: ak.Edit(args={"amount": 150})})
    assert done.content == "answer: paid 150" and paid == [5, 150]

    denied = await agent.run("pay a lot again")
    result = await agent.resume(denied.run_id, approvals={denied.pending[0].id: False})
    assert paid == [5, 150]
    assert result.content.startswith("answer: Denied")  # the model read the denial
    assert result.tool_calls[0].error is not None


async def test_stream_emits_approval_required_then_one_done(store: Store) -> None:
    @ak.tool(requires_approval=True)
    def wire(to: str) -> str:
        return f"sent to {to}"

    agent = ak.Agent("wirer", _tool_then_answer("wire", to="bob"), tools=[wire], store=store, durability="step")
    chunks = [c async for c in agent.run_stream("send")]
    kinds = [c.type for c in chunks]
    assert kinds.count(ak.ChunkType.APPROVAL_REQUIRED) == 1
    assert kinds[-1] is ak.ChunkType.DONE and kinds.count(ak.ChunkType.DONE) == 1
    approval = next(c for c in chunks if c.type is ak.ChunkType.APPROVAL_REQUIRED)
    assert approval.metadata is not None
    run_id = approval.metadata["run_id"]
    rid = approval.metadata["pending"][0]["id"]
    stream = agent.resume_stream(run_id, approvals={rid: True})
    text = [c async for c in stream]
    assert text[-1].type is ak.ChunkType.DONE
    assert (await stream.wait()).content == "answer: sent to bob"


async def test_bad_input_names_the_id(store: Store) -> None:
    @ak.tool(requires_approval=True)
    def act() -> str:
        return "done"

    agent = ak.Agent("bad", _tool_then_answer("act"), tools=[act], store=store)
    with pytest.raises(RunNotFoundError, match="run_missing"):
        await agent.resume("run_missing")
    paused = await agent.run("act")
    with pytest.raises(ApprovalError, match="'nope'.*not pending"):
        await agent.resume(paused.run_id, approvals={"nope": True})
    with pytest.raises(ApprovalError, match="must be True, False or ak.Edit"):
        await agent.resume(paused.run_id, approvals={paused.pending[0].id: "yes"})
    other = ak.Agent("other", _tool_then_answer("act"), tools=[act], store=store)
    with pytest.raises(JournalMismatchError, match="belongs to agent 'bad'"):
        await other.resume(paused.run_id)
    renamed = ak.Agent("bad", _tool_then_answer("act"), tools=[ak.Tool(act.function, name="act2")], store=store)
    with pytest.raises(JournalMismatchError, match="missing: \\['act'\\]"):
        await renamed.resume(paused.run_id)
    with pytest.raises(ak.errors.UserError, match="durability"):
        ak.Agent("x", durability="always")  # type: ignore[arg-type]


async def test_idempotency_key_reaches_the_tool(tmp_path: Path) -> None:
    seen: list[ak.ToolCallContext | None] = []

    @ak.tool(idempotency_key=lambda args: f"mail:{args['to']}")
    async def mail(to: str) -> str:
        seen.append(ak.current_tool_call())
        return "sent"

    assert mail.side_effect
    for durability in ("off", "step"):
        agent = ak.Agent("mailer", _tool_then_answer("mail", to="ann"), tools=[mail], durability=durability)
        await agent.run("mail ann")
    assert [c.idempotency_key if c else None for c in seen] == ["mail:ann", "mail:ann"]
    assert seen[0] is not None and seen[0].run_id is None
    assert seen[1] is not None and seen[1].run_id is not None and not seen[1].resumed


async def test_exit_writes_the_journal_only_when_the_run_ends(store: Store) -> None:
    during: list[object] = []

    @ak.tool
    async def look() -> str:
        run_id = await agent.runs()  # nothing is written while the run is going
        during.append(run_id)
        return "seen"

    agent = ak.Agent("exiter", _tool_then_answer("look"), tools=[look], durability="exit", store=store)
    result = await agent.run("look")
    assert during == [[]]
    [info] = await agent.runs()
    assert info.status == "finished" and info.run_id == result.run_id
    assert len(await store.read(NS, result.run_id)) == 4  # start, model, tool end, model


async def test_timeout_and_cancel_leave_the_run_resumable(store: Store) -> None:
    calls: list[str] = []
    slow = [True]
    stuck = asyncio.Event()

    @ak.tool
    async def fetch(what: str) -> str:
        calls.append(what)
        if what == "second" and slow[0]:
            slow[0] = False
            stuck.set()
            await asyncio.sleep(30)
        return f"got {what}"

    def fn(req: SimRequest) -> str | SimTurn:
        done = [m for m in req.messages if m.role == "tool"]
        if not done:
            return call("fetch", what="first")
        if len(done) == 1:
            return call("fetch", what="second")
        return " / ".join(m.content or "" for m in done)

    agent = ak.Agent("fetcher", FunctionModel(fn), tools=[fetch], durability="step", store=store)
    with pytest.raises(RunTimeoutError):
        await agent.run("fetch", timeout=0.5)
    [failed] = await agent.runs(status="failed")
    result = await agent.resume(failed.run_id)
    assert result.content == "got first / got second"
    assert calls == ["first", "second", "second"]  # the interrupted (pure) call ran again; the first did not

    # cancelled from outside: the same
    calls.clear()
    slow[0] = True
    stuck.clear()
    task = asyncio.ensure_future(agent.run("fetch"))
    async with asyncio.timeout(5):
        await stuck.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [cancelled] = await agent.runs(status="failed")
    assert "CancelledError" in (cancelled.error or "")
    assert (await agent.resume(cancelled.run_id)).content == "got first / got second"
    assert calls == ["first", "second", "second"]


async def test_journal_grows_linearly(tmp_path: Path) -> None:
    store = ak.stores.SQLite(tmp_path / "j.db")

    @ak.tool
    def step(i: int) -> str:
        return f"ok {i}"

    def model(n: int) -> FunctionModel:
        def fn(req: SimRequest) -> str | SimTurn:
            done = sum(1 for m in req.messages if m.role == "tool")
            return call("step", i=done) if done < n else "finished"

        return FunctionModel(fn)

    async def journal_bytes(n: int) -> int:
        agent = ak.Agent("loop", model(n), tools=[step], durability="step", store=store)
        result = await agent.run("go", max_tool_rounds=n + 1)
        records = await store.read(NS, result.run_id)
        return sum(len(orjson.dumps(r.data)) for r in records)

    try:
        small, large = await journal_bytes(100), await journal_bytes(1000)
    finally:
        await store.aclose()
    per_step = large / 1000
    print(f"journal: {per_step:.0f} bytes per tool round")
    assert per_step < 250, f"{per_step:.0f} bytes per step"
    # O(steps), not O(steps^2): ten times the steps, about ten times the bytes
    assert 8 < large / small < 12, (small, large)


async def test_the_run_option_and_the_builder_set_durability(store: Store) -> None:
    @ak.tool
    async def look() -> str:
        return "seen"

    agent = ak.Agent("opt", _tool_then_answer("look"), tools=[look], store=store)
    await agent.run("look")
    assert await agent.runs() == []  # off by default: nothing journaled
    result = await agent.run("look", durability="step")
    [info] = await agent.runs()
    assert info.run_id == result.run_id and info.status == "finished"

    built = ak.Agent.builder("built").with_llm(_tool_then_answer("look")).with_tools(look)
    agent2 = built.with_durability("step", store=store).build()
    result2 = await agent2.run("look")
    assert [i.run_id for i in await agent2.runs()] == [result2.run_id]
