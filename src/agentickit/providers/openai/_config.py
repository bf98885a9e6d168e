"""From `LLMConfig` to an OpenAI-compatible model: keys, base URLs, Azure and Ollama specifics, transports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ...errors import ConfigError, MissingAPIKeyError
from .._base import Model
from .._http import is_local_url
from .._registry import PROVIDER_OPTIONS, LLMConfig
from ._aiohttp import DEFAULT_MAX_RESPONSE_BYTES, OpenAIModel
from ._endpoint import OpenAIEndpoint

__all__ = ("azure_model", "ollama_model", "openai_model")

OPENAI_BASE_URL = "https://api.openai.com/v1"
OLLAMA_BASE_URL = "http://localhost:11434/v1"
AZURE_API_VERSION = "2024-10-21"
_LOCAL_KEY = "sk-local"

_COMMON_OPTIONS = PROVIDER_OPTIONS["ollama"]
_MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
_OPENAI_OPTIONS = PROVIDER_OPTIONS["openai"]
_AZURE_OPTIONS = PROVIDER_OPTIONS["azure"]


def _options(cfg: LLMConfig, allowed: frozenset[str]) -> dict[str, Any]:
    options = dict(cfg.options)
    unknown = sorted(options.keys() - allowed)
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for provider {cfg.provider!r}; valid options: {', '.join(sorted(allowed))}"
        )
    return options


def _check_url(provider: str, url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"base_url for {provider!r} must start with http:// or https://, got {url!r} "
            "(e.g. 'http://127.0.0.1:8000/v1')"
        )
    return url.rstrip("/")


def _transport_kwargs(cfg: LLMConfig, options: Mapping[str, Any]) -> dict[str, Any]:
    field = options.get("max_tokens_field", "max_tokens")
    if field not in _MAX_TOKENS_FIELDS:
        raise ConfigError(f"options['max_tokens_field'] must be one of {_MAX_TOKENS_FIELDS}, got {field!r}")
    cap = options.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)
    if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
        raise ConfigError(f"options['max_response_bytes'] must be an int >= 1 (bytes) or None, got {cap!r}")
    if "max_response_bytes" in options and cfg.transport == "sdk":
        raise ConfigError(
            "options['max_response_bytes'] is enforced by the default transport only; the SDK reads "
            "responses itself: drop the option or use transport='aiohttp'"
        )
    return {
        "max_response_bytes": cap,
        "max_tokens_field": field,
        "proxy": options.get("proxy"),
        "temperature": cfg.temperature,
        "max_tokens": cfg.max_tokens,
        "timeout": cfg.timeout,
        "request_timeout": cfg.request_timeout,
        "max_retries": cfg.max_retries,
        "headers": options.get("headers"),
        "query": options.get("query"),
        "extra_body": options.get("extra_body"),
        "stream_usage": bool(options.get("stream_usage", True)),
        "max_connections": int(options.get("max_connections", 1000)),
    }


def _build(
    cfg: LLMConfig,
    *,
    max_response_bytes: int | None,
    azure_endpoint: str | None = None,
    api_version: str | None = None,
    **endpoint: Any,
) -> Model:
    where = OpenAIEndpoint(**endpoint)
    if cfg.transport == "sdk":
        from ._sdk import OpenAISDKModel

        return OpenAISDKModel(cfg.model, where, azure_endpoint=azure_endpoint, api_version=api_version)
    if cfg.transport != "aiohttp":
        raise ConfigError(f"unknown transport {cfg.transport!r}; use 'aiohttp' (the default) or 'sdk'")
    return OpenAIModel(cfg.model, where, max_response_bytes=max_response_bytes)


def openai_model(cfg: LLMConfig) -> Model:
    """Any OpenAI-compatible endpoint: OpenAI itself, vLLM, LM Studio, OpenRouter, `agentickit simulate-llm`.

    The key comes from `cfg.api_key` or `OPENAI_API_KEY`; a local `base_url` (127.0.0.1, localhost)
    needs none. `cfg.options` may hold `headers`, `query`, `extra_body`, `stream_usage`,
    `max_connections`, `max_tokens_field` (`"max_completion_tokens"` for reasoning models),
    `max_response_bytes` (default 64 MiB: a longer response is a `ResponseTooLargeError`), `proxy`
    (default: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`), `organization` and `project`.

    Raises:
        MissingAPIKeyError: no key, and the endpoint is not local.
        ConfigError: an unknown option, transport or a malformed base_url.

    """
    options = _options(cfg, _OPENAI_OPTIONS)
    base_url = _check_url("openai", cfg.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL)
    key = cfg.api_key or os.environ.get("OPENAI_API_KEY")
    if not key:
        if not is_local_url(base_url):
            raise MissingAPIKeyError(
                f"the openai provider needs an API key for {base_url}: set the OPENAI_API_KEY environment variable "
                "or pass LLMConfig(api_key=...); a local base_url (http://127.0.0.1:PORT/v1) needs none"
            )
        key = _LOCAL_KEY
    kwargs = _transport_kwargs(cfg, options)
    headers = dict(kwargs["headers"] or {})
    if options.get("organization"):
        headers["OpenAI-Organization"] = str(options["organization"])
    if options.get("project"):
        headers["OpenAI-Project"] = str(options["project"])
    kwargs["headers"] = headers
    return _build(cfg, base_url=base_url, api_key=key, provider="openai", **kwargs)


def azure_model(cfg: LLMConfig) -> Model:
    """Azure OpenAI: `cfg.model` is the deployment name, `cfg.base_url` the resource endpoint.

    The endpoint comes from `cfg.base_url` or `AZURE_OPENAI_ENDPOINT`, the key from `cfg.api_key` or
    `AZURE_OPENAI_API_KEY` (sent in the `api-key` header), the API version from
    `options["api_version"]` or `OPENAI_API_VERSION`. An endpoint ending in `/openai/v1` uses
    Azure's v1 API (no deployment in the path, no api-version).

    Raises:
        ConfigError: no endpoint, an unknown option, or a malformed endpoint.
        MissingAPIKeyError: no key, and the endpoint is not local.

    """
    options = _options(cfg, _AZURE_OPTIONS)
    endpoint = cfg.base_url or os.environ.get("AZURE_OPENAI_ENDPOINT")
    if not endpoint:
        raise ConfigError(
            "the azure provider needs the resource endpoint: pass LLMConfig(base_url='https://NAME.openai.azure.com') "
            "or set AZURE_OPENAI_ENDPOINT; the model is the deployment name"
        )
    endpoint = _check_url("azure", endpoint)
    key = cfg.api_key or os.environ.get("AZURE_OPENAI_API_KEY")
    if not key:
        if not is_local_url(endpoint):
            raise MissingAPIKeyError(
                f"the azure provider needs an API key for {endpoint}: set the AZURE_OPENAI_API_KEY environment "
                "variable or pass LLMConfig(api_key=...)"
            )
        key = _LOCAL_KEY
    api_version = str(options.get("api_version") or os.environ.get("OPENAI_API_VERSION") or AZURE_API_VERSION)
    kwargs = _transport_kwargs(cfg, options)
    if endpoint.endswith("/openai/v1"):
        url = endpoint + "/chat/completions"
    else:
        url = f"{endpoint}/openai/deployments/{cfg.model}/chat/completions"
        kwargs["query"] = {"api-version": api_version, **(kwargs["query"] or {})}
    return _build(
        cfg,
        base_url=endpoint,
        api_key=key,
        provider="azure",
        url=url,
        auth="api-key",
        key_hint="set AZURE_OPENAI_API_KEY or LLMConfig(api_key=...)",
        azure_endpoint=endpoint,
        api_version=api_version,
        **kwargs,
    )


def ollama_model(cfg: LLMConfig) -> Model:
    """Ollama through its OpenAI-compatible endpoint (default `http://localhost:11434/v1`); no key needed.

    Raises:
        ConfigError: an unknown option or a malformed base_url.

    """
    options = _options(cfg, _COMMON_OPTIONS)
    base_url = _check_url("ollama", cfg.base_url or OLLAMA_BASE_URL)
    return _build(
        cfg,
        base_url=base_url,
        api_key=cfg.api_key or "ollama",
        provider="ollama",
        key_hint="check LLMConfig(api_key=...) for your Ollama proxy",
        **_transport_kwargs(cfg, options),
    )
