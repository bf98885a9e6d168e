"""Conversation memory: per-session history with limits, over a pluggable store.

A run reads history only when it has a `session_id` (from the run's options or the memory's
default); without one, a run is stateless, so concurrent batch runs never see each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from .._result import Source
from ..errors import UserError
from ..messages import Message
from ._sessions import SESSION_NS, SessionStore, message_from_dict, message_from_record, message_to_dict

if TYPE_CHECKING:
    from ..stores._base import Page, Store, StreamInfo
    from ._rag import Document, Embedder, KnowledgeBase, VectorIndex

_log = logging.getLogger("agentickit.memory")

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
    """History settings, the store behind them, and long-term knowledge.

    Args:
        history_limit: at most this many history messages are sent to the model per run
            (a run's own `history_limit` option overrides it). Limits apply to what is sent, not kept.
        max_history_tokens: a token budget for history (estimated), applied after `history_limit`.
        session_id: the default session for runs that do not name one; `None` keeps runs stateless.
        store: where sessions (and documents) live: an `ak.stores` store (`InMemory()`, the default,
            `SQLite(path)`, `Postgres(dsn)`, `Redis(url)`), or a legacy `MemoryStore` (history only).
        ttl: seconds after its last message that a session expires (then the sweeper deletes it).
        max_messages: the most messages kept per session; older ones are dropped on append.
            Default: 1,000 for the in-process default store (so memory stays flat), unbounded otherwise.
        sweep_interval: seconds between background sweeps of expired sessions (needs `ttl`); a task
            owned by this memory, started on first use and stopped by `aclose()`.
        embedder: turns text into vectors for `add_documents`/`query` (default: `HashEmbedder()`, offline).
        collection: the name of the document collection in the store.
        rag_k: the most retrieved items injected into a run's prompt (0 turns injection off).
        rag_max_tokens: the token budget (estimated, ~4 characters a token) of what is injected.
        history_weight: weight of past messages of the session (older than those sent) in retrieval;
            0 leaves them out.
        knowledge_weight: weight of document chunks in retrieval; 0 leaves them out.
        vectors: an approximate vector index that holds the documents instead of the store
            (`ak.stores.PgVector(dsn)`: HNSW in PostgreSQL; `await memory.vectors.recall()` measures
            its recall@10 against exact search). Default `None`: exact numpy search, recall 1.0.

    """

    __slots__ = (
        "_kb",
        "_sweeper",
        "backend",
        "collection",
        "embedder",
        "history_limit",
        "history_weight",
        "knowledge_weight",
        "max_history_tokens",
        "rag_k",
        "rag_max_tokens",
        "session_id",
        "store",
        "sweep_interval",
        "vectors",
    )

    def __init__(
        self,
        *,
        history_limit: int | None = None,
        max_history_tokens: int | None = None,
        session_id: str | None = None,
        store: Store | MemoryStore | None = None,
        ttl: float | None = None,
        max_messages: int | None = None,
        sweep_interval: float | None = None,
        embedder: Embedder | None = None,
        collection: str = "default",
        rag_k: int = 4,
        rag_max_tokens: int = 1000,
        history_weight: float = 0.0,
        knowledge_weight: float = 1.0,
        vectors: VectorIndex | None = None,
    ) -> None:
        problems: list[str] = []
        if history_limit is not None and history_limit < 0:
            problems.append(f"history_limit must be >= 0, got {history_limit}")
        if ttl is not None and ttl <= 0:
            problems.append(f"ttl must be > 0 seconds, got {ttl!r}")
        if max_messages is not None and max_messages < 1:
            problems.append(f"max_messages must be >= 1, got {max_messages!r}")
        if sweep_interval is not None and (sweep_interval <= 0 or ttl is None):
            problems.append(f"sweep_interval must be > 0 seconds and needs ttl= (got {sweep_interval!r}, ttl={ttl!r})")
        if rag_k < 0 or rag_max_tokens < 0:
            problems.append(f"rag_k and rag_max_tokens must be >= 0, got {rag_k!r} and {rag_max_tokens!r}")
        if history_weight < 0 or knowledge_weight < 0:
            problems.append(
                f"weights must be >= 0, got history_weight={history_weight!r}, knowledge_weight={knowledge_weight!r}"
            )
        if problems:
            raise UserError("invalid memory settings: " + "; ".join(problems))
        # Retrieval (and `re`) loads with the first Memory, not with `import agentickit`.
        from ._rag import HashEmbedder, VectorIndex

        self.history_limit = history_limit
        self.max_history_tokens = max_history_tokens
        self.session_id = session_id
        self.backend: Store | None
        if store is None or _is_store(store):
            # `ak.stores` loads with the first Memory (one import per construction, a cold path), not
            # with `import agentickit`: an agent without memory never needs it.
            from ..stores._memory import InMemory

            backend: Store = InMemory() if store is None else store  # type: ignore[assignment]
            if max_messages is None and store is None:
                max_messages = 1000
            self.backend = backend
            self.store: MemoryStore = SessionStore(backend, ttl=ttl, max_messages=max_messages)
        else:
            if ttl is not None or max_messages is not None:
                raise UserError(
                    "ttl= and max_messages= need an ak.stores store (e.g. store=ak.stores.SQLite('agent.db')); "
                    f"{type(store).__name__} is a history-only MemoryStore"
                )
            self.backend = None
            self.store = store  # type: ignore[assignment]
        self.sweep_interval = sweep_interval
        self.embedder: Embedder = embedder if embedder is not None else HashEmbedder()
        self.collection = collection
        self.rag_k = rag_k
        self.rag_max_tokens = rag_max_tokens
        self.history_weight = history_weight
        self.knowledge_weight = knowledge_weight
        if vectors is not None and not isinstance(vectors, VectorIndex):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UserError(f"vectors must be a vector index such as ak.stores.PgVector(dsn), got {vectors!r}")
        self.vectors = vectors
        self._kb: KnowledgeBase | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def ttl(self) -> float | None:
        """Seconds after its last message that a session expires."""
        return self.store.ttl if isinstance(self.store, SessionStore) else None

    @property
    def max_messages(self) -> int | None:
        """The most messages kept per session."""
        return self.store.max_messages if isinstance(self.store, SessionStore) else None

    def _backend(self, what: str) -> Store:
        if self.backend is None:
            raise UserError(f"{what} needs an ak.stores store (e.g. ak.Memory(store=ak.stores.SQLite('agent.db')))")
        return self.backend

    # -- history -------------------------------------------------------------------------------

    async def history(self, session_id: str, limit: int | None) -> list[Message]:
        """The history to send for a session, trimmed to `limit` messages and the token budget."""
        raw = await self.store.get(session_id, self._fetch(limit))
        return trim_history(raw, limit=limit, max_tokens=self.max_history_tokens)

    def _fetch(self, limit: int | None) -> int | None:
        """How many messages to read for a history of `limit` (and start the sweeper on first use)."""
        if self.sweep_interval is not None and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        if limit is None or self.max_history_tokens is not None:
            return None
        # A few more than the limit, so that trimming an orphaned tool result does not starve it.
        return limit + 8

    async def recall(
        self, text: str, session_id: str, limit: int | None, messages: list[Message]
    ) -> tuple[Message | None, list[Source]]:
        """Extend `messages` with the session's history (as `history()`); return the retrieved context for them.

        When retrieval would check the knowledge base's stream (exact search over an `ak.stores`
        store), the history and that check are one store call: one round trip on PostgreSQL and
        Redis, one hop to SQLite's thread. Nothing is cached, so nothing goes stale: documents
        another process added are found by the very next run.
        """
        store = self.store
        if not (self._checks_knowledge() and isinstance(store, SessionStore)):
            messages.extend(await self.history(session_id, limit))
            return await self.rag_context(text, session_id, messages)
        from ._rag import KB_NS  # loaded by now (the knowledge base below needs it)

        raw, info = await store.get_with_info(session_id, self._fetch(limit), (KB_NS, self.collection))
        messages.extend(trim_history(raw, limit=limit, max_tokens=self.max_history_tokens))
        return self._context(await self._retrieve(text, session_id, messages, self.rag_k, (info,)))

    def _checks_knowledge(self) -> bool:
        """Whether retrieval for a run reads the knowledge base's stream in the store."""
        return (
            self.rag_k > 0
            and self.rag_max_tokens > 0
            and self.knowledge_weight > 0
            and self.backend is not None
            and self.vectors is None
        )

    # -- sessions ------------------------------------------------------------------------------

    async def sessions(self, *, limit: int = 50, cursor: str | None = None) -> Page:
        """Sessions, most recently active first; pass `page.next_cursor` for the next page."""
        return await self._backend("sessions()").list(SESSION_NS, limit=limit, cursor=cursor)

    async def load(self, session_id: str) -> list[Message]:
        """Every kept message of a session, oldest first.

        Raises:
            CorruptRecordError: a stored message cannot be read (with the session and position).

        """
        return await self.store.get(session_id, None)

    async def delete(self, session_id: str) -> bool:
        """Delete a session; `True` if it existed."""
        return await self._backend("delete()").delete(SESSION_NS, session_id)

    async def export_session(self, session_id: str) -> str:
        """A session as JSON text: `{"format": "agentickit.session", "version": 1, "id", "meta", "messages"}`."""
        backend = self._backend("export_session()")
        info = await backend.info(SESSION_NS, session_id)
        messages = await self.load(session_id)
        doc = {
            "format": "agentickit.session",
            "version": 1,
            "id": session_id,
            "meta": info.meta if info is not None else {},
            "messages": [message_to_dict(m) for m in messages],
        }
        return orjson.dumps(doc).decode()

    async def import_session(self, data: str | bytes | Mapping[str, Any], *, session_id: str | None = None) -> str:
        """Append an exported session's messages to `session_id` (default: the exported id); return the id.

        Raises:
            UserError: the data is not an exported session.

        """
        backend = self._backend("import_session()")
        try:
            doc: Any = orjson.loads(data) if isinstance(data, str | bytes) else dict(data)
            if doc.get("format") != "agentickit.session":
                raise ValueError("not an agentickit session export")
            messages = [message_from_dict(d) for d in doc["messages"]]
            target = session_id or doc["id"]
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UserError(f"cannot import session: {exc}") from None
        if doc.get("meta"):
            await backend.put_meta(SESSION_NS, target, doc["meta"])
        await self.store.append(target, messages)
        return target

    async def fork(self, session_id: str, new_session_id: str, *, at: int | None = None) -> str:
        """Copy a session into a new one, up to (not including) the message at position `at` (all if `None`).

        Positions are the stores' `seq`s: 0 for the session's first message ever appended.
        """
        backend = self._backend("fork()")
        records = await backend.read(SESSION_NS, session_id, end=at)
        messages = [message_from_record(r, session_id) for r in records]
        if await backend.info(SESSION_NS, new_session_id) is not None:
            raise UserError(f"cannot fork into {new_session_id!r}: that session exists (delete it first)")
        await self.store.append(new_session_id, messages)
        return new_session_id

    async def sweep(self) -> int:
        """Delete expired sessions now; return how many."""
        return await self._backend("sweep()").sweep(SESSION_NS)

    async def _sweep_forever(self) -> None:
        interval = self.sweep_interval or 60.0
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception as exc:  # a store hiccup must not end the sweeper; the next round retries
                _log.warning("memory sweep failed: %s: %s", type(exc).__name__, exc)

    # -- knowledge -----------------------------------------------------------------------------

    def _knowledge(self) -> KnowledgeBase:
        if self._kb is None:
            from ._rag import KnowledgeBase

            self._kb = KnowledgeBase(self._backend("documents"), self.embedder, self.collection, self.vectors)
        return self._kb

    async def add_documents(
        self,
        docs: Sequence[str | Document],
        *,
        chunk_size: int = 800,
        overlap: int = 100,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Chunk (`chunk_size` characters, `overlap` shared), embed and store documents; return the chunk ids.

        `metadata` is added to every chunk (a `Document`'s own metadata wins), for `query(filter=...)`.
        """
        return await self._knowledge().add(docs, chunk_size=chunk_size, overlap=overlap, metadata=metadata)

    async def query(self, text: str, *, k: int = 5, filter: Mapping[str, Any] | None = None) -> list[Source]:
        """The `k` document chunks most similar to `text`, best first (exact search; `filter` matches metadata)."""
        return await self._knowledge().query(text, k=k, filter=filter)

    async def has_documents(self) -> bool:
        """Whether the store holds documents of this memory's collection."""
        if self.backend is None:
            return False
        kb = self._knowledge()
        await kb.refresh()
        return len(kb) > 0

    async def retrieve(
        self, text: str, session_id: str | None, sent: Sequence[Message], *, k: int | None = None
    ) -> list[Source]:
        """What to inject for a query: chunks and past messages, weighted, best first, within `rag_max_tokens`.

        Each candidate's score is its similarity times `knowledge_weight` (chunks) or `history_weight`
        (messages of the session older than those `sent`); candidates are taken best first while they fit.
        """
        return await self._retrieve(text, session_id, sent, self.rag_k if k is None else k, None)

    async def _retrieve(
        self, text: str, session_id: str | None, sent: Sequence[Message], k: int, known: tuple[StreamInfo | None] | None
    ) -> list[Source]:
        """`retrieve()`; `known`: the knowledge base's stream info, read with the history (else it is read here)."""
        if k <= 0 or self.rag_max_tokens <= 0 or self.backend is None:
            return []
        candidates: list[Source] = []
        if self.knowledge_weight > 0:
            kb = self._knowledge()
            if kb.index is None:
                await (kb.refresh() if known is None else kb.refresh_from(known[0]))
            # An index is asked directly (an empty or missing collection answers nothing): counting
            # its rows first cost a `count(*)` per run, 2.4 ms over 20,000 chunks against 3.4 ms to search.
            if kb.index is not None or len(kb):
                for s in await kb.search(text, k=k):
                    s.score *= self.knowledge_weight
                    candidates.append(s)
        if self.history_weight > 0 and session_id is not None:
            candidates += await self._past_messages(text, session_id, len(sent), k)
        candidates.sort(key=lambda s: s.score, reverse=True)
        chosen: list[Source] = []
        budget = self.rag_max_tokens
        for s in candidates:
            cost = len(s.text) // 4 + 4
            if s.score <= 0 or cost > budget:
                continue
            chosen.append(s)
            budget -= cost
            if len(chosen) >= k:
                break
        return chosen

    async def rag_context(
        self, query: str, session_id: str | None, sent: Sequence[Message]
    ) -> tuple[Message | None, list[Source]]:
        """The system message of retrieved context for a run (or `None`), and its sources."""
        if self.rag_k <= 0 or self.backend is None:
            return None, []
        return self._context(await self.retrieve(query, session_id, sent))

    @staticmethod
    def _context(sources: list[Source]) -> tuple[Message | None, list[Source]]:
        if not sources:
            return None, []
        lines = ["Context retrieved from memory (use it if relevant; cite ids in brackets):"]
        lines += [f"[{s.id}] {s.text}" for s in sources]
        return Message("system", "\n".join(lines)), sources

    async def _past_messages(self, text: str, session_id: str, sent: int, k: int) -> list[Source]:
        backend = self._backend("history retrieval")
        info = await backend.info(SESSION_NS, session_id)
        if info is None or info.count <= sent:
            return []
        records = await backend.read(SESSION_NS, session_id, end=info.next_seq - sent)
        past = [(r.seq, m) for r in records if (m := message_from_record(r, session_id)).content and m.role != "tool"]
        if not past:
            return []
        vectors = await self.embedder.embed([text, *(m.content or "" for _, m in past)])
        q = vectors[0]
        scored = [
            Source(
                id=f"session:{session_id}#{seq}",
                text=m.content or "",
                score=sum(a * b for a, b in zip(q, v, strict=False)) * self.history_weight,
                metadata={"role": m.role, "position": seq},
                kind="history",
            )
            for (seq, m), v in zip(past, vectors[1:], strict=True)
        ]
        scored.sort(key=lambda s: s.score, reverse=True)
        return scored[:k]

    async def aclose(self) -> None:
        """Stop the sweeper and close the store (and the embedder, if it has connections). Idempotent."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        close = getattr(self.embedder, "aclose", None)
        if close is not None:
            await close()
        if self.vectors is not None:
            await self.vectors.aclose()
        await self.store.aclose()

    def __getstate__(self) -> dict[str, Any]:
        # History stays in its process; a rebuilt agent starts with an empty in-memory store
        # (persistent stores reconnect from their own settings).
        from ..stores._memory import InMemory

        in_process = isinstance(self.store, InMemoryStore) or isinstance(self.backend, InMemory)
        return {
            "history_limit": self.history_limit,
            "max_history_tokens": self.max_history_tokens,
            "session_id": self.session_id,
            "store": None if in_process else (self.backend if self.backend is not None else self.store),
            "ttl": self.ttl,
            "max_messages": self.max_messages,
            "sweep_interval": self.sweep_interval,
            "embedder": self.embedder,
            "collection": self.collection,
            "rag_k": self.rag_k,
            "rag_max_tokens": self.rag_max_tokens,
            "history_weight": self.history_weight,
            "knowledge_weight": self.knowledge_weight,
            "vectors": self.vectors,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state["store"] is None:
            state["max_messages"] = None if state["max_messages"] == 1000 else state["max_messages"]
        self.__init__(**state)

    def __repr__(self) -> str:
        return f"Memory(history_limit={self.history_limit}, session_id={self.session_id!r}, store={self.backend or self.store!r})"


def _is_store(store: object) -> bool:
    return all(hasattr(store, name) for name in ("read", "append", "list", "put_meta", "sweep"))
