"""The simulator's schema instances: deterministic, and valid for what pydantic generates."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field, TypeAdapter

from agentickit.providers._sample import prompted_schema, sample, schema_of_response_format


class Node(BaseModel):
    name: str
    children: list[Node] = []


class Constrained(BaseModel):
    code: Annotated[str, Field(min_length=12, max_length=14)]
    short: Annotated[str, Field(max_length=3)]
    level: Annotated[int, Field(ge=5, le=9)]
    ratio: Annotated[float, Field(gt=0, lt=1)]
    step: Annotated[int, Field(multiple_of=4, ge=5)]
    tags: Annotated[list[str], Field(min_length=2, max_length=3)]
    when: datetime.datetime
    day: datetime.date
    at: datetime.time
    ident: uuid.UUID
    kind: Literal["a", "b"]
    fixed: Literal["only"]
    maybe: int | None
    pair: tuple[int, str]
    mapping: dict[str, int]
    anything: Any


@pytest.mark.parametrize("tp", [Node, Constrained, list[Node], dict[str, list[int]], bool, float, None])
def test_instances_validate_against_their_own_schema(tp: Any) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(tp)
    schema = adapter.json_schema()
    value = sample(schema)
    adapter.validate_python(value)
    assert sample(schema) == value  # deterministic


def test_all_of_and_one_of_and_typeless_schemas() -> None:
    schema = {
        "type": "object",
        "properties": {
            "merged": {"allOf": [{"$ref": "#/$defs/A"}, {"properties": {"extra": {"type": "integer"}}}]},
            "one": {"oneOf": [{"type": "null"}, {"type": "number", "maximum": 0.5}]},
            "types": {"type": ["null", "boolean"]},
            "loose": {},
            "items_any": {"type": "array"},
        },
        "$defs": {"A": {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}}},
    }
    value = sample(schema)
    assert value["merged"] == {"a": "user@example.com", "extra": 1}
    assert value["one"] == 0.5 and value["types"] is True and value["loose"] == "example loose"
    assert value["items_any"] == ["item"]


def test_response_formats_and_prompted_schemas_are_read() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert schema_of_response_format({"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}) == schema
    assert schema_of_response_format({"type": "json_object"}) == {"type": "object", "properties": {}}
    assert schema_of_response_format({"type": "text"}) is None
    assert schema_of_response_format({"type": "json_schema", "json_schema": "x"}) is None
    assert schema_of_response_format("json") is None
    assert schema_of_response_format({"type": "json_schema", "json_schema": {"schema": 1}}) is None
    assert prompted_schema('Answer in JSON compatible with this schema:\n\n{"type": "integer"}\n') == {
        "type": "integer"
    }
    assert prompted_schema('Use {"not": "a schema"} then {"properties": {}}') == {"properties": {}}
    assert prompted_schema("compatible with this schema: {broken") is None
    assert prompted_schema("no schema here") is None
