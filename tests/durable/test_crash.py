"""The crash matrix: a 10-step DAG SIGKILLed at every step boundary and inside every tool call, then resumed.

Each time: the resumed output equals an uninterrupted run's, no step the journal had finished runs
again, and every side-effect tool call (idempotency key) takes effect exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

import agentickit as ak
from agentickit.durable import ApprovalError
from agentickit.durable._journal import NS
from agentickit.testing import FunctionModel, SimRequest, SimTurn

from ._crash_worker import STEPS, build, counts

ROOT = Path(__file__).resolve().parents[2]
KILLS = [f"before:{s}" for s in STEPS] + [f"mid:{s}" for s in STEPS]


async def _crash(tmp: Path, kill: str, sem: asyncio.Semaphore) -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    async with sem:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.durable._crash_worker",
            str(tmp / "journal.db"),
            str(tmp / "effects.db"),
            kill,
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, (kill, proc.returncode, out, err.decode()[-2000:])


async def test_crash_matrix(tmp_path: Path) -> None:
    baseline_dir = tmp_path / "baseline"
    baseline_dir.mkdir()
    wf = build(baseline_dir / "journal.db", baseline_dir / "effects.db")
    expected = (await wf.run("start")).content
    assert wf.store is not None
    await wf.store.aclose()
    assert expected.startswith("s9=S9<")

    dirs = {kill: tmp_path / kill.replace(":", "_") for kill in KILLS}
    for d in dirs.values():
        d.mkdir()
    sem = asyncio.Semaphore(4)  # 2 busy cores: a few interpreters at a time
    async with asyncio.timeout(120):
        await asyncio.gather(*(_crash(dirs[kill], kill, sem) for kill in KILLS))

    for kill, d in dirs.items():
        wf = build(d / "journal.db", d / "effects.db")
        store = wf.store
        assert store is not None
        try:
            [info] = await wf.runs()
            assert info.status == "running", kill  # it died mid-run
            finished = {r.data["n"] for r in await store.read(NS, info.run_id) if r.data["k"] == "step"}
            before = counts(d / "effects.db")
            result = await wf.resume(info.run_id)
            assert result.content == expected, kill
            assert [r.status for r in await wf.runs()] == ["finished"]
        finally:
            await store.aclose()
        after = counts(d / "effects.db")
        killed_step = kill.split(":")[1]
        assert killed_step not in finished, kill
        for step in finished:  # zero completed steps re-executed
            assert after["starts"][step] == before["starts"][step] == 1, (kill, step)
        assert set(after["starts"]) == set(STEPS), kill
        # every side effect exactly once, however often a call was repeated to find that out
        assert len(after["effects"]) == len(STEPS) and set(after["effects"].values()) == {1}, kill
        if kill.startswith("mid:"):
            [key] = [k for k in after["executions"] if k.startswith(f"{killed_step}:")]
            assert after["executions"][key] == 2, kill  # run again after the crash, with the same key
        assert all(n <= 2 for n in after["executions"].values()), kill


async def test_pause_approve_finish_in_three_processes(tmp_path: Path) -> None:
    script = tmp_path / "three.py"
    script.write_text(
        """
import asyncio, sys
import agentickit as ak
from agentickit.testing import FunctionModel, call

@ak.tool(requires_approval=True)
def transfer(amount: int) -> str:
    return f"moved {amount}"

def fn(req):
    last = req.messages[-1]
    return f"done: {last.content}" if last.role == "tool" else call("transfer", amount=42)

agent = ak.Agent("bank", FunctionModel(fn), tools=[transfer], durability="step", store=ak.stores.SQLite(sys.argv[1]))

async def main(step):
    if step == "start":
        r = await agent.run("move money")
        print(r.status, r.run_id, r.pending[0].id)
    elif step == "list":
        [info] = await agent.runs(status="paused")
        print(info.run_id, info.pending[0].id, info.pending[0].args["amount"])
    else:
        r = await agent.resume(sys.argv[3], approvals={sys.argv[4]: True})
        print(r.status, r.content)

asyncio.run(main(sys.argv[2]))
"""
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    db = str(tmp_path / "bank.db")

    async def run(*args: str) -> list[str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), db, *args, env=env, stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        return out.decode().split()

    async with asyncio.timeout(60):
        status, run_id, rid = await run("start")
        assert status == "paused"
        assert await run("list") == [run_id, rid, "42"]
        assert await run("finish", run_id, rid) == ["finished", "done:", "moved", "42"]
    store = ak.stores.SQLite(db)
    try:
        info = await store.info(NS, run_id)
        assert info is not None and info.meta["status"] == "finished"
    finally:
        await store.aclose()


async def test_side_effect_without_key_interrupted_is_uncertain(tmp_path: Path) -> None:
    script = tmp_path / "uncertain.py"
    script.write_text(
        """
import asyncio, os, signal, sys
import agentickit as ak
from agentickit.testing import FunctionModel, call

@ak.tool(side_effect=True)
def send(to: str) -> str:
    with open(sys.argv[2], "a") as f:
        f.write(to + "\\n")
    os.kill(os.getpid(), signal.SIGKILL)

def fn(req):
    return call("send", to="ann")

agent = ak.Agent("mailer", FunctionModel(fn), tools=[send], durability="step", store=ak.stores.SQLite(sys.argv[1]))
asyncio.run(agent.run("mail ann"))
"""
    )
    sent = tmp_path / "sent.txt"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for _ in range(2):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(tmp_path / "m.db"), str(sent), env=env
        )
        assert await proc.wait() == -signal.SIGKILL
    assert sent.read_text() == "ann\nann\n"

    sends: list[str] = []

    @ak.tool(side_effect=True)
    def send(to: str) -> str:
        sends.append(to)
        return f"sent to {to}"

    def fn(req: SimRequest) -> str | SimTurn:
        last = req.messages[-1]
        return f"model saw: {last.content}"

    store = ak.stores.SQLite(tmp_path / "m.db")
    agent = ak.Agent("mailer", FunctionModel(fn), tools=[send], store=store)
    try:
        first, second = sorted(await agent.runs(status="running"), key=lambda r: r.created_at)
        for info, answer in ((first, False), (second, True)):
            paused = await agent.resume(info.run_id)  # never re-run blindly: the run asks
            [req] = paused.pending
            assert paused.status == "paused" and req.kind == "uncertain" and req.tool == "send"
            assert req.id.startswith("uncertain:")
            with pytest.raises(ApprovalError, match="must be True, False"):
                await agent.resume(info.run_id, approvals={req.id: ak.Edit(args={"to": "bob"})})
            result = await agent.resume(info.run_id, approvals={req.id: answer})
            assert result.status == "finished"
            if answer:
                assert result.content == "model saw: sent to ann"
            else:
                assert result.content.startswith("model saw: Unknown outcome")
        assert sends == ["ann"]  # only the one a person chose to retry
    finally:
        await store.aclose()
