"""The openai provider against the hostile server (tests/hostile.py): every failure mode is typed, no deadline is lost."""

from __future__ import annotations

import asyncio
import email.utils
import os
import re
import sys
import time
from typing import Any, Literal

import pytest

import agentickit as ak
from agentickit.errors import (
    BadResponseError,
    ConfigError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseTooLargeError,
    RunTimeoutError,
    TruncatedResponseError,
    UserError,
)
from agentickit.providers import infer_model
from agentickit.providers._http import retry_after
from agentickit.providers._retry import RETRY_AFTER_CAP, backoff_delay
from tests.hostile import HostileServer

Transport = Literal["aiohttp", "sdk"]


@pytest.fixture(params=["aiohttp", "sdk"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param


def llm(server: HostileServer, mode: str, arg: str = "-", transport: Transport = "aiohttp", **kw: Any) -> ak.LLMConfig:
    return ak.LLMConfig(
        provider="openai", model="m", base_url=server.base_url(mode, arg), api_key="k", transport=transport, **kw
    )


async def drain(stream: Any) -> ak.Result:
    async for _ in stream:
        pass
    return await stream.wait()


# -- 3. Retry-After --------------------------------------------------------------------------------


def test_retry_after_is_always_finite_and_capped() -> None:
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    far = email.utils.formatdate(time.time() + 10 * 365 * 86400, usegmt=True)
    cases = {
        "nan": None,
        "NaN": None,
        "-nan": None,
        "inf": RETRY_AFTER_CAP,
        "-inf": 0.0,
        "-5": 0.0,
        "1e400": RETRY_AFTER_CAP,
        "99999999": RETRY_AFTER_CAP,
        past: 0.0,
        far: RETRY_AFTER_CAP,
        "Mon, 01 Jan 99999 00:00:00 GMT": None,
        "soon": None,
        "": None,
        "2": 2.0,
    }
    for value, expected in cases.items():
        assert retry_after({"retry-after": value}) == expected, value
    assert retry_after({"retry-after-ms": "nan", "retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "inf"}) == RETRY_AFTER_CAP
    # an error built elsewhere (an SDK, a user) with a NaN still gets a finite backoff
    for wait in (float("nan"), float("inf"), -1.0, 1e300):
        delay = backoff_delay(0, RateLimitError("x", status=429, retry_after=wait))
        assert 0.0 <= delay <= RETRY_AFTER_CAP


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("value", ["nan", "-3", "-inf", "past-date"])
async def test_hostile_retry_after_is_retried_promptly(
    hostile: HostileServer, transport: Transport, streamed: bool, value: str
) -> None:
    if value == "past-date":
        value = email.utils.formatdate(time.time() - 60, usegmt=True)
    async with ak.Agent("a", llm(hostile, "retry_after", value, transport)) as agent:
        async with asyncio.timeout(5):
            result = await (drain(agent.run_stream("q")) if streamed else agent.run("q"))
    assert result.content == "ok"
    assert hostile.hits[f"retry_after/{value}"] == 2


@pytest.mark.parametrize("value", ["inf", "1e400"])
async def test_hostile_huge_retry_after_is_clamped_and_the_run_deadline_holds(
    hostile: HostileServer, transport: Transport, value: str
) -> None:
    async with ak.Agent("a", llm(hostile, "always_429", value, transport)) as agent:
        async with asyncio.timeout(5):
            with pytest.raises(RunTimeoutError):
                await agent.run("q", timeout=0.3)
            with pytest.raises(RunTimeoutError):
                await drain(agent.run_stream("q", timeout=0.3))


# -- 7. an overall request deadline ---------------------------------------------------------------


def test_request_timeout_default_and_validation() -> None:
    assert ak.LLMConfig().request_timeout == 600.0
    for bad in (float("nan"), 0, -1, "5"):
        with pytest.raises(UserError, match="request_timeout"):
            ak.LLMConfig(request_timeout=bad)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="LLMConfig.timeout"):
        ak.LLMConfig(timeout=float("nan"))


async def test_endless_stream_ends_at_the_request_timeout(hostile: HostileServer, transport: Transport) -> None:
    cfg = llm(hostile, "endless", transport=transport, request_timeout=0.4, max_retries=0)
    async with ak.Agent("a", cfg) as agent:
        async with asyncio.timeout(5):
            stream = agent.run_stream("q")
            with pytest.raises(ProviderTimeoutError, match=r"within 0.4 s.*request_timeout"):
                await drain(stream)
        async with asyncio.timeout(5):
            await hostile.wait_idle()  # the client closed the endless stream
    assert hostile.disconnects >= 1


async def test_request_timeout_none_removes_the_limit_and_every_route_sets_it(
    hostile: HostileServer, tmp_path: Any
) -> None:
    cfg = llm(hostile, "endless", request_timeout=None, max_retries=0)
    async with ak.Agent("a", cfg) as agent:
        async with asyncio.timeout(5):
            with pytest.raises(RunTimeoutError):  # the run's deadline, not a provider timeout
                await drain(agent.run_stream("q", timeout=0.6))
    built = ak.Agent.builder("b").with_llm("openai", "m", base_url=hostile.base_url("endless"), api_key="k",
                                            request_timeout=0.3, max_retries=0).build()  # fmt: skip
    assert isinstance(built.llm, ak.LLMConfig) and built.llm.request_timeout == 0.3
    async with built:
        async with asyncio.timeout(5):
            with pytest.raises(ProviderTimeoutError, match="request_timeout"):
                await drain(built.run_stream("q"))
    path = tmp_path / "agent.toml"
    base = hostile.base_url("endless")
    path.write_text(
        f'[llm]\nprovider = "openai"\nmodel = "m"\nbase_url = "{base}"\napi_key = "k"\nrequest_timeout = "300ms"\n'
    )
    assert ak.Agent.from_config(path).llm.request_timeout == 0.3  # type: ignore[union-attr]
    path.write_text(
        f'[llm]\nprovider = "openai"\nmodel = "m"\nbase_url = "{base}"\napi_key = "k"\nrequest_timeout = "none"\n'
    )
    assert ak.Agent.from_config(path).llm.request_timeout is None  # type: ignore[union-attr]


# -- 8, 9, 10. wrong-typed fields, malformed streams, truncation: one verdict for both transports --

BAD_REPLIES = [
    # (mode, arg, streamed, error, words in the message)
    ("content", "int", False, BadResponseError, "choices[0].message.content is int"),
    ("content", "int", True, BadResponseError, "choices[0].delta.content is int"),
    ("content", "list", False, BadResponseError, "choices[0].message.content is list"),
    ("content", "list", True, BadResponseError, "choices[0].delta.content is list"),
    ("arguments", "object", False, BadResponseError, "function.arguments is dict"),
    ("arguments", "object", True, BadResponseError, "function.arguments is dict"),
    ("no_choices", "-", True, BadResponseError, "no 'choices'"),
    ("not_json", "-", True, BadResponseError, "JSON"),
    ("no_done", "text", True, TruncatedResponseError, "truncated"),
]


@pytest.mark.parametrize(("mode", "arg", "streamed", "error", "words"), BAD_REPLIES)
async def test_bad_replies_are_typed_errors_on_both_transports(
    hostile: HostileServer,
    transport: Transport,
    mode: str,
    arg: str,
    streamed: bool,
    error: type[Exception],
    words: str,
) -> None:
    @ak.tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    async with ak.Agent("a", llm(hostile, mode, arg, transport, max_retries=0), tools=[echo]) as agent:
        async with asyncio.timeout(5):
            with pytest.raises(error, match=re.escape(words)):
                await (drain(agent.run_stream("q")) if streamed else agent.run("q"))


@pytest.mark.parametrize("stream", [False, True])
async def test_the_cli_reports_a_wrong_typed_reply_without_a_traceback(hostile: HostileServer, stream: bool) -> None:
    # A real `agentickit run` process against the hostile server (issue 11, item 8: it printed a traceback).
    args = ["run", "--llm", "openai:m", "--base-url", hostile.base_url("content", "int"), *(["--stream"] * stream), "q"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentickit.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "OPENAI_API_KEY": "k", "AGENTICKIT_LLM_MAX_RETRIES": "0"},
    )
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    text = err.decode()
    assert proc.returncode == 1, text
    assert "BadResponseError" in text and "choices[0]" in text and "content" in text
    assert "Traceback" not in text


async def test_truncated_stream_is_retried_when_nothing_reached_the_caller(
    hostile: HostileServer, transport: Transport
) -> None:
    async with ak.Agent("a", llm(hostile, "no_done", "empty", transport, max_retries=2)) as agent:
        async with asyncio.timeout(5):
            result = await drain(agent.run_stream("q"))
    assert result.content == "ok" and hostile.hits["no_done/empty"] == 2


async def test_an_error_event_read_with_a_malformed_line_is_a_retried_server_error(hostile: HostileServer) -> None:
    # Found by tests/providers/test_sse_fuzz.py: read together, the malformed line was reported
    # first (a BadResponseError, not retried) although the server had said it was overloaded.
    async with ak.Agent("a", llm(hostile, "error_then_junk", max_retries=2)) as agent:
        async with asyncio.timeout(5):
            result = await drain(agent.run_stream("q"))
    assert result.content == "ok" and hostile.hits["error_then_junk/-"] == 2


async def test_truncated_stream_after_text_is_not_retried(hostile: HostileServer, transport: Transport) -> None:
    async with ak.Agent("a", llm(hostile, "no_done", "text", transport, max_retries=3)) as agent:
        stream = agent.run_stream("q")
        deltas = [c.delta or "" async for c in stream if c.type is ak.ChunkType.DELTA]
        with pytest.raises(TruncatedResponseError):
            await stream.wait()
    assert "".join(deltas) == "partial" and hostile.hits["no_done/text"] == 1


# -- 18. response size cap; long SSE lines ------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True])
async def test_response_past_the_size_cap_is_a_typed_error(hostile: HostileServer, streamed: bool) -> None:
    cfg = llm(hostile, "huge", str(3 * 1024 * 1024), max_retries=0, options={"max_response_bytes": 1024 * 1024})
    async with ak.Agent("a", cfg) as agent:
        async with asyncio.timeout(10):
            with pytest.raises(ResponseTooLargeError, match="max_response_bytes"):
                await (drain(agent.run_stream("q")) if streamed else agent.run("q"))
    cfg = llm(hostile, "huge", str(300_000), max_retries=0, options={"max_response_bytes": 1024 * 1024})
    async with ak.Agent("a", cfg) as agent:
        result = await (drain(agent.run_stream("q")) if streamed else agent.run("q"))
    assert result.content == "x" * 300_000


def test_size_cap_option_is_checked() -> None:
    for bad in (0, -1, "big", 1.5):
        with pytest.raises(ConfigError, match="max_response_bytes"):
            infer_model(ak.LLMConfig(provider="openai", model="m", api_key="k", options={"max_response_bytes": bad}))
    with pytest.raises(ConfigError, match="default transport only"):
        infer_model(
            ak.LLMConfig(provider="openai", model="m", api_key="k", transport="sdk", options={"max_response_bytes": 9})
        )
    model = infer_model(ak.LLMConfig(provider="openai", model="m", api_key="k", options={"max_response_bytes": None}))
    assert getattr(model, "max_response_bytes") is None  # noqa: B009
    default = infer_model(ak.LLMConfig(provider="openai", model="m", api_key="k"))
    assert getattr(default, "max_response_bytes") == 64 * 1024 * 1024  # noqa: B009


async def test_one_long_sse_line_in_many_reads(hostile: HostileServer) -> None:
    size = 8 * 1024 * 1024  # 128 reads of 64 KiB for one line
    async with ak.Agent("a", llm(hostile, "long_line", str(size), max_retries=0)) as agent:
        async with asyncio.timeout(20):
            result = await drain(agent.run_stream("q"))
    assert len(result.content) == size and result.metadata["finish_reason"] == "stop"
