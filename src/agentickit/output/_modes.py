"""How a structured answer is asked for: the three output modes, as light value objects.

This module imports no pydantic, so `import agentickit` stays fast; the schema work lives in
`_schema.py` and runs when an agent (or a run) is given an `output_type`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, overload

from typing_extensions import TypeVar

__all__ = (
    "DEFAULT_OUTPUT_RETRIES",
    "DEFAULT_TOOL_NAME",
    "NativeOutput",
    "OutputMode",
    "OutputSpec",
    "PromptedOutput",
    "ToolCallOutput",
)

T = TypeVar("T", default=Any)

OutputMode = Literal["native", "tool", "prompted"]
"""`native`: the provider's own structured output (OpenAI `response_format`, Anthropic
`output_config.format`); `tool`: a final-answer tool; `prompted`: the schema in the prompt."""

DEFAULT_OUTPUT_RETRIES = 1
"""Corrections sent to the model before `OutputValidationError` (one: a second chance, not a loop)."""

DEFAULT_TOOL_NAME = "final_result"
"""The final-answer tool's name in `ToolCallOutput` (the simulator recognises names starting `final_`)."""


def _set(obj: object, **values: Any) -> None:
    # Frozen dataclasses with an overloaded __init__ (it types `T` from the argument): set the fields directly.
    for key, value in values.items():
        object.__setattr__(obj, key, value)


@dataclass(slots=True, frozen=True, init=False)
class NativeOutput(Generic[T]):
    """Ask for `type` through the provider's native structured output.

    OpenAI (and OpenAI-compatible servers, `simulate-llm` included) get `response_format` with a
    `json_schema`, strict when the schema allows it; Anthropic models with JSON outputs (Claude 4.5 and
    later) get `output_config.format`; a `FallbackModel` asks each of its models in its own way (the
    schema in the prompt for those without native output). A model without native structured output
    (Claude 3.x, say) is rejected at run start with an error that names `ToolCallOutput` and
    `PromptedOutput`.

    Args:
        type: the output type (a pydantic model, dataclass, TypedDict, primitive, `list[...]`, ...).
        name: the schema's name sent to the provider (default: the type's name).
        description: what the answer is, sent with the schema.
        strict: `True`/`False` force OpenAI's strict mode; `None` uses it when the schema allows
            (every field required, no free-form objects).

    """

    type: Any
    name: str | None
    description: str | None
    strict: bool | None

    @overload
    def __init__(
        self, type: type[T], *, name: str | None = None, description: str | None = None, strict: bool | None = None
    ) -> None: ...
    @overload
    def __init__(
        self: NativeOutput[Any],
        type: object,
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool | None = None,
    ) -> None: ...
    def __init__(
        self, type: Any, *, name: str | None = None, description: str | None = None, strict: bool | None = None
    ) -> None:
        _set(self, type=type, name=name, description=description, strict=strict)

    @property
    def mode(self) -> OutputMode:
        """`native`."""
        return "native"


@dataclass(slots=True, frozen=True, init=False)
class ToolCallOutput(Generic[T]):
    """Ask for `type` as the arguments of a final-answer tool; works on every tool-calling model.

    The model may call the agent's other tools first; the run ends when it calls this one with
    arguments that validate. (`ak.ToolOutput` is what a tool returns; this is the answer's mode.)

    Args:
        type: the output type.
        name: the tool's name (default `final_result`).
        description: the tool's description.

    """

    type: Any
    name: str
    description: str | None

    @overload
    def __init__(self, type: type[T], *, name: str = DEFAULT_TOOL_NAME, description: str | None = None) -> None: ...
    @overload
    def __init__(
        self: ToolCallOutput[Any], type: object, *, name: str = DEFAULT_TOOL_NAME, description: str | None = None
    ) -> None: ...
    def __init__(self, type: Any, *, name: str = DEFAULT_TOOL_NAME, description: str | None = None) -> None:
        _set(self, type=type, name=name, description=description)

    @property
    def mode(self) -> OutputMode:
        """`tool`."""
        return "tool"


@dataclass(slots=True, frozen=True, init=False)
class PromptedOutput(Generic[T]):
    """Ask for `type` by putting its JSON schema in the prompt, for models with neither native output nor tools.

    Args:
        type: the output type.
        template: the instructions; `{schema}` is replaced by the JSON schema.

    """

    type: Any
    template: str | None

    @overload
    def __init__(self, type: type[T], *, template: str | None = None) -> None: ...
    @overload
    def __init__(self: PromptedOutput[Any], type: object, *, template: str | None = None) -> None: ...
    def __init__(self, type: Any, *, template: str | None = None) -> None:
        _set(self, type=type, template=template)

    @property
    def mode(self) -> OutputMode:
        """`prompted`."""
        return "prompted"


OutputSpec = NativeOutput[Any] | ToolCallOutput[Any] | PromptedOutput[Any]
"""A mode object; a bare type means "the provider's default mode"."""
