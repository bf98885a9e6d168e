"""Shared HTTP helpers: status codes to typed errors, Retry-After parsing, server messages, local URLs."""

from __future__ import annotations

import email.utils
import time

import pytest

from agentickit.errors import AuthenticationError, BadRequestError, ProviderHTTPError, RateLimitError, ServerError
from agentickit.providers._http import decode_body, is_local_url, retry_after, server_message, status_error


def test_retry_after_forms() -> None:
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "2.5"}) == 2.5
    assert retry_after({"retry-after": "-3"}) == 0.0
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after({"retry-after": future}) or 0) <= 30
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None and retry_after(None) is None


def test_server_message_shapes() -> None:
    assert server_message({"error": {"message": "bad key", "type": "x"}}) == "bad key"
    assert server_message({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}) == "busy"
    assert server_message({"error": "plain"}) == "plain"
    assert server_message({"message": "top level"}) == "top level"
    assert server_message(decode_body(b"<html>gateway</html>")) == "<html>gateway</html>"
    assert server_message("") == "(empty body)"
    assert server_message("x" * 900).endswith("...") and len(server_message("x" * 900)) == 503


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationError), (403, AuthenticationError), (400, BadRequestError), (404, BadRequestError),
     (422, BadRequestError), (429, RateLimitError), (500, ServerError), (503, ServerError), (408, ServerError)],
)  # fmt: skip
def test_status_error_table(status: int, error: type[ProviderHTTPError]) -> None:
    exc = status_error(
        status,
        {"error": {"message": "the server said so"}},
        {"retry-after": "3"},
        provider="openai",
        model="m",
        where="http://h/v1/chat/completions",
        key_hint="set OPENAI_API_KEY",
    )
    assert type(exc) is error and exc.status == status and exc.provider == "openai" and exc.model == "m"
    assert f"HTTP {status}: the server said so" in str(exc)
    if status == 429:
        assert exc.retry_after == 3.0 and "wait 3 s" in str(exc)
    if status in (401, 403):
        assert "set OPENAI_API_KEY" in str(exc)
    if error is BadRequestError:
        assert "check the model name" in str(exc)


def test_local_urls() -> None:
    assert is_local_url("http://127.0.0.1:8000/v1") and is_local_url("http://localhost/v1")
    assert is_local_url("http://[::1]:8000/v1")
    assert not is_local_url("https://api.openai.com/v1") and not is_local_url(None)
