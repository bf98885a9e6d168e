"""`ToolOutput`: a tool result that says separately what the model reads and what the program keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ("ToolOutput",)


@dataclass(slots=True, kw_only=True)
class ToolOutput:
    """A tool's result with the text for the model kept apart from data and attachments.

    Return one from a tool when the model should read something other than the raw value (MCP
    tools always return one). `Result.tool_calls[i].result` and the TOOL_RESULT chunk carry the
    whole object; the model receives `text`.
    """

    text: str
    """What the model reads."""
    data: Any = None
    """Structured content (e.g. an MCP tool's `structuredContent`), if any."""
    attachments: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    """Images, audio and resources as metadata: dicts with `type`, `mime_type` and `data`/`uri`."""
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    """Anything else the tool wants to report (not sent to the model)."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (used by shared caches)."""
        return {"text": self.text, "data": self.data, "attachments": self.attachments, "metadata": self.metadata}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ToolOutput:
        """Rebuild from `to_json()`."""
        return cls(
            text=value["text"],
            data=value.get("data"),
            attachments=list(value.get("attachments") or ()),
            metadata=dict(value.get("metadata") or {}),
        )
