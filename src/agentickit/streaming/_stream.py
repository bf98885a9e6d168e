"""`Stream`: a run's chunks as they are produced, with backpressure, a deadline, and one clean end."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from .._cancel import guarded
from .._threads import run_in_worker
from ..errors import AgentickitError, RunCancelledError, RunTimeoutError, UserError
from ._channel import BatchChannel, Channel, dropped_types, make_channel
from ._chunk import Chunk, ChunkType
from ._options import StreamOptions

__all__ = ("Producer", "Stream")

R = TypeVar("R")

Producer = Callable[[Channel], Awaitable[R]]
"""A coroutine function that sends chunks through the sink it is given and returns the final result."""

_log = logging.getLogger("agentickit.streaming")
_DEFAULT_OPTIONS = StreamOptions()
_DELTA = ChunkType.DELTA
_ERROR = ChunkType.ERROR

# Streams that drive themselves (on_chunk without a reader). The loop keeps only weak references to
# tasks; this set is their owner until they finish.
_SELF_DRIVEN: set[Stream[Any]] = set()


class Stream(Generic[R]):
    """The chunks of one run (or workflow) as they are produced, and its final result.

    ```python
    stream = agent.run_stream("query", buffer_size=100, flush_interval=0.1)
    async for chunk in stream:
        if chunk.type is ak.ChunkType.DELTA:
            print(chunk.delta, end="")
    result = await stream.wait()
    ```

    Consuming it:

    - `async for chunk in stream` (or `async with agent.run_stream(...) as stream:`); a stream is
      iterated once. Breaking out early, or the consuming task being cancelled, cancels the run:
      its task ends and the upstream request is closed.
    - `for chunk in stream` from code without a running event loop: the stream runs on a private
      event loop in the calling thread, a batch of buffered chunks per step; connection pools it
      opened are closed when the iteration ends. Then `wait_sync()` returns the result.
    - `await stream.wait()` returns the result (reading whatever nobody has read), or raises the
      run's typed error (`ProviderError`, `RunTimeoutError`, `RunCancelledError`, ...). Never `None`.
    - `stream.text()` yields only the text, and raises the run's error at the end if it failed.
    - `stream.cancel()` ends the stream now: undelivered chunks are dropped, ERROR(`RunCancelledError`)
      and DONE follow, and the producer task is cancelled, which closes the upstream request.
    - `on_chunk` (see `StreamOptions`) sees every chunk whether or not anyone iterates; without a
      reader the stream drives itself to the end. Returning `False` stops it like `cancel()`.

    Guarantees: exactly one DONE, always last, with one ERROR right before it when the run failed,
    timed out or was cancelled (METADATA, when asked for, comes before both). With `buffer_size=n`
    the producer is never more than `n` chunks ahead of the consumer (`2n` with `on_chunk` or sync
    iteration, which take a batch at a time) and no chunk is dropped.

    The producer contract (for workflows and custom producers): `Stream(producer, options,
    metadata)` where `producer(sink)` is a coroutine function that sends each chunk with
    `w = sink.send(chunk); if w is not None: await w` and returns the final result. The stream
    starts it lazily in a task of its own (on first iteration, `wait()`, or at once when `on_chunk`
    is given and a loop is running), cancels it on `cancel()`, timeout, `aclose()` or an abandoned
    iteration, and appends ERROR and DONE itself; the producer must not send DONE. Chunks are passed
    through unchanged (a `step_name` set by a workflow is kept), except that DELTAs may be joined
    by `flush_interval` (only DELTAs of the same `step_name`).

    Args:
        producer: the coroutine function that runs the work (see above).
        options: buffering, batching, filtering, deadline and callback.
        metadata: what `metadata` starts with, e.g. `{"agent_name": ..., "run_id": ...}`.
        on_sync_close: awaited at the end of a sync iteration on the stream's private loop, to close
            what the run opened on it (an agent's HTTP pool).

    """

    __slots__ = (
        "__weakref__",
        "_ch",
        "_cb_lost",
        "_claimed",
        "_deadline",
        "_driver",
        "_driving",
        "_ended",
        "_error",
        "_expired",
        "_finished",
        "_iterating",
        "_on_sync_close",
        "_options",
        "_producer",
        "_reader",
        "_result",
        "_seed",
        "_started_at",
        "_t0",
        "_task",
    )

    def __init__(
        self,
        producer: Producer[R],
        options: StreamOptions | None = None,
        metadata: Mapping[str, Any] | None = None,
        *,
        on_sync_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        opts = options if options is not None else _DEFAULT_OPTIONS
        self._options = opts
        self._producer = producer
        self._seed = dict(metadata) if metadata else {}
        self._on_sync_close = on_sync_close
        self._ch = make_channel(opts)
        self._task: asyncio.Task[Any] | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._expired = False
        self._driver: asyncio.Task[None] | None = None
        self._driving = False
        self._iterating = False
        self._claimed = False
        self._cb_lost = False
        self._reader: asyncio.Task[Any] | None = None
        self._finished = False
        self._result: R | None = None
        self._error: BaseException | None = None
        self._started_at: float | None = None
        self._t0 = 0.0
        self._ended = 0.0
        if opts.on_chunk is not None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass  # no loop yet: it starts on first iteration or wait()
            else:
                self._start_driver()

    # -- running the producer -----------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._task is None and not self._finished:
            self._started_at = time.time()
            self._t0 = time.perf_counter()
            # The producer's coroutine is the task's own, its end seen by a done-callback: a wrapping
            # coroutine held ~280 bytes per live stream. The timeout is a timer that cancels the task.
            try:
                work = self._producer(self._ch)
            except Exception as exc:
                self._finish(None, exc)
                return
            loop = asyncio.get_running_loop()
            task = self._task = loop.create_task(work if asyncio.iscoroutine(work) else _wait_for(work))
            task.add_done_callback(self._on_task_done)
            timeout = self._options.timeout
            if timeout is not None:
                self._deadline = loop.call_later(timeout, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        task = self._task
        if task is not None and not task.done():
            self._expired = True
            task.cancel()

    def _on_task_done(self, task: asyncio.Task[Any]) -> None:
        deadline = self._deadline
        if deadline is not None:
            self._deadline = None
            deadline.cancel()
        if task.cancelled():
            if self._expired:
                err = self._timed_out()
                err.__cause__ = TimeoutError()
                self._finish(None, err)
            else:
                # cancel() has already ended the stream; anyone else cancelling the task (loop shutdown) ends it here.
                self._finish(None, RunCancelledError("the stream's task was cancelled before the run finished"))
            return
        exc = task.exception()
        if exc is None:
            self._finish(task.result(), None)
        elif isinstance(exc, Exception):
            if self._expired and isinstance(exc, TimeoutError) and not isinstance(exc, AgentickitError):
                err = self._timed_out()
                err.__cause__ = exc
                exc = err
            self._finish(None, exc)
        else:
            self._finish(None, RunCancelledError("the run was interrupted"))

    def _timed_out(self) -> RunTimeoutError:
        return RunTimeoutError(
            f"the stream did not finish within its timeout of {self._options.timeout:g} s; raise `timeout`, "
            "lower `max_tokens`, or read the stream faster (a full buffer pauses the run)"
        )

    def _finish(self, result: R | None, error: BaseException | None, *, flush: bool = True) -> None:
        if self._finished:
            return
        self._finished = True
        self._ended = time.perf_counter()
        self._result = result
        self._error = error
        ch = self._ch
        if flush:
            ch.flush()
        terminal: list[Chunk] = []
        opts = self._options
        if opts.include_metadata and not opts.text_only:
            terminal.append(Chunk(ChunkType.METADATA, metadata=self._summary(result)))
        if error is not None:
            terminal.append(Chunk(_ERROR, error=error))
        terminal.append(Chunk(ChunkType.DONE))
        ch.close(terminal)

    def _summary(self, result: Any) -> dict[str, Any]:
        md = self.metadata
        usage = getattr(result, "usage", None)
        if usage is not None:
            md["usage"] = usage
        return md

    def cancel(self, reason: str = "cancelled by the caller") -> None:
        """End the stream now: ERROR(`RunCancelledError`) and DONE follow, the run's task is cancelled.

        Chunks not yet delivered are dropped, so the next chunk a reader gets is the ERROR. The
        upstream request closes as the task unwinds (await `wait()` or `aclose()` to be sure it has).
        A no-op once the stream has finished. Safe to call from another thread (e.g. while a sync
        iteration runs the stream's loop); it then takes effect on the loop's next turn.
        """
        if self._finished:
            return
        task = self._task
        if task is not None:
            loop = task.get_loop()
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop and loop.is_running():
                loop.call_soon_threadsafe(self.cancel, reason)
                return
        self._ch.discard()
        self._finish(None, RunCancelledError(f"stream cancelled: {reason}"), flush=False)
        task = self._task
        if task is not None:
            task.cancel()

    def _fail(self, error: BaseException) -> None:
        if self._finished:
            return
        self._ch.discard()
        self._finish(None, error, flush=False)
        if self._task is not None:
            self._task.cancel()

    # -- on_chunk -----------------------------------------------------------------------------------

    def _start_driver(self) -> None:
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive_callback())
            _SELF_DRIVEN.add(self)
            self._driver.add_done_callback(lambda _: _SELF_DRIVEN.discard(self))

    async def _drive_callback(self) -> None:
        if self._iterating:
            return  # someone iterates: the callback runs in their path instead
        self._driving = True
        while await self._next_batch():
            pass

    async def _tap(self, batch: list[Chunk]) -> None:
        """Give a batch to `on_chunk`; on `False` or an error, cut the batch there and stop the stream."""
        cb = self._options.on_chunk
        if cb is None:
            return
        finished = self._finished
        if self._cb_lost:
            return  # it outlived the deadline before and was left behind: it gets nothing more
        work: Awaitable[tuple[int, Exception | None]]
        if self._options.on_chunk_is_async:
            # The batch goes to the callback in a task of its own (one per batch, not per chunk),
            # so a callback swallowing CancelledError cannot defeat the stream's timeout or a
            # cancellation of the reader (see agentickit/_cancel.py).
            work = guarded(_call_each_async(cb, batch, finished), "on_chunk callback", self._lose_callback)
        else:
            # A sync callback runs in one of the worker threads sync tools use (agentickit/_threads.py):
            # awaiting it can be given up at the deadline (`asyncio.to_thread` made a callback
            # blocked 8 s per batch hold a 0.3 s stream for 32 s), and nothing waits for it at exit.
            work = run_in_worker(_call_each, {"cb": cb, "batch": batch, "to_the_end": finished})
        timeout = self._options.timeout
        try:
            if timeout is None:
                stop, exc = await work
            else:
                async with asyncio.timeout(max(self._t0 + timeout - time.perf_counter(), 0.0)):
                    stop, exc = await work
        except TimeoutError:
            # The stream's deadline covers the callback too, its last chunks included.
            self._cb_lost = True
            self._fail(RunTimeoutError(f"the stream did not finish within its timeout of {timeout:g} s"))
            return
        except Exception as exc:  # it raised CancelledError or SystemExit itself
            self._fail_at(batch, 0, exc)
            return
        if exc is not None:
            self._fail_at(batch, stop, exc)
        elif stop >= 0 and not finished:
            del batch[stop + 1 :]
            self.cancel("on_chunk returned False")

    def _lose_callback(self) -> None:
        self._cb_lost = True

    def _fail_at(self, batch: list[Chunk], i: int, exc: Exception) -> None:
        del batch[i + 1 :]
        self._fail(exc)

    # -- consuming ----------------------------------------------------------------------------------

    async def _next_batch(self) -> list[Chunk]:
        """Everything buffered (waiting for at least one chunk), after `on_chunk` saw it; [] at the end."""
        ch = self._ch
        while not ch.buf:
            if ch.closed:
                return []
            self._ensure_started()
            await ch.wait_get()
        batch = ch.take_all()
        if self._options.on_chunk is not None:
            await self._tap(batch)
        return batch

    def _claim(self) -> None:
        if self._claimed:
            raise UserError("a stream can be iterated only once; keep the chunks you need, or start another run")
        if self._driving:
            raise UserError(
                "this stream's chunks already went to on_chunk; iterate it right away "
                "(`async for chunk in agent.run_stream(...)`) or use `await stream.wait()`"
            )
        self._claimed = True
        self._iterating = True
        try:
            self._reader = asyncio.current_task()
        except RuntimeError:
            self._reader = None  # sync iteration

    def __aiter__(self) -> AsyncIterator[Chunk]:
        self._claim()
        if self._options.on_chunk is not None:
            return _BatchIterator(self)
        return _ChunkIterator(self)

    def batches(self) -> AsyncIterator[list[str | Chunk]]:
        """The stream a batch at a time, for consumers that want throughput: text without a `Chunk` per token.

        ```python
        async for batch in agent.run_stream("query").batches():
            for item in batch:
                if type(item) is str:
                    out.write(item)          # a piece of the answer (what a DELTA would carry)
                elif item.type is ak.ChunkType.ERROR:
                    ...                      # every other chunk comes as a Chunk, DONE last
        ```

        Each batch is everything buffered when the reader asks (one network read's text, as a rule).
        The guarantees of `async for chunk in stream` hold: backpressure (`buffer_size` items), exactly
        one DONE, last, after an ERROR when the run failed; leaving early cancels the run. The filters
        of `StreamOptions` apply; `flush_interval` does not (the batches are coalesced already). Call it
        instead of iterating, before the stream starts.

        Raises:
            UserError: the stream was already iterated or started, or it has `on_chunk`.

        """
        if self._options.on_chunk is not None:
            raise UserError("batches() and on_chunk do not mix; use one of them (on_chunk sees Chunk objects)")
        if self._task is not None:
            raise UserError("batches() must be called before the stream starts (before iterating or wait())")
        self._claim()
        self._ch = BatchChannel(self._options.buffer_size, dropped_types(self._options))
        return _BatchesIterator(self)

    def _abandon(self) -> None:
        """The reader stopped early (break, error, cancellation): cancel the run."""
        self._iterating = False
        if self._finished and not self._ch.buf:
            return
        self.cancel("the reader stopped iterating")
        if self._options.on_chunk is not None:
            # on_chunk is owed the ERROR and DONE that follow.
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return
            self._start_driver()

    def __iter__(self) -> Iterator[Chunk]:
        """Iterate from synchronous code, on a private event loop in this thread.

        Raises:
            UserError: called inside a running event loop (use `async for` there).

        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise UserError("`for chunk in stream` blocks; inside a running event loop use `async for chunk in stream`")
        self._claim()
        return self._iter_sync()

    def _iter_sync(self) -> Iterator[Chunk]:
        loop = asyncio.new_event_loop()
        try:
            while True:
                batch = loop.run_until_complete(self._next_batch())
                if not batch:
                    return
                yield from batch
        finally:
            self._iterating = False
            try:
                self.cancel("the reader stopped iterating")
                loop.run_until_complete(self._close_sync())
            finally:
                loop.close()

    async def _close_sync(self) -> None:
        try:
            await self._join()
        finally:
            if self._on_sync_close is not None:
                await self._on_sync_close()
            loop = asyncio.get_running_loop()
            await loop.shutdown_asyncgens()
            await loop.shutdown_default_executor()

    async def _join(self) -> None:
        """Deliver what on_chunk is owed, then wait for the tasks to end (upstream closed)."""
        if self._options.on_chunk is not None and not self._iterating:
            driver = self._driver
            if driver is not None and not driver.done():
                await asyncio.wait((driver,))
            else:
                while await self._next_batch():
                    pass
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait((task,))

    async def wait(self) -> R:
        """The run's result, once it has finished.

        Chunks nobody has read are read here (and dropped, after `on_chunk` saw them); while another
        task iterates the stream, they are left to it and this only waits for the run to end.

        Raises:
            RunError: the run's own typed error, `RunTimeoutError` on the stream's timeout, or
                `RunCancelledError` after `cancel()`.

        """
        ch = self._ch
        if self._iterating and self._reader is not None and self._reader is not asyncio.current_task():
            # Another task is reading: leave the chunks to it and wait for the run to end.
            self._ensure_started()
            task = self._task
            if task is not None and not task.done():
                await asyncio.wait((task,))
        elif self._options.on_chunk is not None:
            if self._iterating:
                while await self._next_batch():
                    pass
            else:
                if self._driver is None and not self._finished:
                    self._start_driver()
                await self._join()
        else:
            while True:
                if ch.buf:
                    ch.take_all()
                elif ch.closed:
                    break
                else:
                    self._ensure_started()
                    await ch.wait_get()
            await self._join()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]  # set together with _finished

    def wait_sync(self) -> R:
        """`wait()` for synchronous code (a private event loop, like `for chunk in stream`).

        Raises:
            UserError: called inside a running event loop.
            RunError: as `wait()`.

        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise UserError("wait_sync() blocks; inside a running event loop use `await stream.wait()`")
        if not (self._finished and not self._ch.buf and (self._task is None or self._task.done())):
            loop = asyncio.new_event_loop()
            try:
                try:
                    loop.run_until_complete(self.wait())
                except BaseException:
                    pass  # raised again below, from the stored error
                loop.run_until_complete(self._close_sync())
            finally:
                loop.close()
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]

    async def text(self) -> AsyncIterator[str]:
        """The text of the answer as it arrives (the DELTA chunks).

        Raises:
            RunError: the run's error, after the text that came before it (a workflow step's ERROR
                does not raise unless the workflow fails).

        """
        async for chunk in self:
            if chunk.type is _DELTA:
                yield chunk.delta or ""
            elif chunk.type is _ERROR and chunk.step_name is None and chunk.error is not None:
                # A workflow step's ERROR (step_name set) does not end the stream; the stream's own does.
                raise chunk.error

    async def aclose(self) -> None:
        """Cancel the run if it is still going and wait until its task has ended. Idempotent."""
        self.cancel("the stream was closed before the run finished")
        await self._join()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -- state --------------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """Whether the run has ended (DONE is queued, maybe not read yet)."""
        return self._finished

    @property
    def options(self) -> StreamOptions:
        """The stream's options."""
        return self._options

    @property
    def metadata(self) -> dict[str, Any]:
        """A snapshot of what is known about the stream.

        What it was created with (agent name, run id, ...), `started_at` (epoch seconds, `None`
        before it starts), `status`, `ttft` (seconds to the first DELTA or THOUGHT), `duration`,
        and `chunk_counts` by type value (the chunks the stream emitted).
        """
        md = dict(self._seed)
        result = self._result
        if md.get("run_id") is None and (run_id := getattr(result, "run_id", None)):
            md["run_id"] = run_id
        md["started_at"] = self._started_at
        if not self._finished:
            md["status"] = "running" if self._task is not None else "pending"
        elif self._error is None:
            md["status"] = "ok"
        else:
            md["status"] = "cancelled" if isinstance(self._error, RunCancelledError) else "error"
        first = self._ch.first_at
        md["ttft"] = first - self._t0 if first and self._t0 else None
        if self._t0:
            md["duration"] = (self._ended or time.perf_counter()) - self._t0
        else:
            md["duration"] = None
        md["chunk_counts"] = {t.value: n for t, n in self._ch.counts.items() if n}
        return md

    def __repr__(self) -> str:
        md = self._seed
        name = md.get("agent_name") or md.get("workflow_name") or ""
        state = "done" if self._finished else ("running" if self._task is not None else "pending")
        return f"Stream({name!r}, {state})"


async def _call_each_async(
    cb: Callable[[Chunk], Any], batch: list[Chunk], to_the_end: bool
) -> tuple[int, Exception | None]:
    """`_call_each` for an async on_chunk, on the loop (in a task of its own, see `_tap`)."""
    for i, chunk in enumerate(batch):
        try:
            if await cb(chunk) is False and not to_the_end:
                return i, None
        except Exception as exc:
            if not to_the_end:
                return i, exc
            # These are the stream's last chunks: there is no run left to fail.
            _log.error("on_chunk raised while handling the end of a stream", exc_info=exc)
    return -1, None


def _call_each(cb: Callable[[Chunk], Any], batch: list[Chunk], to_the_end: bool) -> tuple[int, Exception | None]:
    """Run a sync on_chunk over a batch in a worker thread: (index of a False or -1, its error).

    With `to_the_end` (the stream has ended: these are its last chunks) every chunk is delivered
    whatever the callback returns, and its errors are logged.
    """
    for i, chunk in enumerate(batch):
        try:
            if cb(chunk) is False and not to_the_end:
                return i, None
        except Exception as exc:
            if not to_the_end:
                return i, exc
            _log.error("on_chunk raised while handling the end of a stream", exc_info=exc)
    return -1, None


async def _wait_for(work: Awaitable[R]) -> R:
    """A producer's awaitable that is not a coroutine, as one (a task runs coroutines)."""
    return await work


def _abandon(stream: Stream[Any]) -> None:
    try:
        stream._abandon()  # pyright: ignore[reportPrivateUsage]
    except RuntimeError:
        # The loop is already closed (an iterator collected at shutdown): nothing is left to cancel.
        pass


class _ChunkIterator:
    """`async for` over a stream: pops chunks straight off the channel; cancels the run if dropped early."""

    __slots__ = ("_ch", "_stream")

    def __init__(self, stream: Stream[Any]) -> None:
        self._stream = stream
        self._ch = stream._ch  # pyright: ignore[reportPrivateUsage]

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Chunk:
        ch = self._ch
        # Read from the channel each time: its buffer is made by the first chunk (see _channel.py).
        buf = ch.buf
        if not buf:
            while not buf:
                if ch.closed:
                    raise StopAsyncIteration
                self._stream._ensure_started()  # pyright: ignore[reportPrivateUsage]
                try:
                    await ch.wait_get()
                except BaseException:
                    # The reader was cancelled (or timed out) while waiting: its exception's traceback
                    # holds this frame, and so this iterator, for as long as anyone keeps the
                    # exception (`gather(..., return_exceptions=True)`): do not wait for __del__.
                    _abandon(self._stream)
                    raise
                buf = ch.buf
        chunk = buf.popleft()
        if ch.putters and len(buf) <= ch.low:
            ch.wake_putters()
        return chunk

    def __del__(self) -> None:
        # Dropped by `break`, an exception or cancellation in the reader, or exhausted: either way the
        # run must not outlive its reader (a blocked producer would hold its connection forever).
        _abandon(self._stream)


class _BatchesIterator:
    """`stream.batches()`: what is buffered, as one list per step; cancels the run if dropped early."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Stream[Any]) -> None:
        self._stream = stream

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> list[str | Chunk]:
        batch: list[Any] = await self._stream._next_batch()  # pyright: ignore[reportPrivateUsage]
        if not batch:
            raise StopAsyncIteration
        return batch

    def __del__(self) -> None:
        _abandon(self._stream)


class _BatchIterator:
    """`async for` over a stream with `on_chunk`: takes a batch, lets the callback see it, yields it."""

    __slots__ = ("_batch", "_i", "_stream")

    def __init__(self, stream: Stream[Any]) -> None:
        self._stream = stream
        self._batch: list[Chunk] = []
        self._i = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Chunk:
        batch = self._batch
        i = self._i
        if i >= len(batch):
            try:
                batch = self._batch = await self._stream._next_batch()  # pyright: ignore[reportPrivateUsage]
            except BaseException:
                _abandon(self._stream)  # as in _ChunkIterator: the exception keeps this frame alive
                raise
            if not batch:
                raise StopAsyncIteration
            i = 0
        self._i = i + 1
        return batch[i]

    def __del__(self) -> None:
        _abandon(self._stream)
