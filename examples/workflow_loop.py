"""A loop workflow, offline on the simulated model: `python examples/workflow_loop.py`.

A writer and a critic repeat until the critic approves (`until`) or `max_iterations` is reached;
the result says how many iterations ran and why the loop stopped. The shared state counts drafts.
"""

from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.workflows import WorkflowContext, WorkflowResult


def write(text: str, ctx: WorkflowContext) -> str:
    ctx.state["drafts"] = ctx.state.get("drafts", 0) + 1
    return f"draft {ctx.iteration}"


def critic_reply(request: ak.providers.simulated.SimRequest) -> str:
    # The simulated critic approves the third draft.
    return "APPROVED" if "draft 3" in request.last_user else "needs work"


def approved(result: WorkflowResult) -> bool:
    return "APPROVED" in result.content


async def main() -> None:
    critic = ak.Agent("critic", llm=ak.SimulatedModel(reply=critic_reply, ttft=0.05, tools_mode="never"))
    wf = ak.LoopWorkflow("refine", max_iterations=5, until=approved, timeout=10)
    wf.add_step("write", write).add_step("critic", critic)

    state: dict[str, int] = {}
    result = await wf.run("an essay on loops", state=state)
    print(f"{result.content!r} after {result.iterations} iterations (stop_reason={result.stop_reason})")
    print(f"drafts written: {state['drafts']}, model requests: {result.usage.requests}")

    strict = (
        ak.LoopWorkflow("strict", max_iterations=2, until=approved).add_step("write", write).add_step("critic", critic)
    )
    result = await strict.run("another essay")
    print(f"{result.content!r} after {result.iterations} iterations (stop_reason={result.stop_reason})")


if __name__ == "__main__":
    asyncio.run(main())
