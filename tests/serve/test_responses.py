"""`/v1/responses` with the official openai SDK (`client.responses.create`), streaming and not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest

import agentickit as ak
from agentickit.errors import ProviderError
from agentickit.testing import FunctionModel
from tests.serve.conftest import Watchdog, make_agent, make_workflow, serving


def _warm_sdk() -> None:
    # The SDK builds each pydantic type's parser on first use (~50 ms of CPU in the test's loop, on the
    # client side): done here, at import, so the loop watchdog times only the server's request paths.
    from openai._models import construct_type
    from openai.types.responses import Response, ResponseStreamEvent

    text = {"type": "output_text", "text": "x", "annotations": [], "logprobs": []}
    item = {"id": "m", "type": "message", "role": "assistant", "status": "completed", "content": [text]}
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    resp = {"id": "r", "object": "response", "created_at": 1, "status": "completed", "model": "m", "output": [item]}
    resp |= {"parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": usage}
    where = {"item_id": "m", "output_index": 0, "content_index": 0, "sequence_number": 0}
    call = {"id": "fc", "type": "function_call", "call_id": "c", "name": "t", "arguments": "{}", "status": "completed"}
    output = {"id": "fco", "type": "function_call_output", "call_id": "c", "output": "x", "status": "completed"}
    construct_type(type_=Response, value=resp)
    for event in (
        {"type": "response.created", "response": resp},
        {"type": "response.in_progress", "response": resp},
        {"type": "response.completed", "response": resp},
        {"type": "response.failed", "response": resp},
        {"type": "response.output_item.added", "item": item},
        {"type": "response.output_item.done", "item": item},
        {"type": "response.content_part.added", "part": text},
        {"type": "response.content_part.done", "part": text},
        {"type": "response.output_text.delta", "delta": "x", "logprobs": []},
        {"type": "response.output_text.done", "text": "x", "logprobs": []},
        {"type": "response.output_item.added", "item": call},
        {"type": "response.output_item.done", "item": output},
        {"type": "response.function_call_arguments.delta", "delta": "{}"},
        {"type": "response.function_call_arguments.done", "arguments": "{}"},
    ):
        construct_type(type_=ResponseStreamEvent, value={**where, **event})


_warm_sdk()


def client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def _recall() -> ak.Agent:
    # Answers with every user message it was sent, so a test sees which history reached the model.
    def answer(req: Any) -> str:
        return " | ".join(m.content for m in req.messages if m.role == "user")

    return ak.Agent("recall", llm=FunctionModel(answer))


async def test_sdk_non_streaming_with_a_tool_calling_agent(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent()])
    async with serving(app) as (url, _), client(url) as oa:
        out = await oa.responses.create(model="assistant", input="weather in Paris", temperature=0.0)
        again = await oa.responses.retrieve(out.id)
    assert out.object == "response" and out.model == "assistant" and out.status == "completed"
    assert out.id.startswith("resp_") and "sunny in Paris" in out.output_text
    # The tool the agent called on the server, its output, then the answer.
    call, output, message = out.output
    assert call.type == "function_call" and call.name == "weather" and call.status == "completed"
    assert orjson.loads(call.arguments) == {"city": "Paris"}
    assert output.type == "function_call_output" and output.call_id == call.call_id
    assert output.output == "sunny in Paris"
    assert message.type == "message" and message.status == "completed"
    assert out.usage is not None and out.usage.output_tokens > 0
    assert out.usage.total_tokens == out.usage.input_tokens + out.usage.output_tokens
    assert again.id == out.id and again.output_text == out.output_text
    loop_watchdog.check()


async def test_sdk_streaming_events_carry_increasing_sequence_numbers(loop_watchdog: Watchdog) -> None:
    app = ak.serve.app(agents=[make_agent(tokens_per_s=1000)])
    async with serving(app) as (url, _), client(url) as oa:
        stream = await oa.responses.create(model="assistant", input="weather in Rome", stream=True)
        events = [e async for e in stream]
        reference = await oa.responses.create(model="assistant", input="weather in Rome")
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    # The tool call and its output are items of their own, streamed as they happen, before the answer.
    start = kinds.index("response.function_call_arguments.delta") - 1
    assert kinds[start : start + 6] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_item.done",
    ]
    added_call, args_delta, args_done, call_done, added_out, out_done = events[start : start + 6]
    assert added_call.type == "response.output_item.added" and added_call.item.type == "function_call"
    assert added_call.item.status == "in_progress" and added_call.item.name == "weather"
    assert args_delta.type == "response.function_call_arguments.delta"
    assert args_done.type == "response.function_call_arguments.done"
    assert orjson.loads(args_done.arguments) == {"city": "Rome"} and args_delta.delta == args_done.arguments
    assert call_done.type == "response.output_item.done" and call_done.item.type == "function_call"
    assert added_out.type == "response.output_item.added" and added_out.item.type == "function_call_output"
    assert out_done.type == "response.output_item.done" and out_done.item.type == "function_call_output"
    assert out_done.item.output == "sunny in Rome" and out_done.item.call_id == call_done.item.call_id
    assert added_call.output_index == 0 and added_out.output_index == 1
    assert kinds[start + 6 : start + 8] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 3, "one event per delta"
    text = "".join(deltas)
    assert text == reference.output_text
    done = events[-1]
    assert done.type == "response.completed"
    assert done.response.output_text == text and done.response.usage is not None
    # The completed response lists the streamed items, in their order, as the non-streaming one does.
    assert [i.type for i in done.response.output] == ["function_call", "function_call_output", "message"]
    assert [i.type for i in reference.output] == ["function_call", "function_call_output", "message"]
    assert done.response.output[0].id == call_done.item.id
    assert done.response.usage.output_tokens > 0
    loop_watchdog.check()


async def test_previous_response_id_continues_the_conversation_from_the_session_store(tmp_path: Path) -> None:
    store = ak.stores.SQLite(tmp_path / "sessions.db")
    app = ak.serve.app(agents=[_recall()], sessions=store)
    async with serving(app) as (url, _), client(url) as oa:
        first = await oa.responses.create(model="recall", input="my name is Ada")
        second = await oa.responses.create(model="recall", input="what is my name?", previous_response_id=first.id)
        stream = await oa.responses.create(
            model="recall", input="and again?", previous_response_id=second.id, stream=True
        )
        third = [e async for e in stream][-1]
        # A branch from the first response does not see the second turn.
        branch = await oa.responses.create(model="recall", input="branch", previous_response_id=first.id)
        unknown: Any = None
        try:
            await oa.responses.create(model="recall", input="x", previous_response_id="resp_nope")
        except openai.NotFoundError as exc:
            unknown = exc
    assert first.output_text == "my name is Ada"
    assert second.output_text == "my name is Ada | what is my name?"
    assert second.previous_response_id == first.id
    assert third.type == "response.completed"
    assert third.response.output_text == "my name is Ada | what is my name? | and again?"
    assert branch.output_text == "my name is Ada | branch"
    assert unknown is not None and "resp_nope" in str(unknown)
    # The conversation is a session of the store: readable with ak.Memory on the same store.
    messages = await ak.Memory(store=store).load(second.id)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[-1].content == second.output_text
    await store.aclose()


async def test_store_false_keeps_nothing() -> None:
    app = ak.serve.app(agents=[_recall()])
    async with serving(app) as (url, _), client(url) as oa:
        out = await oa.responses.create(model="recall", input="secret", store=False)
        with pytest.raises(openai.NotFoundError):
            await oa.responses.retrieve(out.id)
        with pytest.raises(openai.NotFoundError):
            await oa.responses.create(model="recall", input="x", previous_response_id=out.id)


async def test_workflow_and_typed_errors() -> None:
    app = ak.serve.app(agents=[make_agent()], workflows=[make_workflow()])
    async with serving(app) as (url, _), client(url) as oa:
        wf = await oa.responses.create(model="pipeline", input="topic")
        assert wf.status == "completed" and wf.output_text
        with pytest.raises(openai.NotFoundError) as missing:
            await oa.responses.create(model="nobody", input="hi")
        with pytest.raises(openai.BadRequestError) as bad:
            await oa.responses.create(model="assistant", input="hi", tools=[{"type": "web_search"}])
        with pytest.raises(openai.BadRequestError) as history:
            await oa.responses.create(model="pipeline", input="hi", previous_response_id=wf.id)
    assert missing.value.status_code == 404 and "nobody" in missing.value.message
    assert "tools" in bad.value.message
    assert "workflow" in history.value.message


async def test_a_failing_agent_streams_response_failed_with_a_typed_error() -> None:
    def boom(req: Any) -> str:
        raise ProviderError("upstream said no (key sk-abcdef123456)")

    app = ak.serve.app(agents=[ak.Agent("broken", llm=FunctionModel(boom))])
    async with serving(app) as (url, _), client(url) as oa:
        stream = await oa.responses.create(model="broken", input="hi", stream=True)
        events = [e async for e in stream]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/responses", json={"model": "broken", "input": "hi"}) as r:
                status, body = r.status, await r.json()
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed" and last.response.error is not None
    assert "upstream said no" in last.response.error.message and "sk-abc" not in last.response.error.message
    assert status == 502 and body["error"]["type"] == "provider_error"
