from __future__ import annotations

import pickle
from typing import Literal

import pytest
from pydantic import BaseModel

import agentickit as ak
from agentickit.errors import ToolArgumentsError, UserError
from agentickit.tools import result_text


@ak.tool
def search(query: str, limit: int = 5, mode: Literal["web", "news"] = "web") -> list[str]:
    """Search the web.

    Longer explanation that is part of the description.

    Args:
        query: what to look for.
        limit: how many results,
            at most.
        mode: where to search.

    Returns:
        The hits.
    """
    return [query] * limit


class Point(BaseModel):
    x: int
    y: int


@ak.tool(name="dist", description="Distance from origin.", timeout=2.0, retries=1)
async def distance(p: Point) -> float:
    return float((p.x**2 + p.y**2) ** 0.5)


def test_schema_from_hints_and_docstring() -> None:
    d = search.definition
    assert d.name == "search"
    assert d.description == "Search the web. Longer explanation that is part of the description."
    props = d.parameters["properties"]
    assert props["query"] == {"type": "string", "description": "what to look for."}
    assert props["limit"]["type"] == "integer" and props["limit"]["default"] == 5
    assert props["limit"]["description"] == "how many results, at most."
    assert props["mode"]["enum"] == ["web", "news"]
    assert d.parameters["required"] == ["query"]
    assert d.parameters["additionalProperties"] is False


def test_decorator_options_and_nested_models() -> None:
    assert distance.name == "dist" and distance.description == "Distance from origin."
    assert distance.timeout == 2.0 and distance.retries == 1 and distance.is_async
    assert "$defs" in distance.definition.parameters or "Point" in str(distance.definition.parameters)


async def test_call_validates_and_coerces() -> None:
    assert await search.call('{"query": "q", "limit": 2}') == ["q", "q"]
    assert await distance.call({"p": {"x": 3, "y": 4}}) == 5.0
    with pytest.raises(ToolArgumentsError, match="limit: Input should be a valid integer"):
        await search.call('{"query": "q", "limit": "many"}')
    with pytest.raises(ToolArgumentsError, match="query: Field required"):
        await search.call("{}")
    with pytest.raises(ToolArgumentsError, match="Extra inputs are not permitted"):
        await search.call('{"query": "q", "bogus": 1}')
    with pytest.raises(ToolArgumentsError, match="Invalid JSON"):
        await search.call("{not json")


def test_tool_is_still_callable_directly() -> None:
    assert search("x", limit=1) == ["x"]


def test_bad_tool_definitions_are_rejected() -> None:
    with pytest.raises(UserError, match="needs a function"):
        ak.Tool(42)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="timeout must be > 0"):
        ak.tool(timeout=0)(lambda: None)
    with pytest.raises(UserError, match="retries must be >= 0"):
        ak.tool(retries=-1)(lambda: None)


def test_decorated_tools_pickle_by_reference() -> None:
    assert pickle.loads(pickle.dumps(search)) is search
    plain = ak.Tool(len, name="length")
    copy = pickle.loads(pickle.dumps(plain))
    assert copy.name == "length" and copy.definition.name == "length"


def test_result_text() -> None:
    assert result_text("plain") == "plain"
    assert result_text({"a": [1, 2]}) == '{"a":[1,2]}'
    assert result_text(Point(x=1, y=2)) == '{"x":1,"y":2}'
    assert result_text(3.5) == "3.5"
