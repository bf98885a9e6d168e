"""Child process: N concurrent live streams against the in-process simulated model; prints RSS as JSON.

Run in its own process so that the peak RSS belongs to the streams and nothing else.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import time


def _vm_hwm() -> int:
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork+exec (the parent's peak would leak in).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def main(count: int) -> dict[str, float]:
    import psutil

    import agentickit as ak
    from agentickit.providers.simulated import SimulatedModel

    # Every stream stays open ~2 s (TTFT) so all of them are live at once, then streams 20 tokens.
    model = SimulatedModel(reply=" ".join(f"w{i}" for i in range(20)), ttft=2.0, tools_mode="never")
    agent = ak.Agent("many", llm=model)
    await agent.run("warm")
    gc.collect()
    proc = psutil.Process()
    base = proc.memory_info().rss
    live = 0
    live_max = 0
    started = asyncio.Event()

    async def one() -> None:
        nonlocal live, live_max
        live += 1
        live_max = max(live_max, live)
        if live == count:
            started.set()
        async for _ in agent.run_stream("go"):
            pass
        live -= 1

    t0 = time.perf_counter()
    peak_sampled = base
    async with asyncio.TaskGroup() as tg:
        for _ in range(count):
            tg.create_task(one())
        await started.wait()
        await asyncio.sleep(0.5)
        peak_sampled = max(peak_sampled, proc.memory_info().rss)
    wall = time.perf_counter() - t0
    peak = max(peak_sampled, _vm_hwm())
    return {"count": count, "base_rss": base, "peak_rss": peak, "live_max": live_max, "wall": wall}


if __name__ == "__main__":
    n = int(sys.argv[1])
    try:
        import uvloop

        out = uvloop.run(main(n))
    except ImportError:
        out = asyncio.run(main(n))
    print(json.dumps(out))
