"""A deterministic instance of a JSON schema: what the simulated model answers when a schema is asked for.

Pure Python over the schema dict (no pydantic), shared by the in-process `simulated` provider and
the `simulate-llm` HTTP server, so both give the same answer. It covers what pydantic emits for
models, dataclasses, TypedDicts, enums, literals, unions and containers: `$ref`/`$defs`, `anyOf`/
`oneOf`/`allOf`, `const`, `enum`, string formats, numeric bounds, lengths and item counts.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, cast

from ..messages import Message

__all__ = (
    "CORRECTION_PREFIX",
    "PROMPTED_MARK",
    "PROMPT_TEMPLATE",
    "add_system",
    "prompted_instructions",
    "prompted_schema",
    "sample",
    "schema_of_response_format",
)

PROMPTED_MARK = "compatible with this schema:"
"""The phrase `PromptedOutput`'s instructions put before the schema; the simulator reads the schema after it."""

PROMPT_TEMPLATE = (
    f"Always respond with a JSON object that's {PROMPTED_MARK}\n\n{{schema}}\n\n"
    "Don't include any text or Markdown fencing before or after."
)
"""`PromptedOutput`'s default instructions (pydantic-ai's wording); `{schema}` becomes the JSON schema."""

CORRECTION_PREFIX = "Your answer is not valid:"
"""How a structured-output correction starts; the simulator's script keeps counting rounds across them."""

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "duration": "PT1H",
    "ipv4": "127.0.0.1",
}
_MAX_DEPTH = 8


def sample(schema: dict[str, Any], root: dict[str, Any] | None = None, name: str = "value", depth: int = 0) -> Any:
    """A value valid for `schema` (for the keywords above), the same every time.

    Strings are built from the property's name (`"example invoice_id"`), so answers read sensibly.
    """
    root = schema if root is None else root
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return sample(_resolve(ref, root), root, name, depth)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return cast(list[Any], enum)[0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            options = cast(list[dict[str, Any]], branches)
            # A non-null branch says more than `None` does.
            chosen = next((b for b in options if b.get("type") != "null"), options[0])
            return sample(chosen, root, name, depth)
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        props: dict[str, Any] = {}
        required: list[str] = []
        for part in cast(list[dict[str, Any]], all_of):
            piece = _resolve(part["$ref"], root) if "$ref" in part else part
            merged.update(piece)
            props.update(piece.get("properties") or {})
            required.extend(piece.get("required") or ())
        if props:
            merged["properties"] = props
            merged["required"] = required or list(props)
        return sample(merged, root, name, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = cast(list[str], kind)
        kind = next((k for k in kinds if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        return _object(schema, root, depth)
    if kind == "array":
        return _array(schema, root, name, depth)
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        return int(_number(schema, 1, True))
    if kind == "number":
        return float(_number(schema, 1.5, False))
    if kind == "boolean":
        return True
    return None


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    node: Any = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return cast(dict[str, Any], node)


def _object(schema: dict[str, Any], root: dict[str, Any], depth: int) -> dict[str, Any]:
    props = cast(dict[str, dict[str, Any]], schema.get("properties") or {})
    required = set(cast(list[str], schema.get("required") or list(props)))
    out: dict[str, Any] = {}
    for key, sub in props.items():
        # Optional fields are filled too (a fuller answer), but never past the depth limit, where a
        # recursive model (a tree) would never end.
        if key in required or depth < 2:
            out[key] = sample(sub, root, key, depth + 1)
    return out


def _array(schema: dict[str, Any], root: dict[str, Any], name: str, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list):
        return [sample(s, root, name, depth + 1) for s in cast(list[dict[str, Any]], prefix)]
    items = schema.get("items")
    count = max(int(schema.get("minItems") or 0), 0 if depth >= _MAX_DEPTH else 1)
    if schema.get("maxItems") is not None:
        count = min(count, int(schema["maxItems"]))
    if not isinstance(items, dict):
        return ["item"] * count
    item_schema = cast(dict[str, Any], items)
    return [sample(item_schema, root, name, depth + 1) for _ in range(count)]


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS:
        return _FORMATS[fmt]
    text = f"example {name}"
    low = int(schema.get("minLength") or 0)
    if len(text) < low:
        text += "x" * (low - len(text))
    high = schema.get("maxLength")
    if high is not None:
        text = text[: int(high)]
    return text


def _number(schema: dict[str, Any], default: float, integer: bool) -> float:
    lo, lo_open = schema.get("minimum"), False
    if lo is None and schema.get("exclusiveMinimum") is not None:
        lo, lo_open = schema["exclusiveMinimum"], True
    hi, hi_open = schema.get("maximum"), False
    if hi is None and schema.get("exclusiveMaximum") is not None:
        hi, hi_open = schema["exclusiveMaximum"], True
    if integer:
        low = None if lo is None else math.floor(lo) + 1 if lo_open else math.ceil(lo)
        high = None if hi is None else math.ceil(hi) - 1 if hi_open else math.floor(hi)
        value: float = default if low is None else max(low, int(default)) if high is None else low
        if high is not None and value > high:
            value = high
    elif lo is not None and hi is not None:
        value = (lo + hi) / 2  # strictly inside, whichever bounds are open
    elif lo is not None:
        value = max(default, lo + 1) if lo_open else max(default, lo)
    elif hi is not None:
        value = min(default, hi - 1) if hi_open else min(default, hi)
    else:
        value = default
    step = schema.get("multipleOf")
    if step:
        value = math.ceil(value / step) * step
    return value


def schema_of_response_format(response_format: Any) -> dict[str, Any] | None:
    """The JSON schema inside an OpenAI `response_format` (`json_schema` type), if it holds one."""
    if not isinstance(response_format, dict):
        return None
    fmt = cast(dict[str, Any], response_format)
    if fmt.get("type") == "json_object":
        return {"type": "object", "properties": {}}
    spec = fmt.get("json_schema")
    if fmt.get("type") != "json_schema" or not isinstance(spec, dict):
        return None
    schema = cast(dict[str, Any], spec).get("schema")
    return cast(dict[str, Any], schema) if isinstance(schema, dict) else None


def prompted_instructions(schema: dict[str, Any], template: str | None = None) -> str:
    """The instructions that put `schema` in the prompt (`PROMPT_TEMPLATE` unless `template` is given)."""
    import orjson

    return (template or PROMPT_TEMPLATE).replace("{schema}", orjson.dumps(schema).decode())


def add_system(messages: list[Message], text: str) -> None:
    """Append `text` to the leading system message, in place (inserting one when there is none)."""
    if messages and messages[0].role == "system":
        first = messages[0]
        messages[0] = Message("system", f"{first.content}\n\n{text}" if first.content else text)
    else:
        messages.insert(0, Message("system", text))


_DECODER = json.JSONDecoder()
_OPEN = re.compile(r"\s*")
_OBJECT = re.compile(r"\{\s*\"")


def prompted_schema(system_text: str) -> dict[str, Any] | None:
    """The JSON schema a `PromptedOutput` instruction holds (after `PROMPTED_MARK`, else the first schema-like object)."""
    at = system_text.find(PROMPTED_MARK)
    starts = [at + len(PROMPTED_MARK)] if at >= 0 else [m.start() for m in _OBJECT.finditer(system_text)]
    for start in starts:
        begin = _OPEN.match(system_text, start)
        try:
            value, _ = _DECODER.raw_decode(system_text, begin.end() if begin else start)
        except ValueError:
            continue
        if isinstance(value, dict) and ("type" in value or "properties" in value or "$ref" in value):
            return cast(dict[str, Any], value)
    return None
