from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.providers.simulated import call
from agentickit.tools import ToolOutput
from agentickit.tools._cache import MISS, MemoryToolCache, cache_key


def _counting_tool(**options: object) -> tuple[ak.Tool, list[str]]:
    executed: list[str] = []

    async def lookup(city: str) -> dict[str, object]:
        executed.append(city)
        return {"city": city, "temp": 21}

    return ak.Tool(lookup, cache_ttl=60, **options), executed  # type: ignore[arg-type]


async def test_same_arguments_within_ttl_are_served_from_the_cache() -> None:
    lookup, executed = _counting_tool()
    model = ak.SimulatedModel(
        script=[call("lookup", city="Paris"), call("lookup", city="Paris"), call("lookup", city="Rome"), "ok"],
        record=True,
    )
    cache = ak.ToolCache.memory(max_entries=10)
    async with ak.Agent("a", llm=model, tools=[lookup], tool_cache=cache) as agent:
        result = await agent.run("go")
    assert executed == ["Paris", "Rome"]
    assert [r.cache_hit for r in result.tool_calls] == [False, True, False]
    assert result.tool_calls[1].result == {"city": "Paris", "temp": 21}
    assert (cache.hits, cache.misses) == (1, 2)
    metrics = agent.tool_metrics()
    assert (metrics.cache_hits, metrics.cache_misses) == (1, 2)
    assert metrics.cache_hit_rate == pytest.approx(1 / 3)
    # the model reads the same text on a hit as on the original call
    tool_texts = [m.content for m in model.requests[-1].messages if m.role == "tool"]
    assert tool_texts[0] == tool_texts[1]


async def test_tools_with_cache_ttl_work_without_a_configured_cache() -> None:
    lookup, executed = _counting_tool()
    model = ak.SimulatedModel(script=[call("lookup", city="Oslo"), call("lookup", city="Oslo"), "ok"])
    async with ak.Agent("a", llm=model, tools=[lookup]) as agent:
        result = await agent.run("go")
    assert executed == ["Oslo"] and result.tool_calls[1].cache_hit


async def test_entries_expire_after_their_ttl_and_lru_evicts() -> None:
    now = [0.0]
    cache = MemoryToolCache(max_entries=2, clock=lambda: now[0])
    k1, k2, k3 = (cache_key("t", {"x": i}) for i in range(3))
    await cache.set(k1, "one", ttl=10)
    assert await cache.get(k1) == "one"
    now[0] = 10.5
    assert await cache.get(k1) is MISS
    await cache.set(k1, 1, ttl=100)
    await cache.set(k2, 2, ttl=100)
    await cache.get(k1)  # k1 is now the most recently used
    await cache.set(k3, 3, ttl=100)
    assert len(cache) == 2
    assert await cache.get(k2) is MISS and await cache.get(k1) == 1
    assert cache.hits == 3 and cache.misses == 2


async def test_errors_are_not_cached() -> None:
    count = 0

    @ak.tool(cache_ttl=60)
    async def fragile() -> str:
        nonlocal count
        count += 1
        if count == 1:
            raise RuntimeError("first call fails")
        return "fine"

    model = ak.SimulatedModel(script=[call("fragile"), call("fragile"), call("fragile"), "ok"])
    async with ak.Agent("a", llm=model, tools=[fragile]) as agent:
        result = await agent.run("go")
    assert [r.ok for r in result.tool_calls] == [False, True, True]
    assert [r.cache_hit for r in result.tool_calls] == [False, False, True]
    assert count == 2


def test_cache_key_ignores_argument_order() -> None:
    assert cache_key("t", {"a": 1, "b": 2}) == cache_key("t", {"b": 2, "a": 1})
    assert cache_key("t", {"a": 1}) != cache_key("u", {"a": 1})


def test_bad_cache_settings_are_rejected() -> None:
    with pytest.raises(UserError, match="max_entries"):
        ak.ToolCache.memory(max_entries=0)
    with pytest.raises(UserError, match="cache_ttl"):
        ak.Tool(lambda: 1, cache_ttl=0)


async def test_redis_cache_is_shared_between_clients(redis_url: str) -> None:
    prefix = f"agentickit:test:{uuid.uuid4().hex}:"
    first, second = ak.ToolCache.redis(redis_url, prefix=prefix), ak.ToolCache.redis(redis_url, prefix=prefix)
    lookup_a, executed_a = _counting_tool()
    lookup_b, executed_b = _counting_tool()
    try:
        async with ak.Agent(
            "a", llm=ak.SimulatedModel(script=[call("lookup", city="Lima"), "ok"]), tools=[lookup_a], tool_cache=first
        ) as a:
            ra = await a.run("go")
        async with ak.Agent(
            "b", llm=ak.SimulatedModel(script=[call("lookup", city="Lima"), "ok"]), tools=[lookup_b], tool_cache=second
        ) as b:
            rb = await b.run("go")
        assert executed_a == ["Lima"] and executed_b == []
        assert not ra.tool_calls[0].cache_hit and rb.tool_calls[0].cache_hit
        assert rb.tool_calls[0].result == {"city": "Lima", "temp": 21}
        assert (second.hits, second.misses) == (1, 0)
        # ToolOutput values survive the JSON round trip
        out = ToolOutput(
            text="t", data={"k": 1}, attachments=[{"type": "image", "mime_type": "image/png", "data": "AA=="}]
        )
        await first.set(cache_key("img", {}), out, ttl=60)
        assert await second.get(cache_key("img", {})) == out
    finally:
        await first.clear()
        await first.aclose()
        await second.aclose()
        await second.aclose()  # idempotent


async def test_redis_cache_is_shared_between_processes(redis_url: str) -> None:
    prefix = f"agentickit:test:{uuid.uuid4().hex}:"
    script = textwrap.dedent(
        f"""
        import asyncio
        import agentickit as ak
        from agentickit.providers.simulated import call

        async def main():
            calls = []

            @ak.tool(cache_ttl=60)
            async def lookup(city: str) -> str:
                calls.append(city)
                return "sunny in " + city

            cache = ak.ToolCache.redis({redis_url!r}, prefix={prefix!r})
            async with ak.Agent("p", llm=ak.SimulatedModel(script=[call("lookup", city="Kyiv"), "ok"]),
                                tools=[lookup], tool_cache=cache) as agent:
                result = await agent.run("go")
            print(len(calls), result.tool_calls[0].cache_hit)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    async def run_process() -> tuple[str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        async with asyncio.timeout(30):
            out, err = await proc.communicate()
        return out.decode(), err.decode()

    first = await run_process()
    second = await run_process()
    cache = ak.ToolCache.redis(redis_url, prefix=prefix)
    try:
        assert first[0].split() == ["1", "False"], first[1]
        assert second[0].split() == ["0", "True"], second[1]
    finally:
        await cache.clear()
        await cache.aclose()


async def test_identical_concurrent_calls_share_one_execution() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    executed = 0

    @ak.tool(cache_ttl=60)
    async def expensive(q: str) -> str:
        nonlocal executed
        executed += 1
        started.set()
        await release.wait()
        return f"answer to {q}"

    model = ak.SimulatedModel(script=[call("expensive", q="life"), "ok"])
    all_looked = asyncio.Event()

    class Watched(MemoryToolCache):
        async def get(self, key: bytes) -> object:
            value = await super().get(key)
            if self.misses == 4:
                all_looked.set()
            return value

    async with ak.Agent("a", llm=model, tools=[expensive], tool_cache=Watched()) as agent:
        async with asyncio.timeout(5):
            runs = [asyncio.create_task(agent.run("go")) for _ in range(4)]
            await started.wait()
            await all_looked.wait()  # every run missed the cache; three find the call in flight
            release.set()
            results = await asyncio.gather(*runs)
    assert executed == 1
    assert [r.tool_calls[0].result for r in results] == ["answer to life"] * 4
    assert sorted(r.tool_calls[0].cache_hit for r in results) == [False, True, True, True]


async def test_a_failed_or_cancelled_leader_lets_the_others_run_it_themselves() -> None:
    attempts = 0

    @ak.tool(cache_ttl=60)
    async def first_fails(q: str) -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        if attempts == 1:
            raise ConnectionError("reset")
        return "ok"

    model = ak.SimulatedModel(script=[call("first_fails", q="x"), "done"])
    async with ak.Agent("a", llm=model, tools=[first_fails]) as agent:
        async with asyncio.timeout(5):
            a, b = await asyncio.gather(agent.run("go"), agent.run("go"))
    outcomes = sorted((r.tool_calls[0].ok, r.tool_calls[0].cache_hit) for r in (a, b))
    assert outcomes == [(False, False), (True, False)]
    assert attempts == 2
