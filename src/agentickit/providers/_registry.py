"""`LLMConfig`, and turning `"provider:model"` strings or configs into `Model` objects (lazily)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .._utils import is_seconds
from ..errors import UnknownProviderError, UserError
from ._base import Model

__all__ = ("DEFAULT_REQUEST_TIMEOUT", "PROVIDERS", "LLMConfig", "LLMSpec", "infer_model", "parse_llm")


DEFAULT_REQUEST_TIMEOUT = 600.0
"""Seconds one model request may take in all, streams included, unless `LLMConfig.request_timeout` says otherwise."""


@dataclass(slots=True, frozen=True, kw_only=True)
class LLMConfig:
    """Which model to use and how to reach it. `"provider:model"` strings are shorthand for this.

    Args:
        provider: `simulated`, `openai`, `anthropic`, `ollama` (or `azure`: OpenAI-compatible with
            deployment names).
        model: the model (or Azure deployment) name.
        base_url: the endpoint, for OpenAI-compatible servers (vLLM, LM Studio, OpenRouter, ...).
        api_key: the key; defaults to the provider's environment variable (`OPENAI_API_KEY`, ...).
        temperature: default temperature for runs that do not set one.
        max_tokens: default output limit for runs that do not set one.
        timeout: seconds one request may take to connect and, for streams, between two reads
            (a non-streamed request: in all).
        request_timeout: seconds one request may take in all, a stream included (default 600 s,
            the official SDK's default): a server that streams forever cannot hold a run forever.
            `None` removes the limit (the run's own `timeout` still applies).
        max_retries: retries on 429, 5xx, timeouts and connection errors (exponential backoff with
            jitter, honouring `Retry-After`).
        transport: `"aiohttp"` (our lean client, the default) or `"sdk"` (the official SDK).
        options: provider-specific settings, e.g. `ttft` for `simulated`, `api_version` for `azure`.

    """

    provider: str = "simulated"
    model: str = "simulated"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = 60.0
    request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT
    max_retries: int = 3
    transport: Literal["aiohttp", "sdk"] = "aiohttp"
    options: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise UnknownProviderError(_unknown_provider_message(self.provider))
        if not is_seconds(self.timeout):
            raise UserError(f"LLMConfig.timeout must be a number of seconds > 0, got {self.timeout!r}")
        if self.request_timeout is not None and not is_seconds(self.request_timeout):
            raise UserError(
                f"LLMConfig.request_timeout must be a number of seconds > 0, or None for no limit, "
                f"got {self.request_timeout!r}"
            )


LLMSpec = str | LLMConfig | Model

# provider name -> "module:factory"; a factory takes an LLMConfig and returns a Model. Modules are
# imported on first use, so `import agentickit` never pays for an SDK it does not use.
PROVIDERS: dict[str, str] = {
    "simulated": "agentickit.providers._factories:simulated",
    "openai": "agentickit.providers._factories:openai",
    "azure": "agentickit.providers._factories:azure",
    "ollama": "agentickit.providers._factories:ollama",
    "anthropic": "agentickit.providers._factories:anthropic",
}

_DEFAULT_MODELS = {"simulated": "simulated", "ollama": "llama3.2"}
_parsed: dict[str, LLMConfig] = {}


def _unknown_provider_message(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, PROVIDERS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"unknown LLM provider {name!r}.{hint} Known providers: {', '.join(sorted(PROVIDERS))}. "
        "Write the model as 'provider:model', e.g. 'openai:gpt-4o-mini' or 'simulated'."
    )


def parse_llm(spec: str) -> LLMConfig:
    """Parse `"provider:model"` (or a bare provider name) into an `LLMConfig`.

    Raises:
        UnknownProviderError: the provider is not known.

    """
    cached = _parsed.get(spec)
    if cached is not None:
        return cached
    provider, sep, model = spec.partition(":")
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise UnknownProviderError(_unknown_provider_message(provider))
    if not sep or not model:
        model = _DEFAULT_MODELS.get(provider, "")
        if not model:
            raise UnknownProviderError(f"{spec!r} names no model; write it as '{provider}:MODEL'")
    cfg = LLMConfig(provider=provider, model=model)
    if len(_parsed) < 1024:
        _parsed[spec] = cfg
    return cfg


def infer_model(spec: LLMSpec) -> Model:
    """Build the `Model` for a spec: a `Model` is returned as is; strings and configs go to their factory.

    Raises:
        UnknownProviderError: the provider is not known.
        MissingAPIKeyError: the provider needs a key and none was found.

    """
    if isinstance(spec, Model):
        return spec
    cfg = parse_llm(spec) if isinstance(spec, str) else spec
    module_name, _, attr = PROVIDERS[cfg.provider].partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    return factory(cfg)
