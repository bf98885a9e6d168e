"""`LLMConfig`, and turning `"provider:model"` strings or configs into `Model` objects (lazily)."""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, cast

from .._redact import has_userinfo, redact_headers, redact_url, userinfo_message
from .._utils import is_seconds
from ..errors import ConfigError, UnknownProviderError, UserError
from ._base import Model

__all__ = (
    "DEFAULT_REQUEST_TIMEOUT",
    "PROVIDERS",
    "PROVIDER_OPTIONS",
    "LLMConfig",
    "LLMSpec",
    "infer_model",
    "parse_llm",
)

_OPENAI_COMMON = frozenset(
    (
        "headers",
        "query",
        "extra_body",
        "stream_usage",
        "max_connections",
        "max_tokens_field",
        "proxy",
        "max_response_bytes",
    )
)
PROVIDER_OPTIONS: dict[str, frozenset[str]] = {
    # `SimulatedModel` fields a config may set (a test keeps this in step with the dataclass);
    # `timeout`, `max_retries`, `temperature` and `max_tokens` are `LLMConfig` fields, not options.
    "simulated": frozenset(("reply", "script", "ttft", "tokens_per_s", "tools_mode", "failures", "thoughts", "record")),
    "openai": _OPENAI_COMMON | {"organization", "project"},
    "azure": _OPENAI_COMMON | {"api_version"},
    "ollama": _OPENAI_COMMON,
    "anthropic": frozenset(("thinking", "headers", "extra_body", "native_output")),
}
"""The `LLMConfig.options` keys each provider reads; any other key is rejected when the config is built.

Kept here, not in the provider modules, so checking a config never imports a vendor SDK.
"""
_CONFIG_FIELDS = frozenset(("timeout", "max_retries", "temperature", "max_tokens", "model", "base_url", "api_key"))
_TRANSPORTS = ("aiohttp", "sdk")
_SDK_TRANSPORT = ("openai", "azure", "ollama")
"""Providers whose `transport` chooses the client; the others have one way to send requests."""

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
        transport: `"aiohttp"` (our lean client, the default) or `"sdk"` (the official `openai` SDK),
            for the OpenAI-compatible providers; others reject `"sdk"`.
        options: provider-specific settings, e.g. `ttft` for `simulated`, `api_version` for `azure`.
        max_concurrency: at most this many requests to this model in flight at once in the process,
            shared by every agent whose config names the same provider, model, endpoint and limit
            (so a batch of 1,000 runs cannot start a 429 storm). `None`: no cap.

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
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise UnknownProviderError(_unknown_provider_message(self.provider))
        if self.transport not in _TRANSPORTS:
            raise ConfigError(f"unknown transport {self.transport!r}; use 'aiohttp' (the default) or 'sdk'")
        if self.transport == "sdk" and self.provider not in _SDK_TRANSPORT:
            why = "always uses its official SDK" if self.provider == "anthropic" else "makes no HTTP requests"
            raise ConfigError(
                f"transport='sdk' applies to the OpenAI-compatible providers ({', '.join(_SDK_TRANSPORT)}); "
                f"provider {self.provider!r} {why}: leave transport unset"
            )
        if not isinstance(self.options, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigError(f"LLMConfig.options must be a mapping of option names, got {type(self.options).__name__}")
        valid = PROVIDER_OPTIONS.get(self.provider)
        if valid is not None and self.options:
            unknown = sorted(k for k in self.options if k not in valid)
            if unknown:
                raise ConfigError(_unknown_option_message(self.provider, unknown[0], valid))
        mc = self.max_concurrency
        if mc is not None and (type(mc) is not int or mc < 1):
            raise UserError(f"LLMConfig.max_concurrency must be an int >= 1 (or None for no cap), got {mc!r}")
        if self.base_url is not None and has_userinfo(self.base_url):
            raise ConfigError(userinfo_message(self.base_url))
        # Finite too: the HTTP clients turn a timeout into a timer deadline, and `math.ceil(inf)`
        # there raised a raw OverflowError at the first request.
        if not is_seconds(self.timeout) or self.timeout == math.inf:
            raise UserError(f"LLMConfig.timeout must be a finite number of seconds > 0, got {self.timeout!r}")
        if self.request_timeout is not None and (
            not is_seconds(self.request_timeout) or self.request_timeout == math.inf
        ):
            raise UserError(
                f"LLMConfig.request_timeout must be a finite number of seconds > 0, or None for no limit, "
                f"got {self.request_timeout!r}"
            )

    def __repr__(self) -> str:
        # The key is never shown; neither are credential-like headers, nor a URL's secrets.
        parts: list[str] = []
        for f in fields(self):
            if f.name == "api_key":
                continue
            value: Any = getattr(self, f.name)
            if f.name == "base_url" and value is not None:
                value = redact_url(value)
            elif f.name == "options" and value:
                value = _redact_options(value)
            parts.append(f"{f.name}={value!r}")
        return f"LLMConfig({', '.join(parts)})"


def _redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(options)
    headers = out.get("headers")
    if isinstance(headers, Mapping):
        out["headers"] = redact_headers(cast("Mapping[str, Any]", headers))
    query = out.get("query")
    if isinstance(query, Mapping):
        out["query"] = redact_headers(cast("Mapping[str, Any]", query))
    proxy = out.get("proxy")
    if isinstance(proxy, str):
        out["proxy"] = redact_url(proxy)
    return out


def _unknown_option_message(provider: str, key: str, valid: frozenset[str]) -> str:
    if key in _CONFIG_FIELDS:
        hint = f" {key!r} is an LLMConfig field: pass LLMConfig({key}=...) (in a config file, `{key}` under [llm])."
    else:
        import difflib

        close = difflib.get_close_matches(key, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown option {key!r} for provider {provider!r}.{hint} Valid options: {', '.join(sorted(valid))}"


LLMSpec = str | LLMConfig | Model | Sequence["str | LLMConfig | Model"]
"""A model: `"provider:model"`, an `LLMConfig`, a `Model`, or a list of those (a `FallbackModel` chain)."""

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
    if isinstance(spec, list | tuple):
        from ._fallback import FallbackModel

        if len(spec) < 2:
            raise UserError(f"a list of models is a fallback chain and needs at least two, got {list(spec)!r}")
        return FallbackModel(*spec)
    cfg = parse_llm(spec) if isinstance(spec, str) else spec
    if not isinstance(cfg, LLMConfig):
        raise UserError(
            f"llm must be 'provider:model', an LLMConfig, a Model or a list of them, got {type(spec).__name__}"
        )
    module_name, _, attr = PROVIDERS[cfg.provider].partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    model: Model = factory(cfg)
    if cfg.max_concurrency is not None:
        from ._limit import ConcurrencyLimitedModel

        model = ConcurrencyLimitedModel(model, cfg.max_concurrency, (cfg.provider, cfg.model, cfg.base_url))
    return model
