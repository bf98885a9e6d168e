"""`Result`: what one run produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .durable._types import ApprovalRequest
from .messages import Message, ToolCallRecord, Usage

__all__ = ("Result", "Source")


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
class Result:
    """The outcome of one run.

    Attributes:
        content: the model's final answer.
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
    pending: list[ApprovalRequest] = field(default_factory=list[ApprovalRequest])
    """What a paused run waits for: tool calls to approve, uncertain calls, workflow inputs."""

    def __str__(self) -> str:
        return self.content
