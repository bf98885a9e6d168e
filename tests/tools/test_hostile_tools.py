"""Tools whose results or errors cannot be printed, and tools raising BaseExceptions (issue 11, items 11-12)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

import agentickit as ak
from agentickit.providers.simulated import call
from tests.tools._tool_helpers import tool_messages


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you either")


async def _one_call(tool: ak.Tool) -> tuple[ak.Result, list[str]]:
    model = ak.SimulatedModel(script=[call(tool.name), "went on"], record=True)
    async with ak.Agent("a", llm=model, tools=[tool]) as agent:
        async with asyncio.timeout(10):
            result = await agent.run("go")
    return result, tool_messages(model)


@pytest.mark.parametrize("value", [10**5000, Unprintable()], ids=["huge-int", "str-raises"])
async def test_a_result_that_cannot_become_text_is_an_error_result(value: Any) -> None:
    @ak.tool
    async def bad() -> Any:
        return value

    result, seen = await _one_call(bad)
    assert result.content == "went on"
    (record,) = result.tool_calls
    assert not record.ok and record.result is None
    assert record.error is not None and "cannot be sent to the model" in record.error
    assert seen[0].startswith("Error: ")


@pytest.mark.parametrize("is_async", [True, False])
async def test_an_error_that_cannot_become_text_is_an_error_result(is_async: bool) -> None:
    def fail() -> str:
        raise UnprintableError

    async def afail() -> str:
        raise UnprintableError

    tool = ak.Tool(afail if is_async else fail, name="bad")
    result, seen = await _one_call(tool)
    (record,) = result.tool_calls
    assert record.error is not None and "UnprintableError" in record.error and "cannot be printed" in record.error
    assert result.content == "went on" and seen[0].startswith("Error: ")


@pytest.mark.parametrize("is_async", [True, False])
async def test_a_tool_raising_cancelled_error_is_a_tool_error_not_a_cancelled_run(is_async: bool) -> None:
    def cancel() -> str:
        raise asyncio.CancelledError

    async def acancel() -> str:
        raise asyncio.CancelledError

    tool = ak.Tool(acancel if is_async else cancel, name="bad")
    result, seen = await _one_call(tool)
    (record,) = result.tool_calls
    assert record.error is not None and "CancelledError without being cancelled" in record.error
    assert result.content == "went on" and seen[0].startswith("Error: ")


@pytest.mark.parametrize("is_async", [True, False])
async def test_sys_exit_in_a_tool_is_a_tool_error(is_async: bool) -> None:
    def leave() -> str:
        sys.exit(3)

    async def aleave() -> str:
        sys.exit(3)

    tool = ak.Tool(aleave if is_async else leave, name="bad")
    result, _ = await _one_call(tool)
    (record,) = result.tool_calls
    assert record.error is not None and "SystemExit" in record.error and "3" in record.error
    assert result.content == "went on"


async def test_a_handler_calling_a_tool_that_exits_gets_a_tool_error() -> None:
    def leave() -> str:
        sys.exit(3)

    async def handler(query: str, caps: Any) -> str:
        try:
            await caps.tools.call("leave")
        except ak.errors.ToolError as exc:
            return f"caught: {exc}"
        return "no"

    async with ak.Agent("a", llm=ak.SimulatedModel(), tools=[ak.Tool(leave)], handler=handler) as agent:
        result = await agent.run("go")
    assert result.content.startswith("caught: ") and "SystemExit" in result.content
