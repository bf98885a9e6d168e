"""Public fakes for testing agents without a network or an API key.

- `ScriptedModel([...])`: answers from a script, with tool calls built by `call("tool", **args)`.
- `FunctionModel(fn)`: your function plays the model; `FunctionModel(stream_function=gen)` streams
  what your async generator yields (text, `ToolCallDelta`, `ThoughtDelta`).
- `SimulatedModel(...)`: the configurable simulated model (latency, failures such as
  `SimFailure("429", retry_after=0.5)`, thoughts).
"""

from ..providers._base import ThoughtDelta, ToolCallDelta
from ..providers.simulated import SimFailure, SimRequest, SimTurn, SimulatedModel, call
from ._models import FunctionModel, ModelFunction, ScriptedModel, StreamFunction

__all__ = (
    "FunctionModel",
    "ModelFunction",
    "ScriptedModel",
    "SimFailure",
    "SimRequest",
    "SimTurn",
    "SimulatedModel",
    "StreamFunction",
    "ThoughtDelta",
    "ToolCallDelta",
    "call",
)
