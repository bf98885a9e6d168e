"""Streaming with agentickit, offline on the simulated model: `python examples/streaming.py`.

Shows live deltas and tool calls, batching with `flush_interval`, `text()`, `on_chunk` without a
reader, `cancel()`, and sync iteration.
"""

from __future__ import annotations

import asyncio

import agentickit as ak
from agentickit.providers.simulated import call


def weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny and 21 C in {city}"


async def main() -> None:
    model = ak.SimulatedModel(
        script=[call("weather", city="Lisbon"), "Lisbon is sunny and 21 C today, a fine day for a walk."],
        ttft=0.05,
        tokens_per_s=40,
    )
    agent = ak.Agent("guide", llm=model, tools=[weather])

    # 1. Every chunk as it happens: tool calls, their results, then the answer token by token.
    stream = agent.run_stream("What is the weather in Lisbon?", include_metadata=True)
    async for chunk in stream:
        if chunk.type is ak.ChunkType.TOOL_CALL:
            print(f"-> {chunk.tool_name}({chunk.tool_args})")
        elif chunk.type is ak.ChunkType.TOOL_RESULT:
            print(f"<- {chunk.tool_result}")
        elif chunk.type is ak.ChunkType.DELTA:
            print(chunk.delta, end="", flush=True)
        elif chunk.type is ak.ChunkType.METADATA and chunk.metadata:
            print(f"\n   ttft {chunk.metadata['ttft'] * 1000:.0f} ms, usage {chunk.metadata['usage']}")
    result = await stream.wait()  # the Result, or the run's typed error
    print(f"   {len(result.tool_calls)} tool call(s), {result.duration:.2f} s")

    # 2. Fewer, bigger deltas: at most one per 100 ms; the text is the same.
    chatty = ak.Agent("chatty", llm=ak.SimulatedModel(reply="one two three four five six seven eight", tokens_per_s=40))
    pieces = [text async for text in chatty.run_stream("count", flush_interval=0.1).text()]
    print(f"flush_interval=0.1: {len(pieces)} deltas: {pieces}")

    # 3. A callback and no reader: the stream runs by itself; returning False would stop it.
    stream = chatty.run_stream("count", on_chunk=lambda c: print(f"[{c.type.value}]", end=" "))
    await stream.wait()
    print()

    # 4. Cancel: the stream ends with ERROR(RunCancelledError) then DONE, and the model request closes.
    stream = chatty.run_stream("count")
    async for chunk in stream:
        if chunk.type is ak.ChunkType.DELTA and chunk.delta == " three":
            stream.cancel()
        elif chunk.type is ak.ChunkType.ERROR:
            print(f"stopped: {chunk.error}")


def sync_part() -> None:
    # 5. From plain synchronous code (no event loop): iterate, then wait_sync().
    agent = ak.Agent("sync", llm=ak.SimulatedModel(reply="hello from a plain for loop"))
    stream = agent.run_stream("hi", text_only=True)
    print("".join(c.delta or "" for c in stream), "->", stream.wait_sync().usage)


if __name__ == "__main__":
    asyncio.run(main())
    sync_part()
