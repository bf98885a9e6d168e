"""A child process for the multi-process tests: `python -m tests.stores._worker MODE BACKEND TARGET PREFIX ...`.

`burst WORKER N START_AT`: wait for START_AT (a shared wall-clock instant), then append N records
to one session as fast as possible. `forever`: append numbered records until killed, printing each
seq once its append has returned (acknowledged).
"""

from __future__ import annotations

import asyncio
import sys
import time

from agentickit.stores import Store
from agentickit.stores._postgres import Postgres
from agentickit.stores._redis import Redis
from agentickit.stores._sqlite import SQLite


def open_store(backend: str, target: str, prefix: str) -> Store:
    if backend == "sqlite":
        return SQLite(target, prefix=prefix)
    if backend == "postgres":
        return Postgres(target, prefix=prefix, pool=2)
    return Redis(target, prefix=prefix)


async def burst(store: Store, worker: int, n: int, start_at: float) -> None:
    await store.info("session", "shared")  # connect and migrate before the start line
    await asyncio.sleep(max(0.0, start_at - time.time()))
    for i in range(n):
        await store.append("session", "shared", [{"worker": worker, "i": i}])
        # A pause between appends (as between an agent's turns), so the four processes' appends
        # interleave instead of one process finishing its 25 within the others' start-up jitter.
        await asyncio.sleep(0.002)


async def forever(store: Store) -> None:
    i = 0
    while True:
        seq = await store.append("session", "killed", [{"i": i, "text": f"message {i} " * 20}])
        print(seq, flush=True)
        i += 1


async def main() -> None:
    mode, backend, target, prefix = sys.argv[1:5]
    store = open_store(backend, target, prefix)
    try:
        if mode == "burst":
            await burst(store, int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]))
        else:
            await forever(store)
    finally:
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main())
