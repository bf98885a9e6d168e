"""Structured output offline on the simulated model: `python examples/structured_output.py`.

An invoice extractor: a typed answer in each of the three modes, a validator that sends the model a
correction, partial objects while the answer streams, and what a failure looks like.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

import agentickit as ak
from agentickit.testing import ScriptedModel


class Line(BaseModel):
    sku: str
    quantity: int = Field(ge=1)
    unit_price: float


class Invoice(BaseModel):
    number: str
    customer: str
    total: float
    lines: list[Line]


TEXT = "Invoice INV-7 for ACME: 2 x A-1 at 1.25, 1 x B-2 at 40. Total 42.50."
GOOD = (
    '{"number": "INV-7", "customer": "ACME", "total": 42.5, "lines": '
    '[{"sku": "A-1", "quantity": 2, "unit_price": 1.25}, {"sku": "B-2", "quantity": 1, "unit_price": 40}]}'
)


async def main() -> None:
    # 1. The three modes. The simulated model answers with an instance generated from the schema.
    for spec in (Invoice, ak.NativeOutput(Invoice), ak.ToolCallOutput(Invoice), ak.PromptedOutput(Invoice)):
        result = await ak.Agent("extract", output_type=spec).run(TEXT)
        invoice: Invoice = result.output
        print(f"{result.metadata['output_mode']:>8}: {invoice.number!r}, {len(invoice.lines)} line(s)")

    # 2. A wrong answer goes back to the model with the errors; the second answer is accepted.
    scripted = ScriptedModel(['{"number": "INV-7", "customer": "ACME", "total": 42.5, "lines": "?"}', GOOD])
    agent = ak.Agent("extract", scripted, output_type=ak.NativeOutput(Invoice))

    @agent.output_validator
    def totals_add_up(inv: Invoice) -> Invoice:
        if abs(sum(line.quantity * line.unit_price for line in inv.lines) - inv.total) > 0.01:
            raise ak.ModelRetry("the lines do not add up to the total")
        return inv

    result = await agent.run(TEXT)
    print(f"after {result.metadata['output_attempts']} attempts: total {result.output.total}")

    # 3. Streaming: OUTPUT chunks carry the invoice as it is being written, then the validated one.
    slow = ScriptedModel([GOOD], tokens_per_s=200)
    stream = ak.Agent("extract", slow, output_type=ak.NativeOutput(Invoice)).run_stream(TEXT)
    async for chunk in stream:
        if chunk.type is ak.ChunkType.OUTPUT:
            partial = chunk.output
            kind = "partial" if chunk.metadata and chunk.metadata["partial"] else "final"
            print(f"  {kind}: number={partial.number!r} lines={len(partial.lines or [])} total={partial.total}")
    print("streamed:", (await stream.wait()).output.customer)

    # 4. The failure: never a default-filled object, a typed error with what the model said.
    broken = ak.Agent("extract", ScriptedModel(["no idea", "still no idea"]), output_type=ak.NativeOutput(Invoice))
    try:
        await broken.run(TEXT)
    except ak.errors.OutputValidationError as err:
        print(f"failed after {err.attempts} attempts; last answer {err.raw!r}; errors: {err.errors[-1]}")


if __name__ == "__main__":
    asyncio.run(main())
