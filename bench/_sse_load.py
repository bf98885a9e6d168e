"""Child process: N concurrent SSE streams against one URL; prints inter-chunk gap statistics as JSON.

    python -m bench._sse_load URL N NOMINAL_GAP_S

Every stream POSTs `{"input": "go"}` and timestamps each read that carries delta events (events that
arrive in one read share its time: the earlier ones were late). Only gaps while all N streams were
open count (from the last stream's first delta to the first stream's last), so the ramp-up and the
tail are not measured. The jitter of a gap is |gap - NOMINAL_GAP_S| (the model paces its tokens).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def main(url: str, n: int, nominal: float) -> dict[str, object]:
    import aiohttp

    perf = time.perf_counter
    marker = b"event: delta\n"
    times: list[list[float]] = [[] for _ in range(n)]
    body = json.dumps({"input": "go"}).encode()
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    errors: list[str] = []

    async def one(i: int, session: aiohttp.ClientSession) -> None:
        mine = times[i]
        try:
            async with session.post(url, data=body, headers=headers) as r:
                if r.status != 200:
                    errors.append(f"HTTP {r.status}")
                    return
                async for data in r.content.iter_any():
                    k = data.count(marker)
                    if k:
                        t = perf()
                        mine.extend([t] * k)
        except aiohttp.ClientError as exc:
            errors.append(type(exc).__name__)

    connector = aiohttp.TCPConnector(limit=0)
    t0 = perf()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600)) as session:
        await asyncio.gather(*(one(i, session) for i in range(n)))
    elapsed = perf() - t0
    live = [t for t in times if len(t) >= 2]
    start = max(t[0] for t in live)
    end = min(t[-1] for t in live)
    gaps: list[float] = []
    for t in live:
        gaps.extend(b - a for a, b in zip(t, t[1:], strict=False) if a >= start and b <= end)
    gaps.sort()
    jitter = sorted(abs(g - nominal) for g in gaps)

    def pct(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    return {
        "streams": n,
        "completed": len(live),
        "errors": errors[:5],
        "error_count": len(errors),
        "gaps": len(gaps),
        "window_s": end - start,
        "ramp_s": start - t0,
        "elapsed_s": elapsed,
        "gap_p50": pct(gaps, 0.5),
        "gap_p99": pct(gaps, 0.99),
        "jitter_p50": pct(jitter, 0.5),
        "jitter_p99": pct(jitter, 0.99),
        "chunks": sum(len(t) for t in times),
    }


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is optional
        pass
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))))
