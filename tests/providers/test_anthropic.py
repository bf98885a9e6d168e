"""The `anthropic` provider through the official SDK against a small fake Messages API on 127.0.0.1.

The fake speaks real HTTP and real SSE with Anthropic's event shapes (message_start,
content_block_start/delta/stop, message_delta, message_stop), so the SDK parses what it would
parse from the real API.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

import agentickit as ak
from agentickit.errors import (
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ConfigError,
    MissingAPIKeyError,
    ProviderConnectionError,
    ProviderTimeoutError,
    RateLimitError,
    RunCancelledError,
    ServerError,
)
from agentickit.messages import Message, ToolCall
from agentickit.options import ModelSettings
from agentickit.providers import TextDelta, ThoughtDelta, ToolCallDelta, UsageEvent, infer_model
from agentickit.providers._sample import PROMPTED_MARK, prompted_schema, sample
from agentickit.providers.anthropic import convert_messages
from tests.conftest import free_port

ERRORS = {
    "429": (429, "rate_limit_error"),
    "401": (401, "authentication_error"),
    "400": (400, "invalid_request_error"),
    "529": (529, "overloaded_error"),
}


class FakeAnthropic:
    """Answers like the Messages API: echo, a tool_use when tools are offered, errors on `[[err:NNN]]`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[Any] = []
        self.disconnects = 0
        self.disconnected = asyncio.Event()
        self.base_url = ""
        self.json_replies: list[str] = []
        """Answers to requests with `output_config.format`, in order; then an instance of the schema."""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeAnthropic:
        app = web.Application()
        app.router.add_post("/v1/messages", self.messages)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def plan(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        last = body["messages"][-1]
        results = [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
        blocks: list[dict[str, Any]] = []
        if body.get("thinking"):
            blocks.append({"type": "thinking", "thinking": "Let me think.", "signature": "sig"})
        fmt = (body.get("output_config") or {}).get("format")
        if fmt is not None and (results or not body.get("tools")):
            # JSON outputs: the answer is the text block, JSON for the schema.
            text = self.json_replies.pop(0) if self.json_replies else orjson.dumps(sample(fmt["schema"])).decode()
            return [*blocks, {"type": "text", "text": text}], "end_turn"
        prompted = prompted_schema(body.get("system") or "") if PROMPTED_MARK in (body.get("system") or "") else None
        if prompted is not None and not results:
            # The schema in the system prompt (PromptedOutput, or a fallback chain's non-native model).
            text = self.json_replies.pop(0) if self.json_replies else orjson.dumps(sample(prompted)).decode()
            return [*blocks, {"type": "text", "text": text}], "end_turn"
        if results:
            return [*blocks, {"type": "text", "text": f"The tool said: {results[0]['content']}"}], "end_turn"
        if body.get("tools"):
            tool = body["tools"][0]["name"]
            return [
                *blocks,
                {"type": "tool_use", "id": "toolu_01", "name": tool, "input": {"city": "Paris"}},
            ], "tool_use"
        text = "".join(b["text"] for b in last["content"] if b.get("type") == "text")
        return [*blocks, {"type": "text", "text": text}], "end_turn"

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(request.headers)
        last_text = orjson.dumps(body["messages"][-1]["content"]).decode()
        for code, (status, kind) in ERRORS.items():
            if f"[[err:{code}]]" in last_text:
                error = {"type": "error", "error": {"type": kind, "message": f"fake {kind}"}}
                headers = {"retry-after": "0"} if status == 429 else None
                return web.json_response(error, status=status, headers=headers)
        if "[[hang]]" in last_text:
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.disconnects += 1
                self.disconnected.set()
                raise
        if "[[garbage]]" in last_text:
            return web.Response(body=b'{"id": "msg_1", "content": [', content_type="application/json")
        blocks, stop = self.plan(body)
        usage = {"input_tokens": 11, "output_tokens": 7}
        message = {"id": "msg_01", "type": "message", "role": "assistant", "model": body["model"]}
        if not body.get("stream"):
            return web.json_response(
                {**message, "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": usage}
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        slow = "[[slow]]" in last_text

        async def send(event: dict[str, Any]) -> None:
            await resp.write(f"event: {event['type']}\ndata: {orjson.dumps(event).decode()}\n\n".encode())

        try:
            start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
            await send(
                {"type": "message_start", "message": {**start, "usage": {"input_tokens": 11, "output_tokens": 1}}}
            )
            await send({"type": "ping"})
            for index, block in enumerate(blocks):
                kind = block["type"]
                if kind == "text":
                    await send(
                        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
                    )
                    words = block["text"].split(" ") * (50 if slow else 1)
                    for i, word in enumerate(words):
                        piece = word if i == 0 else " " + word
                        await send(
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "text_delta", "text": piece},
                            }
                        )
                        if slow:
                            await asyncio.sleep(0.05)
                elif kind == "thinking":
                    await send(
                        {
                            "type": "content_block_start",
                            "index": index,
                            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                        }
                    )
                    await send(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "thinking_delta", "thinking": block["thinking"]},
                        }
                    )
                    await send(
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "signature_delta", "signature": "sig"},
                        }
                    )
                else:
                    await send({"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}})
                    raw = orjson.dumps(block["input"]).decode()
                    for part in (raw[:5], raw[5:]):
                        await send(
                            {
                                "type": "content_block_delta",
                                "index": index,
                                "delta": {"type": "input_json_delta", "partial_json": part},
                            }
                        )
                await send({"type": "content_block_stop", "index": index})
            await send(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": 7},
                }
            )
            await send({"type": "message_stop"})
            await resp.write_eof()
        except asyncio.CancelledError:
            self.disconnects += 1
            self.disconnected.set()
            raise
        return resp  # fmt: skip


@ak.tool
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


def llm(fake: FakeAnthropic, **kw: Any) -> ak.LLMConfig:
    return ak.LLMConfig(provider="anthropic", model="claude-sim", base_url=fake.base_url, api_key="ak-test", **kw)


async def collect(stream: Any) -> tuple[str, ak.Result]:
    deltas = [c.delta async for c in stream if c.type is ak.ChunkType.DELTA]
    return "".join(deltas), await stream.wait()


async def test_plain_answer_with_system_prompt_and_settings(fake: FakeAnthropic) -> None:
    async with ak.Agent("a", llm(fake), system_prompt="Be terse.") as agent:
        result = await agent.run("Hello Claude", temperature=0.0, top_p=0.9, stop=["END"], max_tokens=99)
    assert result.content == "Hello Claude"
    assert result.usage.input_tokens == 11 and result.usage.output_tokens == 7
    assert result.metadata["finish_reason"] == "stop"
    body = fake.requests[-1]
    assert body["system"] == "Be terse." and body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hello Claude"}]}
    ]
    assert body["temperature"] == 0.0 and body["top_p"] == 0.9 and body["stop_sequences"] == ["END"]
    assert body["max_tokens"] == 99
    sent = fake.headers[-1]
    assert "ak-test" in (sent.get("x-api-key"), sent.get("Authorization", "").removeprefix("Bearer "))
    assert "anthropic-version" in sent


async def test_default_max_tokens_is_sent(fake: FakeAnthropic) -> None:
    async with ak.Agent("a", llm(fake)) as agent:
        await agent.run("x")
    assert fake.requests[-1]["max_tokens"] == 4096


async def test_streamed_answer_equals_non_streamed(fake: FakeAnthropic) -> None:
    async with ak.Agent("a", llm(fake)) as agent:
        plain = await agent.run("one two three")
        joined, streamed = await collect(agent.run_stream("one two three"))
    assert joined == plain.content == streamed.content == "one two three"
    assert streamed.usage.input_tokens == 11 and streamed.usage.output_tokens == 7
    assert fake.requests[-1]["stream"] is True


@pytest.mark.parametrize("streamed", [False, True])
async def test_native_tool_use_round_trip(fake: FakeAnthropic, streamed: bool) -> None:
    async with ak.Agent("a", llm(fake), tools=[weather]) as agent:
        if streamed:
            _, result = await collect(agent.run_stream("weather in Paris?", tool_choice="weather"))
        else:
            result = await agent.run("weather in Paris?", tool_choice="weather")
    assert result.content == "The tool said: sunny in Paris"
    [record] = result.tool_calls
    assert record.args == {"city": "Paris"} and record.result == "sunny in Paris"
    first, second = fake.requests[-2:]
    assert first["tools"][0]["name"] == "weather" and first["tools"][0]["input_schema"]["required"] == ["city"]
    assert first["tool_choice"] == {"type": "tool", "name": "weather"}
    assert second["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_01", "name": "weather", "input": {"city": "Paris"}}],
    }
    assert second["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "sunny in Paris"}],
    }


async def test_stream_events_thinking_text_tool_json(fake: FakeAnthropic) -> None:
    model = infer_model(llm(fake, options={"thinking": {"type": "enabled", "budget_tokens": 1024}}))
    try:
        async with model.request_stream([Message.user("hi there")], (), ModelSettings()) as stream:
            events = [e async for e in stream]
        async with model.request_stream([Message.user("hi")], (weather.definition,), ModelSettings()) as tool_stream:
            tool_events = [e async for e in tool_stream]
        whole = await model.request([Message.user("hi there")], (), ModelSettings())
    finally:
        await model.aclose()
    assert [e.text for e in events if isinstance(e, ThoughtDelta)] == ["Let me think."]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hi there"
    assert isinstance(events[-1], UsageEvent)
    assert stream.response().thoughts == whole.thoughts == "Let me think."
    assert fake.requests[-1]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    calls = [e for e in tool_events if isinstance(e, ToolCallDelta)]
    assert calls[0].name == "weather" and calls[0].id == "toolu_01" and len(calls) == 3
    [call] = tool_stream.response().tool_calls
    assert call == ToolCall("toolu_01", "weather", '{"city":"Paris"}')
    assert tool_stream.response().finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("code", "error"),
    [("429", RateLimitError), ("401", AuthenticationError), ("400", BadRequestError), ("529", ServerError)],
)
@pytest.mark.parametrize("streamed", [False, True])
async def test_errors_are_typed(fake: FakeAnthropic, code: str, error: type[Exception], streamed: bool) -> None:
    async with ak.Agent("a", llm(fake, max_retries=0)) as agent:
        with pytest.raises(error) as info:
            if streamed:
                await collect(agent.run_stream(f"[[err:{code}]]"))
            else:
                await agent.run(f"[[err:{code}]]")
    assert f"HTTP {code}" in str(info.value) and "fake" in str(info.value)
    if code == "401":
        assert "ANTHROPIC_API_KEY" in str(info.value)


async def test_429_is_retried(fake: FakeAnthropic) -> None:
    async with ak.Agent("a", llm(fake, max_retries=1)) as agent:
        with pytest.raises(RateLimitError) as info:
            await agent.run("[[err:429]]")
    assert len(fake.requests) == 2 and info.value.retry_after == 0.0


async def test_garbage_timeout_and_refused(fake: FakeAnthropic) -> None:
    async with ak.Agent("a", llm(fake, max_retries=0, timeout=0.3)) as agent:
        with pytest.raises(BadResponseError, match="not a valid message"):
            await agent.run("[[garbage]]")
        async with asyncio.timeout(5):
            with pytest.raises(ProviderTimeoutError, match="0.3 s"):
                await agent.run("[[hang]]")
            await fake.disconnected.wait()
    dead = ak.LLMConfig(
        provider="anthropic", model="c", base_url=f"http://127.0.0.1:{free_port()}", api_key="k", max_retries=0
    )
    async with ak.Agent("a", dead) as agent:
        with pytest.raises(ProviderConnectionError):
            await agent.run("x")


async def test_stream_cancel_closes_upstream(fake: FakeAnthropic) -> None:
    async with ak.Agent("a", llm(fake)) as agent:
        stream = agent.run_stream("[[slow]] many words here")
        async for chunk in stream:
            if chunk.type is ak.ChunkType.DELTA:
                break
        stream.cancel()
        async with asyncio.timeout(0.5):
            await fake.disconnected.wait()
        with contextlib.suppress(RunCancelledError):
            await stream.wait()
    assert fake.disconnects == 1


def test_convert_messages_merges_turns_and_splits_system() -> None:
    system, messages = convert_messages(
        [
            Message.system("A."),
            Message.system("B."),
            Message.user("q"),
            Message.assistant(None, (ToolCall("t1", "f", '{"x": 1}'), ToolCall("t2", "g", "not json"))),
            Message.tool("t1", "f", "one"),
            Message.tool("t2", "g", "two"),
            Message.assistant(""),
        ]
    )
    assert system == "A.\n\nB."
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"][1]["input"] == {"_raw_arguments": "not json"}
    assert [b["tool_use_id"] for b in messages[2]["content"]] == ["t1", "t2"]


def test_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY"):
        infer_model("anthropic:claude-sonnet-4-5")
    with pytest.raises(ConfigError, match="unknown option 'thinkng'"):
        infer_model(ak.LLMConfig(provider="anthropic", model="c", api_key="k", options={"thinkng": {}}))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-env")
    model = infer_model("anthropic:claude-sonnet-4-5")
    assert model.provider == "anthropic" and model.model_name == "claude-sonnet-4-5"
    copy = pickle.loads(pickle.dumps(model))
    assert copy.describe() == model.describe()


async def test_a_tools_image_goes_inside_the_tool_result_over_http(fake: FakeAnthropic) -> None:
    png = ak.BinaryContent(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, media_type="image/png")

    @ak.tool
    async def city_map(city: str) -> ak.BinaryContent:
        """A map of a city."""
        return png

    async with ak.Agent("a", llm(fake), tools=[city_map]) as agent:
        result = await agent.run("show me Paris")
    assert result.tool_calls[0].result == png
    block = fake.requests[-1]["messages"][-1]["content"][0]
    assert block["type"] == "tool_result" and block["tool_use_id"] == "toolu_01"
    assert [b["type"] for b in block["content"]] == ["text", "image"]
    assert block["content"][1]["source"] == {"type": "base64", "media_type": "image/png", "data": png.base64}
