"""Typed steps in workflows: `transform` gets the object, `steps[name].output` holds it."""

from __future__ import annotations

from typing import Any

import agentickit as ak
from agentickit.testing import FunctionModel, SimRequest

from .models import Invoice, Line


def invoice(req: SimRequest) -> Any:
    return Invoice(number="INV-1", customer="ACME", total=7.0, lines=[Line(sku="A", quantity=2, unit_price=3.5)])


async def test_a_dag_of_typed_steps_passes_objects_along() -> None:
    seen: list[Any] = []

    def to_lines_query(previous: Any, ctx: ak.WorkflowContext) -> str:
        seen.append(previous)
        return f"check {len(previous.lines)} lines of {previous.number}"

    extract = ak.Agent("extract", FunctionModel(invoice), output_type=Invoice)
    check = ak.Agent("check", output_type=ak.NativeOutput(list[Line]))
    summary = ak.Agent("summary", llm="simulated:echo")
    wf = ak.DAGWorkflow("invoices")
    wf.add_step(ak.Step("extract", extract))
    wf.add_step(ak.Step("check", check, depends_on=["extract"], transform=to_lines_query))
    wf.add_step(ak.Step("total", lambda text: f"total {text}", depends_on=["extract"]))
    wf.add_step(ak.Step("summary", summary, depends_on=["check", "total"]))
    result = await wf.run("the invoice text")

    assert isinstance(seen[0], Invoice) and seen[0].number == "INV-1"
    assert isinstance(result.steps["extract"].output, Invoice)
    checked = result.steps["check"].output
    assert isinstance(checked, list) and all(isinstance(x, Line) for x in checked)
    # a step without a transform reads the typed step's JSON text
    assert result.steps["total"].output.startswith('total {"number":"INV-1"')
    assert result.outputs["extract"] == result.steps["extract"].output
    assert result.ok and "[check]" in result.content


async def test_a_sequential_chain_of_typed_steps_and_a_stream() -> None:
    wf = ak.SequentialWorkflow("chain")
    wf.add_step(ak.Step("a", ak.Agent("a", FunctionModel(invoice), output_type=Invoice)))
    wf.add_step(ak.Step("b", ak.Agent("b", output_type=Line), transform=lambda inv, ctx: inv.lines[0].sku))
    result = await wf.run("go")
    assert result.steps["b"].output == Line(sku="example sku", quantity=1, unit_price=1.5)
    stream = wf.run_stream("go")
    chunks = [c async for c in stream]
    outputs = [c for c in chunks if c.type is ak.ChunkType.OUTPUT]
    assert {c.step_name for c in outputs} == {"a", "b"}
    assert [c.type for c in chunks].count(ak.ChunkType.DONE) == 1
    assert isinstance((await stream.wait()).steps["a"].output, Invoice)
