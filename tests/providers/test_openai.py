"""The `openai` provider over real HTTP against the simulator, for both transports (ours and the SDK)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pickle
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

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
    UnknownProviderError,
)
from agentickit.messages import Message
from agentickit.options import ModelSettings
from agentickit.providers import TextDelta, ThoughtDelta, ToolCallDelta, UsageEvent, infer_model
from agentickit.simulator import SimulatorServer
from tests.conftest import free_port

Transport = Literal["aiohttp", "sdk"]
LONG = " ".join(f"word{i}" for i in range(200))


@ak.tool
def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


@pytest.fixture
async def srv() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer() as server:
        yield server


@pytest.fixture(params=["aiohttp", "sdk"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


def cfg(srv: SimulatorServer, transport: Transport, **kw: Any) -> ak.LLMConfig:
    return ak.LLMConfig(
        provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="x", transport=transport, **kw
    )


async def collect(stream: Any) -> tuple[str, ak.Result]:
    deltas: list[str] = []
    async for chunk in stream:
        if chunk.type is ak.ChunkType.DELTA:
            deltas.append(chunk.delta)
    return "".join(deltas), await stream.wait()


# -- answers -------------------------------------------------------------------------------------


async def test_plain_answer(srv: SimulatorServer, transport: Transport) -> None:
    async with ak.Agent("a", cfg(srv, transport)) as agent:
        result = await agent.run("Hello over real HTTP")
    assert result.content == "Hello over real HTTP"
    assert result.usage.output_tokens == 4 and result.usage.input_tokens > 0 and result.usage.requests == 1
    assert result.metadata["model"] == "sim" and result.metadata["finish_reason"] == "stop"
    sent = srv.requests[-1]
    assert sent.headers["Authorization"] == "Bearer x"
    assert sent.body["messages"] == [{"role": "user", "content": "Hello over real HTTP"}]
    assert "stream" not in sent.body


async def test_streamed_answer_equals_non_streamed(srv: SimulatorServer, transport: Transport) -> None:
    async with ak.Agent("a", cfg(srv, transport), system_prompt="be brief") as agent:
        plain = await agent.run(LONG)
        joined, streamed = await collect(agent.run_stream(LONG))
    assert joined == plain.content == streamed.content == LONG
    assert streamed.usage.output_tokens == plain.usage.output_tokens == 200
    body = srv.requests[-1].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["messages"][0] == {"role": "system", "content": "be brief"}


async def test_stream_events_thoughts_text_usage(transport: Transport) -> None:
    async with SimulatorServer(thoughts="let me think") as srv:
        model = infer_model(cfg(srv, transport))
        try:
            async with model.request_stream([Message.user("one two three")], (), ModelSettings()) as stream:
                events = [e async for e in stream]
            response = stream.response()
            whole = await model.request([Message.user("one two three")], (), ModelSettings())
        finally:
            await model.aclose()
    assert [e.text for e in events if isinstance(e, ThoughtDelta)] == ["let", " me", " think"]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["one", " two", " three"]
    assert isinstance(events[-1], UsageEvent) and events[-1].usage.output_tokens == 3
    assert response.content == whole.content == "one two three"
    assert response.thoughts == whole.thoughts == "let me think"
    assert response.finish_reason == whole.finish_reason == "stop"


@pytest.mark.parametrize("streamed", [False, True])
async def test_tool_call_round_trip(srv: SimulatorServer, transport: Transport, streamed: bool) -> None:
    async with ak.Agent("a", cfg(srv, transport), tools=[weather]) as agent:
        if streamed:
            _, result = await collect(agent.run_stream("What is the weather in Paris?"))
        else:
            result = await agent.run("What is the weather in Paris?")
    assert result.content == "Based on the tools: weather returned sunny in Paris."
    [record] = result.tool_calls
    assert record.name == "weather" and record.args == {"city": "Paris"} and record.result == "sunny in Paris"
    first, second = srv.requests[-2].body, srv.requests[-1].body
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Current weather for a city.",
                "parameters": first["tools"][0]["function"]["parameters"],
            },
        }
    ]
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    assistant, tool_msg = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["function"]["name"] == "weather"
    assert tool_msg == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"], "content": "sunny in Paris"}


async def test_streamed_tool_call_deltas_assemble(srv: SimulatorServer, transport: Transport) -> None:
    model = infer_model(cfg(srv, transport))
    definition = weather.definition
    try:
        async with model.request_stream([Message.user("weather in Oslo")], (definition,), ModelSettings()) as stream:
            deltas = [e async for e in stream if isinstance(e, ToolCallDelta)]
    finally:
        await model.aclose()
    assert len(deltas) >= 2 and deltas[0].name == "weather" and deltas[0].id
    [call] = stream.response().tool_calls
    assert call.name == "weather" and call.arguments == '{"city":"Oslo"}'
    assert stream.response().finish_reason == "tool_calls"


async def test_request_fields_reach_the_wire(srv: SimulatorServer, transport: Transport) -> None:
    async with ak.Agent("a", cfg(srv, transport), tools=[weather]) as agent:
        await agent.run(
            "weather in Rome", temperature=0.0, max_tokens=50, stop=["END"], top_p=0.5, tool_choice="weather"
        )
    body = srv.requests[-2].body
    assert body["temperature"] == 0.0 and isinstance(body["temperature"], float)
    assert body["max_tokens"] == 50 and body["stop"] == ["END"] and body["top_p"] == 0.5
    assert body["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    # a forced tool choice applies to the first turn only
    assert srv.requests[-1].body["tool_choice"] == "auto"


async def test_config_defaults_reach_the_wire_and_runs_win(srv: SimulatorServer, transport: Transport) -> None:
    async with ak.Agent("a", cfg(srv, transport, temperature=0.0, max_tokens=7)) as agent:
        await agent.run("a b c")
        assert srv.requests[-1].body["temperature"] == 0.0 and srv.requests[-1].body["max_tokens"] == 7
        await agent.run("a b c", temperature=0.9, max_tokens=2)
    assert srv.requests[-1].body["temperature"] == 0.9 and srv.requests[-1].body["max_tokens"] == 2


async def test_options_shape_the_request(srv: SimulatorServer, transport: Transport) -> None:
    options = {
        "max_tokens_field": "max_completion_tokens",
        "headers": {"X-Team": "agents"},
        "extra_body": {"seed": 7},
        "organization": "org-1",
        "stream_usage": False,
    }
    async with ak.Agent("a", cfg(srv, transport, options=options)) as agent:
        result = await agent.run("one two three", max_tokens=2)
        _, streamed = await collect(agent.run_stream("one two"))
    assert result.content == "one two" and streamed.content == "one two"
    plain, stream = srv.requests[-2], srv.requests[-1]
    assert plain.body["max_completion_tokens"] == 2 and "max_tokens" not in plain.body
    assert plain.body["seed"] == 7 and plain.headers["X-Team"] == "agents"
    assert plain.headers["OpenAI-Organization"] == "org-1"
    assert stream.body["stream"] is True and "stream_options" not in stream.body
    with pytest.raises(ConfigError, match="max_tokens_field"):
        infer_model(cfg(srv, transport, options={"max_tokens_field": "limit"}))


async def test_max_tokens_truncates_with_length_finish(srv: SimulatorServer, transport: Transport) -> None:
    async with ak.Agent("a", cfg(srv, transport)) as agent:
        result = await agent.run("one two three four", max_tokens=2)
        _, streamed = await collect(agent.run_stream("one two three four", max_tokens=2))
    assert result.content == streamed.content == "one two"
    assert result.metadata["finish_reason"] == streamed.metadata["finish_reason"] == "length"


async def test_concurrent_runs_keep_their_own_options(srv: SimulatorServer, transport: Transport) -> None:
    async with ak.Agent("a", cfg(srv, transport)) as agent:
        results = await asyncio.gather(*(agent.run(LONG, max_tokens=n) for n in range(1, 31)))
    assert [r.usage.output_tokens for r in results] == list(range(1, 31))


# -- errors --------------------------------------------------------------------------------------

FAILURES = [
    ("429", RateLimitError),
    ("500", ServerError),
    ("401", AuthenticationError),
    ("400", BadRequestError),
    ("malformed", BadResponseError),
]


@pytest.mark.parametrize(("directive", "error"), FAILURES)
@pytest.mark.parametrize("streamed", [False, True])
async def test_failure_scripts_map_to_typed_errors(
    srv: SimulatorServer, transport: Transport, directive: str, error: type[Exception], streamed: bool
) -> None:
    async with ak.Agent("a", cfg(srv, transport, max_retries=0)) as agent:
        with pytest.raises(error) as info:
            if streamed:
                await collect(agent.run_stream(f"please fail [[sim:{directive}]]"))
            else:
                await agent.run(f"please fail [[sim:{directive}]]")
    message = str(info.value)
    if directive == "malformed":
        assert "not a valid chat completion" in message and "base_url" in message
    else:
        assert f"HTTP {directive}" in message and "simulated" in message
        assert getattr(info.value, "status") == int(directive)  # noqa: B009
    assert info.value.provider == "openai" and info.value.model == "sim"  # type: ignore[attr-defined]


@pytest.mark.parametrize("streamed", [False, True])
async def test_429_is_retried_honouring_retry_after(transport: Transport, streamed: bool) -> None:
    async with SimulatorServer(fail_first_n=1, fail_with="429", retry_after=0.3) as srv:
        async with ak.Agent("a", cfg(srv, transport, max_retries=2)) as agent:
            start = time.perf_counter()
            if streamed:
                _, result = await collect(agent.run_stream("after a rate limit"))
            else:
                result = await agent.run("after a rate limit")
            waited = time.perf_counter() - start
    assert result.content == "after a rate limit"
    assert len(srv.requests) == 2 and waited >= 0.29


async def test_rate_limit_error_carries_retry_after(transport: Transport) -> None:
    async with SimulatorServer(fail_first_n=9, fail_with="429", retry_after=0.05) as srv:
        async with ak.Agent("a", cfg(srv, transport, max_retries=1)) as agent:
            with pytest.raises(RateLimitError) as info:
                await agent.run("x")
    assert info.value.retry_after == pytest.approx(0.05) and len(srv.requests) == 2


async def test_server_errors_are_retried_then_raised(transport: Transport) -> None:
    async with SimulatorServer(fail_first_n=5, fail_with="500") as srv:
        async with ak.Agent("a", cfg(srv, transport, max_retries=1)) as agent:
            with pytest.raises(ServerError):
                await agent.run("x")
    assert len(srv.requests) == 2


@pytest.mark.parametrize("streamed", [False, True])
async def test_timeout_raises_within_the_configured_timeout(
    srv: SimulatorServer, transport: Transport, streamed: bool
) -> None:
    async with ak.Agent("a", cfg(srv, transport, timeout=0.3, max_retries=0)) as agent:
        start = time.perf_counter()
        async with asyncio.timeout(5):
            with pytest.raises(ProviderTimeoutError, match="did not answer within 0.3 s"):
                if streamed:
                    await collect(agent.run_stream("hang [[sim:timeout]]"))
                else:
                    await agent.run("hang [[sim:timeout]]")
        assert time.perf_counter() - start < 2.5
        # the client gave up, and the server saw it go
        async with asyncio.timeout(5):
            await srv.wait_disconnect()


async def test_connection_refused_is_a_connection_error(transport: Transport) -> None:
    port = free_port()
    llm = ak.LLMConfig(
        provider="openai",
        model="m",
        base_url=f"http://127.0.0.1:{port}/v1",
        max_retries=0,
        transport=transport,
    )
    async with ak.Agent("a", llm) as agent:
        with pytest.raises(ProviderConnectionError, match=f"127.0.0.1:{port}"):
            await agent.run("x")


# -- cancellation reaches the server ---------------------------------------------------------------


async def test_closing_a_stream_early_closes_the_http_stream(transport: Transport) -> None:
    async with SimulatorServer(tokens_per_s=20) as srv:
        model = infer_model(cfg(srv, transport))
        try:
            async with model.request_stream([Message.user(LONG)], (), ModelSettings()) as stream:
                async for event in stream:
                    if isinstance(event, TextDelta):
                        break
            async with asyncio.timeout(0.1):
                await srv.wait_disconnect()
        finally:
            await model.aclose()
        assert srv.disconnects == 1 and srv.completed == 0


async def test_stream_cancel_closes_upstream(transport: Transport) -> None:
    async with SimulatorServer(tokens_per_s=20) as srv:
        async with ak.Agent("a", cfg(srv, transport)) as agent:
            stream = agent.run_stream(LONG)
            async for chunk in stream:
                if chunk.type is ak.ChunkType.DELTA:
                    break
            stream.cancel()
            async with asyncio.timeout(0.5):
                await srv.wait_disconnect()
            with contextlib.suppress(RunCancelledError):
                await stream.wait()
        assert srv.completed == 0


# -- configuration ---------------------------------------------------------------------------------


def test_missing_key_names_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        infer_model(ak.LLMConfig(provider="openai", model="gpt-4o-mini"))
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        infer_model("openai:gpt-4o-mini")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="AZURE_OPENAI_API_KEY"):
        infer_model(ak.LLMConfig(provider="azure", model="dep", base_url="https://x.openai.azure.com"))


async def test_missing_key_at_run_time_is_raised_by_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    agent = ak.Agent("a", ak.LLMConfig(provider="openai", model="gpt-4o-mini"))
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        await agent.run("x")


async def test_local_server_needs_no_key_and_env_key_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with SimulatorServer() as srv:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1")
        async with ak.Agent("a", llm) as agent:
            assert (await agent.run("no key")).content == "no key"
    async with SimulatorServer(api_key="from-env") as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "from-env")
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1")
        async with ak.Agent("a", llm) as agent:
            assert (await agent.run("env key")).content == "env key"
        bad = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="wrong")
        async with ak.Agent("a", bad) as agent:
            with pytest.raises(AuthenticationError, match="OPENAI_API_KEY"):
                await agent.run("x")


def test_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(UnknownProviderError, match="Did you mean 'openai'"):
        ak.LLMConfig(provider="opnai", model="x")
    with pytest.raises(UnknownProviderError, match="Known providers"):
        ak.Agent("a", "nope:model")


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        infer_model(ak.LLMConfig(provider="openai", model="m", api_key="k", options={"colour": 1}))
    with pytest.raises(ConfigError, match="must start with http"):
        infer_model(ak.LLMConfig(provider="openai", model="m", api_key="k", base_url="localhost:8000"))
    with pytest.raises(ConfigError, match="transport"):
        infer_model(ak.LLMConfig(provider="openai", model="m", api_key="k", transport="grpc"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="AZURE_OPENAI_ENDPOINT"):
        infer_model(ak.LLMConfig(provider="azure", model="dep", api_key="k"))


async def test_azure_deployment_api_version_and_api_key_header(srv: SimulatorServer, transport: Transport) -> None:
    llm = ak.LLMConfig(
        provider="azure",
        model="my-deployment",
        base_url=srv.base_url,
        api_key="azure-key",
        transport=transport,
        options={"api_version": "2024-10-21"},
    )
    async with ak.Agent("a", llm) as agent:
        result = await agent.run("hello azure")
    assert result.content == "hello azure"
    sent = srv.requests[-1]
    assert sent.path == "/openai/deployments/my-deployment/chat/completions"
    assert sent.query["api-version"] == "2024-10-21"
    assert sent.headers["api-key"] == "azure-key"


async def test_azure_v1_endpoint(srv: SimulatorServer, transport: Transport) -> None:
    llm = ak.LLMConfig(
        provider="azure", model="gpt-4o", base_url=srv.base_url + "/openai/v1", api_key="k", transport=transport
    )
    async with ak.Agent("a", llm) as agent:
        assert (await agent.run("hello v1")).content == "hello v1"
    sent = srv.requests[-1]
    assert sent.path == "/openai/v1/chat/completions" and "api-version" not in sent.query
    assert sent.body["model"] == "gpt-4o"


async def test_ollama_needs_no_key_and_has_a_default_url(srv: SimulatorServer, transport: Transport) -> None:
    model = infer_model(ak.LLMConfig(provider="ollama", model="llama3.2"))
    assert model.provider == "ollama" and model.describe()["base_url"] == "http://localhost:11434/v1"
    llm = ak.LLMConfig(provider="ollama", model="llama3.2", base_url=srv.base_url + "/v1", transport=transport)
    async with ak.Agent("a", llm) as agent:
        assert (await agent.run("hi ollama")).content == "hi ollama"
    assert srv.requests[-1].body["model"] == "llama3.2"


async def test_models_pickle_without_their_session(srv: SimulatorServer, transport: Transport) -> None:
    model = infer_model(cfg(srv, transport))
    try:
        await model.request([Message.user("warm up")], (), ModelSettings())
        copy = pickle.loads(pickle.dumps(model))
        try:
            response = await copy.request([Message.user("after pickling")], (), ModelSettings())
        finally:
            await copy.aclose()
    finally:
        await model.aclose()
    assert response.content == "after pickling"
    assert copy.describe() == model.describe() and "x" not in copy.describe().values()
    agent = pickle.loads(pickle.dumps(ak.Agent("a", cfg(srv, transport))))
    async with agent:
        assert (await agent.run("rebuilt")).content == "rebuilt"


async def test_model_reopens_its_pool_after_aclose(srv: SimulatorServer, transport: Transport) -> None:
    model = infer_model(cfg(srv, transport))
    try:
        await model.request([Message.user("one")], (), ModelSettings())
        await model.aclose()
        await model.aclose()  # idempotent
        assert (await model.request([Message.user("two")], (), ModelSettings())).content == "two"
    finally:
        await model.aclose()


# -- SSE parsing robustness (our transport) ----------------------------------------------------------


PAUSE = b"<pause>"
DROP = b"<drop>"


class RawServer:
    """Answers every chat request with the given byte pieces, flushed one by one."""

    def __init__(self, pieces: list[bytes], content_type: str = "text/event-stream") -> None:
        self.pieces = pieces
        self.content_type = content_type
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> RawServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        resp = web.StreamResponse(headers={"Content-Type": self.content_type})
        await resp.prepare(request)
        for piece in self.pieces:
            if piece == PAUSE:
                await asyncio.sleep(30)  # the client gives up first, which cancels this handler
            if piece == DROP:
                assert request.transport is not None
                request.transport.close()
                return resp
            await resp.write(piece)
            await asyncio.sleep(0)
        await resp.write_eof()
        return resp


async def raw_stream(
    pieces: list[bytes],
    content_type: str = "text/event-stream",
    seen: list[Any] | None = None,
    timeout: float = 5,  # noqa: ASYNC109 - the provider's request timeout under test, not a deadline of this helper
    transport: Transport = "aiohttp",
) -> tuple[list[Any], Any]:
    events: list[Any] = [] if seen is None else seen
    async with RawServer(pieces, content_type) as server:
        llm = ak.LLMConfig(
            provider="openai", model="m", base_url=server.base_url, max_retries=0, timeout=timeout, transport=transport
        )
        model = infer_model(llm)
        try:
            async with model.request_stream([Message.user("x")], (), ModelSettings()) as stream:
                async for event in stream:
                    events.append(event)
        finally:
            await model.aclose()
    return events, stream.response()


async def test_sse_crlf_comments_event_lines_and_split_packets() -> None:
    def chunk(text: str) -> bytes:
        return b'data: {"choices":[{"index":0,"delta":{"content":' + orjson.dumps(text) + b"}}]}\r\n\r\n"

    body = b": keep-alive\r\n\r\nevent: message\r\n" + chunk("Hel") + chunk("lo") + b'data:{"choices":[],"usage":'
    body += b'{"prompt_tokens":3,"completion_tokens":2}}\r\n\r\ndata: [DONE]\r\n\r\n'
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]  # lines cut anywhere
    events, response = await raw_stream(pieces)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert response.content == "Hello" and response.usage.input_tokens == 3 and response.usage.output_tokens == 2


async def test_sse_error_event_and_broken_tail() -> None:
    with pytest.raises(ServerError, match="overloaded right now"):
        await raw_stream([b'data: {"error": {"message": "overloaded right now"}}\n\n'])
    with pytest.raises(BadResponseError, match="ended in the middle of an event"):
        await raw_stream([b'data: {"choices": [{"delta": {"content": "a"}}]}\n\ndata: {"choi'])
    with pytest.raises(BadResponseError, match="wrong shape"):
        await raw_stream([b"data: [1, 2]\n\n"])


async def test_json_reply_to_a_stream_request_is_replayed() -> None:
    reply = {"choices": [{"message": {"content": "all at once"}, "finish_reason": "stop"}], "model": "m"}
    events, response = await raw_stream([orjson.dumps(reply)], "application/json")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["all at once"]
    assert response.content == "all at once" and response.finish_reason == "stop"


async def test_sse_last_token_with_finish_reason_and_usage_in_one_chunk() -> None:
    # vLLM and Ollama put the last token, the finish reason and the usage into one chunk.
    first = b'data: {"model":"m","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}\n\n'
    last = b'data: {"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"length"}],'
    last += b'"usage":{"prompt_tokens":5,"completion_tokens":2}}\n\ndata: [DONE]\n\n'
    events, response = await raw_stream([first, last])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b"]
    assert response.finish_reason == "length" and response.usage.output_tokens == 2 and response.model == "m"


async def test_proxy_from_the_environment(
    srv: SimulatorServer, transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The simulator doubles as a forward proxy: it answers the absolute-form request it receives,
    # so an answer for an unresolvable host proves the request went through the proxy.
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", srv.base_url)
    llm = ak.LLMConfig(
        provider="openai", model="sim", base_url="http://llm.invalid/v1", api_key="x", transport=transport
    )
    async with ak.Agent("a", llm) as agent:
        assert (await agent.run("via the proxy")).content == "via the proxy"
    monkeypatch.setenv("NO_PROXY", "llm.invalid")
    async with ak.Agent("a", dataclasses.replace(llm, max_retries=0)) as agent:
        with pytest.raises(ProviderConnectionError, match="llm.invalid"):
            await agent.run("direct this time")
    if transport == "aiohttp":
        # a local endpoint never goes through the proxy (here: a dead one)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
        async with ak.Agent("a", cfg(srv, transport, max_retries=0)) as agent:
            assert (await agent.run("local stays local")).content == "local stays local"


async def test_stalled_stream_times_out_between_reads(transport: Transport) -> None:
    first = b'data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n'
    seen: list[Any] = []
    async with asyncio.timeout(5):
        with pytest.raises(ProviderTimeoutError, match="within 0.2 s"):
            await raw_stream([first, PAUSE, b"data: [DONE]\n\n"], seen=seen, timeout=0.2, transport=transport)
    assert [e.text for e in seen if isinstance(e, TextDelta)] == ["partial"]


async def test_server_dropping_the_stream_is_a_connection_error(transport: Transport) -> None:
    first = b'data: {"choices":[{"index":0,"delta":{"content":"partial"}}]}\n\n'
    with pytest.raises(ProviderConnectionError, match="check base_url"):
        await raw_stream([first, DROP], transport=transport)
