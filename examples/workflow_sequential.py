"""A sequential workflow, offline on the simulated model: `python examples/workflow_sequential.py`.

Three steps run one after another, each on the previous one's output: an agent drafts, a plain
function cleans up, a second agent reviews the draft (its input built by a `transform` that reads
the shared context). Wall time is the sum of the steps.
"""

from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.workflows import WorkflowContext


def clean(text: str) -> str:
    # A sync step: agentickit runs it in a worker thread, so it can never block the other runs.
    return " ".join(text.split()).capitalize()


def review_input(previous: str, ctx: WorkflowContext) -> str:
    return f"Review this draft about {ctx.input!r}: {previous}"


async def main() -> None:
    writer = ak.Agent(
        "writer", llm=ak.SimulatedModel(reply="agentickit   runs   steps in order", ttft=0.2, tools_mode="never")
    )
    reviewer = ak.Agent(
        "reviewer",
        llm=ak.SimulatedModel(
            reply=lambda r: f"Approved. {r.last_user.split(': ', 1)[-1]}", ttft=0.2, tools_mode="never"
        ),
    )

    wf = (
        ak.SequentialWorkflow("write-and-review", timeout=10)
        .add_step("draft", writer)
        .add_step("clean", clean)
        .add_step(ak.Step("review", reviewer, transform=review_input, retries=1))
    )
    result = await wf.run("sequential workflows")
    for name, step in result.steps.items():
        print(f"{name:>6}: {step.status.value:<8} {step.duration * 1000:5.0f} ms  {step.output!r}")
    print(f"content: {result.content}")
    print(f"wall {result.duration * 1000:.0f} ms (the sum of the steps), {result.usage.requests} model requests")

    # Early exit: any step can end the workflow with a final answer.
    cache = {"sequential workflows": "cached answer"}

    async def check_cache(text: str) -> str:
        if text in cache:
            raise ak.stop(cache[text])
        return text

    fast = ak.SequentialWorkflow("cached").add_step("cache", check_cache).add_step("draft", writer)
    result = await fast.run("sequential workflows")
    print(
        f"with a cache hit: {result.content!r}, stop_reason={result.stop_reason}, draft {result.steps['draft'].status.value}"
    )


if __name__ == "__main__":
    asyncio.run(main())
