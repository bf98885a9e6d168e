from __future__ import annotations

import asyncio
import threading

import pytest

import agentickit as ak
from agentickit.errors import ToolError, UserError
from agentickit.providers.simulated import call
from agentickit.testing import ScriptedModel


def make_search() -> ak.Tool:
    async def search(query: str) -> str:
        return f"results for {query}"

    return ak.Tool(search)


async def test_lazy_factory_runs_once_on_first_use_even_under_concurrency() -> None:
    runs = 0
    started = asyncio.Event()
    release = asyncio.Event()

    async def factory() -> ak.Tool:
        nonlocal runs
        runs += 1
        started.set()
        await release.wait()
        return make_search()

    registry = ak.ToolRegistry()
    registry.register_lazy("search", factory)
    assert runs == 0 and not registry.is_loaded("search")
    async with asyncio.timeout(5):
        waiters = [asyncio.create_task(registry.get("search")) for _ in range(20)]
        await started.wait()
        release.set()
        tools = await asyncio.gather(*waiters)
    assert runs == 1
    assert all(t is tools[0] for t in tools) and registry.is_loaded("search")
    assert await registry.get("search") is tools[0] and runs == 1


async def test_sync_factories_run_in_a_worker_thread() -> None:
    threads: list[int] = []

    def factory() -> ak.Tool:
        threads.append(threading.get_ident())
        return make_search()

    registry = ak.ToolRegistry()
    registry.register_lazy("search", factory)
    await registry.get("search")
    assert threads and threads[0] != threading.get_ident()


async def test_agent_loads_registry_tools_on_its_first_run_not_when_built() -> None:
    runs = 0

    def factory() -> ak.Tool:
        nonlocal runs
        runs += 1
        return make_search()

    @ak.tool
    def ready(x: int) -> int:
        return x

    registry = ak.ToolRegistry([ready])
    registry.register_lazy("search", factory)
    model = ak.SimulatedModel(script=[call("search", query="mcp"), "ok"])
    agent = ak.Agent("a", llm=model, tools=[registry])
    assert runs == 0
    async with agent:
        results = await asyncio.gather(*(agent.run("go") for _ in range(5)))
        assert set(agent.tool_map) == {"ready", "search"}
    assert runs == 1
    assert all(r.tool_calls[0].result == "results for mcp" for r in results)


async def test_a_failed_factory_reports_and_is_retried_next_time() -> None:
    attempts = 0

    async def flaky_factory() -> ak.Tool:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise OSError("index file missing")
        return make_search()

    registry = ak.ToolRegistry()
    registry.register_lazy("search", flaky_factory)
    with pytest.raises(ToolError, match=r"factory of lazy tool 'search' failed: OSError: index file missing"):
        await registry.get("search")
    assert (await registry.get("search")).name == "search"
    assert attempts == 2


async def test_registry_errors_name_the_problem() -> None:
    registry = ak.ToolRegistry()
    registry.register(make_search())
    with pytest.raises(UserError, match="already has a tool named 'search'"):
        registry.register_lazy("search", make_search)
    with pytest.raises(UserError, match="callable factory"):
        registry.register_lazy("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(ToolError, match="no tool named 'nope'.*registered: search"):
        await registry.get("nope")
    registry.register_lazy("other", make_search)  # returns a tool named "search"
    with pytest.raises(ToolError, match="returned a tool named 'search'"):
        await registry.get("other")


async def test_plain_functions_from_factories_take_the_registered_name() -> None:
    def fn(x: int) -> int:
        return x * 2

    registry = ak.ToolRegistry()
    registry.register_lazy("double", lambda: fn)
    tool = await registry.get("double")
    assert tool.name == "double" and await tool.call({"x": 2}) == 4


async def test_aclose_cancels_loads_in_flight() -> None:
    started = asyncio.Event()

    async def never() -> ak.Tool:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    registry = ak.ToolRegistry()
    registry.register_lazy("slow", never)
    waiter = asyncio.create_task(registry.get("slow"))
    await started.wait()
    await registry.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not registry.is_loaded("slow")


async def test_a_failing_source_among_several_fails_the_run_with_its_own_error() -> None:
    def broken_factory() -> ak.Tool:
        raise OSError("model weights missing")

    good, bad = ak.ToolRegistry(), ak.ToolRegistry()
    good.register_lazy("search", make_search)
    bad.register_lazy("embed", broken_factory)
    async with ak.Agent("a", tools=[good, bad]) as agent:
        with pytest.raises(ToolError, match="lazy tool 'embed' failed: OSError: model weights missing"):
            await agent.run("go")


async def test_a_lazy_tool_with_a_schema_is_built_on_its_first_call_and_a_failing_factory_only_fails_that_call() -> (
    None
):
    builds: list[int] = []

    def factory() -> ak.Tool:
        builds.append(1)
        if len(builds) == 1:
            raise OSError("index not mounted")

        @ak.tool
        def search(query: str) -> str:
            return f"found {query}"

        return search

    @ak.tool
    def ping() -> str:
        return "pong"

    registry = ak.ToolRegistry([ping])
    schema = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    registry.register_lazy("search", factory, parameters=schema, description="Search the index.", timeout=5)
    # A run that never calls the tool never builds it, and the model still sees its schema.
    quiet = ScriptedModel([call("ping"), "done"], record=True)
    assert (await ak.Agent("a", quiet, tools=[registry]).run("q")).content == "done"
    assert builds == [] and not registry.is_loaded("search")
    assert [t.name for t in quiet.requests[0].tools] == ["ping", "search"]
    assert quiet.requests[0].tools[1].parameters == schema

    agent = ak.Agent("b", ScriptedModel([call("search", query="x"), "after"]), tools=[registry])
    failed = await agent.run("q")
    record = failed.tool_calls[0]
    assert failed.content == "after" and record.error is not None
    assert "lazy tool 'search'" in record.error and "OSError: index not mounted" in record.error
    # Not cached as a failure: the next call builds it again, and works.
    ok = await agent.run("q")
    assert ok.tool_calls[0].result == "found x" and ok.tool_calls[0].error is None
    assert builds == [1, 1]


def test_lazy_policies_need_a_schema() -> None:
    with pytest.raises(UserError, match="need parameters="):
        ak.ToolRegistry().register_lazy("x", lambda: None, timeout=1)  # type: ignore[arg-type,return-value]
