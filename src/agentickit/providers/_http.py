"""HTTP helpers shared by the HTTP providers: status codes to typed errors, `Retry-After`, local URLs.

Every provider maps failures the same way, whatever client it uses (our aiohttp transport or a
vendor SDK), so callers can catch one error tree:

| status            | error                  | retried by the run loop |
|-------------------|------------------------|-------------------------|
| 401, 403          | `AuthenticationError`  | no                      |
| 400, 404, 422, .. | `BadRequestError`      | no                      |
| 429               | `RateLimitError`       | yes, honouring `Retry-After` |
| 408, 409, 5xx     | `ServerError`          | yes                     |
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import orjson

from ..errors import (
    AuthenticationError,
    BadRequestError,
    ProviderHTTPError,
    RateLimitError,
    ServerError,
)
from ._retry import RETRY_AFTER_CAP

__all__ = (
    "LOCAL_HOSTS",
    "decode_body",
    "is_local_url",
    "refused_connection",
    "retry_after",
    "server_message",
    "status_error",
)

LOCAL_HOSTS = frozenset(("127.0.0.1", "localhost", "::1", "0.0.0.0", "[::1]"))
"""Hosts for which a missing API key is fine: local servers (the simulator, vLLM, Ollama, LM Studio)."""

_MAX_MESSAGE = 500


def is_local_url(url: str | None) -> bool:
    """Whether `url` points at this machine."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS


def refused_connection(exc: BaseException) -> bool:
    """Whether an SDK "timeout" was really a refused or failed connection.

    The vendored aiohttp transport of the official SDKs maps `aiohttp.ClientConnectorError` to
    `ConnectTimeout`, so the SDKs report an unreachable server as a timeout; the original aiohttp
    error at the bottom of the exception chain says what it was.
    """
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectorError) and not isinstance(cause, TimeoutError):
            return True
        cause = cause.__cause__
    return False


def _seconds(value: float) -> float | None:
    # NaN is no answer at all (and `asyncio.sleep(nan)` never wakes up); inf and huge values are
    # clamped to the cap, negative ones (a date in the past) mean "now".
    if math.isnan(value):
        return None
    return min(max(value, 0.0), RETRY_AFTER_CAP)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked us to wait: `retry-after-ms`, then `Retry-After` (seconds or an HTTP date).

    The answer is always a finite number in [0, `RETRY_AFTER_CAP`], or `None` when the headers say
    nothing usable (missing, `nan`, garbage).
    """
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            wait = _seconds(float(value) / 1000.0)
        except ValueError:
            wait = None
        if wait is not None:
            return wait
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        return _seconds(when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


def decode_body(raw: bytes) -> Any:
    """An error body as JSON when it is JSON, else as text."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def server_message(body: Any) -> str:
    """The human-readable message inside an error body (`{"error": {"message": ...}}` and friends)."""
    message: Any = body
    if isinstance(body, dict):
        err: Any = cast(dict[str, Any], body).get("error", body)
        if isinstance(err, dict):
            fields = cast(dict[str, Any], err)
            message = fields.get("message") or fields.get("msg") or fields
        else:
            message = err
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = message if isinstance(message, str) else orjson.dumps(message).decode()
    text = text.strip() or "(empty body)"
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


def status_error(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None,
    *,
    provider: str,
    model: str,
    where: str,
    key_hint: str,
) -> ProviderHTTPError:
    """The typed error for an HTTP error status, with a message that says what to fix.

    Args:
        status: the HTTP status.
        body: the decoded error body (see `decode_body`).
        headers: the response headers (for `Retry-After`).
        provider: the provider's name, for the message.
        model: the model's name, for the message.
        where: the endpoint, for the message.
        key_hint: how to set the key, e.g. "set OPENAI_API_KEY or LLMConfig(api_key=...)".

    """
    said = server_message(body)
    kw: dict[str, Any] = {"status": status, "body": body, "provider": provider, "model": model}
    if status in (401, 403):
        return AuthenticationError(
            f"{provider} rejected the API key (HTTP {status}: {said}); {key_hint}, and check the key's permissions",
            **kw,
        )
    if status == 429:
        wait = retry_after(headers)
        hint = f" (the server asked to wait {wait:g} s)" if wait is not None else ""
        return RateLimitError(
            f"{provider} rate limit for model {model!r} (HTTP 429: {said}){hint}; lower the concurrency, "
            "raise LLMConfig.max_retries, or ask the provider for a higher limit",
            retry_after=wait,
            **kw,
        )
    if status >= 500 or status in (408, 409):
        return ServerError(
            f"{provider} server error at {where} (HTTP {status}: {said}); 5xx replies are retried up to LLMConfig.max_retries times; "
            "try again later or check the server",
            retry_after=retry_after(headers),
            **kw,
        )
    return BadRequestError(
        f"{provider} rejected the request for model {model!r} at {where} (HTTP {status}: {said}); "
        "check the model name, base_url and request parameters",
        **kw,
    )
