"""`Channel.send_many`: a batch of chunks at once, under the same bound as `send`."""

from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.streaming import Chunk, ChunkType, Stream, StreamOptions
from agentickit.streaming._channel import Channel
from agentickit.streaming._chunk import text_chunk, text_chunks


def _deltas(n: int, start: int = 0) -> list[Chunk]:
    chunks = text_chunks([f"{i}," for i in range(start, start + n)], 1.0)
    assert chunks is not None
    return chunks


@pytest.mark.parametrize("buffer_size", [1, 7, 100])
async def test_batches_larger_than_the_buffer_keep_the_bound(buffer_size: int) -> None:
    ch_seen: list[Channel] = []

    async def producer(sink: Channel) -> str:
        ch_seen.append(sink)
        for start in range(0, 1000, 250):
            w = sink.send_many(_deltas(250, start), ChunkType.DELTA)
            if w is not None:
                await w
        return "ok"

    stream = Stream(producer, StreamOptions(buffer_size=buffer_size))
    got: list[str] = []
    most = 0
    async with asyncio.timeout(5):
        async for chunk in stream:
            if chunk.type is ChunkType.DELTA:
                got.append(chunk.delta or "")
                most = max(most, len(ch_seen[0].buf))
                await asyncio.sleep(0)  # a slow reader: the producer runs whenever it can
    assert got == [f"{i}," for i in range(1000)]
    # Read right after a pop: the buffer never held more than the bound, and was filled to it.
    assert most == buffer_size - 1
    assert await stream.wait() == "ok"
    assert stream.metadata["chunk_counts"]["delta"] == 1000


async def test_mixed_batch_is_counted_by_type_and_filtered() -> None:
    async def producer(sink: Channel) -> None:
        batch = [text_chunk(ChunkType.THOUGHT, "hm", 1.0), *_deltas(3)]
        w = sink.send_many(batch)
        if w is not None:
            await w

    full = Stream(producer)
    assert [c.type for c in [c async for c in full]][:4] == [ChunkType.THOUGHT] + [ChunkType.DELTA] * 3
    assert full.metadata["chunk_counts"] == {"thought": 1, "delta": 3, "done": 1}
    text_only = Stream(producer, StreamOptions(text_only=True))
    assert [c.delta async for c in text_only if c.type is ChunkType.DELTA] == ["0,", "1,", "2,"]
    assert "thought" not in text_only.metadata["chunk_counts"]


async def test_batch_with_flush_interval_is_coalesced() -> None:
    async def producer(sink: Channel) -> None:
        for start in range(0, 40, 10):
            w = sink.send_many(_deltas(10, start), ChunkType.DELTA)
            if w is not None:
                await w

    stream = Stream(producer, StreamOptions(flush_interval=60.0))
    deltas = [c.delta async for c in stream if c.type is ChunkType.DELTA]
    # The first token goes at once, the rest is held back and joined, and nothing is lost.
    assert deltas == ["0,", "".join(f"{i}," for i in range(1, 40))]


async def test_send_many_after_the_end_is_ignored() -> None:
    ch = Channel(4)
    ch.close([Chunk(ChunkType.DONE)])
    assert ch.send_many(_deltas(5), ChunkType.DELTA) is None
    assert [c.type for c in ch.take_all()] == [ChunkType.DONE]
    assert ch.counts[ChunkType.DELTA] == 0


async def test_text_chunks_stop_at_a_non_str() -> None:
    assert text_chunks(["a", ak.ChunkType.DELTA, "b"], 1.0) is None
    made = text_chunks(["a", "b"], 2.5)
    assert made is not None
    assert [(c.type, c.delta, c.timestamp, c.step_name, c.content, c.index) for c in made] == [
        (ChunkType.DELTA, "a", 2.5, None, None, 0),
        (ChunkType.DELTA, "b", 2.5, None, None, 0),
    ]
    assert repr(made[0]) == repr(Chunk(ChunkType.DELTA, "a"))
