"""The official openai SDK against a real server: streaming and not, with a tool-calling agent."""

from __future__ import annotations

import aiohttp
import openai
import pytest

import agentickit as ak
from tests.serve.conftest import Watchdog, make_agent, make_workflow, serving


def _warm_sdk() -> None:
    # The SDK builds each pydantic type's parser on first use (10-20 ms of CPU in the test's loop, on the
    # client side): done here, at import, so the loop watchdog times only the server's request paths.
    from openai._models import construct_type
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    message = {"role": "assistant", "content": "x"}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    head = {"id": "c", "created": 1, "model": "m"}
    choice = {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
    construct_type(
        type_=ChatCompletion, value={**head, "object": "chat.completion", "choices": [choice], "usage": usage}
    )
    delta = {"index": 0, "delta": message, "finish_reason": None}
    construct_type(type_=ChatCompletionChunk, value={**head, "object": "chat.completion.chunk", "choices": [delta]})


_warm_sdk()


def client(url: str, key: str = "unused") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


async def test_sdk_non_streaming_with_a_tool_calling_agent(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent()])
    async with serving(app) as (url, _), client(url) as oa:
        out = await oa.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "weather in Paris"}], temperature=0.0
        )
    assert out.object == "chat.completion" and out.model == "assistant"
    content = out.choices[0].message.content
    assert content is not None and "sunny in Paris" in content
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.completion_tokens > 0
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    loop_watchdog.check()


async def test_sdk_streaming_deltas_usage_last_and_done(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent(tokens_per_s=1000)])
    async with serving(app) as (url, _), client(url) as oa:
        stream = await oa.chat.completions.create(
            model="assistant",
            messages=[{"role": "user", "content": "weather in Rome"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [c async for c in stream]
        reference = await oa.chat.completions.create(
            model="assistant", messages=[{"role": "user", "content": "weather in Rome"}]
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reference.choices[0].message.content
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3, "one chunk per delta"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    loop_watchdog.check()


async def test_models_lists_agents_and_workflows() -> None:
    app = ak.serve.app(agents=[make_agent()], workflows=[make_workflow()])
    async with serving(app) as (url, _), client(url) as oa:
        models = [m.id async for m in oa.models.list()]
        wf = await oa.chat.completions.create(model="pipeline", messages=[{"role": "user", "content": "topic"}])
        streamed = await oa.chat.completions.create(
            model="pipeline", messages=[{"role": "user", "content": "topic"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    assert models == ["assistant", "pipeline"]
    assert wf.choices[0].message.content and text == wf.choices[0].message.content


async def test_history_needs_memory_and_is_used_when_there() -> None:
    plain = ak.Agent("plain", llm="simulated:echo")
    seen: list[int] = []

    def reply(request: object) -> str:
        seen.append(len(request.messages))  # type: ignore[attr-defined]
        return "ok"

    remembering = ak.Agent("mem", llm=ak.SimulatedModel(reply=reply), memory=ak.Memory())
    app = ak.serve.app(agents=[plain, remembering])
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and now?"},
    ]
    async with serving(app) as (url, _), client(url) as oa:
        with pytest.raises(openai.BadRequestError, match="keeps no conversation history"):
            await oa.chat.completions.create(model="plain", messages=history)  # type: ignore[arg-type]
        out = await oa.chat.completions.create(model="mem", messages=history)  # type: ignore[arg-type]
    assert out.choices[0].message.content == "ok"
    assert seen == [3]  # both earlier turns reached the model, then the new question
    assert remembering.memory is not None and (await remembering.memory.sessions()).items == []


async def test_errors_reach_the_sdk_typed() -> None:
    app = ak.serve.app(agents=[make_agent()], max_messages=2)
    async with serving(app) as (url, _), client(url) as oa:
        with pytest.raises(openai.NotFoundError):
            await oa.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.BadRequestError, match="limit of 2"):
            await oa.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "x"}] * 3)  # pyright: ignore[reportArgumentType]
        with pytest.raises(openai.BadRequestError, match="unsupported parameters"):
            await oa.chat.completions.create(
                model="assistant",
                messages=[{"role": "user", "content": "x"}],
                tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
            )


async def test_failure_mid_stream_is_an_error_event_then_done() -> None:
    agent = ak.Agent("slow", llm=ak.SimulatedModel(reply="a b c d e f", ttft=5))
    app = ak.serve.app(agents=[agent], request_timeout=0.3)
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        body = {"model": "slow", "messages": [{"role": "user", "content": "x"}], "stream": True}
        async with http.post(f"{url}/v1/chat/completions", json=body) as r:
            raw = (await r.read()).decode()
        async with client(url) as oa:
            stream = await oa.chat.completions.create(
                model="slow", messages=[{"role": "user", "content": "x"}], stream=True
            )
            with pytest.raises(openai.APIError, match="timeout"):
                async for _ in stream:
                    pass
    frames = [f for f in raw.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]" and '"error"' in frames[-2] and '"timeout"' in frames[-2]
