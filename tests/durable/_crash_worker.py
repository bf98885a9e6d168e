"""The crash matrix's workflow: a 10-step DAG of agent steps, each calling a side-effect tool.

Run as a script (`python -m tests.durable._crash_worker JOURNAL EFFECTS KILL`) it runs the workflow
durably and SIGKILLs itself at the point KILL names: `before:sN` (the step boundary before step N:
its first model request) or `mid:sN` (inside step N's tool call, after the effect was committed and
before the call returned, so the journal has its start and not its end). The test resumes the run
in its own process with `build()` and checks the counts the tools wrote to the EFFECTS SQLite file.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import agentickit as ak
from agentickit.testing import FunctionModel, SimRequest, SimTurn, call

STEPS = [f"s{i}" for i in range(10)]
DEPS: dict[str, list[str]] = {
    "s0": [],
    "s1": ["s0"],
    "s2": ["s0"],
    "s3": ["s1", "s2"],
    "s4": ["s3"],
    "s5": ["s4"],
    "s6": ["s4"],
    "s7": ["s5", "s6"],
    "s8": ["s7"],
    "s9": ["s8"],
}


def _db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, value TEXT, pid INT)")
    conn.execute("CREATE TABLE IF NOT EXISTS starts (step TEXT, pid INT)")
    conn.execute("CREATE TABLE IF NOT EXISTS executions (key TEXT, pid INT)")
    return conn


def build(journal: Path, effects: Path, kill: str = "") -> ak.DAGWorkflow:
    """The workflow, on a SQLite journal; `kill` as described in the module docstring."""

    def effect(step: str, value: str) -> str:
        key = ak.current_tool_call()
        assert key is not None and key.idempotency_key is not None
        conn = _db(effects)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO executions VALUES (?, ?)", (key.idempotency_key, os.getpid()))
            row = conn.execute("SELECT value FROM effects WHERE key = ?", (key.idempotency_key,)).fetchone()
            if row is None:  # the effect, recorded with its key in the same transaction
                conn.execute("INSERT INTO effects VALUES (?, ?, ?)", (key.idempotency_key, value.upper(), os.getpid()))
                row = (value.upper(),)
            conn.execute("COMMIT")
        finally:
            conn.close()
        if kill == f"mid:{step}":
            os.kill(os.getpid(), signal.SIGKILL)
        return str(row[0])

    tool = ak.Tool(effect, side_effect=True, idempotency_key=lambda args: f"{args['step']}:{args['value']}")

    def model_for(step: str) -> FunctionModel:
        def fn(req: SimRequest) -> str | SimTurn:
            last = req.messages[-1]
            if last.role == "tool":
                return f"{step}={last.content}"
            conn = _db(effects)
            try:
                conn.execute("INSERT INTO starts VALUES (?, ?)", (step, os.getpid()))
            finally:
                conn.close()
            if kill == f"before:{step}":
                os.kill(os.getpid(), signal.SIGKILL)
            text = (last.content or "").replace("\n", " ")
            return call("effect", step=step, value=f"{step}<{len(text)}>")

        return FunctionModel(fn)

    wf = ak.DAGWorkflow("crash", durability="step", store=ak.stores.SQLite(journal))
    for step in STEPS:
        agent = ak.Agent(step, model_for(step), tools=[tool], tool_timeout=10)
        wf.add_step(ak.Step(step, agent, depends_on=DEPS[step]))
    return wf


def counts(effects: Path) -> dict[str, Any]:
    """What the tools wrote: starts per step, effects per key, executions per key."""
    conn = _db(effects)
    try:
        starts: dict[str, int] = dict(conn.execute("SELECT step, COUNT(*) FROM starts GROUP BY step").fetchall())
        effects_n = dict(conn.execute("SELECT key, COUNT(*) FROM effects GROUP BY key").fetchall())
        executions = dict(conn.execute("SELECT key, COUNT(*) FROM executions GROUP BY key").fetchall())
    finally:
        conn.close()
    return {"starts": starts, "effects": effects_n, "executions": executions}


async def main(journal: str, effects: str, kill: str) -> None:
    wf = build(Path(journal), Path(effects), kill)
    result = await wf.run("start")
    print(result.run_id, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
