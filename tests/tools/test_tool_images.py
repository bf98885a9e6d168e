"""Tools that return images (`ak.BinaryContent`): in process, on OpenAI's wire over HTTP, in Anthropic's blocks."""

from __future__ import annotations

from typing import Any, Literal

import pytest

import agentickit as ak
from agentickit.messages import Message, ToolCall
from agentickit.providers.anthropic import convert_messages
from agentickit.providers.simulated import SimRequest, call
from agentickit.simulator import SimulatorServer
from agentickit.tools._call import result_message
from tests.tools._tool_helpers import calls

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@ak.tool
async def chart(title: str) -> ak.BinaryContent:
    """Draw a chart.

    Args:
        title: the chart's title.
    """
    return ak.BinaryContent(PNG, media_type="image/png")


@ak.tool
async def captioned() -> list[Any]:
    """A picture with a caption."""
    return ["the caption", ak.BinaryContent(PNG, media_type="image/jpeg")]


def test_result_message_puts_binaries_on_parts() -> None:
    png = ak.BinaryContent(PNG, media_type="image/png")
    m = result_message("c1", "chart", png)
    assert m.role == "tool" and m.parts == (png,) and m.content == "[image/png attached]" and m.tool_call_id == "c1"
    mixed = result_message("c2", "x", ["caption", png, {"n": 1}])
    assert mixed.parts == (png,) and mixed.content == 'caption\n[image/png attached]\n{"n":1}'
    assert result_message("c3", "x", [1, 2]).parts == () and result_message("c3", "x", [1, 2]).content == "[1,2]"


async def test_the_model_sees_the_tools_image_in_process() -> None:
    seen: list[tuple[Any, ...]] = []

    def reply(request: SimRequest) -> Any:
        results = request.tool_results
        if not results:
            return call("chart", title="sales")
        seen.append(results[0].parts)
        return f"saw {len(results[0].parts)}"

    model = ak.SimulatedModel(reply=reply, tools_mode="never")
    result = await ak.Agent("a", llm=model, tools=[chart]).run("draw")
    assert result.content == "saw 1" and len(seen) == 1
    assert isinstance(seen[0][0], ak.BinaryContent) and seen[0][0].media_type == "image/png"
    assert result.tool_calls[0].result == ak.BinaryContent(PNG, media_type="image/png")
    tool_msg = next(m for m in result.messages if m.role == "tool")
    assert tool_msg.parts and tool_msg.content == "[image/png attached]"


Transport = Literal["aiohttp", "sdk"]


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
async def test_openai_gets_tool_text_then_one_user_message_with_the_images(transport: Transport) -> None:
    script = [calls(("chart", {"title": "a"}), ("captioned", {})), "described"]
    async with SimulatorServer(script=script) as srv:
        llm = ak.LLMConfig(
            provider="openai", model="m", base_url=srv.base_url + "/v1", api_key="x", transport=transport
        )
        async with ak.Agent("a", llm=llm, tools=[chart, captioned]) as agent:
            result = await agent.run("draw two")
    assert result.content == "described"
    wire = srv.requests[-1].body["messages"]
    assert [m["role"] for m in wire] == ["user", "assistant", "tool", "tool", "user"]
    assert wire[2]["content"] == "[image/png attached]" and wire[3]["content"] == "the caption\n[image/jpeg attached]"
    images = [p for p in wire[4]["content"] if p["type"] == "image_url"]
    assert [p["image_url"]["url"][:22] for p in images] == ["data:image/png;base64,", "data:image/jpeg;base64"]
    texts = [p["text"] for p in wire[4]["content"] if p["type"] == "text"]
    assert texts == ["The chart tool returned:", "The captioned tool returned:"]
    # The simulator reads that user message back as the tool results' images (it answered "described").
    assert len(srv.requests) == 2


def test_anthropic_puts_the_image_in_the_tool_result() -> None:
    png = ak.BinaryContent(PNG, media_type="image/png")
    messages = [
        Message.user("draw"),
        Message.assistant(None, (ToolCall("t1", "chart", '{"title": "a"}'),)),
        result_message("t1", "chart", png),
    ]
    _, out = convert_messages(messages)
    block = out[-1]["content"][0]
    assert out[-1]["role"] == "user" and block["type"] == "tool_result" and block["tool_use_id"] == "t1"
    kinds = [b["type"] for b in block["content"]]
    assert kinds == ["text", "image"] and block["content"][1]["source"]["media_type"] == "image/png"
