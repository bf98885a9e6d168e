"""`FallbackModel` and the per-model concurrency cap, in process and over real HTTP."""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import pytest

import agentickit as ak
from agentickit.errors import BadRequestError, ServerError, UserError
from agentickit.messages import Message, ModelResponse, ToolDefinition
from agentickit.options import ModelSettings
from agentickit.providers import ModelStream, StreamEvent, TextDelta
from agentickit.providers._limit import ConcurrencyLimitedModel
from agentickit.simulator import SimulatorServer


def sim(name: str, **kw: Any) -> ak.SimulatedModel:
    return ak.SimulatedModel(reply=f"answer from {name}", model_name=name, **kw)


async def test_falls_back_after_the_primary_retries_are_spent() -> None:
    primary = sim("primary", failures=["429", "429", "429"], max_retries=2)
    backup = sim("backup")
    fb = ak.FallbackModel(primary, backup)
    async with ak.Agent("a", llm=fb) as agent:
        result = await agent.run("hi")
    assert result.content == "answer from backup"
    assert result.metadata["model"] == "backup"
    # three failures: the first try and both retries of the primary, then one fallback
    assert not primary._pending_failures and fb.stats == {"fallbacks": 1, "answered:backup": 1}


async def test_no_fallback_when_a_retry_of_the_primary_succeeds() -> None:
    primary = sim("primary", failures=["500"], max_retries=1)
    fb = ak.FallbackModel(primary, sim("backup"))
    async with ak.Agent("a", llm=fb) as agent:
        result = await agent.run("hi")
    assert result.metadata["model"] == "primary" and fb.stats["fallbacks"] == 0


async def test_errors_outside_fallback_on_are_raised_at_once() -> None:
    backup = sim("backup", record=True)
    fb = ak.FallbackModel(sim("primary", failures=["400"]), backup)
    async with ak.Agent("a", llm=fb) as agent:
        with pytest.raises(BadRequestError):
            await agent.run("hi")
    assert len(backup.requests) == 0


async def test_fallback_on_is_configurable() -> None:
    fb = ak.FallbackModel(sim("primary", failures=["400"]), sim("backup"), fallback_on=(BadRequestError,))
    result = await ak.Agent("a", llm=fb).run("hi")
    assert result.metadata["model"] == "backup"


async def test_the_last_model_error_is_raised() -> None:
    fb = ak.FallbackModel(sim("p", failures=["500"] * 9, max_retries=0), sim("b", failures=["500"] * 9, max_retries=0))
    with pytest.raises(ServerError):
        await ak.Agent("a", llm=fb).run("hi")
    assert fb.stats["fallbacks"] == 1


async def test_streams_fall_back_before_the_first_token() -> None:
    fb = ak.FallbackModel(sim("primary", failures=["timeout"], max_retries=0), sim("backup"))
    stream = ak.Agent("a", llm=fb).run_stream("hi")
    text = "".join([c.delta or "" async for c in stream if c.type is ak.ChunkType.DELTA])
    result = await stream.wait()
    assert text == result.content == "answer from backup"
    assert result.metadata["model"] == "backup"


class _BreaksMidStream(ak.Model):
    """Streams one token, then fails: the point after which no fallback may happen."""

    provider = "test"
    model_name = "breaks"
    max_retries = 0

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        raise ServerError("down", status=503)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        return _Breaks()


class _Breaks(ModelStream):
    async def _events(self) -> AsyncIterator[StreamEvent]:
        yield TextDelta("partial ")
        raise ServerError("connection dropped mid-answer", status=503)


async def test_no_fallback_after_the_first_token_reached_the_caller() -> None:
    backup = sim("backup", record=True)
    fb = ak.FallbackModel(_BreaksMidStream(), backup)
    stream = ak.Agent("a", llm=fb).run_stream("hi")
    deltas = [c.delta or "" async for c in stream if c.type is ak.ChunkType.DELTA]
    with pytest.raises(ServerError, match="mid-answer"):
        await stream.wait()
    assert deltas == ["partial "] and len(backup.requests) == 0


async def test_a_list_is_shorthand_and_the_agent_pickles() -> None:
    agent = ak.Agent("a", llm=["simulated:echo", "simulated"])
    assert isinstance(agent.llm, ak.FallbackModel)
    assert (await agent.run("echoed")).content == "echoed"
    clone = pickle.loads(pickle.dumps(agent))
    assert (await clone.run("again")).content == "again"


def test_bad_chains_are_rejected() -> None:
    with pytest.raises(UserError, match="at least one fallback"):
        ak.FallbackModel("simulated")
    with pytest.raises(UserError, match="at least two"):
        ak.Agent("a", llm=["simulated"])
    with pytest.raises(UserError, match="fallback_on"):
        ak.FallbackModel("simulated", "simulated", fallback_on=(42,))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="FallbackModel takes"):
        ak.FallbackModel("simulated", 3)  # type: ignore[arg-type]


Transport = Literal["aiohttp", "sdk"]


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_falls_back_over_http(transport: Transport, streamed: bool) -> None:
    async with (
        SimulatorServer(fail_first_n=99, fail_with="500") as down,
        SimulatorServer() as up,
    ):

        def cfg(srv: SimulatorServer, model: str) -> ak.LLMConfig:
            return ak.LLMConfig(
                provider="openai", model=model, base_url=srv.base_url + "/v1", api_key="x", transport=transport,
                max_retries=1,
            )  # fmt: skip

        async with ak.Agent("a", llm=[cfg(down, "primary"), cfg(up, "backup")]) as agent:
            if streamed:
                stream = agent.run_stream("over http")
                async for _ in stream:
                    pass
                result = await stream.wait()
            else:
                result = await agent.run("over http")
    assert result.content == "over http"
    assert len(down.requests) == 2 and len(up.requests) == 1  # the primary's try and its one retry
    assert up.requests[0].body["model"] == "backup"


# -- the per-model concurrency cap ------------------------------------------------------------


def _starts_recorder(starts: list[float]) -> Any:
    def reply(request: Any) -> str:
        starts.append(time.perf_counter())
        return "ok"

    return reply


async def test_max_concurrency_is_shared_by_agents_with_the_same_model() -> None:
    starts: list[float] = []
    cfg = ak.LLMConfig(
        provider="simulated",
        model="capped",
        max_concurrency=2,
        options={"ttft": 0.05, "reply": _starts_recorder(starts)},
    )
    a, b = ak.Agent("a", llm=cfg), ak.Agent("b", llm=cfg)
    assert isinstance(a.model, ConcurrencyLimitedModel)
    await asyncio.gather(*(agent.run(f"q{i}") for i in range(3) for agent in (a, b)))
    starts.sort()
    # Six requests, two at a time, each 50 ms: no three requests started within one request's time.
    assert len(starts) == 6
    assert all(starts[i + 2] - starts[i] >= 0.04 for i in range(4))


async def test_without_a_cap_requests_start_together() -> None:
    starts: list[float] = []
    cfg = ak.LLMConfig(provider="simulated", model="free", options={"ttft": 0.05, "reply": _starts_recorder(starts)})
    a = ak.Agent("a", llm=cfg)
    assert not isinstance(a.model, ConcurrencyLimitedModel)
    await asyncio.gather(*(a.run(f"q{i}") for i in range(6)))
    starts.sort()
    assert starts[-1] - starts[0] < 0.04


async def test_a_stream_holds_its_slot_until_it_is_closed() -> None:
    cfg = ak.LLMConfig(provider="simulated", model="one", max_concurrency=1, options={"ttft": 0.02, "reply": "x y z"})
    agent = ak.Agent("a", llm=cfg)
    order: list[str] = []

    async def consume(tag: str) -> None:
        stream = agent.run_stream(tag)
        async for chunk in stream:
            if chunk.type is ak.ChunkType.DELTA:
                order.append(tag)
            elif chunk.type is ak.ChunkType.DONE:
                order.append(f"{tag}-done")

    await asyncio.gather(consume("first"), consume("second"))
    first_done = order.index("first-done") if "first-done" in order else order.index("second-done")
    finished = order[first_done].removesuffix("-done")
    assert all(tag == finished for tag in order[:first_done]), order


def test_bad_max_concurrency_is_rejected() -> None:
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(UserError, match="max_concurrency"):
            ak.LLMConfig(provider="simulated", max_concurrency=bad)  # type: ignore[arg-type]


# -- which model answered, and how often the chain moved on -----------------------------------


@pytest.mark.parametrize("streamed", [False, True])
async def test_scripted_429_then_500_over_http_reach_the_third_model(streamed: bool) -> None:
    async with (
        SimulatorServer(fail_first_n=99, fail_with="429", retry_after=0.01, model_name="first") as limited,
        SimulatorServer(fail_first_n=99, fail_with="500", model_name="second") as broken,
        SimulatorServer(model_name="third") as up,
    ):

        def cfg(srv: SimulatorServer) -> ak.LLMConfig:
            return ak.LLMConfig(provider="openai", model="m", base_url=srv.base_url + "/v1", api_key="x", max_retries=0)

        async with ak.Agent("a", llm=[cfg(limited), cfg(broken), cfg(up)]) as agent:
            if streamed:
                stream = agent.run_stream("third time lucky")
                async for _ in stream:
                    pass
                result = await stream.wait()
            else:
                result = await agent.run("third time lucky")
            assert result.content == "third time lucky"
            assert result.metadata["model"] == "third" and result.metadata["fallbacks"] == 2
            assert agent.metrics().fallbacks == 2
            fb = agent.model
            assert isinstance(fb, ak.FallbackModel) and fb.stats["fallbacks"] == 2
    assert (len(limited.requests), len(broken.requests), len(up.requests)) == (1, 1, 1)


async def test_no_fallback_leaves_no_trace_in_metadata_or_metrics() -> None:
    agent = ak.Agent("a", llm=[sim("primary"), sim("backup")])
    result = await agent.run("q")
    assert result.metadata["model"] == "primary" and "fallbacks" not in result.metadata
    assert agent.metrics().fallbacks == 0
    tools_agent = ak.Agent("t", llm=[sim("p", failures=["500"], max_retries=0), sim("b")])
    await tools_agent.run("q")
    await tools_agent.run("q")  # the primary's one failure is spent: no fallback the second time
    assert tools_agent.metrics().fallbacks == 1
