"""One turn's tool calls in a journaled run: replay, approval, uncertain side effects, idempotency keys.

What each call becomes, in order:
1. Recorded finished (`te`): its recorded result, not run again.
2. Its tool `requires_approval` and no answer is recorded: the run pauses (no call of this turn runs).
   Denied: the model reads a denial. `ak.Edit(args=...)`: it runs with those arguments.
3. A `side_effect` tool's call recorded started (`ts`) but not finished: a crash hit it mid-call.
   With an `idempotency_key` it runs again with the same key (`resumed=True`), for the tool to
   de-duplicate; without one the run pauses with an `uncertain` request instead of re-running it.
4. Otherwise it runs; a side-effect call is recorded started before it runs, every call finished after.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ToolArgumentsError
from ..messages import Message, ToolCall, ToolCallRecord
from ..tools._call import ToolSet, call_tool, execute_tool_calls, result_message
from ..tools._callctx import bind_call, call_context, unbind_call
from ..tools._tool import Tool
from ._types import ApprovalRequest, RunPaused

if TYPE_CHECKING:
    from ._journal import Scope

__all__ = ("run_turn",)

DENIED = "Denied: a person did not approve this call of {tool!r}; it did not run. Do not retry it unless asked."
UNKNOWN = (
    "Unknown outcome: this call of {tool!r} was interrupted by a crash and may or may not have taken effect; "
    "a person chose not to run it again."
)


def _needs_approval(tool: Tool, args: dict[str, Any]) -> bool:
    rule = tool.requires_approval
    if rule is True:
        return True
    if rule is False:
        return False
    return bool(rule(args))


def _replayed(call: ToolCall, rec: Mapping[str, Any]) -> tuple[Message, ToolCallRecord]:
    record = ToolCallRecord(id=call.id, name=call.name, args={}, result=rec.get("res"), error=rec.get("err"))
    return Message.tool(call.id, call.name, str(rec.get("txt", ""))), record


async def run_turn(
    scope: Scope,
    turn: int,
    calls: Sequence[ToolCall],
    tools: Mapping[str, Tool],
    default_timeout: float | None,
    sink: Any,
    ctx: Any = None,
) -> list[tuple[Message, ToolCallRecord]]:
    """Run (or replay) the tool calls of model turn `turn` of `scope`; results in the order of `calls`.

    Raises:
        RunPaused: a call waits for a person (approval, or an uncertain side effect).

    """
    if type(tools) is not ToolSet:  # pragma: no cover - the run loop always passes its ToolSet
        return await execute_tool_calls(calls, tools, default_timeout, sink, ctx)
    answers = scope.journal.answers
    out: list[tuple[Message, ToolCallRecord] | None] = [None] * len(calls)
    todo: list[tuple[int, ToolCall, dict[str, Any] | None, bool]] = []
    pending: list[ApprovalRequest] = []
    decided: list[tuple[int, ToolCall, dict[str, Any], str]] = []
    for i, call in enumerate(calls):
        rec = scope.ends.get((turn, call.id))
        if rec is not None:
            out[i] = _replayed(call, rec)
            continue
        tool = tools.get(call.name)
        if tool is None:
            todo.append((i, call, None, False))
            continue
        try:
            args = tool.validate(call.arguments)
        except ToolArgumentsError:
            todo.append((i, call, None, False))
            continue
        rid = scope.request_id(turn, call.id)
        if tool.requires_approval is not False and _needs_approval(tool, args):
            answer = answers.get(rid)
            if answer is None:
                pending.append(ApprovalRequest(id=rid, tool=call.name, args=args, kind="approval"))
                continue
            if answer is False:
                decided.append((i, call, args, DENIED.format(tool=call.name)))
                continue
            if isinstance(answer, dict) and "args" in answer:
                args = tool.validate(answer["args"])  # pyright: ignore[reportUnknownArgumentType]
        resumed = (turn, call.id) in scope.started
        if resumed and tool.side_effect and tool.idempotency_key is None:
            answer = answers.get("uncertain:" + rid)
            if answer is None:
                pending.append(ApprovalRequest(id="uncertain:" + rid, tool=call.name, args=args, kind="uncertain"))
                continue
            if answer is False:
                decided.append((i, call, args, UNKNOWN.format(tool=call.name)))
                continue
        todo.append((i, call, args, resumed))
    if pending:
        raise RunPaused(pending)
    for i, call, args, text in decided:
        record = ToolCallRecord(id=call.id, name=call.name, args=args, error=text)
        await scope.record_end(turn, record, text)
        out[i] = (Message.tool(call.id, call.name, text), record)

    async def one(call: ToolCall, args: dict[str, Any] | None, resumed: bool) -> tuple[Message, ToolCallRecord]:
        if args is None:  # unknown tool or bad arguments: the plain path reports it to the model
            message, record = (await execute_tool_calls((call,), tools, default_timeout, sink, ctx))[0]
        else:
            chain = tools.chains[call.name]
            token = None
            if chain.tool.side_effect:
                call_ctx = call_context(chain.tool, call.id, args, scope.journal.run_id, resumed)
                if not resumed or call_ctx.idempotency_key != scope.started[(turn, call.id)].get("key"):
                    await scope.record_start(turn, call.id, call_ctx.idempotency_key)
                token = bind_call(call_ctx)
            try:
                record, _ = await call_tool(call.id, call.name, args, chain, sink=sink, metrics=tools.metrics, ctx=ctx)
            finally:
                if token is not None:
                    unbind_call(token)
            if record.error is not None:
                message = Message.tool(call.id, call.name, f"Error: {record.error}")
            else:
                message = result_message(call.id, call.name, record.result)
        await scope.record_end(turn, record, message.content or "")
        return message, record

    if len(todo) == 1:
        i, call, args, resumed = todo[0]
        out[i] = await one(call, args, resumed)
    elif todo:
        async with asyncio.TaskGroup() as tg:
            tasks = [(i, tg.create_task(one(call, args, resumed))) for i, call, args, resumed in todo]
        for i, task in tasks:
            out[i] = task.result()
    return [x for x in out if x is not None]
