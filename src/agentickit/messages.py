"""Value types that flow through a run: messages, tool calls, usage and model responses.

These sit on the hot path, so they are slotted dataclasses with no validation; pydantic is used only
where data crosses a boundary (tool arguments, config files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .content import ContentPart

__all__ = (
    "Message",
    "ModelResponse",
    "Role",
    "ToolCall",
    "ToolCallRecord",
    "ToolDefinition",
    "Usage",
)

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(slots=True, frozen=True)
class ToolCall:
    """A tool call requested by the model."""

    id: str
    """The provider's id for the call; tool results refer to it."""
    name: str
    """The tool's name."""
    arguments: str
    """The arguments as the raw JSON text the model produced."""


@dataclass(slots=True)
class Message:
    """One message of a conversation, in the OpenAI chat shape every provider maps to and from."""

    role: Role
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    """Tool calls an assistant message asks for."""
    tool_call_id: str | None = None
    """For `role="tool"`: the call this message answers."""
    name: str | None = None
    """For `role="tool"`: the tool's name."""
    parts: tuple[ContentPart, ...] = ()
    """Non-text input after `content`: images, audio, documents (see `agentickit.content`)."""

    @classmethod
    def system(cls, content: str) -> Message:
        """A system message."""
        return cls("system", content)

    @classmethod
    def user(cls, content: str, parts: tuple[ContentPart, ...] = ()) -> Message:
        """A user message, with images, audio or documents after its text."""
        return cls("user", content, parts=parts)

    @classmethod
    def assistant(cls, content: str | None, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        """An assistant message, with the tool calls it requested."""
        return cls("assistant", content, tool_calls)

    @classmethod
    def tool(cls, call_id: str, name: str, content: str) -> Message:
        """The result of a tool call, sent back to the model."""
        return cls("tool", content, (), call_id, name)


@dataclass(slots=True)
class Usage:
    """Token usage of one request or a whole run."""

    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        """Add another usage to this one, in place."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.requests += other.requests


@dataclass(slots=True, frozen=True)
class ToolDefinition:
    """What the model is told about a tool."""

    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""


@dataclass(slots=True)
class ModelResponse:
    """One complete answer of a model: text, requested tool calls, usage."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    thoughts: str = ""
    """Reasoning text the provider returned separately (`reasoning_content`, Anthropic thinking)."""
    model: str | None = None
    fallbacks: int = 0
    """How many models of a `FallbackModel` chain failed before the one that gave this answer."""


@dataclass(slots=True, kw_only=True)
class ToolCallRecord:
    """What happened when a tool was called during a run."""

    id: str
    name: str
    args: dict[str, Any]
    result: Any = None
    error: str | None = None
    duration: float = 0.0
    """Seconds spent in the tool, including retries."""
    attempts: int = 1
    cache_hit: bool = False

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.error is None
