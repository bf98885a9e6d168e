"""`ak.RunContext`: a run's deps and ids reach tools (async, sync, cached, retried), handlers and workflow steps.

pyright strict checks this file: the `assert_type` lines prove `ctx.deps` is inferred as the
declared `Deps` type.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, assert_type

import pytest

import agentickit as ak
from agentickit.providers.simulated import call
from agentickit.simulator import SimulatorServer


@dataclass
class Deps:
    """What a service hands its tools: here a name and a call log."""

    tenant: str
    seen: list[str]


@ak.tool
async def whoami(ctx: ak.RunContext[Deps], greeting: str) -> str:
    """Say hello to the tenant.

    Args:
        greeting: how to greet.
    """
    assert_type(ctx.deps, Deps)
    assert_type(ctx.run_id, str)
    ctx.deps.seen.append(f"{ctx.tool_name}:{ctx.tool_call_id}:{ctx.agent_name}:{ctx.usage.requests}")
    return f"{greeting}, {ctx.deps.tenant}"


def test_the_context_parameter_is_not_in_the_schema() -> None:
    params = whoami.definition.parameters
    assert list(params["properties"]) == ["greeting"] and params["required"] == ["greeting"]
    assert whoami.takes_ctx
    assert not ak.Tool(lambda x: x).takes_ctx


async def test_async_tool_gets_the_runs_deps_and_ids() -> None:
    deps = Deps("acme", [])
    model = ak.SimulatedModel(script=[call("whoami", greeting="hi"), "done"])
    async with ak.Agent("svc", llm=model, tools=[whoami]) as agent:
        result = await agent.run("go", deps=deps, session_id="s1")
    assert result.tool_calls[0].result == "hi, acme"
    name, call_id, agent_name, requests = deps.seen[0].split(":")
    assert (name, agent_name, requests) == ("whoami", "svc", "1")
    assert call_id == result.tool_calls[0].id


async def test_sync_tool_on_a_worker_thread_gets_the_context() -> None:
    threads: list[str] = []

    def sync_tool(ctx: ak.RunContext[Deps]) -> str:
        threads.append(threading.current_thread().name)
        assert_type(ctx.deps, Deps)
        return ctx.deps.tenant

    model = ak.SimulatedModel(script=[call("sync_tool"), "done"])
    agent = ak.Agent("a", llm=model, tools=[sync_tool])
    result = await agent.run("go", options=ak.RunOptions(deps=Deps("threaded", [])))
    assert result.tool_calls[0].result == "threaded"
    assert threads == ["agentickit-tool"]  # not the loop's thread


async def test_a_local_deps_type_and_the_retry_count() -> None:
    class Local:  # defined in a function: its annotation cannot be resolved, the text is read instead
        attempts: list[int]

        def __init__(self) -> None:
            self.attempts = []

    @ak.tool(retries=2, retry_backoff=0)
    async def flaky(ctx: ak.RunContext[Local], n: int) -> int:
        ctx.deps.attempts.append(ctx.retry)
        if ctx.retry < 2:
            raise ConnectionError("try again")
        return n

    assert list(flaky.definition.parameters["properties"]) == ["n"]
    deps = Local()
    model = ak.SimulatedModel(script=[call("flaky", n=7), "done"])
    result = await ak.Agent("a", llm=model, tools=[flaky]).run("go", deps=deps)
    assert result.tool_calls[0].result == 7 and deps.attempts == [0, 1, 2]


async def test_deps_are_not_part_of_a_cached_tools_key() -> None:
    runs: list[str] = []

    @ak.tool(cache_ttl=60)
    async def cached(ctx: ak.RunContext[Deps], q: str) -> str:
        runs.append(ctx.deps.tenant)
        return q.upper()

    model = ak.SimulatedModel(script=[call("cached", q="x"), "done"])
    async with ak.Agent("a", llm=model, tools=[cached]) as agent:
        first = await agent.run("go", deps=Deps("one", []))
        second = await agent.run("go", deps=Deps("two", []))
    assert runs == ["one"]  # the second run was served from the cache
    assert not first.tool_calls[0].cache_hit and second.tool_calls[0].cache_hit


async def test_outside_a_run_the_context_is_empty() -> None:
    @ak.tool
    async def peek(ctx: ak.RunContext) -> str:
        return f"{ctx.deps}/{ctx.run_id!r}"

    assert await peek.call({}) == "None/''"
    assert "deps=NoneType" in repr(ak.RunContext(None))


async def test_handlers_caps_carry_the_same_context() -> None:
    async def handler(text: str, caps: ak.Capabilities) -> str:
        deps: Deps = caps.ctx.deps
        said = await caps.tools.call("whoami", greeting="hey")
        return f"{deps.tenant}|{caps.ctx.run_id == caps.run_id}|{said}"

    deps = Deps("h-corp", [])
    agent = ak.Agent("h", handler=handler, tools=[whoami])
    result = await agent.run("q", deps=deps)
    assert result.content == "h-corp|True|hey, h-corp"
    assert deps.seen[0].startswith("whoami:") and deps.seen[0].endswith(":h:0")


async def test_a_workflow_passes_deps_to_every_step() -> None:
    deps = Deps("wf", [])
    wf = ak.SequentialWorkflow("wf")
    for i in range(3):
        model = ak.SimulatedModel(script=[call("whoami", greeting=f"step{i}"), "done"])
        wf.add_step(f"s{i}", ak.Agent(f"s{i}", llm=model, tools=[whoami]))
    await wf.run("go", deps=deps)
    assert [s.split(":")[2] for s in deps.seen] == ["s0", "s1", "s2"]
    seen_stream: list[str] = []
    stream = wf.run_stream("go", deps=Deps("wf2", seen_stream))
    async for _ in stream:
        pass
    await stream.wait()
    assert len(seen_stream) == 3


async def test_deps_reach_a_tool_over_http() -> None:
    # The simulator's "auto" tools mode calls the one offered tool, filling `greeting` from the input.
    async with SimulatorServer() as srv:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=srv.base_url + "/v1", api_key="k")
        deps = Deps("remote", [])
        async with ak.Agent("h", llm=llm, tools=[whoami]) as agent:
            result = await agent.run("hello", deps=deps)
    assert result.tool_calls and result.tool_calls[0].result is not None
    assert str(result.tool_calls[0].result).endswith(", remote")
    assert "greeting" in srv.requests[0].body["tools"][0]["function"]["parameters"]["properties"]
    assert "ctx" not in srv.requests[0].body["tools"][0]["function"]["parameters"]["properties"]


@pytest.mark.parametrize("deps", [None, 0, "x"])
async def test_any_value_is_a_valid_deps(deps: Any) -> None:
    @ak.tool
    async def echo_deps(ctx: ak.RunContext[Any]) -> Any:
        return ctx.deps

    model = ak.SimulatedModel(script=[call("echo_deps"), "done"])
    result = await ak.Agent("a", llm=model, tools=[echo_deps]).run("go", deps=deps)
    assert result.tool_calls[0].result == deps
