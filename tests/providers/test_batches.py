"""`ModelStream.batches()`: the run loop's batched event path, per provider, and the text kept in blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

import agentickit as ak
from agentickit.errors import BadResponseError
from agentickit.messages import Message
from agentickit.options import ModelSettings
from agentickit.providers import ModelStream, TextDelta, ThoughtDelta, UsageEvent, infer_model
from agentickit.providers._base import TEXT_BLOCK, BatchItem, StreamEvent
from agentickit.providers.openai._wire import parse_completion
from agentickit.providers.simulated import SimTurn, tokenize
from agentickit.testing import FunctionModel
from tests.providers.test_openai import RawServer, raw_stream

LONG = " ".join(f"w{i % 97}" for i in range(3 * TEXT_BLOCK + 7)) + "  \n"


def _sse(text: str) -> bytes:
    return b'data: {"choices":[{"index":0,"delta":{"content":' + orjson.dumps(text) + b'},"finish_reason":null}]}\n\n'


async def _batches(stream: ModelStream) -> list[list[BatchItem]]:
    out: list[list[BatchItem]] = []
    async with stream:
        async for batch in stream.batches():
            out.append(batch)
    return out


def _texts(batches: list[list[BatchItem]]) -> list[str]:
    return [item for batch in batches for item in batch if isinstance(item, str)]


async def test_openai_one_batch_per_read_with_text_as_str() -> None:
    words = [f" t{i}" for i in range(300)]
    body = (
        b"".join(_sse(w) for w in words)
        + b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":300}}\n\n'
    )
    body += b"data: [DONE]\n\n"
    async with RawServer([body]) as server:
        model = infer_model(ak.LLMConfig(provider="openai", model="m", base_url=server.base_url, max_retries=0))
        try:
            stream = model.request_stream([Message.user("x")], (), ModelSettings())
            batches = await _batches(stream)
        finally:
            await model.aclose()
    assert _texts(batches) == words
    # 300 events (parsed 64 at a time) reached the consumer in a few batches, not 300.
    assert len(batches) < 10
    assert isinstance(batches[-1][-1], UsageEvent)
    response = stream.response()
    assert response.content == "".join(words) and response.usage.output_tokens == 300


async def test_openai_invalid_event_among_valid_ones_is_named() -> None:
    # The window's one-array parse fails; parsing one by one finds the bad event.
    with pytest.raises(BadResponseError, match="not valid JSON.*oops"):
        await raw_stream([_sse("a") + _sse("b") + b"data: {oops\n\n" + _sse("c")])
    # Valid as part of an array but not alone: two values in one event.
    with pytest.raises(BadResponseError, match="not valid JSON"):
        await raw_stream([_sse("a") + b"data: 1, 2\n\n"])


async def test_openai_events_iterate_the_same_as_batches() -> None:
    events, response = await raw_stream([_sse("He") + _sse("llo"), b"data: [DONE]\n\n"])
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["He", "llo"]
    assert response.content == "Hello"


async def test_simulated_batches_are_blocks_of_tokens_and_text_is_kept() -> None:
    model = ak.SimulatedModel(reply=LONG)
    stream = model.request_stream([Message.user("x")], (), ModelSettings())
    batches = await _batches(stream)
    assert _texts(batches) == tokenize(LONG)
    assert all(len(b) <= TEXT_BLOCK for b in batches) and len(batches) >= 4
    response = stream.response()
    assert response.content == LONG and response.usage.output_tokens == len(tokenize(LONG))


async def test_simulated_max_tokens_cuts_the_stream_and_the_reply_alike() -> None:
    limit = TEXT_BLOCK + 5
    model = ak.SimulatedModel(reply=LONG)
    settings = ModelSettings(max_tokens=limit)
    stream = model.request_stream([Message.user("x")], (), settings)
    texts = _texts(await _batches(stream))
    expected = "".join(tokenize(LONG)[:limit])
    assert "".join(texts) == expected and stream.response().finish_reason == "length"
    reply = await model.request([Message.user("x")], (), settings)
    assert reply.content == expected and reply.finish_reason == "length" and reply.usage.output_tokens == limit


async def test_simulated_paced_batches_hold_the_tokens_due() -> None:
    text = " ".join(f"p{i}" for i in range(40))
    model = ak.SimulatedModel(reply=text, tokens_per_s=4000, thoughts="hmm let me see")
    stream = model.request_stream([Message.user("x")], (), ModelSettings())
    batches = await _batches(stream)
    assert _texts(batches) == tokenize(text)
    # Paced: more than one batch of text, each of the tokens due by then.
    assert len([b for b in batches if any(isinstance(i, str) for i in b)]) > 1
    assert [i.text for b in batches for i in b if isinstance(i, ThoughtDelta)] == tokenize("hmm let me see")
    response = stream.response()
    assert response.content == text and response.thoughts == "hmm let me see"


async def test_function_model_batches_and_events_agree() -> None:
    model = FunctionModel(lambda req: SimTurn(text=LONG, thoughts="why not"))
    stream = model.request_stream([Message.user("x")], (), ModelSettings())
    assert _texts(await _batches(stream)) == tokenize(LONG)
    assert stream.response().content == LONG and stream.response().thoughts == "why not"
    async with model.request_stream([Message.user("x")], (), ModelSettings()) as events_stream:
        events = [e async for e in events_stream]
    assert [e.text for e in events if isinstance(e, TextDelta)] == tokenize(LONG)


class _OnlyEvents(ModelStream):
    """A provider that implements only `_events()`."""

    async def _events(self) -> AsyncIterator[StreamEvent]:
        for i in range(TEXT_BLOCK + 3):
            yield TextDelta(f"{i},")
        yield ThoughtDelta("t")
        yield UsageEvent(ak.Usage(1, 2, 1))


async def test_default_batches_wrap_events_one_each() -> None:
    stream = _OnlyEvents()
    batches = await _batches(stream)
    assert all(len(b) == 1 for b in batches) and len(batches) == TEXT_BLOCK + 5
    response = stream.response()
    assert response.content == "".join(f"{i}," for i in range(TEXT_BLOCK + 3))
    assert response.thoughts == "t" and response.usage.output_tokens == 2


async def test_long_streamed_answer_arrives_whole() -> None:
    agent = ak.Agent("a", ak.SimulatedModel(reply=LONG))
    stream = agent.run_stream("go", buffer_size=7)
    deltas: list[Any] = [c.delta async for c in stream if c.type is ak.ChunkType.DELTA]
    result = await stream.wait()
    assert "".join(deltas) == LONG == result.content
    assert len(deltas) == len(tokenize(LONG))


def test_big_completion_body_is_parsed_and_bad_ones_are_named() -> None:
    # Past 256 KiB the body is parsed by the stdlib (orjson peaks at ~12x the body's size).
    text = "x" * 300_000
    body = orjson.dumps({"choices": [{"message": {"content": text}, "finish_reason": "stop"}], "model": "m"})
    assert parse_completion(body, "p", "m").content == text
    for bad in (b"{" + b" " * 300_000, b'"' + b"\xff" * 300_000 + b'"'):
        with pytest.raises(BadResponseError, match="not a valid chat completion"):
            parse_completion(bad, "p", "m")
