"""Output types at the boundary: one pydantic `TypeAdapter` and JSON schema per type, built once and cached.

`output_plan(spec)` turns what the user gave (`Invoice`, `list[str]`, `ak.NativeOutput(Invoice)`,
...) into an `OutputPlan`: the schema, the validators, and what each mode sends (the
`response_format`, the final-answer tool, the prompt). Plans are cached by spec, so the cost is paid
on the first agent (or run) that names the type, and a run with an `output_type` looks its plan up.

A schema whose root is not an object (a `list[str]`, an `int`, a union of models) is wrapped as
`{"response": ...}`: OpenAI's `response_format` and every provider's tool arguments must be objects.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from copy import deepcopy
from typing import Any, cast, get_args, get_origin

from pydantic import BaseModel, Field, TypeAdapter, ValidationError, create_model
from pydantic.errors import PydanticUserError
from pydantic_core import from_json
from typing_extensions import TypedDict, is_typeddict

from ..errors import UserError
from ..messages import ToolDefinition
from ..providers._sample import PROMPT_TEMPLATE, prompted_instructions
from ._modes import NativeOutput, OutputMode, PromptedOutput, ToolCallOutput

__all__ = (
    "MISSING",
    "is_text",
    "PROMPT_TEMPLATE",
    "OutputPlan",
    "OutputSchema",
    "cache_info",
    "error_lines",
    "output_plan",
)


MISSING: Any = object()
"""What `OutputSchema.partial` returns when the text so far holds nothing that validates yet."""

_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_PARTIAL = "trailing-strings"


class _Stats:
    __slots__ = ("hits", "misses")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0


_stats = _Stats()
_PLANS: dict[Any, OutputPlan] = {}
_SCHEMAS: dict[Any, OutputSchema] = {}


def cache_info() -> dict[str, int]:
    """Schema cache counters: `hits`, `misses` (schemas built) and `size`, for the benchmarks."""
    return {"hits": _stats.hits, "misses": _stats.misses, "size": len(_SCHEMAS)}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


class OutputSchema:
    """One output type: its adapter, the JSON schema providers get, and how answers are checked."""

    __slots__ = (
        "_partial",
        "_validate_json",
        "adapter",
        "name",
        "output_type",
        "schema",
        "strict_ok",
        "strict_schema",
        "wrapped",
    )

    def __init__(self, output_type: Any) -> None:
        self.output_type = output_type
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(output_type)
            inner = adapter.json_schema()
        except (PydanticUserError, TypeError, ValueError, NameError) as exc:
            raise UserError(
                f"output_type {_type_name(output_type)!r} cannot be turned into a JSON schema ({exc}); use a pydantic "
                "model, a dataclass, a typing_extensions.TypedDict, a primitive (int, bool, ...), list[...], a "
                "Literal/Enum or a union of models"
            ) from exc
        self.wrapped = inner.get("type") != "object" or "anyOf" in inner or "oneOf" in inner
        if self.wrapped:
            defs = inner.pop("$defs", None)
            schema: dict[str, Any] = {"type": "object", "properties": {"response": inner}, "required": ["response"]}
            if defs:
                schema["$defs"] = defs
            # Validation goes through the wrapper too, so errors name the same fields the model saw.
            wrapper = create_model("Response", response=(output_type, ...))
            self.adapter = cast("TypeAdapter[Any]", TypeAdapter(wrapper))
        else:
            schema = inner
            self.adapter = adapter
        # The core validator itself: TypeAdapter.validate_json adds ~5 us of Python per call on top.
        self._validate_json = self.adapter.validator.validate_json
        self.schema = schema
        self.strict_schema = deepcopy(schema)
        self.strict_ok = _make_strict(self.strict_schema)
        self.name = _NAME.sub("_", _type_name(output_type))[:64] or "output"
        self._partial: TypeAdapter[Any] | None = None

    def validate(self, text: str) -> Any:
        """The answer's text as the output type.

        Raises:
            ValidationError: not JSON, or not valid for the type.

        """
        if text[:1] != "{" or text[-1:] != "}":
            text = _strip_fences(text)
        value = self._validate_json(text)
        return value.response if self.wrapped else value

    def partial(self, text: str) -> Any:
        """The object the JSON so far describes, validated leniently (missing fields are `None`), or `MISSING`.

        For a pydantic model it is an instance of a subclass whose fields are all optional (so
        `isinstance(partial, Invoice)` holds); for a dataclass or TypedDict, a look-alike model or dict.
        """
        try:
            data: Any = from_json(text, allow_partial=_PARTIAL)
        except ValueError:
            return MISSING
        if self.wrapped:
            if not isinstance(data, dict) or "response" not in data:
                return MISSING
            data = cast(dict[str, Any], data)["response"]
        adapter = self._partial
        if adapter is None:
            adapter = self._partial = TypeAdapter(_partial_type(self.output_type, frozenset()))
        try:
            return adapter.validate_python(data, experimental_allow_partial=_PARTIAL)
        except ValidationError:
            return MISSING


def _strip_fences(text: str) -> str:
    # Prompted models like to wrap JSON in Markdown fences; the JSON inside is still the answer.
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        if t.rstrip().endswith("```"):
            t = t.rstrip()[:-3]
    return t


def _make_strict(node: Any) -> bool:
    """Mark every object `additionalProperties: false` in place; whether OpenAI's strict mode accepts the schema."""
    ok = True
    if isinstance(node, dict):
        d = cast(dict[str, Any], node)
        props = d.get("properties")
        if isinstance(props, dict):
            if set(cast(list[str], d.get("required") or [])) != set(cast(dict[str, Any], props)):
                ok = False
            if isinstance(d.get("additionalProperties"), dict):
                ok = False
            d["additionalProperties"] = False
        elif d.get("type") == "object":
            ok = False  # a free-form dict: strict mode needs every key declared
        for value in d.values():
            ok = _make_strict(value) and ok
    elif isinstance(node, list):
        for value in cast(list[Any], node):
            ok = _make_strict(value) and ok
    return ok


def _partial_type(tp: Any, seen: frozenset[int]) -> Any:
    """`tp` with every field, at every depth, optional: what a half-streamed answer can validate as."""
    if id(tp) in seen:
        return tp  # recursive types stay as they are below the first level
    origin: Any = get_origin(tp)
    args: tuple[Any, ...] = get_args(tp)
    if isinstance(tp, type):
        cls = cast(type[Any], tp)
        seen = seen | {id(cls)}
        if issubclass(cls, BaseModel):
            fields: dict[str, Any] = {}
            for name, f in cls.model_fields.items():
                kind = _partial_type(f.annotation, seen) | None
                fields[name] = (kind, Field(None, alias=f.alias) if f.alias else None)
            # A subclass, so `isinstance(partial, Invoice)` holds and the model's own methods work.
            return create_model(f"Partial{cls.__name__}", __base__=cls, **fields)
        if dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls)
            dc_fields: dict[str, Any] = {
                f.name: (_partial_type(hints.get(f.name, Any), seen) | None, None) for f in dataclasses.fields(cls)
            }
            return create_model(f"Partial{cls.__name__}", **dc_fields)
        if is_typeddict(cls):
            hints = typing.get_type_hints(cls)
            items = {k: _partial_type(v, seen) for k, v in hints.items()}
            return TypedDict(f"Partial{cls.__name__}", items, total=False)  # type: ignore[misc]  # built at run time
        return tp
    if origin in (list, set, frozenset) and len(args) == 1:
        container: Any = origin
        return container[_partial_type(args[0], seen)]
    if origin is dict and len(args) == 2:
        return dict[args[0], _partial_type(args[1], seen)]
    if origin in (typing.Union, types.UnionType):
        out: Any = None
        for a in args:
            p = _partial_type(a, seen)
            out = p if out is None else out | p
        return out
    return tp


def error_lines(exc: ValidationError, wrapped: bool) -> list[str]:
    """A validation error as short lines the model (and the caller) can read: `field.path: message`."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        if wrapped and loc[:1] == ["response"]:
            loc = loc[1:]
        where = ".".join(str(p) for p in loc) or "(answer)"
        lines.append(f"{where}: {err['msg']}")
    return lines


class OutputPlan:
    """What a run with this output spec sends and checks; made once per spec (see `output_plan`)."""

    __slots__ = (
        "description",
        "instructions",
        "mode",
        "name",
        "output_type",
        "response_format",
        "schema",
        "tool",
    )

    def __init__(self, spec: Any) -> None:
        mode: OutputMode | None = None
        name: str | None = None
        description: str | None = None
        strict: bool | None = None
        template: str | None = None
        output_type = spec
        if isinstance(spec, NativeOutput | ToolCallOutput | PromptedOutput):
            mode = spec.mode
            output_type = spec.type
            if isinstance(spec, NativeOutput):
                name, description, strict = spec.name, spec.description, spec.strict
            elif isinstance(spec, ToolCallOutput):
                name, description = spec.name, spec.description
            else:
                template = spec.template
                if template is not None and "{schema}" not in template:
                    raise UserError(f"PromptedOutput(template=...) must contain '{{schema}}', got {template!r}")
        self.output_type = output_type
        self.mode: OutputMode | None = mode
        self.schema = schema = _schema_for(output_type)
        self.name = name or schema.name
        self.description = description
        use_strict = schema.strict_ok if strict is None else strict
        json_schema: dict[str, Any] = {
            "name": self.name,
            "schema": schema.strict_schema if use_strict else schema.schema,
            "strict": use_strict,
        }
        if description:
            json_schema["description"] = description
        self.response_format: dict[str, Any] = {"type": "json_schema", "json_schema": json_schema}
        self.tool = ToolDefinition(
            name if mode == "tool" and name else "final_result",
            description or f"Give your final answer ({schema.name}) by calling this tool with it as the arguments.",
            schema.schema,
        )
        self.instructions = prompted_instructions(schema.schema, template)


def _schema_for(output_type: Any) -> OutputSchema:
    try:
        hit = _SCHEMAS.get(output_type)
    except TypeError:  # an unhashable annotation: built every time, still correct
        _stats.misses += 1
        return OutputSchema(output_type)
    if hit is not None:
        _stats.hits += 1
        return hit
    _stats.misses += 1
    schema = _SCHEMAS[output_type] = OutputSchema(output_type)
    return schema


def is_text(spec: Any) -> bool:
    """Whether `spec` means plain text (`None` or `str`): no schema, the run's old fast path."""
    return spec is None or spec is str


def output_plan(spec: Any) -> OutputPlan:
    """The (cached) plan for an output spec: a type, or a `NativeOutput`/`ToolCallOutput`/`PromptedOutput`.

    Raises:
        UserError: the type cannot be turned into a JSON schema (the message names it).

    """
    try:
        plan = _PLANS.get(spec)
    except TypeError:
        return OutputPlan(spec)
    if plan is not None:
        _stats.hits += 1
        return plan
    if isinstance(spec, str | int | float | bool) or spec is ...:
        raise UserError(f"output_type must be a type (a pydantic model, dataclass, list[...], ...), got {spec!r}")
    plan = _PLANS[spec] = OutputPlan(spec)
    return plan
