"""Custom handlers and the early-exit pattern, offline: `python examples/handler_early_exit.py`.

A handler replaces the default LLM loop. It gets the user's input and working capabilities
(`caps.llm`, `caps.llm_stream`, `caps.tools`, `caps.memory`, `caps.emit`) and can answer without
calling the model at all: cheap paths first, the model last. Middleware wraps every run for
cross-cutting concerns (here a guardrail that short-circuits, and timing).
"""

from __future__ import annotations

import asyncio
import time

import agentickit as ak

FAQ = {
    "opening hours": "We are open 9:00-17:00, Monday to Friday.",
    "refund": "Refunds are processed within 5 business days.",
}


async def order_status(order_id: str) -> str:
    """The status of an order.

    Args:
        order_id: the order number, e.g. "A123".
    """
    return f"order {order_id} shipped yesterday"


async def support(input: str, caps: ak.Capabilities) -> str:
    """Answer from the FAQ, then from a tool, and only then ask the model."""
    text = input.lower()
    for topic, answer in FAQ.items():  # 1. cheapest: a dictionary lookup, no model call
        if topic in text:
            return answer
    if "order" in text and caps.tools.is_available("order_status"):  # 2. a tool, still no model call
        order_id = input.split()[-1].strip("?.!")
        return await caps.tools.call("order_status", order_id=order_id)
    past = await caps.memory.query(input, k=2)  # 3. the model, with what the user said before
    context = " ".join(m.content or "" for m in past)
    system = "You are a support agent." + (f" Earlier in this conversation: {context}" if context else "")
    parts = [delta async for delta in caps.llm_stream(system, input)]  # deltas reach run_stream callers
    return "".join(parts)


class Guardrail(ak.Middleware):
    """Refuses some requests before anything else runs."""

    async def before_run(self, ctx: ak.MiddlewareContext) -> str | None:
        if "password" in ctx.input.lower():
            return "I can't help with passwords; please use the reset link."
        return None


class Timing(ak.Middleware):
    """Adds the wall time of every run to its metadata."""

    async def before_run(self, ctx: ak.MiddlewareContext) -> None:
        ctx.state["start"] = time.perf_counter()

    async def after_run(self, ctx: ak.MiddlewareContext, result: ak.Result) -> None:
        result.metadata["ms"] = round((time.perf_counter() - ctx.state["start"]) * 1000, 2)


async def main() -> None:
    model = ak.SimulatedModel(reply="Let me look into that for you.", ttft=0.2, tokens_per_s=50)
    agent = ak.Agent(
        "support",
        llm=model,
        tools=[order_status],
        memory=ak.Memory(history_limit=10),
        handler=support,
        middleware=[Timing(), Guardrail()],  # Timing wraps the guardrail, so it times refusals too
    )
    async with agent:
        for question in (
            "What are your opening hours?",
            "Where is my order A123?",
            "What is my password?",
            "My parcel arrived damaged, what now?",
        ):
            result = await agent.run(question, session_id="customer-1")
            model_calls = result.usage.requests
            print(f"{question!r}\n  -> {result.content}  [{model_calls} model call(s), {result.metadata['ms']} ms]")

        print("\nStreaming the slow path (deltas come from caps.llm_stream):")
        async for text in agent.run_stream("Can I change my delivery address?", session_id="customer-1").text():
            print(text, end="", flush=True)
        print()


if __name__ == "__main__":
    asyncio.run(main())
