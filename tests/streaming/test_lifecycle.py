"""How streams end: cancel, timeout, early break, on_chunk, sync iteration, text(), wait(), metadata."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import RunCancelledError, RunTimeoutError, ServerError, UserError
from agentickit.streaming import Chunk, ChunkType

D, E, DONE = ChunkType.DELTA, ChunkType.ERROR, ChunkType.DONE
LONG = " ".join(f"w{i}" for i in range(300))
OnlyTaskLeft = Callable[[], Awaitable[None]]


async def test_cancel_mid_stream_ends_with_error_done_and_closes_the_model_stream(probe: Callable[..., Any]) -> None:
    model = probe(reply=LONG, tokens_per_s=200)
    stream = ak.Agent("a", llm=model).run_stream("go")
    seen: list[Chunk] = []
    async with asyncio.timeout(5):
        async for chunk in stream:
            seen.append(chunk)
            if len(seen) == 3:
                stream.cancel()
                start = time.perf_counter()
                await model.closed_event.wait()
                assert time.perf_counter() - start < 0.1
    assert [c.type for c in seen] == [D, D, D, E, DONE]
    assert isinstance(seen[3].error, RunCancelledError)
    with pytest.raises(RunCancelledError):
        await stream.wait()
    assert model.closed == model.opened == 1
    assert model.produced < 300


async def test_timeout_ends_with_error_done_and_closes_upstream(probe: Callable[..., Any]) -> None:
    model = probe(reply=LONG, tokens_per_s=100)
    stream = ak.Agent("a", llm=model).run_stream("go", timeout=0.1)
    async with asyncio.timeout(5):
        chunks = [c async for c in stream]
    assert [c.type for c in chunks[-2:]] == [E, DONE]
    assert isinstance(chunks[-2].error, RunTimeoutError)
    assert "timeout of 0.1 s" in str(chunks[-2].error)
    assert 0 < sum(c.type is D for c in chunks) < 300
    with pytest.raises(RunTimeoutError):
        await stream.wait()
    assert model.closed == model.opened == 1


async def test_timeout_also_fires_while_the_consumer_is_slow(probe: Callable[..., Any]) -> None:
    model = probe(reply=LONG)
    stream = ak.Agent("a", llm=model).run_stream("go", timeout=0.05, buffer_size=2)
    it = aiter(stream)
    first = await anext(it)
    async with asyncio.timeout(5):
        await model.closed_event.wait()  # the deadline passed while the producer waited on us
    rest = [c async for c in it]
    assert first.type is D and [c.type for c in rest[-2:]] == [E, DONE]
    assert isinstance(rest[-2].error, RunTimeoutError)


async def test_run_option_timeout_is_a_typed_error_too() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply=LONG, tokens_per_s=100))
    stream = agent.run_stream("go", options=ak.RunOptions(timeout=0.05))
    async with asyncio.timeout(5):
        chunks = [c async for c in stream]
    assert [c.type for c in chunks[-2:]] == [E, DONE] and isinstance(chunks[-2].error, RunTimeoutError)


async def test_breaking_out_early_leaks_no_task_and_closes_the_model_stream(
    probe: Callable[..., Any], only_task_left: OnlyTaskLeft
) -> None:
    model = probe(reply=LONG, tokens_per_s=500)
    stream = ak.Agent("a", llm=model).run_stream("go")
    async with asyncio.timeout(5):
        async for chunk in stream:
            if chunk.type is D:
                break
        await model.closed_event.wait()
        await only_task_left()
    assert model.closed == 1 and stream.done
    with pytest.raises(RunCancelledError, match="stopped iterating"):
        await stream.wait()


async def test_reader_cancelled_cancels_the_run(probe: Callable[..., Any], only_task_left: OnlyTaskLeft) -> None:
    model = probe(reply=LONG, tokens_per_s=200)
    stream = ak.Agent("a", llm=model).run_stream("go")
    first = asyncio.Event()

    async def reader() -> None:
        async for _ in stream:
            first.set()

    task = asyncio.create_task(reader())
    async with asyncio.timeout(5):
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await model.closed_event.wait()
        await only_task_left()
    assert model.closed == 1


async def test_async_with_closes_the_stream_on_exit(probe: Callable[..., Any], only_task_left: OnlyTaskLeft) -> None:
    model = probe(reply=LONG, tokens_per_s=500)
    async with asyncio.timeout(5):
        async with ak.Agent("a", llm=model).run_stream("go") as stream:
            async for chunk in stream:
                if chunk.type is D:
                    break
        # __aexit__ waited for the run's task: upstream is closed and nothing is left running
        assert model.closed == 1
        await only_task_left()
        async with ak.Agent("b", llm=ak.SimulatedModel(reply="ok")).run_stream("go") as whole:
            texts = [t async for t in whole.text()]
        assert texts == ["ok"] and (await whole.wait()).content == "ok"


async def test_wait_without_iterating_returns_the_result() -> None:
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="all of it")).run_stream("go", buffer_size=1)
    async with asyncio.timeout(5):
        result = await stream.wait()
    assert result.content == "all of it"
    assert stream.metadata["chunk_counts"] == {"delta": 3, "text": 1, "done": 1}


async def test_wait_after_a_partial_read_reads_the_rest() -> None:
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply=LONG)).run_stream("go", buffer_size=5)
    it = aiter(stream)
    assert (await anext(it)).delta == "w0"
    async with asyncio.timeout(5):
        result = await stream.wait()
    assert result.content == LONG


async def test_text_yields_the_text_and_raises_the_run_error() -> None:
    agent = ak.Agent("a", llm=ak.SimulatedModel(reply="hello big world", max_retries=0))
    async with asyncio.timeout(5):
        assert [t async for t in agent.run_stream("hi").text()] == ["hello", " big", " world"]
        with pytest.raises(ServerError):
            async for _ in agent.run_stream("[[sim:500]]").text():
                pass


async def test_metadata_has_run_id_agent_started_at_and_counts() -> None:
    agent = ak.Agent("meta", llm=ak.SimulatedModel(reply="a b"))
    stream = agent.run_stream("go")
    before = stream.metadata
    assert before["status"] == "pending" and before["started_at"] is None and before["chunk_counts"] == {}
    t0 = time.time()
    async with asyncio.timeout(5):
        result = await stream.wait()
    md = stream.metadata
    assert md["agent_name"] == "meta" and md["run_id"] == result.run_id
    assert t0 - 1 <= md["started_at"] <= time.time()
    assert md["chunk_counts"] == {"delta": 2, "text": 1, "done": 1}
    assert md["ttft"] is not None and md["duration"] >= md["ttft"]
    assert md["status"] == "ok"


# -- on_chunk ---------------------------------------------------------------------------------------


async def test_on_chunk_runs_for_every_chunk_without_a_reader() -> None:
    seen: list[Chunk] = []
    finished = asyncio.Event()

    async def on_chunk(chunk: Chunk) -> None:
        seen.append(chunk)
        if chunk.type is DONE:
            finished.set()

    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="x y z")).run_stream("go", on_chunk=on_chunk, buffer_size=1)
    async with asyncio.timeout(5):
        await finished.wait()  # nobody iterates or waits: the stream drives itself
    assert [c.type for c in seen] == [D, D, D, ChunkType.TEXT, DONE]
    assert (await stream.wait()).content == "x y z"


async def test_on_chunk_false_stops_like_cancel(probe: Callable[..., Any]) -> None:
    seen: list[ChunkType] = []

    def on_chunk(chunk: Chunk) -> bool:
        seen.append(chunk.type)
        return len(seen) < 3

    model = probe(reply=LONG, tokens_per_s=500)
    stream = ak.Agent("a", llm=model).run_stream("go", on_chunk=on_chunk)
    async with asyncio.timeout(5):
        with pytest.raises(RunCancelledError, match="on_chunk returned False"):
            await stream.wait()
    assert seen == [D, D, D, E, DONE]
    assert model.closed == 1


async def test_sync_on_chunk_runs_off_the_loop(loop_lag: Any) -> None:
    threads: set[int] = set()

    def slow(chunk: Chunk) -> None:
        threads.add(threading.get_ident())
        time.sleep(0.25)  # would stall every other task for as long if it ran on the loop

    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="a")).run_stream("go", on_chunk=slow)
    async with asyncio.timeout(5):
        result = await stream.wait()
    assert result.content == "a"
    assert threading.get_ident() not in threads
    # generous against a loaded machine, still well under one blocked call
    assert loop_lag.max_lag < 0.2


async def test_on_chunk_error_fails_the_stream_with_that_error() -> None:
    seen: list[ChunkType] = []

    async def on_chunk(chunk: Chunk) -> None:
        seen.append(chunk.type)
        if len(seen) == 2:
            raise KeyError("boom")

    stream = ak.Agent("a", llm=ak.SimulatedModel(reply=LONG)).run_stream("go", on_chunk=on_chunk)
    async with asyncio.timeout(5):
        with pytest.raises(KeyError):
            await stream.wait()
    assert seen == [D, D, E, DONE]


async def test_on_chunk_with_a_reader_sees_what_the_reader_sees() -> None:
    tapped: list[Chunk] = []
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="x y z")).run_stream("go", on_chunk=tapped.append)
    async with asyncio.timeout(5):
        read = [c async for c in stream]
    assert tapped == read and read[-1].type is DONE


async def test_on_chunk_stream_cannot_be_iterated_once_it_drove_itself() -> None:
    done = asyncio.Event()
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="x")).run_stream(
        "go", on_chunk=lambda c: done.set() if c.type is DONE else None
    )
    async with asyncio.timeout(5):
        await stream.wait()
    with pytest.raises(UserError, match="on_chunk"):
        aiter(stream)


# -- sync iteration ---------------------------------------------------------------------------------


def test_sync_iteration_from_plain_code() -> None:
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="one two")).run_stream("go")
    chunks = list(stream)
    assert [c.type for c in chunks] == [D, D, ChunkType.TEXT, DONE]
    assert stream.wait_sync().content == "one two"


def test_sync_iteration_break_cancels_and_closes(probe: Callable[..., Any]) -> None:
    model = probe(reply=LONG)
    stream = ak.Agent("a", llm=model).run_stream("go", buffer_size=4)
    for chunk in stream:
        assert chunk.type is D
        break
    # sync iteration takes a batch at a time, so the producer may be one more buffer ahead
    assert model.closed == 1 and model.produced <= 2 * 4
    with pytest.raises(RunCancelledError):
        stream.wait_sync()


def test_wait_sync_without_iterating() -> None:
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply="fine")).run_stream("go", on_chunk=lambda c: None)
    assert stream.wait_sync().content == "fine"


async def test_sync_iteration_inside_a_loop_is_refused() -> None:
    stream = ak.Agent("a").run_stream("go")
    with pytest.raises(UserError, match="async for"):
        iter(stream)
    with pytest.raises(UserError, match="await stream.wait"):
        stream.wait_sync()
    await stream.aclose()


async def test_wait_in_another_task_leaves_the_chunks_to_the_reader() -> None:
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply=LONG)).run_stream("go", buffer_size=3)
    read: list[str] = []

    async def reader() -> None:
        async for chunk in stream:
            if chunk.type is D:
                read.append(chunk.delta or "")
            await asyncio.sleep(0)

    async with asyncio.timeout(5):
        async with asyncio.TaskGroup() as tg:
            tg.create_task(reader())
            await asyncio.sleep(0)  # let the reader claim the stream first
            result = await stream.wait()
    assert "".join(read) == result.content == LONG


async def test_cancel_from_another_thread(probe: Callable[..., Any]) -> None:
    model = probe(reply=LONG, tokens_per_s=200)
    stream = ak.Agent("a", llm=model).run_stream("go")
    types: list[ChunkType] = []
    async with asyncio.timeout(5):
        async for chunk in stream:
            types.append(chunk.type)
            if len(types) == 1:
                await asyncio.to_thread(stream.cancel)
    assert types[-2:] == [E, DONE] and types.count(D) < 300
    assert model.closed == 1


def test_cancel_from_another_thread_during_sync_iteration() -> None:
    stream = ak.Agent("a", llm=ak.SimulatedModel(reply=LONG, tokens_per_s=200)).run_stream("go")
    types: list[ChunkType] = []
    for chunk in stream:
        types.append(chunk.type)
        if len(types) == 1:
            threading.Timer(0.01, stream.cancel).start()
    assert types[-2:] == [E, DONE] and types.count(D) < 300


def test_sync_iteration_with_tools_twice() -> None:
    # Each sync iteration runs on its own private loop; what a run opens there (model, tool cache)
    # must be closed with it, or the second iteration would reuse objects of a dead loop.
    def weather(city: str) -> str:
        """Weather."""
        return f"sunny in {city}"

    agent = ak.Agent("a", llm=ak.SimulatedModel(), tools=[weather])
    for _ in range(2):
        stream = agent.run_stream("weather in Oslo")
        types = [c.type for c in stream]
        assert ChunkType.TOOL_CALL in types and types[-1] is DONE
        assert "sunny in Oslo" in stream.wait_sync().content
