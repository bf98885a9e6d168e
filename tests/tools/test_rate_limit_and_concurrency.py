from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.tools import RateLimit, TokenBucket, parse_rate_limit
from agentickit.tools._chain import tool_runtime
from tests.tools._tool_helpers import calls


def test_rate_limit_strings_parse() -> None:
    assert parse_rate_limit("10/s").interval == pytest.approx(0.1)
    assert parse_rate_limit("100/m").interval == pytest.approx(0.6)
    assert parse_rate_limit("1000 / hour").interval == pytest.approx(3.6)
    assert parse_rate_limit("5/10s").interval == pytest.approx(2.0)
    limit = RateLimit(3, 1.0, burst=3)
    assert parse_rate_limit(limit) is limit


@pytest.mark.parametrize("bad", ["fast", "10", "10/x", "0/s", "-1/s", "/s"])
def test_bad_rate_limits_say_what_is_accepted(bad: str) -> None:
    with pytest.raises(UserError, match="rate"):
        ak.Tool(lambda: 1, rate_limit=bad)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        await asyncio.sleep(0)


def test_token_bucket_reserves_evenly_spaced_slots() -> None:
    t = FakeTime()
    bucket = TokenBucket(parse_rate_limit("10/s"), clock=t.clock)
    assert [round(bucket.reserve(), 6) for _ in range(4)] == [0.0, 0.1, 0.2, 0.3]
    t.now += 1.0  # idle time refills the bucket
    assert bucket.reserve() == 0.0


def test_token_bucket_burst_lets_calls_through_back_to_back() -> None:
    t = FakeTime()
    bucket = TokenBucket(RateLimit(2, 1.0, burst=3), clock=t.clock)
    assert [round(bucket.reserve(), 6) for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]


async def test_rate_limited_tool_calls_sleep_once_each_until_their_slot() -> None:
    executed = 0

    @ak.tool(rate_limit="10/s")
    async def api(n: int) -> int:
        nonlocal executed
        executed += 1
        return n

    t = FakeTime()
    runtime = tool_runtime(api)
    runtime.bucket = TokenBucket(parse_rate_limit("10/s"), clock=t.clock, sleep=t.sleep)
    model = ak.SimulatedModel(script=[calls(*(("api", {"n": i}) for i in range(5))), "ok"])
    async with ak.Agent("a", llm=model, tools=[api]) as agent:
        result = await agent.run("go")
    assert executed == 5 and all(r.ok for r in result.tool_calls)
    # one sleep per waiting call, exactly as long as needed: no polling, no busy-waiting
    assert sorted(t.sleeps) == [0.1, 0.2, 0.3, 0.4]


async def test_rate_limit_spaces_real_calls() -> None:
    stamps: list[float] = []

    @ak.tool(rate_limit="50/s")
    async def ping() -> None:
        stamps.append(asyncio.get_running_loop().time())

    model = ak.SimulatedModel(script=[calls(*(("ping", {}) for _ in range(3))), "ok"])
    async with ak.Agent("a", llm=model, tools=[ping]) as agent:
        await agent.run("go")
    stamps.sort()
    assert stamps[2] - stamps[0] >= 0.04 - 0.002  # two intervals of 20 ms (the loop clock's granularity aside)


class Peak:
    def __init__(self) -> None:
        self.active = 0
        self.peak = 0

    async def hold(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await asyncio.sleep(0.01)
        finally:
            self.active -= 1


async def test_max_concurrency_caps_parallel_calls_of_one_tool() -> None:
    peak = Peak()

    @ak.tool(max_concurrency=2)
    async def capped(i: int) -> int:
        await peak.hold()
        return i

    model = ak.SimulatedModel(script=[calls(*(("capped", {"i": i}) for i in range(6))), "ok"])
    async with ak.Agent("a", llm=model, tools=[capped]) as agent:
        result = await agent.run("go")
    assert [r.result for r in result.tool_calls] == list(range(6))
    assert peak.peak == 2


async def test_parallel_calls_run_concurrently_without_caps() -> None:
    peak = Peak()

    @ak.tool
    async def free(i: int) -> int:
        await peak.hold()
        return i

    model = ak.SimulatedModel(script=[calls(*(("free", {"i": i}) for i in range(6))), "ok"])
    async with ak.Agent("a", llm=model, tools=[free]) as agent:
        await agent.run("go")
    assert peak.peak == 6


async def test_max_concurrent_tools_caps_all_tools_of_an_agent_across_runs() -> None:
    peak = Peak()

    @ak.tool
    async def one(i: int) -> int:
        await peak.hold()
        return i

    @ak.tool
    async def two(i: int) -> int:
        await peak.hold()
        return i

    turn = calls(*((("one" if i % 2 else "two"), {"i": i}) for i in range(8)))
    model = ak.SimulatedModel(script=[turn, "ok"])
    async with ak.Agent("a", llm=model, tools=[one, two], max_concurrent_tools=3) as agent:
        results = await asyncio.gather(agent.run("go"), agent.run("again"))
    assert all(len(r.tool_calls) == 8 for r in results)
    assert peak.peak == 3


def test_bad_concurrency_settings_are_rejected() -> None:
    with pytest.raises(UserError, match="max_concurrency"):
        ak.Tool(lambda: 1, max_concurrency=0)
    with pytest.raises(UserError, match="max_concurrent_tools"):
        ak.Agent("a", max_concurrent_tools=0)
