"""Sessions on a `Store`: one record per message in the namespace `"session"`, appended, never rewritten."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..content import AudioUrl, BinaryContent, ContentPart, DocumentUrl, ImageUrl
from ..messages import Message, ToolCall
from ..telemetry import _hooks as _tel

if TYPE_CHECKING:
    from ..stores._base import Record, Store, StreamInfo

__all__ = ("SESSION_NS", "SessionStore", "message_from_dict", "message_from_record", "message_to_dict")

SESSION_NS = "session"
_ROLES = frozenset(("system", "user", "assistant", "tool"))


def message_to_dict(m: Message) -> dict[str, Any]:
    """A message as a compact JSON object (empty fields left out, so a stored session stays small)."""
    d: dict[str, Any] = {"role": m.role}
    if m.content is not None:
        d["content"] = m.content
    if m.tool_calls:
        d["tool_calls"] = [[c.id, c.name, c.arguments] for c in m.tool_calls]
    if m.tool_call_id is not None:
        d["tool_call_id"] = m.tool_call_id
    if m.name is not None:
        d["name"] = m.name
    if m.parts:
        d["parts"] = [_part_to_dict(p) for p in m.parts]
    return d


def _part_to_dict(p: ContentPart) -> dict[str, Any]:
    if isinstance(p, BinaryContent):
        return {"k": p.kind, "mt": p.media_type, "b64": p.base64}
    return {"k": p.kind, "url": p.url, "mt": p.media_type}


_URL_PARTS: dict[str, type[ImageUrl | DocumentUrl | AudioUrl]] = {
    "image-url": ImageUrl,
    "document-url": DocumentUrl,
    "audio-url": AudioUrl,
}


def _part_from_dict(d: dict[str, Any]) -> ContentPart:
    kind = d.get("k")
    if kind == "binary":
        return BinaryContent(base64.b64decode(d["b64"]), str(d["mt"]))
    cls = _URL_PARTS.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown content part kind {kind!r}")
    return cls(str(d["url"]), d.get("mt"))


def message_from_dict(d: dict[str, Any]) -> Message:
    """The inverse of `message_to_dict`; raises `ValueError` on a malformed object."""
    role = d.get("role")
    if role not in _ROLES:
        raise ValueError(f"unknown role {role!r}")
    content = d.get("content")
    if content is not None and not isinstance(content, str):
        raise ValueError("content is not a string")
    calls = tuple(ToolCall(str(c[0]), str(c[1]), str(c[2])) for c in d.get("tool_calls") or ())
    parts = tuple(_part_from_dict(p) for p in d.get("parts") or ())
    return Message(role, content, calls, d.get("tool_call_id"), d.get("name"), parts)


def message_from_record(r: Record, session_id: str) -> Message:
    """A stored record as a message, or `CorruptRecordError` with the session and position."""
    try:
        return message_from_dict(r.data)
    except (ValueError, TypeError, IndexError, KeyError) as exc:
        from ..stores._base import CorruptRecordError  # an error path; a store is loaded by then

        raise CorruptRecordError(
            f"corrupt message in session {session_id!r} at position {r.seq}: {exc}",
            namespace=SESSION_NS,
            stream_id=session_id,
            seq=r.seq,
        ) from None


class SessionStore:
    """Conversation history (`get`/`append`/`clear`, the `MemoryStore` shape the run loop uses) over a `Store`.

    `ttl` and `max_messages` are applied on every append, in the store's own transaction.
    """

    __slots__ = ("backend", "max_messages", "ttl")

    def __init__(self, backend: Store, *, ttl: float | None = None, max_messages: int | None = None) -> None:
        self.backend = backend
        self.ttl = ttl
        self.max_messages = max_messages

    async def get(self, session_id: str, limit: int | None = None) -> list[Message]:
        """The last `limit` messages (all if `None`), oldest first."""
        if limit is not None and limit <= 0:
            return []
        return (await self._read(session_id, limit, None))[0]

    async def get_with_info(
        self, session_id: str, limit: int | None, info_of: tuple[str, str]
    ) -> tuple[list[Message], StreamInfo | None]:
        """`get(session_id, limit)` and the backend's `info(*info_of)` in one store call (one round trip)."""
        if limit is not None and limit <= 0:
            return [], await self.backend.info(*info_of)
        return await self._read(session_id, limit, info_of)

    async def _read(
        self, session_id: str, limit: int | None, info_of: tuple[str, str] | None
    ) -> tuple[list[Message], StreamInfo | None]:
        span = None if _tel.active is None else _tel.active.store_start("read", session_id, self.backend)
        try:
            if info_of is None:
                records, info = await self.backend.read(SESSION_NS, session_id, last=limit), None
            else:
                from ..stores._base import read_and_info  # a store is loaded by then

                records, info = await read_and_info(self.backend, SESSION_NS, session_id, info_of, last=limit)
            out = [message_from_record(r, session_id) for r in records]
        except BaseException as exc:
            if span is not None:
                span.fail(exc)
            raise
        if span is not None:
            span.store_end(len(out))
        return out, info

    async def append(self, session_id: str, messages: Sequence[Message]) -> None:
        """Append messages, one record each."""
        if not messages:
            return
        span = None if _tel.active is None else _tel.active.store_start("append", session_id, self.backend)
        try:
            await self.backend.append(
                SESSION_NS,
                session_id,
                [message_to_dict(m) for m in messages],
                ttl=self.ttl,
                max_records=self.max_messages,
            )
        except BaseException as exc:
            if span is not None:
                span.fail(exc)
            raise
        if span is not None:
            span.store_end(len(messages))

    async def clear(self, session_id: str) -> None:
        """Delete the session."""
        await self.backend.delete(SESSION_NS, session_id)

    async def aclose(self) -> None:
        """Close the backend."""
        await self.backend.aclose()

    def __repr__(self) -> str:
        return f"SessionStore({self.backend!r}, ttl={self.ttl}, max_messages={self.max_messages})"
