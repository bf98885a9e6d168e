"""Model providers: the `Model` interface, `LLMConfig`, and the built-in providers.

`"provider:model"` strings resolve lazily through `infer_model`; vendor SDKs are imported only
when their provider is first used.
"""

from ._base import Model, ModelStream, StreamEvent, TextDelta, ThoughtDelta, ToolCallDelta, UsageEvent
from ._fallback import FallbackModel
from ._registry import PROVIDERS, LLMConfig, LLMSpec, infer_model, parse_llm
from .simulated import SimRequest, SimTurn, SimulatedModel, call

__all__ = (
    "FallbackModel",
    "LLMConfig",
    "LLMSpec",
    "Model",
    "ModelStream",
    "PROVIDERS",
    "SimRequest",
    "SimTurn",
    "SimulatedModel",
    "StreamEvent",
    "TextDelta",
    "ThoughtDelta",
    "ToolCallDelta",
    "UsageEvent",
    "call",
    "infer_model",
    "parse_llm",
)
