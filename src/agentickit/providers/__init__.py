"""Model providers: the `Model` interface, `LLMConfig`, and the built-in providers.

`"provider:model"` strings resolve lazily through `infer_model`; vendor SDKs are imported only
when their provider is first used.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._base import Model, ModelStream, StreamEvent, TextDelta, ThoughtDelta, ToolCallDelta, UsageEvent
from ._registry import PROVIDERS, LLMConfig, LLMSpec, infer_model, parse_llm

if TYPE_CHECKING:
    from ._fallback import FallbackModel
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


# Imported on first use (PEP 562): `infer_model` reaches them itself, and `import agentickit` need not.
_SIM = ".simulated"
__getattr__, __dir__ = lazy_exports(
    __name__, {"FallbackModel": "._fallback", "SimRequest": _SIM, "SimTurn": _SIM, "SimulatedModel": _SIM, "call": _SIM}
)
