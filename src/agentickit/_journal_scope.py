"""The slot through which a durable run hands its journal scope to the agent run it starts.

It lives outside `agentickit.durable` so the agent loop can look at it (one context-variable read
per run) without importing the durable machinery: `import agentickit` stays cheap, and only a
durable run, which imports `durable` anyway, ever puts a scope here.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .durable._journal import Scope

__all__ = ("bind_scope", "current_scope", "reset_scope", "take_scope")

_scope: ContextVar[Scope | None] = ContextVar("agentickit_journal_scope", default=None)


def bind_scope(scope: Scope | None) -> Token[Scope | None]:
    """Make `scope` the one the next agent run in this task journals into."""
    return _scope.set(scope)


def reset_scope(token: Token[Scope | None]) -> None:
    """Undo `bind_scope`."""
    _scope.reset(token)


def current_scope() -> Scope | None:
    """The scope bound in this task, if any."""
    return _scope.get()


def take_scope() -> Scope | None:
    """The bound scope, unbound: only the run it was meant for journals into it (not nested runs)."""
    scope = _scope.get()
    if scope is not None:
        _scope.set(None)
    return scope
