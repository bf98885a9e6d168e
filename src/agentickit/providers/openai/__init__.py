"""The `openai` provider: any OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, OpenRouter, LM Studio).

The default transport is our lean aiohttp client (`OpenAIModel`); `LLMConfig(transport="sdk")`
uses the official SDK (`OpenAISDKModel`, imported only then).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_exports
from ._aiohttp import OpenAIModel
from ._config import azure_model, ollama_model, openai_model
from ._endpoint import OpenAIEndpoint

if TYPE_CHECKING:
    from ._sdk import OpenAISDKModel

__all__ = ("OpenAIEndpoint", "OpenAIModel", "OpenAISDKModel", "azure_model", "ollama_model", "openai_model")


__getattr__, __dir__ = lazy_exports(__name__, {"OpenAISDKModel": "._sdk"})
