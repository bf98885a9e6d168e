"""Durable runs: what the journal costs per step (SQLite, local PostgreSQL), beside LangGraph's checkpointer.

The same 5-step graph both ways: each step appends 20 characters to the text it is given, so the work
is nil and what is measured is the framework plus its persistence. Per-step overhead is
(p50 of a durable run - p50 of the same run without persistence) / 5, timed in alternation.
Bytes stored are the growth of the SQLite file (WAL checkpointed) over the runs, per run.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from ._util import QUICK, Budget, Row, Stat, interleaved

US = 1e6
STEPS = 5
PG_DSN = os.environ.get("AGENTICKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _file_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def _workflow(store: Any, durability: str) -> Any:
    import agentickit as ak

    wf = ak.SequentialWorkflow(f"bench-{durability}", durability=durability, store=store)  # type: ignore[arg-type]
    for i in range(STEPS):
        wf.add_step(f"s{i}", lambda text: text + "x" * 20)
    return wf


async def _ours(store: Any, runs: int) -> tuple[Stat, Stat]:
    plain = _workflow(None, "off")
    durable = _workflow(store, "step")
    st = await interleaved(
        {"off": lambda: plain.run("go"), "step": lambda: durable.run("go")}, number=1, repeats=runs, warmup=10
    )
    return st["off"], st["step"]


def _langgraph(db: Path, runs: int) -> tuple[Stat, Stat, float] | None:
    try:
        from langgraph.checkpoint.sqlite import SqliteSaver  # pyright: ignore[reportMissingImports]
        from langgraph.graph import END, START, StateGraph  # pyright: ignore[reportMissingImports]
    except ImportError:
        return None
    from typing import TypedDict

    class State(TypedDict):
        text: str

    def node(state: State) -> dict[str, str]:
        return {"text": state["text"] + "x" * 20}

    builder: Any = StateGraph(State)  # pyright: ignore[reportUnknownVariableType]
    for i in range(STEPS):
        builder.add_node(f"s{i}", node)
    builder.add_edge(START, "s0")
    for i in range(1, STEPS):
        builder.add_edge(f"s{i - 1}", f"s{i}")
    builder.add_edge(f"s{STEPS - 1}", END)
    conn = sqlite3.connect(db, check_same_thread=False)
    try:
        saver: Any = SqliteSaver(conn)
        saver.setup()
        plain: Any = builder.compile()
        durable: Any = builder.compile(checkpointer=saver)
        for i in range(10):
            plain.invoke({"text": "go"})
            durable.invoke({"text": "go"}, {"configurable": {"thread_id": f"warm{i}"}})
        conn.commit()
        before = _file_bytes(db)
        off: list[float] = []
        on: list[float] = []
        for i in range(runs):
            t0 = time.perf_counter()
            plain.invoke({"text": "go"})
            off.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            durable.invoke({"text": "go"}, {"configurable": {"thread_id": f"t{i}"}})
            on.append(time.perf_counter() - t0)
        conn.commit()
        per_run = (_file_bytes(db) - before) / runs
    finally:
        conn.close()
    return Stat.of(off), Stat.of(on), per_run


def _row(id: str, title: str, off: Stat, on: Stat, limit: float | None, note: str, **extra: Any) -> Row:
    per_step = (on.median - off.median) / STEPS * 1e3
    row = Row(
        id=id,
        group="durable",
        title=title,
        value=per_step,
        min=(on.min - off.median) / STEPS * 1e3,
        max=(on.max - off.median) / STEPS * 1e3,
        n=on.n,
        unit="ms",
        baseline={"name": "the same run without persistence", "value": off.median * 1e3, "unit": "ms/run"},
        note=note,
        extra=extra,
    )
    return row.judge(Budget("<=", limit, f"<= {limit} ms per step p50") if limit is not None else None)


async def journal() -> list[Row]:
    """`durable.journal`: journal overhead per step on SQLite and PostgreSQL, and LangGraph's SQLite checkpointer."""
    import agentickit as ak
    from agentickit.durable._journal import NS

    runs = 40 if QUICK else 300
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "journal.db"
        store = ak.stores.SQLite(db)
        try:
            await _workflow(store, "step").run("warm")
            before = _file_bytes(db)
            off, on = await _ours(store, runs)
            # `interleaved` also ran 10 warm-up durable runs: count them in the bytes
            per_run = (_file_bytes(db) - before) / (runs + 10)
            sample = (await store.list(NS, limit=1)).items[0]
            record_bytes = sum(len(r.data.__repr__()) for r in await store.read(NS, sample.id))
        finally:
            await store.aclose()
        rows.append(
            _row(
                "durable.journal_sqlite_per_step",
                "Journal overhead per step, SQLite (durability='step')",
                off,
                on,
                0.5,
                f"5-step workflow, one append per step output + start and status; {per_run:.0f} bytes on disk per run",
                bytes_per_run=per_run,
                record_chars_per_run=record_bytes,
            )
        )
        lg = _langgraph(Path(tmp) / "langgraph.db", runs)
        if lg is None:
            rows.append(
                Row(
                    id="durable.langgraph_sqlite_per_step",
                    group="durable",
                    title="LangGraph SqliteSaver, same 5-step graph",
                    status="unavailable",
                    note="pip install 'agentickit[bench]' (langgraph, langgraph-checkpoint-sqlite)",
                )
            )
        else:
            lg_off, lg_on, lg_bytes = lg
            rows.append(
                _row(
                    "durable.langgraph_sqlite_per_step",
                    "LangGraph SqliteSaver checkpointer overhead per step, same 5-step graph",
                    lg_off,
                    lg_on,
                    None,
                    f"sync invoke(); {lg_bytes:.0f} bytes on disk per run (agentickit: {per_run:.0f})",
                    bytes_per_run=lg_bytes,
                )
            )
    rows.append(await _postgres(runs))
    return rows


async def _postgres(runs: int) -> Row:
    import agentickit as ak

    try:
        store = ak.stores.Postgres(PG_DSN, prefix=f"bench{os.getpid()}")
        await store.info("probe", "probe")
    except Exception as exc:  # the server is down: report it, do not fail the suite
        return Row(
            id="durable.journal_postgres_per_step",
            group="durable",
            title="Journal overhead per step, PostgreSQL",
            status="unavailable",
            note=f"PostgreSQL not reachable: {type(exc).__name__}",
        )
    try:
        off, on = await _ours(store, runs)
        commit = await _bare_commit(runs)
    finally:
        await store.drop_tables()
        await store.aclose()
    return _row(
        "durable.journal_postgres_per_step",
        "Journal overhead per step, local PostgreSQL (durability='step')",
        off,
        on,
        2.0,
        f"5-step workflow on 127.0.0.1, asyncpg pool; a bare one-row INSERT commit takes {commit * 1e3:.2f} ms p50 "
        "here (synchronous_commit=on: the server's fsync), which bounds any per-step journal from below",
        bare_commit_ms=commit * 1e3,
    )


async def _bare_commit(runs: int) -> float:
    """p50 seconds of committing one tiny row: the floor of a durable append on this server and disk."""
    import asyncpg  # pyright: ignore[reportMissingTypeStubs]

    conn: Any = await asyncpg.connect(PG_DSN)  # pyright: ignore[reportUnknownMemberType]
    table = f"bench_commit_{os.getpid()}"
    try:
        await conn.execute(f"CREATE TABLE {table} (a int)")
        samples: list[float] = []
        for _ in range(min(runs, 100)):
            t0 = time.perf_counter()
            async with conn.transaction():
                await conn.execute(f"INSERT INTO {table} VALUES (1)")
            samples.append(time.perf_counter() - t0)
        return Stat.of(samples).median
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()
