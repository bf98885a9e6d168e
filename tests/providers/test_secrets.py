"""Secrets stay out of reprs and errors (issue 11, items 13 and 21)."""

from __future__ import annotations

import socket

import pytest

import agentickit as ak
from agentickit._redact import is_secret_name, redact_url
from agentickit.errors import ConfigError, ProviderError

SECRET = "sk-THIS-IS-A-SECRET-42"


def test_credential_headers_are_redacted_in_the_repr_of_llmconfig_and_agent() -> None:
    headers = {
        "Authorization": f"Bearer {SECRET}",
        "api-key": SECRET,
        "X-API-Key": SECRET,
        "X-Auth-Token": SECRET,
        "Accept": "application/json",
    }
    cfg = ak.LLMConfig(
        provider="openai",
        model="m",
        api_key=SECRET,
        base_url=f"http://127.0.0.1:9/v1?key={SECRET}",
        options={"headers": headers, "query": {"api_key": SECRET}, "proxy": f"http://u:{SECRET}@proxy:3128"},
    )
    agent = ak.Agent("a", llm=cfg)
    for text in (repr(cfg), repr(agent), str(cfg)):
        assert SECRET not in text, text
        assert "application/json" in text and "Authorization" in text
    assert cfg.options["headers"]["Authorization"].endswith(SECRET)  # the config itself is untouched


@pytest.mark.parametrize("url", [f"http://user:{SECRET}@127.0.0.1:9/v1", f"https://{SECRET}@api.example.com/v1"])
def test_a_base_url_with_userinfo_is_rejected_at_construction_without_showing_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        ak.LLMConfig(provider="openai", model="m", base_url=url)
    message = str(info.value)
    assert SECRET not in message and "user name or password" in message and "***" in message
    if "user:" in url:
        assert "user:***@127.0.0.1:9" in message


def test_a_base_url_with_userinfo_from_the_environment_is_rejected_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://user:{SECRET}@127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with pytest.raises(ConfigError) as info:
        ak.Agent("a", llm="openai:m").model  # noqa: B018  # building the model reads the variable
    assert SECRET not in str(info.value)


@pytest.mark.parametrize("transport", ["aiohttp", "sdk"])
async def test_a_key_in_the_url_query_is_not_in_connection_errors(transport: str) -> None:
    with socket.socket() as s:  # a port nobody listens on: a real refused connection
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ak.LLMConfig(
        provider="openai",
        model="m",
        api_key="k",
        base_url=f"http://127.0.0.1:{port}/v1?api_key={SECRET}&x=1",
        max_retries=0,
        transport=transport,  # type: ignore[arg-type]
    )
    async with ak.Agent("a", llm=cfg) as agent:
        with pytest.raises(ProviderError) as info:
            await agent.run("hi", timeout=10)
    assert SECRET not in str(info.value) and "api_key=***" in str(info.value)


def test_redaction_rules() -> None:
    assert all(is_secret_name(n) for n in ("authorization", "API-Key", "x-api-key", "x-goog-api-key", "access_token"))
    assert not any(is_secret_name(n) for n in ("accept", "content-type", "user-agent", "x-request-id"))
    assert redact_url("http://h/p?key=1&q=2") == "http://h/p?key=***&q=2"
    assert redact_url("http://h/p") == "http://h/p"
