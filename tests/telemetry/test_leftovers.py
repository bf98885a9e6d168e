"""Spans of caps.llm_stream, FallbackModel's fallbacks, session stores, and trace context in from the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agentickit as ak
from tests.serve.conftest import serving

from .conftest import Traces, attr_names, parent_of, span_id


def sim(name: str, **kw: Any) -> ak.SimulatedModel:
    return ak.SimulatedModel(reply=f"answer from {name}", model_name=name, **kw)


async def test_caps_llm_stream_gets_a_chat_span_with_time_to_first_chunk(traces: Traces) -> None:
    async def handler(query: str, caps: Any) -> str:
        parts = [t async for t in caps.llm_stream(None, query)]
        # Cut short: the span ends without an error.
        async with caps.llm_stream(None, "again") as again:
            async for _ in again:
                break
        return "".join(parts)

    traces.enable()
    agent = ak.Agent("h", ak.SimulatedModel(reply="one two three", tokens_per_s=500), handler=handler)
    result = await agent.run("q")
    assert result.content == "one two three"
    run = traces.named("invoke_agent h")
    chats = [s for s in traces.spans() if s.name == "chat simulated"]
    assert len(chats) == 2
    whole, cut = chats
    for chat in chats:
        assert chat.kind is SpanKind.CLIENT and parent_of(chat) == span_id(run)
        assert chat.status.status_code is not StatusCode.ERROR
    attrs = whole.attributes or {}
    assert attrs["gen_ai.request.stream"] is True and attrs["gen_ai.usage.output_tokens"] == 3
    assert 0 < float(attrs["gen_ai.response.time_to_first_chunk"]) < 5  # pyright: ignore[reportArgumentType]
    assert "gen_ai.usage.output_tokens" not in (cut.attributes or {})


async def test_caps_llm_stream_failure_sets_the_error_on_its_span(traces: Traces) -> None:
    async def handler(query: str, caps: Any) -> str:
        return "".join([t async for t in caps.llm_stream(None, query)])

    traces.enable()
    agent = ak.Agent("h", ak.SimulatedModel(failures=["400"]), handler=handler)
    with pytest.raises(ak.errors.BadRequestError):
        await agent.run("q")
    chat = traces.named("chat simulated")
    assert chat.status.status_code is StatusCode.ERROR
    assert (chat.attributes or {})["error.type"] == "BadRequestError"


@pytest.mark.parametrize("stream", [False, True])
async def test_fallbacks_are_events_on_the_chat_span(traces: Traces, stream: bool) -> None:
    traces.enable()
    fb = ak.FallbackModel(sim("primary", failures=["429", "429"], max_retries=1), sim("backup"))
    async with ak.Agent("a", llm=fb) as agent:
        if stream:
            async for _ in agent.run_stream("hi"):
                pass
        else:
            await agent.run("hi")
    chat = next(s for s in traces.spans() if s.name.startswith("chat "))
    events = [e for e in chat.events if e.name == "fallback"]
    assert len(events) == 1
    attrs = events[0].attributes or {}
    assert attrs["agentickit.fallback.from_model"] == "primary"
    assert attrs["agentickit.fallback.to_model"] == "backup"
    assert attrs["error.type"] == "RateLimitError"
    if stream:  # the stream's own retry of the primary, before it fell back
        assert [e.name for e in chat.events].count("retry") == 1


async def test_session_store_reads_and_appends_are_spans(traces: Traces, tmp_path: Path) -> None:
    traces.enable()
    store = ak.stores.SQLite(tmp_path / "s.db")
    agent = ak.Agent("m", "simulated:echo", memory=ak.Memory(store=store))
    await agent.run("first", session_id="s1")
    await agent.run("second", session_id="s1")
    await store.aclose()
    run = [s for s in traces.spans() if s.name == "invoke_agent m"][-1]
    reads = [s for s in traces.spans() if s.name == "read session"]
    appends = [s for s in traces.spans() if s.name == "append session"]
    assert len(reads) == 2 and len(appends) == 2
    last_read, last_append = reads[-1], appends[-1]
    assert parent_of(last_read) == span_id(run) and parent_of(last_append) == span_id(run)
    for span in (last_read, last_append):
        attrs = span.attributes or {}
        assert attrs["db.system.name"] == "sqlite" and attrs["db.collection.name"] == "session"
        assert attrs["gen_ai.conversation.id"] == "s1" and span.kind is SpanKind.CLIENT
    assert (last_read.attributes or {})["agentickit.memory.messages"] == 2  # the first turn
    assert (last_append.attributes or {})["db.operation.name"] == "append"
    from agentickit.telemetry import _otel
    from tests.telemetry.test_semconv import ATTRIBUTES

    unknown = sorted(n for n in attr_names(traces.spans()) if n not in ATTRIBUTES and n not in _otel.CUSTOM_ATTRIBUTES)
    assert unknown == []


@pytest.mark.parametrize("path", ["/v1/agents/assistant/runs", "/v1/chat/completions", "/v1/responses"])
async def test_a_traceparent_sent_to_the_server_parents_the_run(traces: Traces, path: str) -> None:
    traces.enable()
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    body: dict[str, Any] = {
        "/v1/agents/assistant/runs": {"input": "hi"},
        "/v1/chat/completions": {"model": "assistant", "messages": [{"role": "user", "content": "hi"}]},
        "/v1/responses": {"model": "assistant", "input": "hi"},
    }[path]
    app = ak.serve.app(agents=[ak.Agent("assistant", "simulated:echo")])
    async with serving(app) as (url, _), httpx.AsyncClient(base_url=url) as http:
        r = await http.post(path, json=body, headers={"traceparent": f"00-{trace_id}-{parent}-01"})
        assert r.status_code == 200, r.text
        plain = await http.post(path, json=body)
        assert plain.status_code == 200
    runs = [s for s in traces.spans() if s.name == "invoke_agent assistant"]
    assert len(runs) == 2
    linked, alone = runs
    assert linked.context is not None and f"{linked.context.trace_id:032x}" == trace_id
    assert linked.parent is not None and f"{linked.parent.span_id:016x}" == parent and linked.parent.is_remote
    assert alone.parent is None and alone.context is not None and f"{alone.context.trace_id:032x}" != trace_id
