"""`OpenAIEndpoint`: where an OpenAI-compatible API is and how to talk to it, apart from any transport.

The two transports (`OpenAIModel` on our aiohttp client, `OpenAISDKModel` on the official SDK) share
this one description of the endpoint (its URL, key, headers, timeouts, retries, pool size, proxy and
the defaults every request body carries), as pydantic-ai separates providers from models. They differ
only in how they send a request and read the answer; the API's wire shape is `_wire.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ...messages import Message
from ...options import ModelSettings
from .._base import Model
from ._wire import request_fields

__all__ = ("OpenAICompatible", "OpenAIEndpoint")


@dataclass(slots=True, kw_only=True)
class OpenAIEndpoint:
    """An OpenAI-compatible endpoint: build it through `ak.LLMConfig(provider="openai", ...)` as a rule.

    Args:
        base_url: the API root, e.g. `https://api.openai.com/v1`.
        api_key: the key, sent as `Authorization: Bearer ...` (or `api-key` when `auth="api-key"`).
        url: the full chat-completions URL, when it is not `base_url + "/chat/completions"`.
        query: query parameters for every request (Azure's `api-version`).
        headers: extra headers for every request.
        auth: how the key is sent.
        provider: the provider's name in errors and results.
        key_hint: how to fix a rejected key, for error messages.
        timeout: seconds a request may take (for streams: to connect, and between two reads).
        request_timeout: seconds a request may take in all, a stream included; `None`: no limit.
        max_retries: retries the run loop makes on 429, 5xx, timeouts and connection errors.
        max_connections: the connection pool's size (0 means unbounded).
        proxy: the HTTP proxy; `None` reads `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` once, `""` means none.
            Local endpoints never go through a proxy.
        temperature: default temperature when a run sets none.
        max_tokens: default output limit when a run sets none.
        max_tokens_field: `max_completion_tokens` for OpenAI's reasoning models, which reject `max_tokens`.
        stream_usage: ask for the usage chunk of streamed replies (`stream_options.include_usage`).
        extra_body: fields merged into every request body.

    """

    base_url: str
    api_key: str | None = field(default=None, repr=False)  # secrets never in a repr
    url: str = ""
    query: Mapping[str, str] = field(default_factory=dict[str, str])
    headers: Mapping[str, str] = field(default_factory=dict[str, str], repr=False)
    auth: str = "bearer"
    provider: str = "openai"
    key_hint: str = "set OPENAI_API_KEY or LLMConfig(api_key=...)"
    timeout: float = 60.0
    request_timeout: float | None = 600.0
    max_retries: int = 3
    max_connections: int = 1000
    proxy: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    max_tokens_field: str = "max_tokens"
    stream_usage: bool = True
    extra_body: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.url = self.url or self.base_url + "/chat/completions"
        self.query = dict(self.query or {})
        self.headers = dict(self.headers or {})
        self.extra_body = dict(self.extra_body or {})


class OpenAICompatible(Model):
    """What both OpenAI transports share: the model's name, its endpoint, and the request fields."""

    transport: ClassVar[str] = ""

    def __init__(self, model_name: str, endpoint: OpenAIEndpoint) -> None:
        self.model_name = model_name
        self.endpoint = endpoint
        self.provider = endpoint.provider
        self.max_retries = endpoint.max_retries
        self.base_url = endpoint.base_url
        self.url = endpoint.url

    def describe(self) -> dict[str, Any]:
        """What this model is (the key is left out: the other side reads it from its environment)."""
        return {
            "provider": self.provider,
            "model": self.model_name,
            "base_url": self.base_url,
            "transport": self.transport,
        }

    def _request_fields(
        self, messages: Sequence[Message], tools: Any, settings: ModelSettings, stream: bool
    ) -> dict[str, Any]:
        """The request body's fields, this endpoint's defaults applied (`tools` already encoded, or None)."""
        e = self.endpoint
        return request_fields(
            self.model_name,
            messages,
            tools,
            settings,
            temperature=e.temperature,
            max_tokens=e.max_tokens,
            stream=stream,
            stream_usage=e.stream_usage,
            max_tokens_field=e.max_tokens_field,
        )
