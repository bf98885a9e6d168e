from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.agent import ChunkSink

T = ak.ChunkType


async def collect(stream: ak.Stream[ak.WorkflowResult]) -> list[ak.Chunk]:
    async with asyncio.timeout(5):
        return [c async for c in stream]


def deltas(chunks: list[ak.Chunk], step: str) -> str:
    return "".join(c.delta or "" for c in chunks if c.type is T.DELTA and c.step_name == step)


def assert_one_done_last(chunks: list[ak.Chunk]) -> None:
    assert [c.type for c in chunks].count(T.DONE) == 1
    assert chunks[-1].type is T.DONE


async def test_sequential_stream_tags_every_chunk_and_ends_with_one_done() -> None:
    first = ak.Agent("first", llm=ak.SimulatedModel(reply="alpha beta gamma"))
    second = ak.Agent("second", llm=ak.SimulatedModel(reply="echo"))
    wf = ak.SequentialWorkflow("s").add_step("first", first).add_step("second", second)
    stream = wf.run_stream("go")
    chunks = await collect(stream)
    result = await stream.wait()

    assert_one_done_last(chunks)
    lifecycle = [(c.type, c.step_name) for c in chunks if c.type in (T.AGENT_START, T.AGENT_COMPLETE)]
    assert lifecycle == [
        (T.AGENT_START, "first"),
        (T.AGENT_COMPLETE, "first"),
        (T.AGENT_START, "second"),
        (T.AGENT_COMPLETE, "second"),
    ]
    assert all(c.step_name in ("first", "second") for c in chunks if c.type is not T.DONE)
    assert deltas(chunks, "first") == "alpha beta gamma"
    assert deltas(chunks, "second") == "alpha beta gamma"  # the echo of the first step's output
    complete = [c for c in chunks if c.type is T.AGENT_COMPLETE]
    assert complete[0].metadata is not None and complete[0].metadata["status"] == "ok"
    assert complete[0].metadata["duration"] >= 0 and complete[0].content == "alpha beta gamma"
    assert isinstance(result, ak.WorkflowResult) and result.content == "alpha beta gamma"


class LockStep:
    """An agent-like whose stream sends its tokens in turn with a partner (a real ak.Stream)."""

    def __init__(self, name: str, mine: asyncio.Event, theirs: asyncio.Event, first: bool) -> None:
        self.name = name
        self.mine = mine
        self.theirs = theirs
        self.first = first

    async def run(self, query: str) -> ak.Result:
        return ak.Result(content=f"{self.name}1{self.name}2")

    def run_stream(self, query: str) -> ak.Stream[ak.Result]:
        async def produce(sink: ChunkSink) -> ak.Result:
            if not self.first:
                await self.theirs.wait()
                self.theirs.clear()
            for i in (1, 2):
                w = sink.send(ak.Chunk(T.DELTA, f"{self.name}{i}"))
                if w is not None:
                    await w
                self.mine.set()
                if i == 1:
                    await self.theirs.wait()
                    self.theirs.clear()
            return ak.Result(content=f"{self.name}1{self.name}2")

        return ak.Stream(produce)


async def test_parallel_steps_stream_at_the_same_time() -> None:
    a_turn, b_turn = asyncio.Event(), asyncio.Event()
    wf = ak.ParallelWorkflow("p")
    wf.add_step("a", LockStep("a", a_turn, b_turn, first=True))
    wf.add_step("b", LockStep("b", b_turn, a_turn, first=False))
    stream = wf.run_stream("go")
    chunks = await collect(stream)
    result = await stream.wait()
    # Each step's second token needs the other's first: run one at a time, this would deadlock.
    order = [c.step_name or "" for c in chunks if c.type is T.DELTA]
    assert sorted(order) == ["a", "a", "b", "b"]
    assert order != ["a", "a", "b", "b"] and order != ["b", "b", "a", "a"]
    assert deltas(chunks, "a") == "a1a2" and deltas(chunks, "b") == "b1b2"
    assert result.outputs == {"a": "a1a2", "b": "b1b2"}
    assert_one_done_last(chunks)


async def test_a_failed_step_is_an_error_chunk_never_a_success() -> None:
    async def boom(text: str) -> str:
        raise ValueError("step broke")

    wf = ak.DAGWorkflow("d").add_step("ok", lambda t: "fine").add_step("boom", boom)
    wf.add_step("after", lambda t: t, depends_on=["boom"])
    stream = wf.run_stream("x")
    chunks = await collect(stream)
    assert_one_done_last(chunks)
    errors = [c for c in chunks if c.type is T.ERROR]
    assert errors[0].step_name == "boom" and isinstance(errors[0].error, ValueError)
    assert errors[-1] is chunks[-2] and isinstance(errors[-1].error, ak.errors.WorkflowError)  # the workflow's
    complete = {c.step_name: c.metadata for c in chunks if c.type is T.AGENT_COMPLETE}
    assert complete["boom"] is not None and complete["boom"]["status"] == "failed"
    assert complete["ok"] is not None and complete["ok"]["status"] == "ok"
    assert "after" not in complete  # never started
    with pytest.raises(ak.errors.WorkflowError) as info:
        await stream.wait()
    assert info.value.result.steps["after"].status is ak.StepStatus.SKIPPED


async def test_failed_agent_step_streams_its_error_once() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(max_retries=0))
    wf = ak.SequentialWorkflow("s").add_step("a", agent)
    stream = wf.run_stream("hi [[sim:401]]")
    chunks = await collect(stream)
    step_errors = [c for c in chunks if c.type is T.ERROR and c.step_name == "a"]
    assert len(step_errors) == 1 and isinstance(step_errors[0].error, ak.errors.AuthenticationError)
    assert_one_done_last(chunks)


async def test_nested_subworkflow_chunks_are_tagged_with_their_path() -> None:
    inner = ak.SequentialWorkflow("inner").add_step("write", ak.Agent("w", llm=ak.SimulatedModel(reply="inner text")))
    outer = ak.SequentialWorkflow("outer").add_step("prep", lambda t: t).add_step("sub", inner.as_agent())
    chunks = await collect(outer.run_stream("x"))
    tags = [(c.type, c.step_name) for c in chunks if c.type in (T.AGENT_START, T.AGENT_COMPLETE)]
    assert tags == [
        (T.AGENT_START, "prep"),
        (T.AGENT_COMPLETE, "prep"),
        (T.AGENT_START, "sub"),
        (T.AGENT_START, "sub/write"),
        (T.AGENT_COMPLETE, "sub/write"),
        (T.AGENT_COMPLETE, "sub"),
    ]
    assert deltas(chunks, "sub/write") == "inner text"
    assert_one_done_last(chunks)


async def test_timeouts_stream_the_steps_that_were_cut_off() -> None:
    async def hang(text: str) -> str:
        await asyncio.Event().wait()
        return "never"

    wf = ak.ParallelWorkflow("p", timeout=0.02).add_step("fast", lambda t: "fast").add_step("hang", hang)
    stream = wf.run_stream("x")
    chunks = await collect(stream)
    hang_chunks = [(c.type, (c.metadata or {}).get("status")) for c in chunks if c.step_name == "hang"]
    assert hang_chunks == [(T.AGENT_START, None), (T.ERROR, "timed_out"), (T.AGENT_COMPLETE, "timed_out")]
    assert chunks[-2].type is T.ERROR and isinstance(chunks[-2].error, ak.errors.WorkflowTimeoutError)
    assert_one_done_last(chunks)
    with pytest.raises(ak.errors.WorkflowTimeoutError) as info:
        await stream.wait()
    assert info.value.result.steps["fast"].output == "fast"


async def test_cancelling_the_stream_cancels_running_steps() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def hang(text: str) -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    wf = ak.ParallelWorkflow("p").add_step("hang", hang)
    stream = wf.run_stream("x")
    got: list[ak.Chunk] = []
    async with asyncio.timeout(5):
        async for chunk in stream:
            got.append(chunk)
            if chunk.type is T.AGENT_START:
                await started.wait()
                stream.cancel()
        await stream.aclose()
    assert cancelled.is_set()
    assert_one_done_last(got)
    assert isinstance(got[-2].error, ak.errors.RunCancelledError)


async def test_text_only_stream_keeps_deltas_errors_and_done() -> None:
    wf = ak.SequentialWorkflow("s").add_step("a", ak.Agent("a", llm=ak.SimulatedModel(reply="one two")))
    chunks = await collect(wf.run_stream("x", text_only=True))
    assert {c.type for c in chunks} == {T.DELTA, T.DONE}
    assert deltas(chunks, "a") == "one two"


async def test_as_agent_stream_and_function_step_output_in_complete() -> None:
    wf = ak.SequentialWorkflow("s").add_step("f", lambda t: t.upper())
    stream = wf.as_agent("named", max_depth=1).run_stream("abc")
    chunks = await collect(stream)
    complete = [c for c in chunks if c.type is T.AGENT_COMPLETE]
    assert complete[0].content == "ABC"
    assert (await stream.wait()).content == "ABC"


def test_run_stream_options_are_checked() -> None:
    wf = ak.SequentialWorkflow("s").add_step("f", lambda t: t)
    with pytest.raises(ak.errors.UserError, match="buffer_size"):
        wf.run_stream("x", buffer_size=0)


async def test_a_stopping_step_completes_with_the_final_answer() -> None:
    async def decide(text: str) -> str:
        raise ak.stop("final")

    wf = ak.SequentialWorkflow("s").add_step("decide", decide).add_step("never", lambda t: t)
    stream = wf.run_stream("x")
    chunks = await collect(stream)
    complete = [c for c in chunks if c.type is T.AGENT_COMPLETE]
    assert [c.step_name for c in complete] == ["decide"]
    assert complete[0].content == "final" and complete[0].metadata == {
        "step": "decide",
        "status": "ok",
        "duration": complete[0].metadata["duration"] if complete[0].metadata else None,
        "stopped": True,
    }
    assert (await stream.wait()).content == "final"
    assert_one_done_last(chunks)


async def test_an_agent_step_streams_into_the_workflows_sink_without_a_stream_of_its_own() -> None:
    # Item 7 of issue 12: the step's loop writes into the workflow's channel; no second Stream, task
    # or buffer, so the chunk objects the model loop made are the ones the reader gets, tagged.
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="one two three", tools_mode="never"))
    wf = ak.SequentialWorkflow("w").add_step("only", agent)
    tasks_before = len(asyncio.all_tasks())
    seen_tasks: list[int] = []

    async def on(chunk: ak.Chunk) -> None:
        seen_tasks.append(len(asyncio.all_tasks()))

    stream = wf.run_stream("go", on_chunk=on)
    chunks = await collect(stream)
    await stream.wait()
    assert deltas(chunks, "only") == "one two three"
    # The reader's task and the workflow's one producer task: a per-step stream would add its own.
    assert max(seen_tasks) <= tasks_before + 1
    ttft = agent.metrics().ttft_p50
    assert ttft is not None and ttft >= 0
