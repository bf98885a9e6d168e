"""Runs the server owns: one task per run, a bounded replay buffer of its events, and their records.

A run is decoupled from the HTTP connection that started it: its task writes every event, already
encoded as an SSE frame, into the run's buffer, and any number of readers (the first request, a
client that reconnects with `Last-Event-ID`) follow the buffer from where they are. A dropped
connection therefore loses nothing, and a reconnect repeats nothing. The buffer keeps the last
`replay_buffer` events; a reader asking for an older one gets a typed `replay_gone` error instead
of a silent gap.

Finished runs are summarised into a `RunStore` (in-process by default; `StoreRunStore` keeps them in
an `ak.stores` store, so they outlive the process). Only live runs (their tasks and buffers) need
this process.

A durable run that pauses (a tool waiting for approval, a workflow step's `request_input`) ends its
task with status `paused` and the requests it waits for in `pending`; `resume()` starts a new task
on the same record, whose events continue the same sequence (a reader that saw the first part's
DONE reconnects with its id and reads on). A paused record from a persistent store is revived on
resume, its event ids going on from where they stopped.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from ..durable import RunFinishedError, RunNotFoundError
from ..errors import AgentickitError, RunCancelledError
from ..options import RunOptions
from ..streaming import ChunkType
from ._wire import chunk_data, error_body, error_type, public_message, result_data, timeout_error

__all__ = (
    "InMemoryRunStore",
    "NotPausedError",
    "ReplayGoneError",
    "RunRecord",
    "RunRegistry",
    "RunStore",
    "ServerClosingError",
    "StoreRunStore",
)

Status = Literal["running", "paused", "completed", "failed", "cancelled", "timeout"]

_RUN_PREFIX = os.urandom(3).hex()
_counter = itertools.count(1)
_readers = itertools.count(1)
_DONE = ChunkType.DONE
_ERROR = ChunkType.ERROR
_DELTA = ChunkType.DELTA
_dumps = orjson.dumps


class ReplayGoneError(AgentickitError):
    """A reader asked for events older than the run's replay buffer still holds."""


class ServerClosingError(AgentickitError):
    """The server is shutting down and starts no new runs."""


class NotPausedError(AgentickitError):
    """A resume of a run that is not (or no longer) paused: another resume got there first."""


@runtime_checkable
class RunStore(Protocol):
    """Where the summaries of finished runs live (`GET /v1/runs/{id}` after the run ended).

    The default is `InMemoryRunStore`; a persistent store implements these two methods.
    """

    async def save(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep a finished run's summary (JSON-ready)."""
        ...

    async def load(self, run_id: str) -> dict[str, Any] | None:
        """A finished run's summary, or None."""
        ...


class InMemoryRunStore:
    """The default `RunStore`: the most recent `max_runs` summaries, in this process."""

    __slots__ = ("_runs", "max_runs")

    def __init__(self, *, max_runs: int = 1_000) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def save(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep a summary; the oldest falls off beyond `max_runs`."""
        self._runs[run_id] = record
        while len(self._runs) > self.max_runs:
            self._runs.popitem(last=False)

    async def load(self, run_id: str) -> dict[str, Any] | None:
        """A summary, or None."""
        return self._runs.get(run_id)

    def __len__(self) -> int:
        return len(self._runs)


class StoreRunStore:
    """A `RunStore` in an `ak.stores` store (`SQLite`, `Postgres`, `Redis`): run records survive a restart.

    `ak.serve.app(store=ak.stores.SQLite("serve.db"))` wraps the store in one. Each record is the
    metadata of one stream in the `serve_runs` namespace.
    """

    __slots__ = ("backend",)

    NAMESPACE = "serve_runs"

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    async def save(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep (or replace) a run's summary."""
        await self.backend.put_meta(self.NAMESPACE, run_id, record)

    async def load(self, run_id: str) -> dict[str, Any] | None:
        """A run's summary, or None."""
        info = await self.backend.info(self.NAMESPACE, run_id)
        return None if info is None or not info.meta else dict(info.meta)


class RunRecord:
    """One live run: its task, its status and the last `replay_buffer` events as SSE frames."""

    __slots__ = (
        "_frames",
        "_limit",
        "_readers",
        "_room",
        "_task",
        "_waiter",
        "created_at",
        "error",
        "finished_at",
        "id",
        "journal_id",
        "kind",
        "next_seq",
        "pending",
        "result",
        "status",
        "target",
        "ttft",
    )

    def __init__(self, target: str, kind: str, replay_buffer: int, run_id: str | None = None) -> None:
        self.id = run_id or f"run_{_RUN_PREFIX}{next(_counter):x}"
        self.target = target
        self.kind = kind
        self.status: Status = "running"
        self.created_at = time.time()
        self.finished_at: float | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.ttft: float | None = None
        self.pending: list[dict[str, Any]] | None = None
        """What a paused run waits for (`ApprovalRequest.to_dict()` each)."""
        self.journal_id: str | None = None
        """The durable run id (`Result.run_id`) a paused run resumes from."""
        self.next_seq = 1
        self._limit = replay_buffer
        # Headroom for the terminal ERROR and DONE, which are appended without waiting for readers.
        self._frames: deque[bytes] = deque(maxlen=replay_buffer + 4)
        self._readers: dict[int, int] = {}
        """Connected readers: id -> the last event id each has been sent."""
        self._room: asyncio.Event | None = None
        self._waiter: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        """Whether the run has ended (its DONE event is in the buffer)."""
        return self.status != "running"

    def append(self, name: str, data: dict[str, Any]) -> None:
        """Add one event; readers waiting for it wake up."""
        seq = self.next_seq
        self.next_seq = seq + 1
        self._frames.append(b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, name.encode(), _dumps(data)))
        w = self._waiter
        if w is not None:
            self._waiter = None
            w.set()

    def append_delta(self, text: str) -> None:
        """Add one top-level delta event (the hot path: one string encode, no dict)."""
        seq = self.next_seq
        self.next_seq = seq + 1
        self._frames.append(b'id: %d\nevent: delta\ndata: {"type":"delta","delta":%s}\n\n' % (seq, _dumps(text)))
        w = self._waiter
        if w is not None:
            self._waiter = None
            w.set()

    def blocked(self) -> bool:
        """Whether the next event would push out one that a connected reader has not been sent yet."""
        frames = self._frames
        readers = self._readers
        if len(frames) < self._limit or not readers:
            return False
        return min(readers.values()) < self.next_seq - len(frames)

    async def room(self) -> None:
        """Wait until the slowest connected reader has caught up enough for one more event.

        Backpressure for live readers: a connected client loses nothing however slowly it reads;
        a run nobody is reading keeps only the last `replay_buffer` events.
        """
        while self.blocked():
            ev = self._room
            if ev is None:
                ev = self._room = asyncio.Event()
            await ev.wait()

    def read(self, after: int) -> tuple[list[bytes], int]:
        """The frames after event id `after`, and the id of the last one.

        Raises:
            ReplayGoneError: some of them already fell out of the replay buffer.

        """
        last = self.next_seq - 1
        if after >= last:
            return [], after
        frames = self._frames
        first = self.next_seq - len(frames)
        start = after + 1 - first
        if start < 0:
            raise ReplayGoneError(
                f"run {self.id}: event {after + 1} is no longer buffered (the replay buffer holds events "
                f"{first}..{last}); raise the server's replay_buffer, or reconnect sooner"
            )
        if start == 0:
            return list(frames), last
        return list(itertools.islice(frames, start, None)), last

    async def wait_for_more(self) -> None:
        """Return when a new event arrives (or the run ends)."""
        # An Event, not a shared future: a reader that is cancelled (its client left) must not
        # cancel what the other readers of the run are waiting on.
        w = self._waiter
        if w is None:
            w = self._waiter = asyncio.Event()
        await w.wait()

    async def follow(self, after: int = 0) -> AsyncIterator[tuple[bytes, bool]]:
        """Every frame after event id `after`, as it arrives, until the DONE event; True marks the last.

        Raises:
            ReplayGoneError: `after` is older than the replay buffer.

        """
        cursor = after
        token = next(_readers)
        readers = self._readers
        readers[token] = cursor
        try:
            while True:
                frames, cursor = self.read(cursor)
                if frames:
                    last = self.status != "running" and cursor >= self.next_seq - 1
                    yield frames[0] if len(frames) == 1 else b"".join(frames), last
                    if last:
                        return
                    readers[token] = cursor
                    room = self._room
                    if room is not None:
                        self._room = None
                        room.set()
                if self.status != "running" and cursor >= self.next_seq - 1:
                    return
                await self.wait_for_more()
        finally:
            del readers[token]
            room = self._room
            if room is not None:
                self._room = None
                room.set()

    async def wait(self) -> None:
        """Return when the run has ended."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait((task,))

    def cancel(self, reason: str) -> bool:
        """Cancel the run (and the upstream model request); False if it had already ended."""
        task = self._task
        if task is None or task.done() or self.status != "running":
            return False
        task.cancel(reason)
        return True

    def paused_info(self) -> dict[str, Any]:
        """What a surface without run records answers for a paused run: its id, what it waits for, how to go on."""
        return {
            "run_id": self.id,
            "status": "paused",
            "pending": self.pending,
            "resume": f"POST /v1/runs/{self.id}/resume",
            "cancel": f"DELETE /v1/runs/{self.id}",
        }

    def paused_text(self) -> str:
        """`paused_info()` in a sentence, for clients that read only text (a chat UI, an MCP host's model)."""
        waits = "; ".join(_describe(p) for p in self.pending or ())
        return (
            f"The run paused: run {self.id} waits for {waits}. Answer with POST /v1/runs/{self.id}/resume "
            '{"approvals": {request id: true | false | {"args": {...}} | "text"}}, or cancel it with '
            f"DELETE /v1/runs/{self.id}."
        )

    def summary(self) -> dict[str, Any]:
        """What `GET /v1/runs/{id}` returns."""
        err = self.error
        return {
            "id": self.id,
            "object": "run",
            "target": self.target,
            "kind": self.kind,
            "status": self.status,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "events": self.next_seq - 1,
            "ttft": self.ttft,
            "pending": self.pending,
            "journal_id": self.journal_id,
            "result": None if self.result is None else result_data(self.result),
            "error": None if err is None else error_body(error_type(err), public_message(err))["error"],
        }


def _describe(pending: dict[str, Any]) -> str:
    args = _dumps(pending.get("args") or {}).decode()
    if pending.get("kind") == "input":
        return f"input {pending.get('id')!r} ({args})"
    return f"{pending.get('kind', 'approval')} {pending.get('id')!r} of {pending.get('tool')}({args})"


class RunRegistry:
    """Starts runs, owns their tasks, and finds them by id; `aclose()` ends them all.

    Args:
        store: where finished runs' summaries go.
        replay_buffer: events kept per run for reconnecting readers.
        request_timeout: seconds a run may take.

    """

    def __init__(self, *, store: RunStore, replay_buffer: int, request_timeout: float, max_runs: int) -> None:
        self.store = store
        self.max_runs = max_runs
        self.recent: OrderedDict[str, RunRecord] = OrderedDict()
        """Finished runs whose events are still buffered, for readers that reconnect after the end."""
        self.replay_buffer = replay_buffer
        self.request_timeout = request_timeout
        self.live: dict[str, RunRecord] = {}
        self.closing = False
        self.readers = 0
        """Clients following a run's events right now (the in-flight streams gauge)."""

    def start(self, target: Any, kind: str, query: str, options: RunOptions | None, *, stream: bool) -> RunRecord:
        """Start a run of `target` in a task this registry owns.

        Raises:
            ServerClosingError: the server is shutting down.

        """
        if self.closing:
            raise ServerClosingError("the server is shutting down and starts no new runs; retry on another instance")
        record = RunRecord(target.name, kind, self.replay_buffer)
        self.live[record.id] = record
        body = self._stream(record, target, query, options) if stream else self._run(record, target, query, options)
        record._task = asyncio.get_running_loop().create_task(self._own(record, body))  # pyright: ignore[reportPrivateUsage]
        return record

    def resume(
        self, found: RunRecord | dict[str, Any], target: Any, approvals: dict[str, Any], *, stream: bool
    ) -> RunRecord:
        """Continue a paused run (a live record, or a summary from the store) in a new task on the same record.

        Raises:
            ServerClosingError: the server is shutting down.
            NotPausedError: the run is no longer paused.

        """
        if self.closing:
            raise ServerClosingError("the server is shutting down and resumes no runs; retry on another instance")
        if not isinstance(found, RunRecord):
            found = self.live.get(found["id"]) or self.recent.get(found["id"]) or found
        if isinstance(found, RunRecord):
            if found.status != "paused":
                raise NotPausedError(f"run {found.id!r} is {found.status}, not paused (resumed twice?)")
            record = found
        else:
            # A paused run of an earlier process: its events are gone, their ids go on from there.
            record = RunRecord(found["target"], found["kind"], self.replay_buffer, run_id=found["id"])
            record.created_at = found.get("created_at") or record.created_at
            record.next_seq = int(found.get("events") or 0) + 1
            record.journal_id = found.get("journal_id")
            record.ttft = found.get("ttft")
        journal_id = record.journal_id
        assert journal_id is not None
        record.status = "running"
        record.pending = None
        record.result = None
        record.error = None
        record.finished_at = None
        self.recent.pop(record.id, None)
        self.live[record.id] = record
        if stream:
            body = self._stream(record, target, "", None, resume=(journal_id, approvals))
        else:
            body = self._resume(record, target, journal_id, approvals)
        record._task = asyncio.get_running_loop().create_task(self._own(record, body))  # pyright: ignore[reportPrivateUsage]
        return record

    async def record_paused(self, target: Any, kind: str, result: Any) -> RunRecord:
        """Keep a run that paused on a surface without run records (chat completions, responses, MCP).

        The record is what a native run's would be (`GET /v1/runs/{id}`, `POST /v1/runs/{id}/resume`,
        `DELETE /v1/runs/{id}`); it has no events of its own, so a streamed resume's ids start at 1.
        """
        record = RunRecord(target.name, kind, self.replay_buffer)
        record.result = result
        record.pending = [p.to_dict() for p in result.pending]
        record.journal_id = result.run_id
        record.status = "paused"
        record.finished_at = time.time()
        recent = self.recent
        recent[record.id] = record
        while len(recent) > self.max_runs:
            recent.popitem(last=False)
        await self.store.save(record.id, record.summary())
        return record

    async def cancel_paused(self, found: RunRecord | dict[str, Any], target: Any, reason: str) -> dict[str, Any]:
        """Cancel a paused run: its journal and its record say `cancelled`, and it resumes no more.

        Raises:
            NotPausedError: the run is no longer paused (a resume got there first).

        """
        if not isinstance(found, RunRecord):
            found = self.live.get(found["id"]) or self.recent.get(found["id"]) or found
        status = found.status if isinstance(found, RunRecord) else found.get("status")
        journal_id = found.journal_id if isinstance(found, RunRecord) else found.get("journal_id")
        run_id = found.id if isinstance(found, RunRecord) else str(found["id"])
        if status != "paused" or not journal_id:
            raise NotPausedError(f"run {run_id!r} is {status}, not paused")
        error = RunCancelledError(reason)
        if isinstance(found, RunRecord):
            # Marked first (no await in between): a resume arriving meanwhile finds it cancelled.
            found.status = "cancelled"
            found.pending = None
            found.error = error
            found.finished_at = time.time()
        try:
            await target.cancel_run(journal_id, reason=reason)
        except (RunNotFoundError, RunFinishedError):
            pass  # its journal is gone or ended (an in-memory store, a restart): nothing can resume it anyway
        if isinstance(found, RunRecord):
            summary = found.summary()
        else:
            summary = {
                **found,
                "status": "cancelled",
                "pending": None,
                "finished_at": time.time(),
                "error": error_body(error_type(error), public_message(error))["error"],
            }
        await self.store.save(run_id, summary)
        return summary

    async def get(self, run_id: str) -> RunRecord | dict[str, Any] | None:
        """A live run, a finished run's summary, or None."""
        live = self.live.get(run_id) or self.recent.get(run_id)
        if live is not None:
            return live
        return await self.store.load(run_id)

    async def _own(self, record: RunRecord, body: Any) -> None:
        try:
            async with asyncio.timeout(self.request_timeout):
                await body
        except asyncio.CancelledError as exc:
            reason = str(exc.args[0]) if exc.args else "the run was cancelled"
            self._end(record, "cancelled", RunCancelledError(reason))
            raise
        except TimeoutError as exc:
            if not isinstance(exc, AgentickitError):
                exc = timeout_error(self.request_timeout)
            self._end(record, "timeout", exc)
        except Exception as exc:  # the run's own failure: recorded and sent, never raised into the server
            self._end(record, "failed", exc)
        else:
            result = record.result
            if getattr(result, "status", None) == "paused":
                record.pending = [p.to_dict() for p in result.pending]
                record.journal_id = result.run_id
                self._end(record, "paused", None)
            else:
                self._end(record, "failed" if getattr(result, "error", None) is not None else "completed", None)
        finally:
            self.live.pop(record.id, None)
            recent = self.recent
            recent[record.id] = record
            while len(recent) > self.max_runs:
                recent.popitem(last=False)
            await self.store.save(record.id, record.summary())

    async def _run(self, record: RunRecord, target: Any, query: str, options: RunOptions | None) -> None:
        record.result = await target.run(query, options=options)

    async def _resume(self, record: RunRecord, target: Any, journal_id: str, approvals: dict[str, Any]) -> None:
        record.result = await target.resume(journal_id, approvals=approvals)

    async def _stream(
        self,
        record: RunRecord,
        target: Any,
        query: str,
        options: RunOptions | None,
        resume: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        if resume is None:
            stream = target.run_stream(query, options=options)
        else:
            stream = target.resume_stream(resume[0], approvals=resume[1])
        started = time.perf_counter()
        sent_error = False
        append = record.append
        delta = record.append_delta
        # A batch is what the stream has buffered, top-level deltas as their text (no Chunk per token).
        async for batch in stream.batches():
            for chunk in batch:
                if record.blocked():
                    await record.room()
                if type(chunk) is str:
                    if record.ttft is None:
                        record.ttft = time.perf_counter() - started
                    delta(chunk)
                    continue
                t = chunk.type
                if t is _DELTA:
                    if record.ttft is None:
                        record.ttft = time.perf_counter() - started
                    append("delta", chunk_data(chunk))
                    continue
                if t is _DONE:
                    break
                if t is _ERROR and chunk.step_name is None:
                    sent_error = True
                    record.error = chunk.error
                append(t.value, chunk_data(chunk))
        try:
            record.result = await stream.wait()
        except Exception as exc:
            record.result = getattr(exc, "result", None)
            if sent_error:
                record.error = exc
                return
            raise

    def _end(self, record: RunRecord, status: Status, error: BaseException | None) -> None:
        if record.status != "running":
            return
        if error is not None:
            already = record.error is not None
            record.error = error
            if not already:
                record.append(
                    "error", {"type": "error", "error": error_body(error_type(error), public_message(error))["error"]}
                )
        elif record.error is not None:
            status = "failed"
        record.status = status
        record.finished_at = time.time()
        record.append(
            "done",
            {
                "type": "done",
                "run_id": record.id,
                "status": status,
                "result": None if record.result is None else result_data(record.result),
            },
        )

    async def aclose(self, deadline: float = 0.0) -> None:
        """Start no new runs; give running ones `deadline` seconds, then cancel them (ERROR + DONE)."""
        self.closing = True
        tasks = [r._task for r in self.live.values() if r._task is not None]  # pyright: ignore[reportPrivateUsage]
        if not tasks:
            return
        if deadline > 0:
            await asyncio.wait(tasks, timeout=deadline)
        for record in list(self.live.values()):
            record.cancel("the server shut down before the run finished")
        await asyncio.gather(*tasks, return_exceptions=True)
