from __future__ import annotations

import asyncio
import gc
import tracemalloc
import weakref

import agentickit as ak


@ak.tool
async def echo_tool(text: str) -> str:
    return text


async def test_ten_thousand_runs_keep_memory_flat_and_leave_no_tasks() -> None:
    agent = ak.Agent("leak", "simulated", tools=[echo_tool])
    for _ in range(500):
        await agent.run("warm up Paris")
    gc.collect()
    tasks_before = len(asyncio.all_tasks())
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(10_000):
            await agent.run(f"query {i} about Paris")
            if i % 100 == 0:
                # A 0-latency model and an async tool never suspend, so the loop would never get
                # to prune the cancelled timers of tool timeouts (asyncio does that per iteration);
                # any real I/O yields far more often than this.
                await asyncio.sleep(0)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 512 * 1024, f"grew by {(after - before) / 1024:.0f} KiB over 10,000 runs"
    assert len(asyncio.all_tasks()) == tasks_before


async def test_results_do_not_keep_the_agent_alive() -> None:
    agent = ak.Agent("gone", "simulated:echo")
    result = await agent.run("x")
    ref = weakref.ref(agent)
    del agent
    gc.collect()
    assert ref() is None
    assert result.agent_name == "gone"
