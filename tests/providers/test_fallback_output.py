"""`NativeOutput` through a `FallbackModel`: each model of the chain gets the schema in its own shape.

The Anthropic models are the official SDK against the fake Messages API (real HTTP on 127.0.0.1);
the OpenAI-shaped ones are the in-process simulator, which records the settings it was sent.
"""

from __future__ import annotations

from typing import Literal

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.providers._sample import PROMPTED_MARK
from agentickit.providers.anthropic import AnthropicModel
from tests.providers.test_anthropic import FakeAnthropic
from tests.providers.test_anthropic_output import GOOD, Line
from tests.providers.test_anthropic_output import fake as fake  # the fixture, shared


def claude(fake: FakeAnthropic, model: str) -> ak.LLMConfig:
    return ak.LLMConfig(provider="anthropic", model=model, base_url=fake.base_url, api_key="k", max_retries=0)


def failing(name: str, times: int = 1) -> ak.SimulatedModel:
    failures: list[Literal["429"]] = ["429"] * times
    return ak.SimulatedModel(model_name=name, failures=failures, max_retries=0, record=True)


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_model_without_native_output_gets_the_schema_in_its_prompt(fake: FakeAnthropic, streamed: bool) -> None:
    primary = failing("primary")
    chain = ak.FallbackModel(primary, claude(fake, "claude-3-5-haiku-20241022"))
    fake.json_replies = [GOOD]
    async with ak.Agent("x", chain, system_prompt="Extract.", output_type=ak.NativeOutput(Line)) as agent:
        if streamed:
            stream = agent.run_stream("q")
            outputs = [c.output async for c in stream if c.type is ak.ChunkType.OUTPUT]
            assert outputs[-1] == Line(sku="A-1", quantity=2, unit_price=1.25)
            result = await stream.wait()
        else:
            result = await agent.run("q")
    assert result.output == Line(sku="A-1", quantity=2, unit_price=1.25)
    assert result.metadata["model"] == "claude-3-5-haiku-20241022" and result.metadata["output_mode"] == "native"
    # The native member was asked natively; the other one got the schema in its system prompt.
    fmt = primary.requests[-1].settings.response_format
    assert fmt is not None and fmt["json_schema"]["name"] == "Line"
    body = fake.requests[-1]
    assert "output_config" not in body and "tools" not in body
    assert body["system"].startswith("Extract.\n\n") and PROMPTED_MARK in body["system"] and '"sku"' in body["system"]
    # The run's own messages are untouched: the prompt is the fallback model's, per request.
    assert [m.content for m in result.messages if m.role == "system"] == ["Extract."]


async def test_each_native_model_gets_its_own_providers_shape(fake: FakeAnthropic) -> None:
    backup = ak.SimulatedModel(model_name="backup", record=True)
    chain = ak.FallbackModel(claude(fake, "claude-sonnet-4-5"), backup)
    async with ak.Agent("x", chain, output_type=ak.NativeOutput(Line)) as agent:
        result = await agent.run("q [[err:529]]")
    assert isinstance(result.output, Line) and result.metadata["model"] == "backup"
    assert fake.requests[-1]["output_config"]["format"]["schema"]["additionalProperties"] is False
    fmt = backup.requests[-1].settings.response_format
    assert fmt is not None and fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True


async def test_a_prompted_member_is_corrected_like_any_other(fake: FakeAnthropic) -> None:
    chain = ak.FallbackModel(failing("primary", times=3), claude(fake, "claude-3-opus-latest"))
    fake.json_replies = ['{"sku": "A-1"}', GOOD]
    async with ak.Agent("x", chain, output_type=ak.NativeOutput(Line)) as agent:
        result = await agent.run("q")
    assert result.output.quantity == 2 and result.metadata["output_attempts"] == 2
    correction = fake.requests[-1]["messages"][-1]["content"][-1]["text"]
    assert "not valid" in correction and "quantity" in correction


def test_the_chain_says_what_it_can_do() -> None:
    native = AnthropicModel("claude-sonnet-4-5")
    old = AnthropicModel("claude-3-5-haiku-20241022")
    both = ak.FallbackModel(native, AnthropicModel("claude-opus-4-6"))
    assert both.supports_native_output and both.default_output_mode == "native"
    mixed = ak.FallbackModel(native, old)
    assert mixed.supports_native_output and mixed.default_output_mode == "tool"
    neither = ak.FallbackModel(old, AnthropicModel("claude-3-opus-latest"))
    assert not neither.supports_native_output and neither.default_output_mode == "tool"


async def test_a_chain_without_any_native_model_refuses_native_output() -> None:
    chain = ak.FallbackModel(AnthropicModel("claude-3-5-haiku-20241022"), AnthropicModel("claude-3-opus-latest"))
    with pytest.raises(UserError, match=r"fallback model .*ToolCallOutput.*PromptedOutput"):
        await ak.Agent("x", chain, output_type=ak.NativeOutput(Line)).run("q")


async def test_the_default_mode_of_a_mixed_chain_is_the_final_answer_tool(fake: FakeAnthropic) -> None:
    primary = failing("primary", times=3)
    chain = ak.FallbackModel(primary, claude(fake, "claude-sonnet-4-5"))
    async with ak.Agent("x", chain, output_type=Line) as agent:
        with pytest.raises(ak.errors.OutputValidationError):
            await agent.run("q")  # the fake's tool_use has {"city": ...}: not a Line, but it was asked by tool
    assert primary.requests[-1].settings.response_format is None
    assert [t["name"] for t in fake.requests[-1]["tools"]] == ["final_result"]
