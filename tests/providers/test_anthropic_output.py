"""Anthropic's native structured output (JSON outputs, `output_config.format`) through the official SDK.

Against the fake Messages API of `test_anthropic.py`: real HTTP and SSE on 127.0.0.1, so the SDK
builds the request body (we check the schema in it) and parses the answer we validate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, Field

import agentickit as ak
from agentickit.errors import ConfigError, OutputValidationError, UserError
from agentickit.providers import infer_model
from agentickit.providers.anthropic import AnthropicModel, has_native_output, output_format
from tests.providers.test_anthropic import FakeAnthropic, weather


class Line(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    unit_price: float


GOOD = '{"sku": "A-1", "quantity": 2, "unit_price": 1.25}'


@pytest.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


def llm(fake: FakeAnthropic, model: str = "claude-sonnet-4-5", **options: Any) -> ak.LLMConfig:
    return ak.LLMConfig(provider="anthropic", model=model, base_url=fake.base_url, api_key="ak-test", options=options)


async def _run(agent: ak.Agent[Any], streamed: bool) -> ak.Result[Any]:
    if not streamed:
        return await agent.run("Invoice: 2 x A-1 at 1.25")
    stream = agent.run_stream("Invoice: 2 x A-1 at 1.25")
    partials = [c.output async for c in stream if c.type is ak.ChunkType.OUTPUT]
    assert partials and isinstance(partials[-1], Line)
    return await stream.wait()


@pytest.mark.parametrize("streamed", [False, True])
async def test_the_schema_goes_in_output_config_and_the_answer_is_validated(
    fake: FakeAnthropic, streamed: bool
) -> None:
    fake.json_replies = [GOOD]
    async with ak.Agent("x", llm(fake), output_type=ak.NativeOutput(Line, description="one invoice line")) as agent:
        result = await _run(agent, streamed)
    assert result.output == Line(sku="A-1", quantity=2, unit_price=1.25)
    assert result.content == GOOD and result.metadata["output_mode"] == "native"
    body = fake.requests[-1]
    assert "tools" not in body and "response_format" not in body
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    schema = fmt["schema"]
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"sku", "quantity", "unit_price"}
    assert set(schema["required"]) == {"sku", "quantity", "unit_price"}
    # A keyword JSON outputs do not take moves into the description; our validation still enforces it.
    assert "minimum" not in schema["properties"]["quantity"]
    assert "minimum: 1" in schema["properties"]["quantity"]["description"]
    assert schema["description"] == "one invoice line"


async def test_models_with_json_outputs_use_native_by_default(fake: FakeAnthropic) -> None:
    async with ak.Agent("x", llm(fake, "claude-haiku-4-5-20251001"), output_type=Line) as agent:
        result = await agent.run("q")
    assert isinstance(result.output, Line) and result.metadata["output_mode"] == "native"
    assert "output_config" in fake.requests[-1] and "tools" not in fake.requests[-1]


async def test_an_invalid_answer_is_sent_back_and_corrected(fake: FakeAnthropic) -> None:
    fake.json_replies = ['{"sku": "A-1", "quantity": 0, "unit_price": 1.25}', GOOD]
    async with ak.Agent("x", llm(fake), output_type=ak.NativeOutput(Line)) as agent:
        result = await agent.run("q")
    assert result.output.quantity == 2 and result.metadata["output_attempts"] == 2
    assert len(fake.requests) == 2
    retry = fake.requests[-1]
    assert retry["output_config"] == fake.requests[0]["output_config"]
    correction = retry["messages"][-1]["content"][-1]["text"]
    assert "not valid" in correction and "quantity" in correction
    # The rejected answer went back as the assistant's turn, before the correction.
    assert retry["messages"][-2] == {
        "role": "assistant",
        "content": [{"type": "text", "text": '{"sku": "A-1", "quantity": 0, "unit_price": 1.25}'}],
    }


async def test_an_answer_still_invalid_after_the_retries_raises(fake: FakeAnthropic) -> None:
    fake.json_replies = ["not json", '{"sku": "A-1"}']
    async with ak.Agent("x", llm(fake), output_type=ak.NativeOutput(Line)) as agent:
        with pytest.raises(OutputValidationError) as info:
            await agent.run("q")
    assert info.value.attempts == 2 and info.value.raw == '{"sku": "A-1"}'
    assert len(fake.requests) == 2


async def test_tools_first_then_the_answer_in_the_schema(fake: FakeAnthropic) -> None:
    fake.json_replies = [GOOD]
    async with ak.Agent("x", llm(fake), tools=[weather], output_type=ak.NativeOutput(Line)) as agent:
        result = await agent.run("q")
    assert result.output.sku == "A-1" and [c.name for c in result.tool_calls] == ["weather"]
    first, second = fake.requests
    assert [t["name"] for t in first["tools"]] == ["weather"] and "output_config" in first
    assert second["messages"][-1]["content"][0]["type"] == "tool_result"


async def test_an_output_config_in_extra_body_is_merged(fake: FakeAnthropic) -> None:
    cfg = llm(fake, extra_body={"output_config": {"effort": "low"}})
    async with ak.Agent("x", cfg, output_type=ak.NativeOutput(Line)) as agent:
        await agent.run("q")
    config = fake.requests[-1]["output_config"]
    assert config["effort"] == "low" and config["format"]["type"] == "json_schema"


async def test_a_union_travels_wrapped_and_comes_back_as_the_branch(fake: FakeAnthropic) -> None:
    class Refund(BaseModel):
        order: str

    fake.json_replies = ['{"response": {"order": "A-9"}}']
    async with ak.Agent("x", llm(fake), output_type=ak.NativeOutput(Line | Refund)) as agent:
        result = await agent.run("q")
    assert result.output == Refund(order="A-9")
    schema = fake.requests[-1]["output_config"]["format"]["schema"]
    assert schema["required"] == ["response"] and "anyOf" in schema["properties"]["response"]


async def test_models_without_json_outputs_refuse_native_and_default_to_the_tool(fake: FakeAnthropic) -> None:
    old = llm(fake, "claude-3-5-haiku-20241022")
    model = infer_model(old)
    assert not model.supports_native_output and model.default_output_mode == "tool"
    with pytest.raises(UserError, match=r"native_output.*ToolCallOutput.*PromptedOutput"):
        await ak.Agent("x", old, output_type=ak.NativeOutput(Line)).run("q")
    assert fake.requests == []  # refused before any request
    # The option says the model has them (a name this release does not know yet).
    fake.json_replies = [GOOD]
    async with ak.Agent("x", llm(fake, "claude-next", native_output=True), output_type=Line) as agent:
        result = await agent.run("q")
    assert result.output.sku == "A-1" and "output_config" in fake.requests[-1]
    assert not infer_model(llm(fake, "claude-sonnet-4-5", native_output=False)).supports_native_output
    with pytest.raises(ConfigError, match="native_output"):
        infer_model(llm(fake, native_output="yes"))


def test_which_names_have_json_outputs() -> None:
    for name in (
        "claude-sonnet-4-5",
        "claude-opus-4-6",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "claude-opus-5",
    ):
        assert has_native_output(name), name
    for name in ("claude-3-5-haiku-20241022", "claude-3-opus-latest", "claude-sonnet-4-0", "claude-opus-4-1"):
        assert not has_native_output(name), name
    assert AnthropicModel("claude-haiku-4-5").default_output_mode == "native"


def test_output_format_needs_a_json_schema() -> None:
    with pytest.raises(UserError, match="JSON schema"):
        output_format({"type": "json_object"})
    fmt = output_format(
        {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object", "properties": {}}}}
    )
    assert orjson.loads(orjson.dumps(fmt)) == {
        "type": "json_schema",
        "schema": {"type": "object", "properties": {}, "additionalProperties": False},
    }


async def test_a_concurrency_cap_keeps_what_the_model_can_do(fake: FakeAnthropic) -> None:
    cfg = llm(fake)
    capped = ak.LLMConfig(
        provider=cfg.provider, model=cfg.model, base_url=cfg.base_url, api_key="ak-test", max_concurrency=2
    )
    model = infer_model(capped)
    assert model.supports_native_output and model.default_output_mode == "native"
    fake.json_replies = [GOOD]
    async with ak.Agent("x", capped, output_type=ak.NativeOutput(Line)) as agent:
        result = await agent.run("q")
    assert result.output.sku == "A-1" and "output_config" in fake.requests[-1]
