"""Factories named in `PROVIDERS`: each turns an `LLMConfig` into a `Model`, importing only what it needs."""

from __future__ import annotations

from typing import Any

from ._base import Model
from ._registry import LLMConfig
from .simulated import SimulatedModel, default_reply

__all__ = ("anthropic", "azure", "ollama", "openai", "simulated")


def simulated(cfg: LLMConfig) -> Model:
    """`simulated` or `simulated:echo` (echoes the input); `cfg.options` go to `SimulatedModel`."""
    options: dict[str, Any] = dict(cfg.options)
    options["max_retries"] = cfg.max_retries
    options["timeout"] = cfg.timeout
    # Defaults for runs that set none, as the HTTP providers apply them.
    options["temperature"] = cfg.temperature
    options["max_tokens"] = cfg.max_tokens
    if "reply" not in options:
        options["reply"] = "echo" if cfg.model == "echo" else default_reply
    return SimulatedModel(model_name=cfg.model, **options)


def openai(cfg: LLMConfig) -> Model:
    """Any OpenAI-compatible endpoint, over our aiohttp client or the official SDK (`transport="sdk"`)."""
    from .openai import openai_model

    return openai_model(cfg)


def azure(cfg: LLMConfig) -> Model:
    """Azure OpenAI: `model` is the deployment name; `options["api_version"]` selects the API version."""
    from .openai import azure_model

    return azure_model(cfg)


def ollama(cfg: LLMConfig) -> Model:
    """Ollama through its OpenAI-compatible endpoint (default `http://localhost:11434/v1`)."""
    from .openai import ollama_model

    return ollama_model(cfg)


def anthropic(cfg: LLMConfig) -> Model:
    """Anthropic's Messages API through the official `anthropic` SDK."""
    from .anthropic import anthropic_model

    return anthropic_model(cfg)
