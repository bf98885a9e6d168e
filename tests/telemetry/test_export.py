"""Over the wire: OTLP/HTTP export to a receiver on 127.0.0.1, W3C traceparent to providers, keys kept out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Literal

import pytest
from aiohttp import web
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

import agentickit as ak
from agentickit.simulator import SimulatorServer
from tests.conftest import free_port

from .conftest import Traces, all_values, parent_of, span_id

SECRET = "sk-test-DO-NOT-LEAK-0123456789abcdef"


@pytest.fixture
async def srv() -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(api_key=SECRET) as server:
        yield server


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
@pytest.mark.parametrize("stream", [False, True])
async def test_traceparent_reaches_the_provider_and_keys_stay_out(
    traces: Traces, srv: SimulatorServer, transport: Literal["aiohttp", "sdk"], stream: bool
) -> None:
    traces.enable(capture_content=True)
    llm = ak.LLMConfig(
        provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key=SECRET, transport=transport
    )
    async with ak.Agent("a", llm=llm) as agent:
        if stream:
            result = await agent.run_stream("hello there").wait()
        else:
            result = await agent.run("hello there")
    assert result.content
    chat = traces.named("chat sim")
    ctx = chat.context
    assert ctx is not None
    header = srv.requests[-1].headers.get("traceparent")
    assert header is not None and header.startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
    attrs = chat.attributes or {}
    assert attrs["server.address"] == "127.0.0.1" and attrs["server.port"] == srv.port
    assert attrs["gen_ai.request.stream"] is stream
    spans = traces.spans()
    assert all(SECRET not in v and SECRET[-12:] not in v for v in all_values(spans))


async def test_no_traceparent_when_off(srv: SimulatorServer) -> None:
    llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key=SECRET)
    async with ak.Agent("a", llm=llm) as agent:
        await agent.run("hello")
    assert "traceparent" not in srv.requests[-1].headers


async def test_otlp_http_export_to_a_local_receiver() -> None:
    received: list[ExportTraceServiceRequest] = []
    got = asyncio.Event()

    async def traces_endpoint(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        got.set()
        return web.Response(status=200, content_type="application/x-protobuf", body=b"")

    app = web.Application()
    app.router.add_post("/v1/traces", traces_endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces")))
    try:
        ak.telemetry.enable(tracer_provider=provider)
        await ak.Agent("exported", "simulated:echo").run("ship it")
        # The exporter posts from its own thread, synchronously: flush off the loop so the receiver can answer.
        assert await asyncio.to_thread(provider.force_flush, 10_000)
        async with asyncio.timeout(10):
            await got.wait()
    finally:
        ak.telemetry.disable()
        await asyncio.to_thread(provider.shutdown)
        await runner.cleanup()
    spans = [s for req in received for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    names = sorted(s.name for s in spans)
    assert names == ["chat echo", "invoke_agent exported"]
    scopes = {ss.scope.name for req in received for rs in req.resource_spans for ss in rs.scope_spans}
    assert scopes == {"agentickit"}
    chat = next(s for s in spans if s.name == "chat echo")
    run = next(s for s in spans if s.name == "invoke_agent exported")
    assert chat.parent_span_id == run.span_id
    keys = {a.key for a in chat.attributes}
    assert {"gen_ai.operation.name", "gen_ai.request.model", "gen_ai.usage.input_tokens"} <= keys


async def test_metrics_agree_with_agent_metrics(traces: Traces) -> None:
    traces.enable()
    agent = ak.Agent("m", "simulated:echo")
    for i in range(3):
        await agent.run(f"question number {i}")
    with pytest.raises(ak.errors.BadRequestError):
        await agent.run("[[sim:400]]")
    snap = agent.metrics()
    points = [
        p
        for p in traces.metric_points("gen_ai.client.operation.duration")
        if (p.attributes or {}).get("gen_ai.agent.name") == "m"
    ]
    assert sum(p.count for p in points) == snap.runs == 4
    errors = [p for p in points if "error.type" in (p.attributes or {})]
    assert {p.attributes["error.type"]: p.count for p in errors} == dict(snap.errors_by_type)
    assert sum(p.sum for p in points) == pytest.approx(snap.latency_mean * snap.runs)  # type: ignore[operator]
    tokens = traces.metric_points("gen_ai.client.token.usage")
    by_type = {p.attributes["gen_ai.token.type"]: p.sum for p in tokens}
    assert by_type == {"input": snap.tokens_in, "output": snap.tokens_out}


async def test_stream_time_to_first_chunk_metric(traces: Traces) -> None:
    traces.enable()
    agent = ak.Agent("s", "simulated:echo")
    await agent.run_stream("tell me").wait()
    points = traces.metric_points("gen_ai.client.operation.time_to_first_chunk")
    assert sum(p.count for p in points) == 1
    snap = agent.metrics()
    assert snap.ttft_p50 is not None and points[0].sum == pytest.approx(snap.ttft_p50)


async def test_tool_duration_metric(traces: Traces) -> None:
    from agentickit.testing import ScriptedModel, call

    @ak.tool
    def ping() -> str:
        """Ping."""
        return "pong"

    traces.enable()
    agent = ak.Agent("t", ScriptedModel([call("ping"), call("nope"), "done"]), tools=[ping])
    await agent.run("go")
    points = [
        p
        for p in traces.metric_points("gen_ai.client.operation.duration")
        if (p.attributes or {}).get("gen_ai.operation.name") == "execute_tool"
    ]
    tm = agent.tool_metrics()
    assert sum(p.count for p in points) == tm.calls == 2
    assert sum(p.count for p in points if "error.type" in (p.attributes or {})) == tm.errors == 1


async def test_parent_context_from_the_caller(traces: Traces) -> None:
    traces.enable()
    tracer = traces.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as outer:
        await ak.Agent("a", "simulated:echo").run("hi")
    run = traces.named("invoke_agent a")
    assert parent_of(run) == outer.get_span_context().span_id
    assert span_id(traces.named("request")) == outer.get_span_context().span_id


async def test_mcp_calls_nest_in_their_tool_span_and_carry_traceparent(traces: Traces) -> None:
    import sys
    from pathlib import Path

    from agentickit.testing import ScriptedModel, call

    server = ak.MCPServer.stdio(sys.executable, [str(Path(__file__).parent / "meta_server.py")], timeout=20)
    traces.enable()
    async with ak.Agent("a", ScriptedModel([call("traceparent"), "done"]), tools=[server]) as agent:
        async with asyncio.timeout(30):
            result = await agent.run("go")
    received = result.tool_calls[0].result.text
    tool = traces.named("execute_tool traceparent")
    ctx = tool.context
    assert ctx is not None
    # The server saw our trace: the tool span's trace id, and as parent the tool span itself or the
    # MCP SDK's own client span inside it.
    assert received.startswith(f"00-{ctx.trace_id:032x}-"), received
    parent = int(received.split("-")[2], 16)
    inner = [s for s in traces.spans() if parent_of(s) == span_id(tool)]
    assert parent in {span_id(tool), *(span_id(s) for s in inner)}


async def test_mcp_without_telemetry_sends_no_traceparent() -> None:
    import sys
    from pathlib import Path

    server = ak.MCPServer.stdio(sys.executable, [str(Path(__file__).parent / "meta_server.py")], timeout=20)
    try:
        async with asyncio.timeout(30):
            out = await server.call_tool("traceparent")
    finally:
        await server.aclose()
    assert out.text == ""
