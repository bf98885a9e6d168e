"""Several processes on one store: no lost appends, one order, no "database is locked"; SIGKILL loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentickit.stores import Store

from ..conftest import require_service
from .conftest import PG_DSN, REDIS_URL, drop, make_store, unique_prefix

ROOT = Path(__file__).resolve().parents[2]
PERSISTENT = ("sqlite", "postgres", "redis")


def _target(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return str(tmp_path / "store.db")
    require_service(backend)
    return PG_DSN if backend == "postgres" else REDIS_URL


def _worker(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.stores._worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("backend", PERSISTENT)
@pytest.mark.timeout(120)
async def test_100_concurrent_appends_from_4_processes(backend: str, tmp_path: Path) -> None:
    prefix = unique_prefix()
    target = _target(backend, tmp_path)
    store: Store = make_store(backend, tmp_path, prefix)
    try:
        await store.info("session", "shared")  # create the schema once, as a deployment would
        start_at = time.time() + 1.5  # every worker starts appending at the same instant
        procs = [_worker("burst", backend, target, prefix, str(w), "25", repr(start_at)) for w in range(4)]
        outs = await asyncio.gather(*(asyncio.to_thread(p.communicate, timeout=90) for p in procs))
        for p, (_, err) in zip(procs, outs, strict=True):
            assert "locked" not in err.lower(), err
            assert p.returncode == 0, err
        records = await store.read("session", "shared")
        # None lost, none doubled, one gap-free order that every reader sees the same way.
        assert [r.seq for r in records] == list(range(100))
        assert sorted((r.data["worker"], r.data["i"]) for r in records) == [(w, i) for w in range(4) for i in range(25)]
        for w in range(4):
            mine = [r.data["i"] for r in records if r.data["worker"] == w]
            assert mine == list(range(25))  # each process's appends in its own order
        assert await store.read("session", "shared") == records
        # The appends really interleaved (the test would prove little if they ran one process at a time).
        switches = sum(records[k].data["worker"] != records[k + 1].data["worker"] for k in range(99))
        assert switches > 3
    finally:
        await drop(store)
        await store.aclose()


@pytest.mark.parametrize("backend", PERSISTENT)
@pytest.mark.timeout(120)
async def test_sigkill_mid_run_loses_nothing_acknowledged(backend: str, tmp_path: Path) -> None:
    prefix = unique_prefix()
    target = _target(backend, tmp_path)
    proc = _worker("forever", backend, target, prefix)
    store: Store = make_store(backend, tmp_path, prefix)
    try:
        assert proc.stdout is not None
        acked: list[int] = []

        def read_some() -> None:
            assert proc.stdout is not None
            while len(acked) < 200:
                line = proc.stdout.readline()
                if not line:
                    break
                acked.append(int(line))

        await asyncio.wait_for(asyncio.to_thread(read_some), timeout=60)
        os.kill(proc.pid, signal.SIGKILL)  # mid-append: it never stops between appends
        await asyncio.to_thread(proc.wait, 10)
        assert proc.returncode == -signal.SIGKILL
        assert acked == list(range(200)), proc.stderr.read() if proc.stderr else ""
        records = await store.read("session", "killed")
        # Everything acknowledged is there, exactly; at most appends in flight at the kill follow.
        assert len(records) >= 200
        assert [r.seq for r in records] == list(range(len(records)))
        assert all(r.data == {"i": r.seq, "text": f"message {r.seq} " * 20} for r in records)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        await drop(store)
        await store.aclose()
