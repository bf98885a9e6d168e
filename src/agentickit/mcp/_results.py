"""Mapping MCP tool results (`CallToolResult`) to agentickit tool results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ..tools._output import ToolOutput

if TYPE_CHECKING:
    from mcp_types import CallToolResult

__all__ = ("to_output",)


def to_output(result: CallToolResult) -> ToolOutput:
    """What the model reads (text blocks, placeholders for media) and what the program keeps.

    Text blocks are joined with newlines; images, audio and resources become `attachments`
    (metadata the model does not read) with a short placeholder in the text; structured content
    goes to `data`, and is the text itself when the server sent no text block.
    """
    texts: list[str] = []
    attachments: list[dict[str, Any]] = []
    blocks: list[Any] = list(result.content)
    for block in blocks:
        kind = block.type
        if kind == "text":
            texts.append(block.text)
        elif kind in ("image", "audio"):
            mime = block.mime_type
            data: str = block.data
            attachments.append({"type": kind, "mime_type": mime, "data": data})
            texts.append(f"[{kind}: {mime}, {len(data) * 3 // 4} bytes]")
        elif kind == "resource_link":
            uri = str(block.uri)
            attachments.append({"type": kind, "uri": uri, "name": block.name, "mime_type": block.mime_type})
            texts.append(f"[resource: {uri}]")
        elif kind == "resource":
            resource = block.resource
            entry: dict[str, Any] = {"type": kind, "uri": str(resource.uri), "mime_type": resource.mime_type}
            text = getattr(resource, "text", None)
            if text is not None:
                entry["text"] = text
                texts.append(text)
            else:
                entry["data"] = getattr(resource, "blob", None)
                texts.append(f"[resource: {resource.uri}]")
            attachments.append(entry)
    structured = result.structured_content
    if texts:
        text = "\n".join(texts)
    elif structured is not None:
        text = orjson.dumps(structured).decode()
    else:
        text = ""
    return ToolOutput(text=text, data=structured, attachments=attachments, metadata={"is_error": result.is_error})
