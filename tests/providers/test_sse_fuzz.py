"""Fuzzing the SSE parser of the aiohttp transport (`_OpenAIStream.feed` / `end`), issue 11 "Keep it that way".

The parser is fed exactly as `batches()` feeds it from `resp.content.iter_any()`: one call per
network read. Properties: any split of a valid stream into reads gives the same events as one read;
any bytes at all give events or a typed `ProviderError` (never `IndexError`, `UnicodeDecodeError`,
...), the same verdict for every split, in time linear in the input. The tests over real HTTP are
in `test_openai.py` and `test_hostile.py`; these run the parser alone so hypothesis can try
thousands of inputs in a few seconds.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentickit as ak
from agentickit.errors import BadResponseError, ProviderError, TruncatedResponseError
from agentickit.messages import Message
from agentickit.options import ModelSettings
from agentickit.providers import ThoughtDelta, ToolCallDelta, UsageEvent, infer_model
from agentickit.providers.openai import OpenAIModel

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_MODEL = infer_model(ak.LLMConfig(provider="openai", model="fuzz", base_url="http://127.0.0.1:9/v1", api_key="sk-fuzz"))
assert isinstance(_MODEL, OpenAIModel)
_CAP = 600
_SMALL_CAP = OpenAIModel("capped", _MODEL.endpoint, max_response_bytes=_CAP)


def _stream(model: OpenAIModel = _MODEL) -> Any:
    return model.request_stream([Message(role="user", content="hi")], [], ModelSettings())


Verdict = tuple[str, Any]


def _verdict(body: bytes, cuts: list[int], model: OpenAIModel = _MODEL) -> Verdict:
    """What the parser makes of `body` read in the pieces `cuts` gives: its events, or its error."""
    stream = _stream(model)
    events: list[Any] = []
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(body)}), len(body)]
    try:
        for start, stop in zip(bounds, bounds[1:], strict=False):
            batch = stream.feed(body[start:stop])
            if batch:
                events.extend(batch)
        stream.end()
    except ProviderError as exc:
        # The error must say what it is: a typed error with a message, whatever the input.
        assert str(exc)
        return type(exc).__name__, str(exc)
    return "ok", (events, stream.response())


def _cuts(body: bytes) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(min_value=1, max_value=max(1, len(body) - 1)), max_size=40)


# -- valid streams -------------------------------------------------------------------------------

_text = st.text(max_size=20)
_name = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


def _choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "model": "fuzz", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


_event = st.one_of(
    _text.map(lambda t: _choice({"content": t})),
    _text.map(lambda t: _choice({"role": "assistant", "content": t})),
    _text.filter(bool).map(lambda t: _choice({"reasoning_content": t})),
    st.tuples(st.integers(0, 3), _name, _text).map(
        lambda c: _choice(
            {"tool_calls": [{"index": c[0], "id": f"call_{c[0]}", "function": {"name": c[1], "arguments": c[2]}}]}
        )
    ),
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)).map(
        lambda u: {"choices": [], "usage": {"prompt_tokens": u[0], "completion_tokens": u[1]}}
    ),
)
_noise = st.sampled_from([b": keep-alive", b"event: message", b"id: 7", b"retry: 1000", b""])


@st.composite
def valid_streams(draw: st.DrawFn) -> bytes:
    """A well-formed OpenAI chat-completions SSE stream, with the framing servers vary."""
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines: list[bytes] = []
    for event in draw(st.lists(_event, max_size=8)):
        lines.extend(draw(st.lists(_noise, max_size=2)))
        lines.append(draw(st.sampled_from([b"data: ", b"data:"])) + orjson.dumps(event))
        lines.append(b"")
    finish = draw(st.sampled_from(["stop", "length", "tool_calls"]))
    lines += [b"data: " + orjson.dumps(_choice({}, finish)), b""]
    if draw(st.booleans()):
        lines += [b"data: [DONE]", b""]
    return newline.join(lines) + newline


@FUZZ
@given(st.data())
def test_any_split_of_a_valid_stream_gives_the_events_of_one_read(data: st.DataObject) -> None:
    body = data.draw(valid_streams())
    whole = _verdict(body, [])
    assert whole[0] == "ok", whole
    assert _verdict(body, data.draw(_cuts(body))) == whole


@settings(FUZZ, max_examples=25)
@given(valid_streams())
def test_a_valid_stream_read_one_byte_at_a_time_gives_the_events_of_one_read(body: bytes) -> None:
    assert _verdict(body, list(range(1, len(body)))) == _verdict(body, [])


@settings(FUZZ, max_examples=100)
@given(st.lists(_text, max_size=10), st.data())
def test_the_text_of_a_valid_stream_is_its_deltas_joined(texts: list[str], data: st.DataObject) -> None:
    body = b"".join(b"data: " + orjson.dumps(_choice({"content": t})) + b"\n\n" for t in texts)
    body += b"data: " + orjson.dumps(_choice({}, "stop")) + b"\n\ndata: [DONE]\n\n"
    kind, value = _verdict(body, data.draw(_cuts(body)))
    assert kind == "ok"
    events, response = value
    assert [e for e in events if isinstance(e, str)] == [t for t in texts if t]
    assert response.content == "".join(texts) and response.finish_reason == "stop"


# -- garbage -------------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    # Keys of real events, so the garbage reaches the shape checks past the JSON parse.
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "choices",
                    "delta",
                    "content",
                    "reasoning_content",
                    "reasoning",
                    "tool_calls",
                    "function",
                    "arguments",
                    "name",
                    "id",
                    "index",
                    "finish_reason",
                    "usage",
                    "prompt_tokens",
                    "completion_tokens",
                    "error",
                    "message",
                    "model",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=10,
)


@st.composite
def garbage_streams(draw: st.DrawFn) -> bytes:
    """Lines that look like SSE but carry wrong-shaped JSON, broken JSON, bad UTF-8 or junk."""
    line = st.one_of(
        _json.map(lambda v: b"data: " + orjson.dumps(v)),
        _event.map(lambda v: b"data: " + orjson.dumps(v)),
        st.binary(max_size=40).map(lambda b: b"data: " + b),
        st.binary(max_size=40),
        _noise,
        st.sampled_from([b"data: [DONE]", b"data: [DONE", b"data: {", b"data: \xff\xfe", b"data: 1e400"]),
    )
    return b"\n".join(draw(st.lists(line, max_size=8))) + draw(st.sampled_from([b"", b"\n", b"\n\n", b"\r\n"]))


def _typed_or_ok(verdict: Verdict) -> None:
    kind, _ = verdict
    assert kind == "ok" or kind in {
        "BadResponseError",
        "TruncatedResponseError",
        "ResponseTooLargeError",
        "ServerError",
    }, verdict


@FUZZ
@given(st.data())
def test_garbage_gives_events_or_a_typed_error_the_same_for_every_split(data: st.DataObject) -> None:
    body = data.draw(garbage_streams())
    whole = _verdict(body, [])
    _typed_or_ok(whole)
    assert _verdict(body, data.draw(_cuts(body))) == whole


@FUZZ
@given(st.binary(max_size=2000), st.data())
def test_arbitrary_bytes_give_events_or_a_typed_error(body: bytes, data: st.DataObject) -> None:
    whole = _verdict(body, [])
    _typed_or_ok(whole)
    assert _verdict(body, data.draw(_cuts(body))) == whole
    _typed_or_ok(_verdict(body, data.draw(_cuts(body)), _SMALL_CAP))


@settings(FUZZ, max_examples=100)
@given(st.data())
def test_the_size_cap_holds_for_every_split(data: st.DataObject) -> None:
    body = data.draw(valid_streams())
    kind, _ = _verdict(body, data.draw(_cuts(body)), _SMALL_CAP)
    assert kind == ("ResponseTooLargeError" if len(body) > _CAP else "ok")


# -- regressions the fuzzing found (kept as plain tests) -------------------------------------------


def _events(*lines: bytes) -> bytes:
    return b"".join(b"data: " + line + b"\n\n" for line in lines)


@pytest.mark.parametrize("split", [False, True])
def test_an_error_event_before_a_malformed_line_is_reported_first_for_every_split(split: bool) -> None:
    # Read together, the window parse failed on the malformed line and reported it before looking
    # at the error event in front of it: a BadResponseError in one read, a ServerError in two.
    body = _events(b'{"error": {"message": "overloaded"}}', b"{not json")
    cut = body.index(b"{not") if split else 0
    kind, message = _verdict(body, [cut])
    assert kind == "ServerError" and "overloaded" in message


def test_a_stream_without_an_end_is_truncated_and_a_cut_line_is_bad() -> None:
    stream = _stream()
    assert stream.feed(_events(orjson.dumps(_choice({"content": "hi"})))) == ["hi"]
    with pytest.raises(TruncatedResponseError):
        stream.end()
    stream = _stream()
    stream.feed(b'data: {"choices": [')
    with pytest.raises(BadResponseError, match="middle of an event"):
        stream.end()


def test_the_recorded_types_are_the_stream_event_types() -> None:
    body = _events(
        orjson.dumps(_choice({"reasoning_content": "think"})),
        orjson.dumps(_choice({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}}]})),
        orjson.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}),
        orjson.dumps(_choice({"content": "x"}, "stop")),
        b"[DONE]",
    )
    kind, (events, response) = _verdict(body, [7, 50, 51])
    assert kind == "ok"
    assert [type(e) for e in events] == [ThoughtDelta, ToolCallDelta, UsageEvent, str]
    assert response.thoughts == "think" and response.content == "x" and response.tool_calls[0].name == "f"


def test_a_line_longer_than_a_read_is_joined_once() -> None:
    # Issue 11, item 18: `tail + data` per read made one 50 MB line quadratic. The pieces of a long
    # line are kept as they came and joined once, when its end arrives.
    stream = _stream()
    head = b'data: {"choices":[{"index":0,"delta":{"content":"'
    assert stream.feed(head) is None
    for _ in range(128):
        assert stream.feed(b"x" * 1024) is None
    assert len(stream._pending) == 129 and stream._tail == b""
    assert stream.feed(b'"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n') == ["x" * 128 * 1024]
    assert stream._pending == []
    stream.end()


def test_a_large_read_is_parsed_without_copies_of_it() -> None:
    # Issue 20: at full speed one read holds ~1 MB of events. `tail + data` copied it while the caller
    # held the original, and the payloads of the whole read (another copy) were alive at once: the
    # peak was 5.5x the read. Now it is the lines, one window of payloads and the batch itself.
    event = b"".join(b"data: " + orjson.dumps(_choice({"content": f" lorem{i % 89}"})) + b"\n\n" for i in range(6000))
    stream = _stream()
    assert stream.feed(event[:7]) is None  # an unfinished line before the read
    read = event[7:]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        batch = stream.feed(read)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert batch is not None and len(batch) == 6000 and batch[1] == " lorem1"
    assert peak < 3.5 * len(read), f"peak {peak / len(read):.2f}x the read"
