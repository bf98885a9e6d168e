"""Durable runs, offline: `python examples/durable_approval.py`.

An agent whose `transfer` tool needs a person's approval, journaled to a SQLite file. The first
run pauses before the call; `resume` (here in the same script, but any process with the same agent
and file works) answers it and the run finishes. Then a workflow asks a question mid-run
(`ctx.request_input`) and is resumed with the answer; its finished steps are not run again.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import agentickit as ak
from agentickit.testing import FunctionModel, SimRequest, SimTurn, call


@ak.tool(requires_approval=lambda args: args["amount"] > 100, idempotency_key=lambda args: f"tx:{args['to']}")
def transfer(to: str, amount: int) -> str:
    """Move money.

    Args:
        to: the account.
        amount: in euros.
    """
    key = ak.current_tool_call()
    return f"moved {amount} EUR to {to} (key {key.idempotency_key if key else None})"


def banker(req: SimRequest) -> str | SimTurn:
    last = req.messages[-1]
    if last.role == "tool":
        return f"Done: {last.content}"
    return call("transfer", to="ACME", amount=250)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ak.stores.SQLite(Path(tmp) / "runs.db")
        agent = ak.Agent("bank", FunctionModel(banker), tools=[transfer], durability="step", store=store)

        result = await agent.run("pay ACME")
        print(result.status, [(p.id, p.tool, p.args) for p in result.pending])
        # ... later, perhaps in another process: list what waits, approve with a smaller amount
        [waiting] = await agent.runs(status="paused")
        request = waiting.pending[0]
        result = await agent.resume(waiting.run_id, approvals={request.id: ak.Edit(args={"to": "ACME", "amount": 90})})
        print(result.status, result.content)

        async def ask(text: str, ctx: ak.WorkflowContext) -> str:
            signer = await ctx.request_input("Who signs the report?")
            return f"{text}, signed by {signer}"

        wf = (
            ak.SequentialWorkflow("report", durability="step", store=store)
            .add_step("draft", lambda text: f"report on {text}")
            .add_step("sign", ask)
        )
        paused = await wf.run("batteries")
        print(paused.status, paused.pending[0].args["question"])
        done = await wf.resume(paused.run_id, approvals={paused.pending[0].id: "Ada"})
        print(done.status, done.content)
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main())
