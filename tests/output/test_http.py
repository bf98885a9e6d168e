"""Structured output over real HTTP: `simulate-llm` honours `response_format` and final-answer tools."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

import agentickit as ak
from agentickit.errors import OutputValidationError
from agentickit.simulator import SimulatorServer

from .models import Invoice, Line

GOOD = '{"sku": "A", "quantity": 2, "unit_price": 3.5}'


def llm(srv: SimulatorServer, transport: str = "aiohttp") -> ak.LLMConfig:
    return ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="k", transport=transport)  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
@pytest.mark.parametrize("mode", [None, ak.NativeOutput, ak.ToolCallOutput, ak.PromptedOutput])
async def test_every_mode_over_http(transport: str, mode: Any) -> None:
    async with SimulatorServer() as srv:
        spec = Invoice if mode is None else mode(Invoice)
        async with ak.Agent("x", llm(srv, transport), output_type=spec) as agent:
            result = await agent.run("extract the invoice")
        assert isinstance(result.output, Invoice) and result.output.lines[0].quantity == 1
        body = srv.requests[-1].body
        if mode is ak.NativeOutput:
            assert body["response_format"]["json_schema"]["name"] == "Invoice"
        elif mode is ak.PromptedOutput:
            assert "response_format" not in body and "tools" not in body
        else:
            assert [t["function"]["name"] for t in body["tools"]] == ["final_result"]
            assert body["tool_choice"] == "required"


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
async def test_a_scripted_bad_answer_is_corrected_over_http(transport: str) -> None:
    async with SimulatorServer(script=["{not json", GOOD]) as srv:
        async with ak.Agent("x", llm(srv, transport), output_type=ak.NativeOutput(Line)) as agent:
            result = await agent.run("q")
        assert result.output.unit_price == 3.5
        assert len(srv.requests) == 2
        assert "Invalid JSON" in srv.requests[-1].body["messages"][-1]["content"]


async def test_over_http_the_failure_is_typed_after_the_retries() -> None:
    async with SimulatorServer(script=["no", "no"]) as srv:
        async with ak.Agent("x", llm(srv), output_type=ak.NativeOutput(Line)) as agent:
            with pytest.raises(OutputValidationError) as err:
                await agent.run("q")
        assert err.value.attempts == 2 and err.value.raw == "no"


async def test_tools_then_the_answer_over_http() -> None:
    async def price(sku: str) -> float:
        """The unit price of a product."""
        return 9.5

    async with SimulatorServer() as srv:
        async with ak.Agent("x", llm(srv), tools=[price], output_type=Line) as agent:
            result = await agent.run("price of Widget")
        assert [r.name for r in result.tool_calls] == ["price"] and isinstance(result.output, Line)
        assert len(srv.requests) == 2


@pytest.mark.parametrize("mode", [ak.NativeOutput, ak.ToolCallOutput])
async def test_streaming_partial_objects_over_http(mode: Any) -> None:
    async with SimulatorServer(tokens_per_s=2000) as srv:
        async with ak.Agent("x", llm(srv), output_type=mode(Invoice)) as agent:
            stream = agent.run_stream("q")
            chunks = [c async for c in stream]
            result = await stream.wait()
    outputs = [c for c in chunks if c.type is ak.ChunkType.OUTPUT]
    assert outputs and outputs[-1].metadata == {"partial": False}
    assert outputs[-1].output == result.output and isinstance(result.output, Invoice)
    assert all(isinstance(c.output, Invoice) for c in outputs)
    assert [c.type for c in chunks].count(ak.ChunkType.DONE) == 1


async def test_the_simulator_rejects_a_malformed_response_format() -> None:
    async with SimulatorServer() as srv, aiohttp.ClientSession() as http:
        body: dict[str, Any] = {"model": "sim", "messages": [{"role": "user", "content": "q"}]}
        body["response_format"] = {"type": "yaml"}
        async with http.post(srv.base_url + "/v1/chat/completions", json=body) as resp:
            assert resp.status == 400
            assert "response_format" in (await resp.json())["error"]["message"]
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "x"}}
        async with http.post(srv.base_url + "/v1/chat/completions", json=body) as resp:
            assert resp.status == 400
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        }
        async with http.post(srv.base_url + "/v1/chat/completions", json=body) as resp:
            data = await resp.json()
        assert data["choices"][0]["message"]["content"] == '{"n": 1}'
