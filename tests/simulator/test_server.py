"""The OpenAI-compatible simulator, spoken to with a raw aiohttp client (the wire format itself)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

import agentickit as ak
from agentickit.providers import SimTurn, call
from agentickit.simulator import SimulatorServer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "sim", "messages": [{"role": "user", "content": text}], **extra}


async def post(http: aiohttp.ClientSession, srv: SimulatorServer, body: Any) -> tuple[int, bytes, Any]:
    async with http.post(srv.base_url + "/v1/chat/completions", json=body) as resp:
        return resp.status, await resp.read(), resp.headers


def events(raw: bytes) -> list[Any]:
    """Decode an SSE body, checking the framing: every event is one `data:` line plus a blank line."""
    assert raw.endswith(b"data: [DONE]\n\n")
    blocks = raw.split(b"\n\n")
    assert blocks.pop() == b""
    assert blocks.pop() == b"data: [DONE]"
    out: list[Any] = []
    for block in blocks:
        assert block.startswith(b"data: ") and b"\n" not in block
        out.append(orjson.loads(block[6:]))
    return out


async def test_non_streamed_completion_shape(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(thoughts="thinking") as srv:
        status, raw, headers = await post(http, srv, chat("Hello there"))
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    body = orjson.loads(raw)
    assert body["object"] == "chat.completion" and body["model"] == "sim" and body["id"].startswith("chatcmpl-")
    [choice] = body["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Hello there", "reasoning_content": "thinking"}
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 2
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 2


async def test_streamed_chunks_in_openai_format(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(thoughts="hm ok") as srv:
        body = chat("one two three", stream=True, stream_options={"include_usage": True})
        async with http.post(srv.base_url + "/v1/chat/completions", json=body) as resp:
            assert resp.headers["Content-Type"] == "text/event-stream"
            chunks = events(await resp.read())
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "hm ok"
    assert "".join(d.get("content", "") for d in deltas) == "one two three"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 3


async def test_usage_chunk_only_when_asked(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer() as srv:
        _, raw, _ = await post(http, srv, chat("a b", stream=True))
    assert all(c["choices"] and "usage" not in c for c in events(raw))


async def test_streamed_tool_call_deltas(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer() as srv:
        _, raw, _ = await post(http, srv, chat("weather in Paris", stream=True, tools=TOOLS))
    calls = [d for c in events(raw) if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls", [])]
    assert calls[0]["id"] and calls[0]["type"] == "function" and calls[0]["function"]["name"] == "weather"
    assert len(calls) >= 3 and all(c["index"] == 0 for c in calls)
    assert orjson.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Paris"}
    assert events(raw)[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_tool_results_answered_and_tool_choice_none(http: aiohttp.ClientSession) -> None:
    messages = [
        {"role": "user", "content": "weather in Paris"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    async with SimulatorServer() as srv:
        _, raw, _ = await post(http, srv, {"model": "sim", "messages": messages, "tools": TOOLS})
        _, none_raw, _ = await post(http, srv, chat("just talk", tools=TOOLS, tool_choice="none"))
    assert orjson.loads(raw)["choices"][0]["message"]["content"] == "Based on the tools: weather returned sunny."
    assert orjson.loads(none_raw)["choices"][0]["message"]["content"] == "just talk"


async def test_models_endpoint(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(model_name="my-sim") as srv:
        async with http.get(srv.base_url + "/v1/models") as resp:
            body = await resp.json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["my-sim"]


async def test_fixed_reply_and_max_tokens(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(reply="always the same answer") as srv:
        _, raw, _ = await post(http, srv, chat("anything"))
        _, cut, _ = await post(http, srv, chat("anything", max_tokens=2))
    assert orjson.loads(raw)["choices"][0]["message"]["content"] == "always the same answer"
    cut_choice = orjson.loads(cut)["choices"][0]
    assert cut_choice["message"]["content"] == "always the" and cut_choice["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("directive", "status", "kind"),
    [("429", 429, "rate_limit_error"), ("500", 500, "server_error"), ("401", 401, "invalid_request_error"),
     ("400", 400, "invalid_request_error")],
)  # fmt: skip
async def test_failure_directives(http: aiohttp.ClientSession, directive: str, status: int, kind: str) -> None:
    async with SimulatorServer(retry_after=1.5) as srv:
        got, raw, headers = await post(http, srv, chat(f"x [[sim:{directive}]]"))
    assert got == status
    error = orjson.loads(raw)["error"]
    assert error["type"] == kind and "simulated" in error["message"]
    if status == 429:
        assert headers["Retry-After"] == "1.5" and headers["retry-after-ms"] == "1500"


async def test_malformed_replies(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer() as srv:
        status, raw, _ = await post(http, srv, chat("x [[sim:malformed]]"))
        assert status == 200
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
        status, raw, _ = await post(http, srv, chat("x [[sim:malformed]]", stream=True))
    assert status == 200
    with pytest.raises(orjson.JSONDecodeError):
        events(raw)


async def test_fail_first_n_then_answers(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(fail_first_n=2, fail_with="500") as srv:
        statuses = [(await post(http, srv, chat("hi")))[0] for _ in range(3)]
        srv.fail_next(1, "429")
        statuses.append((await post(http, srv, chat("hi")))[0])
    assert statuses == [500, 500, 200, 429]


async def test_timeout_hangs_until_the_client_gives_up(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer() as srv:
        with pytest.raises(TimeoutError):
            async with http.post(
                srv.base_url + "/v1/chat/completions",
                json=chat("[[sim:timeout]]"),
                timeout=aiohttp.ClientTimeout(total=0.2),
            ) as resp:
                await resp.read()
        async with asyncio.timeout(5):
            await srv.wait_disconnect()
        assert srv.disconnects == 1 and srv.completed == 0


async def test_disconnect_mid_stream_is_recorded(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(tokens_per_s=50) as srv:
        body = chat(" ".join(["word"] * 500), stream=True)
        resp = await http.post(srv.base_url + "/v1/chat/completions", json=body)
        await resp.content.readuntil(b"\n\n")
        resp.close()
        async with asyncio.timeout(0.1):
            await srv.wait_disconnect()
        assert srv.disconnects == 1 and srv.completed == 0


async def test_pacing_follows_ttft_and_tokens_per_s(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(ttft_ms=50, tokens_per_s=200) as srv:
        body = chat(" ".join(["w"] * 20), stream=True)
        start = time.perf_counter()
        async with http.post(srv.base_url + "/v1/chat/completions", json=body) as resp:
            first_content = None
            async for line in resp.content:
                if b'"content":"w"' in line and first_content is None:
                    first_content = time.perf_counter() - start
            total = time.perf_counter() - start
    assert first_content is not None and first_content >= 0.045
    assert total >= 0.05 + 19 / 200 - 0.01


async def test_records_requests_bounded_and_checks_the_key(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer(record=2, api_key="secret") as srv:
        denied, _, _ = await post(http, srv, chat("no key"))
        async with http.post(
            srv.base_url + "/v1/chat/completions", json=chat("with key"), headers={"Authorization": "Bearer secret"}
        ) as resp:
            allowed = resp.status
        await post(http, srv, chat("third"))
    assert denied == 401 and allowed == 200
    assert [r.body["messages"][0]["content"] for r in srv.requests] == ["with key", "third"]


async def test_bad_requests_get_400_with_a_reason(http: aiohttp.ClientSession) -> None:
    async with SimulatorServer() as srv:
        async with http.post(srv.base_url + "/v1/chat/completions", data=b"{not json") as resp:
            assert resp.status == 400 and "not valid JSON" in (await resp.json())["error"]["message"]
        status, raw, _ = await post(http, srv, {"model": "sim"})
        assert status == 400 and "'messages'" in orjson.loads(raw)["error"]["message"]
        status, raw, _ = await post(http, srv, {"model": "sim", "messages": [{"role": "robot", "content": "x"}]})
        assert status == 400 and "robot" in orjson.loads(raw)["error"]["message"]


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="tokens_per_s"):
        SimulatorServer(tokens_per_s=0)
    with pytest.raises(ValueError, match="ttft_ms"):
        SimulatorServer(ttft_ms=-1)
    with pytest.raises(ValueError, match="unknown failure"):
        SimulatorServer().fail_next(1, "418")  # type: ignore[arg-type]


async def test_cli_serves_until_terminated(http: aiohttp.ClientSession) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agentickit.cli", "simulate-llm", "--port", "0", "--reply", "cli says hi",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        assert "listening on http://127.0.0.1:" in line, line
        base = line.rsplit(" ", 1)[1].strip()
        async with http.post(base + "/chat/completions", json=chat("hello")) as resp:
            answer = (await resp.json())["choices"][0]["message"]["content"]
        async with http.get(base + "/models") as resp:
            assert resp.status == 200
        assert answer == "cli says hi"
    finally:
        proc.terminate()
        async with asyncio.timeout(10):
            _, stderr = await proc.communicate()
    assert proc.returncode == 0, stderr.decode()


async def test_scripted_turns_over_http_drive_a_real_agent() -> None:
    @ak.tool
    def lookup(key: str) -> str:
        """Look a key up."""
        return key.upper()

    script = [call("lookup", key="abc"), SimTurn(text="found it", thoughts="easy")]
    async with SimulatorServer(script=script) as srv:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1")
        async with ak.Agent("a", llm, tools=[lookup]) as agent:
            result = await agent.run("find abc")
            streamed = agent.run_stream("find abc")
            async for _ in streamed:
                pass
            again = await streamed.wait()
    assert result.content == again.content == "found it" and result.thoughts == "easy"
    assert [r.result for r in result.tool_calls] == ["ABC"] and [r.result for r in again.tool_calls] == ["ABC"]


def test_cli_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "agentickit.cli", "simulate-llm", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
    assert "Traceback" not in out.stderr
