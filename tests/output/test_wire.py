"""Typed outputs leave the process as JSON data (the `ak.serve` wire format)."""

from __future__ import annotations

import orjson

import agentickit as ak
from agentickit.serve._wire import chunk_data, result_data

from .models import Line


async def test_results_steps_and_output_chunks_serialize_their_objects() -> None:
    result = await ak.Agent("x", output_type=list[Line]).run("q")
    data = result_data(result)
    assert data["output"] == [{"sku": "example sku", "quantity": 1, "unit_price": 1.5}]
    assert "output" not in result_data(await ak.Agent("x").run("q"))
    wf = ak.SequentialWorkflow("w")
    wf.add_step(ak.Step("a", ak.Agent("a", output_type=Line)))
    steps = result_data(await wf.run("q"))["steps"]
    assert steps["a"]["output"] == {"sku": "example sku", "quantity": 1, "unit_price": 1.5}
    chunk = ak.Chunk(ak.ChunkType.OUTPUT, output=Line(sku="s", quantity=1, unit_price=2), metadata={"partial": False})
    assert chunk_data(chunk)["output"] == {"sku": "s", "quantity": 1, "unit_price": 2.0}
    orjson.dumps(data)
