"""The run journal: append-only records of one run in a `Store` (namespace `"run"`), and their replay.

One stream per run, one record per event, each written once: a model response (`m`), the start of
a side-effect tool call (`ts`), a tool call's end (`te`), a workflow step's output (`step`), a
person's answer (`ap`). A record holds that event only, never the history before it, so a run of
n steps stores O(n) bytes. The stream's metadata (`put_meta`) holds the run's status and what it
waits for; `runs()` lists it without reading records.

Replay: a resumed run executes its code again from the start, and every model request, tool call
and step that the journal already has is answered from it instead of being re-run. Keys are
positional (the n-th model response of a scope, the call id of that response), so the code must
make the same decisions given the same answers, which an agent loop and a workflow graph do.

Inside a durable workflow each step attempt is a *scope* (`step#iteration#attempt`) of the same
journal: an agent step's model responses and tool calls are journaled and replayed too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson

from .._journal_scope import bind_scope, current_scope, reset_scope, take_scope
from ..messages import Message, ModelResponse, ToolCall, ToolCallRecord, Usage
from ._types import ApprovalRequest, Durability, Edit, RunPaused, RunStatus

if TYPE_CHECKING:
    from ..stores._base import Store

__all__ = ("NS", "Journal", "Scope", "bind_scope", "current_scope", "reset_scope", "take_scope")

NS = "run"
"""The store namespace of run journals."""


def _jsonable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def response_to_dict(r: ModelResponse) -> dict[str, Any]:
    """A model response as a compact JSON object."""
    d: dict[str, Any] = {"c": r.content, "u": [r.usage.input_tokens, r.usage.output_tokens, r.usage.requests]}
    if r.tool_calls:
        d["tc"] = [[c.id, c.name, c.arguments] for c in r.tool_calls]
    if r.finish_reason is not None:
        d["fr"] = r.finish_reason
    if r.thoughts:
        d["th"] = r.thoughts
    if r.model is not None:
        d["md"] = r.model
    return d


def response_from_dict(d: Mapping[str, Any]) -> ModelResponse:
    """The inverse of `response_to_dict`."""
    u = d.get("u") or [0, 0, 0]
    return ModelResponse(
        content=d.get("c") or "",
        tool_calls=tuple(ToolCall(str(c[0]), str(c[1]), str(c[2])) for c in d.get("tc") or ()),
        usage=Usage(int(u[0]), int(u[1]), int(u[2])),
        finish_reason=d.get("fr"),
        thoughts=d.get("th") or "",
        model=d.get("md"),
    )


class Journal:
    """The journal of one run: writes records per its durability, and answers replays from what it read.

    Args:
        store: where the stream lives.
        run_id: the stream id.
        mode: `step` appends each record at once; `exit` and `off` keep them until `flush()`.
        records: the stream's records when resuming (empty for a new run).
        meta: the stream's metadata (status, kind, name, fingerprint).

    """

    __slots__ = ("_buffer", "_scopes", "answers", "meta", "mode", "run_id", "starts", "steps", "store")

    def __init__(
        self,
        store: Store,
        run_id: str,
        mode: Durability,
        records: Sequence[Mapping[str, Any]] = (),
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.mode = mode
        self.meta: dict[str, Any] = meta if meta is not None else {}
        self._buffer: list[dict[str, Any]] = []
        self._scopes: dict[str, Scope] = {}
        self.answers: dict[str, Any] = {}
        self.steps: dict[tuple[str, int], str] = {}
        self.starts: list[Mapping[str, Any]] = []
        for rec in records:
            kind = rec.get("k")
            if kind == "m":
                self.scope(rec.get("s", "")).models.append(rec["r"])
            elif kind == "te":
                self.scope(rec.get("s", "")).ends[(rec["t"], rec["id"])] = rec
            elif kind == "ts":
                self.scope(rec.get("s", "")).started[(rec["t"], rec["id"])] = rec
            elif kind == "step":
                self.steps[(rec["n"], rec["i"])] = rec["out"]
            elif kind == "ap":
                self.answers[rec["id"]] = rec["d"]
            elif kind == "start":
                self.starts.append(rec)

    def scope(self, name: str) -> Scope:
        """The scope `name` (`""` is an agent run's own; `step#iteration#attempt` inside a workflow)."""
        scope = self._scopes.get(name)
        if scope is None:
            scope = self._scopes[name] = Scope(self, name)
        return scope

    # -- writing ------------------------------------------------------------------------------------

    async def add(self, record: dict[str, Any]) -> None:
        """Record one event: appended now (`step`) or at the run's end (`exit`, `off`)."""
        if self.mode == "step":
            await self.store.append(NS, self.run_id, (record,))
        else:
            self._buffer.append(record)

    async def flush(self) -> None:
        """Write what is buffered, in one append."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            await self.store.append(NS, self.run_id, batch)

    async def set_status(self, status: RunStatus, *, write: bool = True, **extra: Any) -> None:
        """Flush (if `write`) and record the run's status in the stream's metadata."""
        if write:
            await self.flush()
        meta = self.meta
        meta["status"] = status
        meta.pop("pending", None)
        meta.pop("error", None)
        meta.update(extra)
        if write:
            meta["written"] = True
            await self.store.put_meta(NS, self.run_id, meta)

    async def answer(self, approvals: Mapping[str, Any]) -> None:
        """Record a person's answers to pending requests (before the run continues)."""
        for key, value in approvals.items():
            d: Any = {"args": dict(value.args)} if isinstance(value, Edit) else value
            self.answers[key] = d
            self._buffer.append({"k": "ap", "id": key, "d": d, "ts": time.time()})
        # Answers are written at once in every mode: they are a person's decision, not re-creatable.
        await self.flush()

    def step_output(self, name: str, iteration: int) -> str | None:
        """The recorded output of a finished workflow step, or `None`."""
        return self.steps.get((name, iteration))

    async def step_done(self, name: str, iteration: int, output: str) -> None:
        """Record a workflow step's output."""
        self.steps[(name, iteration)] = output
        await self.add({"k": "step", "n": name, "i": iteration, "out": output})


class Scope:
    """One scope of a journal: an agent run's model responses and tool calls, replayed in order."""

    __slots__ = ("ends", "inputs", "journal", "models", "name", "started", "turn")

    def __init__(self, journal: Journal, name: str) -> None:
        self.journal = journal
        self.name = name
        self.models: list[dict[str, Any]] = []
        self.ends: dict[tuple[int, str], Mapping[str, Any]] = {}
        self.started: dict[tuple[int, str], Mapping[str, Any]] = {}
        self.turn = 0
        self.inputs = 0

    def request_id(self, turn: int, call_id: str) -> str:
        """The id a person answers a request of this scope's call by."""
        return f"{self.name}/t{turn}:{call_id}" if self.name else f"t{turn}:{call_id}"

    async def ask(self, ask: Any, *args: Any) -> ModelResponse:
        """The next model response: from the journal when it has one, else asked (by `ask`) and recorded."""
        turn = self.turn
        self.turn = turn + 1
        if turn < len(self.models):
            return response_from_dict(self.models[turn])
        response: ModelResponse = await ask(*args)
        d = response_to_dict(response)
        self.models.append(d)
        rec: dict[str, Any] = {"k": "m", "t": turn, "r": d}
        if self.name:
            rec["s"] = self.name
        await self.journal.add(rec)
        return response

    async def tool_calls(
        self,
        calls: Sequence[ToolCall],
        tools: Mapping[str, Any],
        default_timeout: float | None,
        sink: Any,
        ctx: Any = None,
    ) -> list[tuple[Message, ToolCallRecord]]:
        """Run one turn's tool calls the durable way (see `_tools.run_turn`); `ctx` is the run's `RunContext`."""
        from ._tools import run_turn

        return await run_turn(self, self.turn - 1, calls, tools, default_timeout, sink, ctx)

    def request_input(self, question: str) -> str:
        """A workflow step's question: the recorded answer, or pause the run for it.

        Raises:
            RunPaused: nobody answered yet.

        """
        n = self.inputs
        self.inputs = n + 1
        base = self.name.rsplit("#", 1)[0]  # retries of a step ask the same question
        rid = f"{base}/input{n}"
        answer = self.journal.answers.get(rid)
        if answer is None:
            step = base.split("#", 1)[0]
            raise RunPaused([ApprovalRequest(id=rid, tool=step, args={"question": question}, kind="input")])
        return answer if isinstance(answer, str) else orjson.dumps(answer).decode()

    async def record_end(self, turn: int, record: ToolCallRecord, text: str) -> None:
        """Record a finished tool call: what the model saw (`text`) and the call's record."""
        rec: dict[str, Any] = {"k": "te", "t": turn, "id": record.id, "txt": text}
        if self.name:
            rec["s"] = self.name
        if record.error is not None:
            rec["err"] = record.error
        elif _jsonable(record.result):
            rec["res"] = record.result
        self.ends[(turn, record.id)] = rec
        await self.journal.add(rec)

    async def record_start(self, turn: int, call_id: str, key: str | None) -> None:
        """Record that a side-effect call is about to run."""
        rec: dict[str, Any] = {"k": "ts", "t": turn, "id": call_id}
        if self.name:
            rec["s"] = self.name
        if key is not None:
            rec["key"] = key
        self.started[(turn, call_id)] = rec
        await self.journal.add(rec)


_step: ContextVar[Scope | None] = ContextVar("agentickit_journal_step", default=None)


def current_step_scope() -> Scope | None:
    """The scope of the durable workflow step running in this task (for `ctx.request_input`)."""
    return _step.get()


def scoped_invoker(invoke: Any, journal: Journal, step: str, iteration: int) -> Any:
    """`invoke` with each attempt bound to its own scope of `journal`, so an agent step is journaled too."""
    attempt = 0

    async def run(text: str, ctx: Any, options: Any, sink: Any, tag: str) -> Any:
        nonlocal attempt
        attempt += 1
        scope = journal.scope(f"{step}#{iteration}#{attempt}")
        t1 = bind_scope(scope)
        t2 = _step.set(scope)
        try:
            return await invoke(text, ctx, options, sink, tag)
        finally:
            _step.reset(t2)
            reset_scope(t1)

    return run
