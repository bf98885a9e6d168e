from __future__ import annotations

import mcp_types as t

from agentickit.mcp import to_output


def test_text_blocks_join_and_structured_content_is_kept() -> None:
    out = to_output(
        t.CallToolResult(
            content=[t.TextContent(type="text", text="line one"), t.TextContent(type="text", text="line two")],
            structured_content={"n": 2},
        )
    )
    assert out.text == "line one\nline two" and out.data == {"n": 2} and out.attachments == []


def test_structured_content_alone_becomes_the_text() -> None:
    out = to_output(t.CallToolResult(content=[], structured_content={"city": "Oslo", "temp": -3}))
    assert out.text == '{"city":"Oslo","temp":-3}'


def test_media_and_resources_are_metadata_with_placeholders() -> None:
    out = to_output(
        t.CallToolResult(
            content=[
                t.ImageContent(type="image", data="AAAA", mime_type="image/png"),
                t.AudioContent(type="audio", data="AAAAAAAA", mime_type="audio/wav"),
                t.ResourceLink(
                    type="resource_link", uri="file:///report.pdf", name="report", mime_type="application/pdf"
                ),
                t.EmbeddedResource(
                    type="resource",
                    resource=t.TextResourceContents(uri="mem://note", mime_type="text/plain", text="a note"),
                ),
                t.EmbeddedResource(type="resource", resource=t.BlobResourceContents(uri="mem://blob", blob="AAAA")),
            ]
        )
    )
    assert out.text.splitlines() == [
        "[image: image/png, 3 bytes]",
        "[audio: audio/wav, 6 bytes]",
        "[resource: file:///report.pdf]",
        "a note",
        "[resource: mem://blob]",
    ]
    kinds = [a["type"] for a in out.attachments]
    assert kinds == ["image", "audio", "resource_link", "resource", "resource"]
    assert out.attachments[0] == {"type": "image", "mime_type": "image/png", "data": "AAAA"}
    assert out.attachments[2]["uri"] == "file:///report.pdf" and out.attachments[2]["name"] == "report"
    assert out.attachments[3]["text"] == "a note" and out.attachments[4]["data"] == "AAAA"


def test_error_flag_is_recorded() -> None:
    out = to_output(t.CallToolResult(content=[t.TextContent(type="text", text="boom")], is_error=True))
    assert out.metadata == {"is_error": True} and out.text == "boom"
