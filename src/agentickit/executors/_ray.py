"""`RayExecutor`: `run_batch` and workflow steps on a Ray cluster (extra `agentickit[ray]`).

Ray is imported on first use, never by `import agentickit`. The runnable is pickled once in the driver
(an unpicklable tool fails here, named, before anything is sent), put in the object store once, and
loaded by each async actor, which keeps it warm across chunks and batches. Inputs travel in chunks;
each actor streams finished items back in groups (a Ray streaming generator), so the driver sees each
item as it finishes and, when an actor dies, re-queues only the items it had not seen finish.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from ..errors import RunError, UserError
from ._base import BatchItem, BatchResult, BatchRunnable, ProgressCallback
from ._ship import ship

if TYPE_CHECKING:
    from types import TracebackType

    from ..options import RunOptions
    from ._ray_worker import Outcome

__all__ = ("RayExecutor",)

_INSTALL = 'RayExecutor needs Ray: pip install "agentickit[ray]"'


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - the test environment installs the extra
        raise UserError(_INSTALL) from exc
    return ray


class RayExecutor:
    """Runs batches (and workflow steps) on Ray actors, each holding a warm copy of the agent or workflow.

    ```python
    async with ak.executors.RayExecutor(num_actors=4) as ray_exec:
        results = await agent.run_batch(queries, concurrency=256, executor=ray_exec)
    ```

    Args:
        address: `None` starts a private single-node Ray instance in this process (or uses the one
            `ray.init()` already started here); `"auto"` joins the cluster running on this machine;
            `"ray://host:10001"` connects through Ray Client.
        num_actors: how many actors (default: the cluster's CPUs divided by `num_cpus_per_actor`).
        concurrency_per_actor: at most this many items at once on one actor. The batch's own
            `concurrency` still caps the whole batch: each actor runs at most
            `ceil(concurrency / num_actors)` items, and at most `concurrency_per_actor` if set.
        chunk_size: inputs sent to an actor per call (amortises Ray's per-call cost, ~0.2 ms).
        num_cpus_per_actor: Ray CPUs each actor reserves (fractions allowed; placement follows it).
        init_options: extra keyword arguments for `ray.init` when this executor starts Ray.
        start_timeout: seconds the actors may take to start (placement included) before `RunError`.

    Raises:
        UserError: a bad count or size.

    """

    __slots__ = (
        "_actors",
        "_owns_ray",
        "_payload",
        "_pool_lock",
        "address",
        "chunk_size",
        "concurrency_per_actor",
        "init_options",
        "num_actors",
        "num_cpus_per_actor",
        "start_timeout",
    )

    def __init__(
        self,
        address: str | None = None,
        *,
        num_actors: int | None = None,
        concurrency_per_actor: int | None = None,
        chunk_size: int = 64,
        num_cpus_per_actor: float = 1.0,
        init_options: Mapping[str, Any] | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        if address is not None and address != "auto" and not address.startswith("ray://"):
            raise UserError(f'RayExecutor address must be None, "auto" or "ray://host:port", got {address!r}')
        if num_actors is not None and num_actors < 1:
            raise UserError(f"RayExecutor num_actors must be >= 1, got {num_actors}")
        if concurrency_per_actor is not None and concurrency_per_actor < 1:
            raise UserError(f"RayExecutor concurrency_per_actor must be >= 1, got {concurrency_per_actor}")
        if chunk_size < 1:
            raise UserError(f"RayExecutor chunk_size must be >= 1, got {chunk_size}")
        if num_cpus_per_actor < 0:
            raise UserError(f"RayExecutor num_cpus_per_actor must be >= 0, got {num_cpus_per_actor}")
        self.address = address
        self.num_actors = num_actors
        self.concurrency_per_actor = concurrency_per_actor
        self.chunk_size = chunk_size
        self.num_cpus_per_actor = num_cpus_per_actor
        if start_timeout <= 0:
            raise UserError(f"RayExecutor start_timeout must be > 0 seconds, got {start_timeout}")
        self.start_timeout = start_timeout
        self.init_options: dict[str, Any] = dict(init_options or {})
        self._actors: list[Any] = []
        self._payload: bytes | None = None
        self._owns_ray = False
        self._pool_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, num_actors={self.num_actors}, "
            f"concurrency_per_actor={self.concurrency_per_actor}, chunk_size={self.chunk_size})"
        )

    # -- cluster and actors -------------------------------------------------------------------------

    def _connect(self) -> None:
        ray = _ray()
        if ray.is_initialized():
            return
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        kwargs.update(self.init_options)
        ray.init(address=self.address or "local", **kwargs)
        self._owns_ray = True

    @property
    def actors(self) -> list[Any]:
        """The live actor handles (for inspection; `ray.kill` one to see its items move elsewhere)."""
        return list(self._actors)

    async def _pool(self, runnable: Any) -> list[Any]:
        payload = ship(runnable)  # before Ray starts: an unpicklable agent sends nothing
        loop = asyncio.get_running_loop()
        if self._pool_lock is None or self._pool_lock[0] is not loop:
            # A lock belongs to one loop; an executor may outlive it (asyncio.run per script section, tests).
            self._pool_lock = (loop, asyncio.Lock())
        async with self._pool_lock[1]:
            # ray.init takes seconds (more under load): never on the event loop.
            await asyncio.to_thread(self._connect)
            ray = _ray()
            if payload != self._payload:
                self._kill_actors()
                self._payload = payload
            want = self.num_actors
            if want is None:
                cpus = float(ray.cluster_resources().get("CPU", 1.0))
                want = max(1, int(cpus // self.num_cpus_per_actor)) if self.num_cpus_per_actor else max(1, int(cpus))
            if len(self._actors) < want:
                from ._ray_worker import Worker

                ref = ray.put(payload)  # stored once; every actor reads the same object
                cls = ray.remote(Worker).options(
                    num_cpus=self.num_cpus_per_actor, max_restarts=0, max_concurrency=10_000
                )
                new = [cls.remote(ref, list(sys.path)) for _ in range(want - len(self._actors))]
                try:
                    async with asyncio.timeout(self.start_timeout):
                        await asyncio.gather(*(a.ready.remote() for a in new))
                except TimeoutError:
                    for actor in new:
                        ray.kill(actor, no_restart=True)
                    raise RunError(
                        f"{len(new)} Ray actors ({self.num_cpus_per_actor} CPU each) did not start within "
                        f"{self.start_timeout}s; free now: {ray.available_resources()}. Lower num_actors or "
                        "num_cpus_per_actor, or add nodes"
                    ) from None
                self._actors.extend(new)
            return list(self._actors)

    def _kill_actors(self) -> None:
        if not self._actors:
            return
        ray = _ray()
        actors, self._actors = self._actors, []
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # an actor already gone is what we wanted
                pass

    def _drop(self, actor: Any) -> None:
        if actor in self._actors:
            self._actors.remove(actor)

    async def aclose(self) -> None:
        """Kill this executor's actors, and stop Ray if this executor started it. Idempotent."""
        if not self._actors and not self._owns_ray:
            return
        self._kill_actors()
        self._payload = None
        if self._owns_ray:
            self._owns_ray = False
            await asyncio.to_thread(_ray().shutdown)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- batches ------------------------------------------------------------------------------------

    async def run_batch(
        self,
        runnable: BatchRunnable,
        inputs: Sequence[str],
        *,
        concurrency: int,
        options: RunOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Run every input on the cluster; a failed item records its error and the others go on.

        Raises:
            UserError: `concurrency` < 1, or the runnable cannot be pickled (the message names the tool).

        """
        start = time.perf_counter()
        items = [BatchItem(index=i, input=q) for i, q in enumerate(inputs)]
        await self._drive(runnable, items, concurrency, options, on_progress, None)
        return BatchResult(items, time.perf_counter() - start)

    async def stream_batch(
        self,
        runnable: BatchRunnable,
        inputs: Sequence[str],
        *,
        concurrency: int = 10,
        options: RunOptions | None = None,
        as_completed: bool = False,
    ) -> AsyncIterator[BatchItem]:
        """Yield the batch's items as they are ready: in input order, or as each finishes (`as_completed=True`).

        Leaving the loop early cancels the remote work that is still running.
        """
        items = [BatchItem(index=i, input=q) for i, q in enumerate(inputs)]
        ready: asyncio.Queue[BatchItem | None] = asyncio.Queue()

        async def drive() -> None:
            try:
                await self._drive(runnable, items, concurrency, options, None, ready.put_nowait)
            finally:
                ready.put_nowait(None)

        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(drive())
            try:
                if as_completed:
                    while (item := await ready.get()) is not None:
                        yield item
                else:
                    seen: set[int] = set()
                    nxt = 0
                    while (item := await ready.get()) is not None:
                        seen.add(item.index)
                        while nxt in seen:
                            yield items[nxt]
                            nxt += 1
            finally:
                task.cancel()

    async def _drive(
        self,
        runnable: Any,
        items: list[BatchItem],
        concurrency: int,
        options: RunOptions | None,
        on_progress: ProgressCallback | None,
        on_item: Callable[[BatchItem], None] | None,
    ) -> None:
        if concurrency < 1:
            raise UserError(f"concurrency must be >= 1, got {concurrency}")
        total = len(items)
        actors = await self._pool(runnable)
        if not total:
            return
        ray = _ray()
        per_actor = math.ceil(concurrency / len(actors))
        if self.concurrency_per_actor is not None:
            per_actor = min(per_actor, self.concurrency_per_actor)
        # Small batches spread over every actor instead of filling the first one's chunk.
        chunk = max(1, min(self.chunk_size, math.ceil(total / len(actors))))
        streams = max(2, math.ceil(per_actor / chunk) + 1)  # chunks in flight per actor: no gap between them
        batch_id = uuid.uuid4().hex
        pending: deque[int] = deque(range(total))
        wake = asyncio.Event()
        done = 0
        alive = len(actors)
        last_error: BaseException | None = None
        progress_is_async = on_progress is not None and inspect.iscoroutinefunction(on_progress)

        async def finish(outcomes: list[Outcome], unfinished: set[int]) -> None:
            nonlocal done
            for index, result, error, duration in outcomes:
                if index not in unfinished:
                    continue
                unfinished.discard(index)
                item = items[index]
                item.result, item.error, item.duration = result, error, duration
                done += 1
                if on_item is not None:
                    on_item(item)
                if on_progress is not None:
                    ret = on_progress(done, total, item)
                    if progress_is_async or ret is not None:
                        await ret  # type: ignore[misc]
            if done == total:
                wake.set()

        async def feed(actor: Any) -> bool:
            """Send chunks to `actor` until the batch is done; False if the actor died."""
            nonlocal last_error
            while done < total:
                if not pending:
                    wake.clear()
                    await wake.wait()
                    continue
                take = [pending.popleft() for _ in range(min(chunk, len(pending)))]
                unfinished = set(take)
                gen = actor.run_chunk.remote(batch_id, per_actor, [(i, items[i].input) for i in take], options)
                try:
                    async for ref in gen:
                        await finish(await ref, unfinished)
                except ray.exceptions.RayActorError as exc:
                    # Only what the driver has not seen finish runs again, on the actors still alive.
                    last_error = exc
                    pending.extendleft(sorted(unfinished, reverse=True))
                    wake.set()
                    return False
                except ray.exceptions.RayError as exc:
                    error = RunError(f"the Ray task for items {sorted(unfinished)} failed: {exc}")
                    await finish([(i, None, error, 0.0) for i in sorted(unfinished)], unfinished)
                except BaseException:
                    ray.cancel(gen)  # cancelled here: stop the remote work too
                    raise
            return True

        feeders_left = dict.fromkeys(range(len(actors)), streams)

        async def feed_and_mourn(slot: int) -> None:
            nonlocal alive
            if await feed(actors[slot]):
                return
            feeders_left[slot] -= 1
            if feeders_left[slot]:
                return
            self._drop(actors[slot])
            alive -= 1
            if alive == 0 and done < total:
                lost = sorted(set(pending))
                pending.clear()
                error = RunError(f"every Ray actor died; {len(lost)} items did not run: {last_error}")
                await finish([(i, None, error, 0.0) for i in lost], set(lost))

        async with asyncio.TaskGroup() as tg:
            # Round-robin: the first chunk of every actor goes out before any actor gets its second.
            for _ in range(streams):
                for slot in range(len(actors)):
                    tg.create_task(feed_and_mourn(slot))

    # -- single runs (workflow steps) ---------------------------------------------------------------

    async def run_one(self, runnable: Any, query: str, *, options: RunOptions | None = None) -> Any:
        """Run one input on an actor holding `runnable` (what `Step(..., executor=...)` calls).

        The least busy actor is not tracked: calls rotate over the actors. If the chosen actor dies,
        the call is retried once on another.
        """
        ray = _ray()
        for attempt in range(2):
            actors = await self._pool(runnable)
            actor = actors[hash((query, attempt, time.perf_counter_ns())) % len(actors)]
            ref = actor.run_one.remote(query, options)
            try:
                return await ref
            except ray.exceptions.RayActorError:
                self._drop(actor)
                if attempt:
                    raise
            except BaseException:
                ray.cancel(ref)
                raise
        raise AssertionError("unreachable")  # pragma: no cover
