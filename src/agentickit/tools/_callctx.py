"""`ToolCallContext`: what a running tool can learn about its own call (`ak.current_tool_call()`)."""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

__all__ = ("ToolCallContext", "bind_call", "call_context", "current_tool_call", "unbind_call")


@dataclass(slots=True, frozen=True, kw_only=True)
class ToolCallContext:
    """The call a tool is running for. Set for tools with `side_effect=True` or an `idempotency_key`."""

    call_id: str
    """The model's id for the call."""
    tool: str
    run_id: str | None = None
    """The durable run this call belongs to (`None` outside a journaled run)."""
    idempotency_key: str | None = None
    """`idempotency_key(args)` of the tool: the same for every execution of this call, including one a
    resume repeats after a crash. Record it with the effect, and skip the effect when it is already there."""
    resumed: bool = False
    """True when a crash interrupted an earlier execution of this same call (it may have taken effect)."""


_current: ContextVar[ToolCallContext | None] = ContextVar("agentickit_tool_call", default=None)


def current_tool_call() -> ToolCallContext | None:
    """The `ToolCallContext` of the tool call this code runs in, or `None`."""
    return _current.get()


def bind_call(ctx: ToolCallContext) -> Token[ToolCallContext | None]:
    """Make `ctx` the current call until `unbind_call` (the task's own context: concurrent calls do not mix)."""
    return _current.set(ctx)


def unbind_call(token: Token[ToolCallContext | None]) -> None:
    """Restore the call that was current before `bind_call`."""
    _current.reset(token)


def call_context(tool: Any, call_id: str, args: dict[str, Any], run_id: str | None, resumed: bool) -> ToolCallContext:
    """The context of a call of `tool` (a `Tool`): its idempotency key computed from the arguments."""
    fn = tool.idempotency_key
    key = None if fn is None else str(fn(args))
    return ToolCallContext(call_id=call_id, tool=tool.name, run_id=run_id, idempotency_key=key, resumed=resumed)
