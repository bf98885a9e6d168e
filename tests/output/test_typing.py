"""`Result.output` is typed from the agent's or the run's `output_type`; pyright strict checks this file.

The `assert_type` calls are checked statically (pyright runs over tests/) and are no-ops at run time,
so the test also runs the calls for real.
"""

from __future__ import annotations

from typing import Any, assert_type

import agentickit as ak

from .models import Invoice, Line, Point


async def test_output_types_are_inferred() -> None:
    plain = ak.Agent("x")
    assert_type(plain, ak.Agent[str])
    text = await plain.run("q")
    assert_type(text, ak.Result[str])
    assert_type(text.output, str)

    agent = ak.Agent("x", output_type=Invoice)
    assert_type(agent, ak.Agent[Invoice])
    result = await agent.run("q")
    assert_type(result.output, Invoice)
    assert_type(result.content, str)
    assert result.output.lines[0].sku == "example sku"

    per_run = await agent.run("q", output_type=Line)
    assert_type(per_run.output, Line)
    native = await plain.run("q", output_type=ak.NativeOutput(Point))
    assert_type(native.output, Point)
    tool = ak.Agent("x", output_type=ak.ToolCallOutput(Line))
    assert_type(tool, ak.Agent[Line])
    prompted = ak.Agent("x", output_type=ak.PromptedOutput(Point))
    assert_type((await prompted.run("q")).output, Point)
    listed = await plain.run("q", output_type=list[int])
    assert_type(listed.output, list[int])

    stream = agent.run_stream("q")
    final = await stream.wait()
    assert_type(final.output, Invoice)
    streamed = plain.run_stream("q", output_type=Line)
    assert_type((await streamed.wait()).output, Line)


def test_results_of_any_type_fit_where_a_result_of_object_is_expected() -> None:
    def describe(result: ak.Result[object]) -> str:
        return type(result.output).__name__

    typed: ak.Result[Invoice] = ak.Result(content="{}", output=Invoice(number="1", customer="c", total=1, lines=[]))
    assert describe(typed) == "Invoice" and describe(ak.Result(content="x")) == "str"
    untyped: ak.Result[Any] = typed
    assert untyped.output.number == "1"
