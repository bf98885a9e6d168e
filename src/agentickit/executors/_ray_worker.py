"""The Ray actor behind `RayExecutor`: one warm copy of the runnable per actor, chunks in, results streamed out.

Imported only inside Ray worker processes and by `RayExecutor` once Ray is in use, never by `import agentickit`.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import pickle
import sys
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ..errors import RunError
from ._ship import dumps

__all__ = ("ChunkItem", "Outcome", "Worker")

ChunkItem = tuple[int, str]
"""(input index, input text)."""
Outcome = tuple[int, Any, "BaseException | None", float]
"""(input index, result or None, error or None, seconds the item took)."""


def _portable(exc: BaseException) -> BaseException:
    """The error itself if it survives pickling, else a `RunError` that keeps its type and message."""
    try:
        pickle.loads(dumps(exc))
    except Exception:
        return RunError(f"{type(exc).__name__}: {exc}")
    return exc


class Worker:
    """Keeps one unpickled runnable (its HTTP pools and MCP sessions stay open) and runs chunks of inputs."""

    def __init__(self, payload: bytes, sys_path: Sequence[str]) -> None:
        # Tools defined in the driver's own modules (tests, scripts) are pickled by reference: make the
        # driver's import path visible here so they resolve. Paths that do not exist here are skipped.
        for entry in sys_path:
            if entry and entry not in sys.path and os.path.isdir(entry):
                sys.path.append(entry)
        self.target: Any = pickle.loads(payload)
        self._call_run = inspect.iscoroutinefunction(getattr(self.target, "run", None))
        self.active = 0
        # One limit per batch, shared by the chunks of that batch that this actor runs at once.
        self._limits: dict[str, list[Any]] = {}

    def ready(self) -> tuple[int, str]:
        """The worker's PID and node IP, once the runnable is loaded."""
        import ray

        util: Any = ray.util
        return os.getpid(), str(util.get_node_ip_address())

    def running(self) -> int:
        """How many items are running now (tests use it to see that a cancel reached the actor)."""
        return self.active

    async def _call(self, text: str, options: Any) -> Any:
        target = self.target
        if self._call_run:
            return await (target.run(text) if options is None else target.run(text, options=options))
        value = await asyncio.to_thread(target, text)
        if inspect.isawaitable(value):
            value = await value
        return value

    async def run_one(self, text: str, options: Any) -> Any:
        """Run a single input and return its result (a workflow step placed on the cluster)."""
        self.active += 1
        try:
            return await self._call(text, options)
        finally:
            self.active -= 1

    async def run_chunk(
        self, batch_id: str, limit: int, chunk: list[ChunkItem], options: Any
    ) -> AsyncIterator[list[Outcome]]:
        """Run a chunk, at most `limit` items of this batch at once on this actor, yielding finished items.

        Each yield carries every item that finished since the last one, so the per-object cost of Ray
        is paid per group of items, and an item the driver has seen is never run again if the actor dies.
        """
        entry = self._limits.get(batch_id)
        if entry is None:
            entry = self._limits[batch_id] = [asyncio.Semaphore(limit), 0]
        entry[1] += 1
        sem: asyncio.Semaphore = entry[0]
        finished: asyncio.Queue[Outcome] = asyncio.Queue()

        async def one(index: int, text: str) -> None:
            async with sem:
                self.active += 1
                t0 = time.perf_counter()
                try:
                    outcome: Outcome = (index, await self._call(text, options), None, 0.0)
                except Exception as exc:
                    outcome = (index, None, _portable(exc), 0.0)
                finally:
                    self.active -= 1
                finished.put_nowait((outcome[0], outcome[1], outcome[2], time.perf_counter() - t0))

        try:
            async with asyncio.TaskGroup() as tg:
                for index, text in chunk:
                    tg.create_task(one(index, text))
                remaining = len(chunk)
                while remaining:
                    group = [await finished.get()]
                    while not finished.empty():
                        group.append(finished.get_nowait())
                    remaining -= len(group)
                    yield group
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                self._limits.pop(batch_id, None)
