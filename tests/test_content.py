"""Images, audio and documents as input: the value types, the simulator, OpenAI over HTTP, Anthropic blocks."""

from __future__ import annotations

from typing import Any, Literal

import pytest

import agentickit as ak
from agentickit.content import split_user_content
from agentickit.errors import UnsupportedContentError, UserError
from agentickit.messages import Message
from agentickit.providers.anthropic import convert_messages
from agentickit.providers.simulated import PART_TOKENS, SimRequest
from agentickit.simulator import SimulatorServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4 tiny"
WAV = b"RIFF\x00\x00\x00\x00WAVE"


def test_split_user_content_keeps_text_and_parts_in_order() -> None:
    image = ak.ImageUrl("https://example.com/cat.png")
    text, parts = split_user_content(["What is this?", image, "Be brief."])
    assert text == "What is this?\n\nBe brief." and parts == (image,)
    assert split_user_content("plain") == ("plain", ())


@pytest.mark.parametrize("bad", [42, [1], ["ok", object()], {"a": 1}])
def test_bad_queries_name_what_is_accepted(bad: Any) -> None:
    with pytest.raises(UserError, match="ak.ImageUrl"):
        split_user_content(bad)


def test_binary_content_encodes_once_and_checks_its_fields() -> None:
    png = ak.BinaryContent(PNG, media_type="image/png")
    assert png.base64 is png.base64 and png.data_url.startswith("data:image/png;base64,")
    assert png.is_image and not png.is_audio and "bytes" in repr(png) and "\\x89" not in repr(png)
    with pytest.raises(UserError, match="bytes"):
        ak.BinaryContent("text", media_type="text/plain")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="media_type"):
        ak.BinaryContent(b"x", media_type="png")


async def test_the_simulated_model_sees_and_counts_parts() -> None:
    seen: list[tuple[Any, ...]] = []

    def reply(request: SimRequest) -> str:
        seen.append(request.attachments)
        return f"{len(request.attachments)} attachments"

    memory = ak.Memory()
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply=reply), memory=memory)
    image, pdf = ak.ImageUrl("https://example.com/a.png"), ak.BinaryContent(PDF, media_type="application/pdf")
    with_parts = await agent.run(["describe", image, pdf], session_id="s")
    plain = await ak.Agent("b", llm=ak.SimulatedModel(reply="x")).run("describe")
    assert with_parts.content == "2 attachments" and seen == [(image, pdf)]
    assert with_parts.usage.input_tokens - plain.usage.input_tokens == 2 * PART_TOKENS
    stored = await memory.history("s", None)
    assert stored[0].parts == (image, pdf)  # images and documents survive the store, bytes included


Transport = Literal["aiohttp", "sdk"]


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_openai_wire_parts_over_http(transport: Transport, streamed: bool) -> None:
    async with SimulatorServer() as srv:
        llm = ak.LLMConfig(
            provider="openai", model="m", base_url=srv.base_url + "/v1", api_key="x", transport=transport
        )
        query = [
            "look",
            ak.ImageUrl("https://example.com/cat.png"),
            ak.BinaryContent(PNG, media_type="image/png"),
            ak.BinaryContent(WAV, media_type="audio/wav"),
            ak.BinaryContent(PDF, media_type="application/pdf"),
        ]
        async with ak.Agent("a", llm=llm) as agent:
            if streamed:
                stream = agent.run_stream(query)
                async for _ in stream:
                    pass
                result = await stream.wait()
            else:
                result = await agent.run(query)
    assert result.content == "look"
    content = srv.requests[-1].body["messages"][-1]["content"]
    assert [p["type"] for p in content] == ["text", "image_url", "image_url", "input_audio", "file"]
    assert content[1]["image_url"]["url"] == "https://example.com/cat.png"
    assert content[2]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[3]["input_audio"]["format"] == "wav"
    assert content[4]["file"]["file_data"].startswith("data:application/pdf;base64,")
    assert result.usage.input_tokens >= 4 * PART_TOKENS


@pytest.mark.parametrize(
    "part", [ak.DocumentUrl("https://example.com/a.pdf"), ak.AudioUrl("https://example.com/a.mp3")]
)
async def test_openai_rejects_what_chat_completions_cannot_take(part: Any) -> None:
    async with SimulatorServer() as srv:
        llm = ak.LLMConfig(provider="openai", model="m", base_url=srv.base_url + "/v1", api_key="x")
        async with ak.Agent("a", llm=llm) as agent:
            with pytest.raises(UnsupportedContentError) as info:
                await agent.run(["read", part])
    assert info.value.provider == "openai" and info.value.kind == type(part).__name__
    assert "accepts" in str(info.value) and len(srv.requests) == 0


def test_anthropic_blocks() -> None:
    parts = (
        ak.ImageUrl("https://example.com/a.png"),
        ak.BinaryContent(PNG, media_type="image/png"),
        ak.BinaryContent(PDF, media_type="application/pdf"),
        ak.BinaryContent(b"plain words", media_type="text/plain"),
        ak.DocumentUrl("https://example.com/a.pdf"),
    )
    _, out = convert_messages([Message.user("see", parts)])
    blocks = out[0]["content"]
    assert [b["type"] for b in blocks] == ["text", "image", "image", "document", "document", "document"]
    assert blocks[1]["source"] == {"type": "url", "url": "https://example.com/a.png"}
    assert blocks[2]["source"]["type"] == "base64" and blocks[2]["source"]["media_type"] == "image/png"
    assert blocks[4]["source"] == {"type": "text", "media_type": "text/plain", "data": "plain words"}
    assert blocks[5]["source"]["type"] == "url"
    with pytest.raises(UnsupportedContentError, match="anthropic provider cannot take BinaryContent"):
        convert_messages([Message.user("hear", (ak.BinaryContent(WAV, media_type="audio/wav"),))])


async def test_handlers_reject_parts_with_a_clear_error() -> None:
    async def handler(query: str, caps: ak.Capabilities) -> str:
        return query

    agent = ak.Agent("h", handler=handler)
    with pytest.raises(UserError, match="custom handler"):
        await agent.run(["x", ak.ImageUrl("https://example.com/a.png")])
