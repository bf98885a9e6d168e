"""Public fakes for testing agents without a network or an API key.

- `ScriptedModel([...])`: answers from a script, with tool calls built by `call("tool", **args)`.
- `FunctionModel(fn)`: your function plays the model.
- `SimulatedModel(...)`: the configurable simulated model (latency, failures, thoughts).
"""

from ..providers.simulated import SimRequest, SimTurn, SimulatedModel, call
from ._models import FunctionModel, ModelFunction, ScriptedModel

__all__ = ("FunctionModel", "ModelFunction", "ScriptedModel", "SimRequest", "SimTurn", "SimulatedModel", "call")
