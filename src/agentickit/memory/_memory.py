"""Conversation memory: per-session history with limits, over a pluggable store.

A run reads history only when it has a `session_id` (from the run's options or the memory's
default); without one, a run is stateless, so concurrent batch runs never see each other.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ..errors import UserError
from ..messages import Message

__all__ = ("InMemoryStore", "Memory", "MemoryStore", "trim_history")


@runtime_checkable
class MemoryStore(Protocol):
    """Where conversation history lives. Implement it to add a backend (SQLite, Postgres, Redis, ...)."""

    async def get(self, session_id: str, limit: int | None = None) -> list[Message]:
        """The last `limit` messages of a session (all if `None`), oldest first."""
        ...

    async def append(self, session_id: str, messages: Sequence[Message]) -> None:
        """Append messages to a session."""
        ...

    async def clear(self, session_id: str) -> None:
        """Forget a session."""
        ...

    async def aclose(self) -> None:
        """Release connections. Idempotent."""
        ...


class InMemoryStore:
    """The default store: a bounded deque per session, and a bounded number of sessions.

    `max_messages` caps what is kept per session, so a 10,000-turn session stays flat in memory;
    `max_sessions` evicts the least recently used session, so a long-lived server does not grow
    with every user it has ever seen.
    """

    __slots__ = ("_sessions", "max_messages", "max_sessions")

    def __init__(self, *, max_messages: int = 1000, max_sessions: int = 10_000) -> None:
        if max_messages < 1 or max_sessions < 1:
            raise UserError("max_messages and max_sessions must be >= 1")
        self.max_messages = max_messages
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, deque[Message]] = OrderedDict()

    async def get(self, session_id: str, limit: int | None = None) -> list[Message]:
        """The last `limit` messages of a session, oldest first."""
        history = self._sessions.get(session_id)
        if not history:
            return []
        self._sessions.move_to_end(session_id)
        if limit is None or limit >= len(history):
            return list(history)
        if limit <= 0:
            return []
        return list(history)[-limit:]

    async def append(self, session_id: str, messages: Sequence[Message]) -> None:
        """Append messages; the oldest fall off beyond `max_messages`."""
        history = self._sessions.get(session_id)
        if history is None:
            history = self._sessions[session_id] = deque(maxlen=self.max_messages)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(session_id)
        history.extend(messages)

    async def clear(self, session_id: str) -> None:
        """Forget a session."""
        self._sessions.pop(session_id, None)

    async def aclose(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        return len(self._sessions)


def trim_history(messages: list[Message], *, limit: int | None, max_tokens: int | None = None) -> list[Message]:
    """Apply a message limit and a token budget to history, never starting on an orphaned tool result.

    Tokens are estimated at ~4 characters each; the newest messages are kept.
    """
    if limit is not None:
        messages = messages[-limit:] if limit > 0 else []
    if max_tokens is not None:
        budget = max_tokens
        keep = 0
        for m in reversed(messages):
            budget -= len(m.content or "") // 4 + 4
            if budget < 0:
                break
            keep += 1
        messages = messages[len(messages) - keep :]
    # A tool result whose assistant turn was cut off is rejected by every provider.
    start = 0
    while start < len(messages) and messages[start].role == "tool":
        start += 1
    return messages[start:] if start else messages


class Memory:
    """History settings and the store behind them.

    Args:
        history_limit: at most this many history messages are sent to the model per run
            (a run's own `history_limit` option overrides it).
        max_history_tokens: a token budget for history (estimated), applied after `history_limit`.
        session_id: the default session for runs that do not name one; `None` keeps runs stateless.
        store: where history lives; defaults to an `InMemoryStore`.

    """

    __slots__ = ("history_limit", "max_history_tokens", "session_id", "store")

    def __init__(
        self,
        *,
        history_limit: int | None = None,
        max_history_tokens: int | None = None,
        session_id: str | None = None,
        store: MemoryStore | None = None,
    ) -> None:
        if history_limit is not None and history_limit < 0:
            raise UserError(f"history_limit must be >= 0, got {history_limit}")
        self.history_limit = history_limit
        self.max_history_tokens = max_history_tokens
        self.session_id = session_id
        self.store: MemoryStore = store if store is not None else InMemoryStore()

    async def history(self, session_id: str, limit: int | None) -> list[Message]:
        """The history to send for a session, trimmed to `limit` messages and the token budget."""
        fetch = limit if self.max_history_tokens is None else None
        # Fetch a few more than the limit so that trimming an orphaned tool result does not starve it.
        raw = await self.store.get(session_id, None if fetch is None else fetch + 8)
        return trim_history(raw, limit=limit, max_tokens=self.max_history_tokens)

    async def aclose(self) -> None:
        """Close the store."""
        await self.store.aclose()

    def __getstate__(self) -> dict[str, Any]:
        # History stays in its process; a rebuilt agent starts with an empty in-memory store
        # (persistent stores reconnect from their own settings).
        store = self.store if not isinstance(self.store, InMemoryStore) else None
        return {
            "history_limit": self.history_limit,
            "max_history_tokens": self.max_history_tokens,
            "session_id": self.session_id,
            "store": store,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.history_limit = state["history_limit"]
        self.max_history_tokens = state["max_history_tokens"]
        self.session_id = state["session_id"]
        store = state["store"]
        self.store = store if store is not None else InMemoryStore()

    def __repr__(self) -> str:
        return f"Memory(history_limit={self.history_limit}, session_id={self.session_id!r})"
