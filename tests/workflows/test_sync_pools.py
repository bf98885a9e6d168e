"""`run_sync()` of a workflow closes the HTTP pools its agent steps opened on the run's private loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

import agentickit as ak
from agentickit.simulator import SimulatorServer


class ServerThread:
    """A simulate-llm server on its own loop in a thread: the sync run below owns the main thread's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = SimulatorServer(reply="pooled answer")
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.aclose(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def open_connections(self) -> int:
        async def count() -> int:
            runner = self.server._runner
            assert runner is not None and runner.server is not None
            return len(runner.server.connections)

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(10)

    def wait_closed(self, within: float = 5.0) -> int:
        deadline = time.monotonic() + within
        while (n := self.open_connections()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return n


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread() as srv:
        yield srv


def _agent(srv: ServerThread) -> ak.Agent:
    llm = ak.LLMConfig(provider="openai", model="sim", base_url=f"{srv.server.base_url}/v1", api_key="sk-test")
    return ak.Agent("http", llm=llm)


def test_workflow_run_sync_closes_the_http_pools_of_its_agent_steps(server: ServerThread) -> None:
    agent = _agent(server)
    wf = ak.SequentialWorkflow("w").add_step("ask", agent).add_step("shout", lambda t: t.upper())
    result = wf.run_sync("go")
    assert result.content == "POOLED ANSWER"
    # The step's model was closed and dropped on the run's loop: its keep-alive connection is gone
    # and the next call opens a new pool on its own loop.
    assert agent._model is None
    assert server.wait_closed() == 0
    assert wf.run_sync("again").content == "POOLED ANSWER"
    assert server.wait_closed() == 0


def test_sync_iteration_of_a_workflow_stream_closes_the_pools_too(server: ServerThread) -> None:
    agent = _agent(server)
    wf = ak.SequentialWorkflow("w").add_step("ask", agent)
    stream = wf.run_stream("go")
    text = "".join(c.delta or "" for c in stream if c.type is ak.ChunkType.DELTA)
    assert text == "pooled answer"
    assert stream.wait_sync().content == "pooled answer"
    assert agent._model is None
    assert server.wait_closed() == 0


def test_nested_and_shared_agent_steps_are_closed_once(server: ServerThread) -> None:
    agent = _agent(server)
    inner = ak.SequentialWorkflow("inner").add_step("ask", agent)
    outer = ak.ParallelWorkflow("outer").add_step("a", agent).add_step("b", inner.as_agent())
    result = outer.run_sync("go")
    assert result.steps["a"].output == "pooled answer" and result.steps["b"].output == "pooled answer"
    assert agent._model is None
    assert server.wait_closed() == 0
