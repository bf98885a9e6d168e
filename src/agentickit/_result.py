"""`Result`: what one run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from .messages import Message, ToolCallRecord, Usage

if TYPE_CHECKING:
    from .durable._types import ApprovalRequest

__all__ = ("OutputT", "Result", "Source")

OutputT = TypeVar("OutputT", default=str, covariant=True)
"""The type of `Result.output`: `str` for plain-text runs, the `output_type` otherwise."""


class _Text:
    """`Result.output`'s default: "the same as `content`" (a plain-text run)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<text>"


_TEXT: Any = _Text()


def _no_requests() -> list[ApprovalRequest]:
    # `list[ApprovalRequest]` itself would need the durable package at import time.
    return []


@dataclass(slots=True, kw_only=True)
class Source:
    """Something retrieved from memory: a document chunk, or a past message of the session."""

    id: str
    """The chunk id (`<doc id>#<n>`) or, for a past message, `session:<session id>#<position>`."""
    text: str
    score: float
    """Cosine similarity to the query, times the memory's weight for its kind."""
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    kind: str = "document"
    """`document` (from `add_documents`) or `history` (a past message of the session)."""

    @property
    def content(self) -> str:
        """The text (the name messages use, so code written for messages reads sources too)."""
        return self.text


@dataclass(slots=True, kw_only=True)
class Result(Generic[OutputT]):
    """The outcome of one run; `Result[Invoice]` when the run had `output_type=Invoice`.

    Attributes:
        content: the model's final answer, as raw text (the JSON, for a structured answer).
        output: the validated answer: an `output_type` instance, or the text itself (`content`)
            for a plain-text run.
        usage: input and output tokens over every request of the run.
        duration: wall seconds of the run.
        tool_calls: every tool call, in the order the model asked for them.
        messages: the whole conversation sent and received (system prompt, history, new turns).
        metadata: the run's `metadata` option, plus what the run added (model, finish reason, rounds).
        run_id: a unique id for this run.
        agent_name: the agent (or workflow) that ran.

    """

    content: str
    usage: Usage = field(default_factory=Usage)
    duration: float = 0.0
    tool_calls: list[ToolCallRecord] = field(default_factory=list[ToolCallRecord])
    messages: list[Message] = field(default_factory=list[Message])
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    run_id: str = ""
    agent_name: str = ""
    thoughts: str = ""
    """Reasoning text the provider returned alongside the answer, if any."""
    sources: list[Source] = field(default_factory=list[Source])
    """What memory retrieval injected into the prompt (ids, scores, metadata), best first."""
    status: str = "finished"
    """`finished`, or `paused`: the run waits for a person (see `pending`; continue with `resume`)."""
    pending: list[ApprovalRequest] = field(default_factory=_no_requests)
    """What a paused run waits for: tool calls to approve, uncertain calls, workflow inputs."""
    output: OutputT = _TEXT

    def __post_init__(self) -> None:
        if self.output is _TEXT:
            self.output = self.content  # type: ignore[assignment]  # a plain-text run: OutputT is str

    def __str__(self) -> str:
        return self.content
