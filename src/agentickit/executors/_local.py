"""`LocalExecutor`: a bounded pool of worker tasks in this event loop."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import UserError
from ._base import BatchItem, BatchResult, BatchRunnable, ProgressCallback

if TYPE_CHECKING:
    from .._result import Result
    from ..options import RunOptions

__all__ = ("LocalExecutor",)


class LocalExecutor:
    """Runs a batch in the current event loop with `concurrency` worker tasks.

    Workers pull the next index from a shared iterator, so memory does not grow with the batch:
    100,000 inputs cost `concurrency` tasks, not 100,000.
    """

    __slots__ = ()

    async def run_batch(
        self,
        runnable: BatchRunnable,
        inputs: Sequence[str],
        *,
        concurrency: int,
        options: RunOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Run every input; a failed item records its error and the others go on."""
        if concurrency < 1:
            raise UserError(f"concurrency must be >= 1, got {concurrency}")
        total = len(inputs)
        items = [BatchItem(index=i, input=q) for i, q in enumerate(inputs)]
        indices = iter(range(total))
        done = 0
        start = time.perf_counter()
        progress_is_async = on_progress is not None and inspect.iscoroutinefunction(on_progress)

        async def worker() -> None:
            nonlocal done
            for i in indices:
                item = items[i]
                t0 = time.perf_counter()
                try:
                    item.result = await runnable.run(item.input, options=options)
                except Exception as exc:
                    item.error = exc
                item.duration = time.perf_counter() - t0
                done += 1
                if on_progress is not None:
                    ret = on_progress(done, total, item)
                    if progress_is_async or ret is not None:
                        await ret  # type: ignore[misc]

        async with asyncio.TaskGroup() as tg:
            for _ in range(min(concurrency, total)):
                tg.create_task(worker())
        return BatchResult(items, time.perf_counter() - start)

    async def run_one(self, runnable: BatchRunnable, query: str, *, options: RunOptions | None = None) -> Result:
        """Run one input here (what `Step(..., executor=LocalExecutor())` calls: the same as no executor)."""
        return await runnable.run(query, options=options)
