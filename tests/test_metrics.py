from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator

import pytest

import agentickit as ak
from agentickit import metrics
from agentickit.errors import RateLimitError, RunTimeoutError
from agentickit.metrics import Metrics, price_for, set_price
from agentickit.providers.simulated import SimulatedModel, call


@pytest.fixture(autouse=True)
def _restore_metrics_state() -> Iterator[None]:
    prices = dict(metrics.PRICES)
    was = metrics.enabled()
    yield
    metrics.PRICES.clear()
    metrics.PRICES.update(prices)
    metrics.set_enabled(was)


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


async def test_fresh_agent_has_empty_snapshot() -> None:
    snap = ak.Agent("a").metrics()
    assert snap.name == "a"
    assert (snap.runs, snap.errors, snap.error_rate, snap.tool_calls, snap.cost_usd) == (0, 0, 0.0, 0, 0.0)
    assert snap.latency_p50 is None and snap.ttft_p50 is None and snap.window == 0


async def test_runs_tokens_and_tool_calls_are_counted() -> None:
    agent = ak.Agent("calc", llm=SimulatedModel(script=[call("add", a=1, b=2), "3"]), tools=[add])
    for _ in range(3):
        await agent.run("add 1 and 2")
    snap = agent.metrics()
    assert snap.runs == 3 and snap.errors == 0 and snap.successes == 3
    assert snap.tool_calls == 3
    assert snap.tokens_in > 0 and snap.tokens_out > 0
    assert snap.latency_p50 is not None and snap.latency_max is not None
    assert 0 < snap.latency_p50 <= snap.latency_max
    assert snap.window == 3
    assert snap.unpriced_models == ()  # "simulated" has a (zero) price


async def test_errors_are_counted_by_type() -> None:
    agent = ak.Agent("flaky", llm=SimulatedModel(max_retries=0))
    await agent.run("ok")
    for _ in range(2):
        with pytest.raises(RateLimitError):
            await agent.run("[[sim:429]]")
    snap = agent.metrics()
    assert snap.runs == 3 and snap.errors == 2
    assert snap.errors_by_type == {"RateLimitError": 2}
    assert snap.error_rate == pytest.approx(2 / 3)


async def test_timeout_counts_as_run_timeout_error() -> None:
    agent = ak.Agent("slow", llm=SimulatedModel(ttft=5.0))
    with pytest.raises(RunTimeoutError):
        await agent.run("hi", timeout=0.01)
    assert agent.metrics().errors_by_type == {"RunTimeoutError": 1}


async def test_cancelled_runs_are_not_errors() -> None:
    agent = ak.Agent("slow", llm=SimulatedModel(ttft=5.0))
    task = asyncio.create_task(agent.run("hi"))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    snap = agent.metrics()
    assert (snap.runs, snap.errors, snap.cancelled) == (0, 0, 1)


async def test_cost_comes_from_the_price_table_and_users_can_extend_it() -> None:
    set_price("simulated", input_per_mtok=1_000_000.0, output_per_mtok=2_000_000.0)
    agent = ak.Agent("priced", llm=SimulatedModel(reply="one two three"))
    await agent.run("hello")
    snap = agent.metrics()
    assert snap.cost_usd == pytest.approx(snap.tokens_in * 1.0 + snap.tokens_out * 2.0)
    assert snap.cost_per_run_usd == pytest.approx(snap.cost_usd)


async def test_unpriced_models_are_reported_not_guessed() -> None:
    agent = ak.Agent("x", llm=SimulatedModel(model_name="my-private-model"))
    await agent.run("hello")
    snap = agent.metrics()
    assert snap.unpriced_models == ("my-private-model",)
    assert snap.cost_usd == 0.0


def test_price_lookup_uses_longest_prefix() -> None:
    assert price_for("gpt-4o-mini-2024-07-18") == metrics.PRICES["gpt-4o-mini"]
    assert price_for("gpt-4o-2024-08-06") == metrics.PRICES["gpt-4o"]
    assert price_for("nobody-knows") is None


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1"])
def test_bad_price_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="input_per_mtok"):
        set_price("m", input_per_mtok=bad, output_per_mtok=1.0)  # type: ignore[arg-type]


async def test_switching_counting_off() -> None:
    metrics.set_enabled(False)
    agent = ak.Agent("quiet")
    await agent.run("hi")
    assert agent.metrics().runs == 0
    metrics.set_enabled(True)
    await agent.run("hi")
    assert agent.metrics().runs == 1


async def test_reset_after_snapshot() -> None:
    agent = ak.Agent("r")
    await agent.run("hi")
    assert agent.metrics(reset=True).runs == 1
    assert agent.metrics().runs == 0


def test_percentiles_use_a_bounded_window() -> None:
    m = Metrics("w", window=100)
    for i in range(1, 1001):
        m.record(i / 1000)
    snap = m.snapshot()
    assert snap.runs == 1000 and snap.window == 100
    # only the last 100 runs (0.901 .. 1.0) are in the window; nearest-rank percentiles
    assert snap.latency_p50 == pytest.approx(0.950)
    assert snap.latency_p99 == pytest.approx(0.999)
    assert snap.latency_max == pytest.approx(1.0)
    assert snap.latency_mean == pytest.approx(0.5005)


def test_ttft_percentiles() -> None:
    m = Metrics("t", window=10)
    for i in range(20):
        m.record(1.0, ttft=i / 100)
    snap = m.snapshot()
    assert snap.ttft_p50 == pytest.approx(0.14)
    assert snap.ttft_p95 == pytest.approx(0.19)


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        Metrics("x", window=0)


async def test_snapshot_to_dict_is_json_ready_and_agent_stays_picklable() -> None:
    import json

    agent = ak.Agent("p")
    await agent.run("hi")
    data = agent.metrics().to_dict()
    assert json.loads(json.dumps(data))["runs"] == 1
    assert data["error_rate"] == 0.0
    clone = pickle.loads(pickle.dumps(agent))
    assert clone.metrics().runs == 0  # counters belong to the process, not to the config


async def test_agent_runs_beyond_the_window_keep_the_latest() -> None:
    agent = ak.Agent("w")
    agent._metrics = Metrics("w", window=2)
    for _ in range(5):
        await agent.run("hi")
    snap = agent.metrics()
    assert snap.runs == 5 and snap.window == 2


async def test_ttft_from_streamed_results_is_recorded() -> None:
    agent = ak.Agent("s", llm=SimulatedModel(ttft=0.01))
    stream = agent.run_stream("hi")
    async for _ in stream:
        pass
    snap = agent.metrics()
    assert snap.runs == 1
    assert snap.ttft_p50 is not None and snap.ttft_p50 >= 0.01
    await agent.run("no stream")
    assert agent.metrics().ttft_p50 == snap.ttft_p50  # only streamed runs have a first token to time
