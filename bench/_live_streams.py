"""Child process: N concurrent live streams over HTTP with one client kind; prints memory as JSON.

    python -m bench._live_streams raw|sdk|ours BASE_URL N

The simulator holds every stream at its time to first token, so all N are in flight when the RSS is
sampled. Each client kind runs in its own process so its memory is its own.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import Any


async def main(kind: str, base: str, n: int) -> dict[str, Any]:
    import psutil

    proc = psutil.Process()
    body_msgs = [{"role": "user", "content": "go"}]
    if kind == "raw":
        import aiohttp
        import orjson

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        body = orjson.dumps({"model": "sim", "messages": body_msgs, "stream": True})

        async def one() -> int:
            c = 0
            async with session.post(
                f"{base}/chat/completions", data=body, headers={"Content-Type": "application/json"}
            ) as r:
                async for line in r.content:
                    if line.startswith(b"data: {"):
                        c += 1
            return c

        async def close() -> None:
            await session.close()

    elif kind == "sdk":
        import openai

        client = openai.AsyncOpenAI(base_url=base, api_key="sk-bench", max_retries=0)

        async def one() -> int:
            c = 0
            s = await client.chat.completions.create(model="sim", messages=body_msgs, stream=True)  # type: ignore[arg-type]
            async for _ in s:
                c += 1
            return c

        async def close() -> None:
            await client.close()

    else:
        import agentickit as ak

        agent = ak.Agent("live", llm=ak.LLMConfig(provider="openai", model="sim", base_url=base, api_key="sk-bench"))

        async def one() -> int:
            c = 0
            async for _ in agent.run_stream("go"):
                c += 1
            return c

        async def close() -> None:
            await agent.cleanup()

    await one()  # warm: pools, lazily built parts
    gc.collect()
    base_rss = proc.memory_info().rss
    t0 = time.perf_counter()
    peak = base_rss
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(one()) for _ in range(n)]
        # The simulator holds each stream ~2 s before its first token; sample while all are in flight.
        for _ in range(12):
            await asyncio.sleep(0.1)
            peak = max(peak, proc.memory_info().rss)
    wall = time.perf_counter() - t0
    await close()
    return {
        "kind": kind,
        "n": n,
        "base_rss": base_rss,
        "peak_rss": peak,
        "kib_per_stream": (peak - base_rss) / n / 1024,
        "wall": wall,
        "chunks": sum(t.result() for t in tasks),
    }


if __name__ == "__main__":
    kind, base, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        import uvloop

        out = uvloop.run(main(kind, base, n))
    except ImportError:
        out = asyncio.run(main(kind, base, n))
    print(json.dumps(out))
