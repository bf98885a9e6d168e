"""A parallel workflow, offline on the simulated model: `python examples/workflow_parallel.py`.

Three analysts answer the same question at the same time, so the wall time is the slowest one's, not
the sum (the guide's "3x faster"). The run is streamed: every chunk says which step it belongs to.
"""

from __future__ import annotations

import asyncio
import time

import agentickit as ak


def analyst(name: str, ttft: float) -> ak.Agent:
    model = ak.SimulatedModel(reply=f"{name}: looks promising", ttft=ttft, tokens_per_s=30, tools_mode="never")
    return ak.Agent(name, llm=model)


async def main() -> None:
    wf = ak.ParallelWorkflow("analysis", max_concurrency=None, fail_fast=False, timeout=10)
    for name, ttft in (("market", 0.3), ("tech", 0.2), ("risk", 0.25)):
        wf.add_step(name, analyst(name, ttft))

    t0 = time.perf_counter()
    stream = wf.run_stream("Should we build a solar battery startup?")
    async for chunk in stream:
        at = f"{(time.perf_counter() - t0) * 1000:6.0f} ms"
        if chunk.type is ak.ChunkType.AGENT_START:
            print(f"{at}  start    {chunk.step_name}")
        elif chunk.type is ak.ChunkType.DELTA:
            print(f"{at}  {chunk.step_name:<8} {chunk.delta!r}")
        elif chunk.type is ak.ChunkType.AGENT_COMPLETE and chunk.metadata:
            print(f"{at}  complete {chunk.step_name} ({chunk.metadata['status']})")
    result = await stream.wait()
    slowest = max(s.duration for s in result.steps.values())
    print(f"\n{result.content}\n")
    print(f"wall {result.duration * 1000:.0f} ms, slowest step {slowest * 1000:.0f} ms")

    # Without fail_fast a failing step does not stop the others; the result says which failed.
    # `run()` raises a WorkflowError holding that result; raise_on_error=False returns it instead.
    async def broken(text: str) -> str:
        raise RuntimeError("data source down")

    wf.add_step("broken", broken)
    try:
        await wf.run("again")
    except ak.errors.WorkflowError as exc:
        print(f"raised {type(exc).__name__}: {exc}")
    result = await wf.run("again", raise_on_error=False)
    print(
        f"with a failing step: ok={result.ok}, failed={result.steps_with(ak.StepStatus.FAILED)}, "
        f"finished={sorted(result.outputs)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
