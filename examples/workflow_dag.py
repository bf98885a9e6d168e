"""A DAG workflow, offline on the simulated model: `python examples/workflow_dag.py`.

`research` runs first; `facts` and `style` both need only `research`, so they run at the same time;
`write` starts the moment both are done and gets their outputs, labelled. Wall time is the critical
path (3 steps here), not the sum (4). A subworkflow nests like any agent.
"""

from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.workflows import WorkflowContext


def agent(name: str, ttft: float = 0.2) -> ak.Agent:
    return ak.Agent(name, llm=ak.SimulatedModel(reply=f"{name} notes", ttft=ttft, tools_mode="never"))


def to_prose(text: str) -> str:
    return text.replace("notes", "prose")


def only_if_long(ctx: WorkflowContext) -> bool:
    return len(ctx.input) > 40  # a condition: false skips the step


async def main() -> None:
    polish = ak.SequentialWorkflow("polish").add_step("tone", to_prose)

    wf = (
        ak.DAGWorkflow("report", timeout=10)
        .add_step("research", agent("research"))
        .add_step("facts", agent("facts"), depends_on=["research"], timeout=2, retries=1)
        .add_step("style", agent("style"), depends_on=["research"])
        .add_step("deep_dive", agent("deep_dive"), depends_on=["research"], condition=only_if_long)
        .add_step("write", agent("write"), depends_on=["facts", "style"])
        .add_step("polish", polish.as_agent(max_depth=3), depends_on=["write"])
    )
    result = await wf.run("solid-state batteries")
    for name, step in result.steps.items():
        print(f"{name:>9}: {step.status.value:<8} {step.duration * 1000:5.0f} ms  {step.reason or step.output!r}")
    print(
        f"\ninput of 'write' was the labelled outputs of its dependencies:\n{result.steps['write'].result.messages[-2].content}"
    )
    print(f"\nwall {result.duration * 1000:.0f} ms for 4 agent steps of ~200 ms: the critical path (3), not the sum")

    # Cycles and unknown dependencies are rejected before anything runs.
    bad = ak.DAGWorkflow("bad").add_step("a", agent("a"), depends_on=["c"])
    bad.add_step("b", agent("b"), depends_on=["a"]).add_step("c", agent("c"), depends_on=["b"])
    try:
        await bad.run("x")
    except ak.errors.WorkflowError as exc:
        print(f"\n{exc}")


if __name__ == "__main__":
    asyncio.run(main())
