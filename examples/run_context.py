"""Deps for tools, images in and out, usage limits and fallback models, offline: `python examples/run_context.py`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import agentickit as ak
from agentickit.errors import UsageLimitExceeded

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Deps:
    """What the service hands its tools instead of globals: a database, a client, settings."""

    customers: dict[str, str]


@ak.tool
async def customer(ctx: ak.RunContext[Deps], customer_id: str) -> str:
    """Look a customer up.

    Args:
        customer_id: the id, e.g. "c1".
    """
    # `ctx` is not in the schema the model sees; pyright knows `ctx.deps` is a `Deps`.
    return ctx.deps.customers.get(customer_id, "unknown")


@ak.tool
async def chart(title: str) -> ak.BinaryContent:
    """Draw a chart (the model gets the image).

    Args:
        title: the chart's title.
    """
    return ak.BinaryContent(PNG, media_type="image/png")


async def main() -> None:
    deps = Deps({"c1": "Ada Lovelace"})
    agent = ak.Agent("support", tools=[customer], usage_limits=ak.UsageLimits(request_limit=5))
    result = await agent.run("c1", deps=deps)
    print("tool saw:", result.tool_calls[0].result)

    # Images and documents as input; a plain string stays the common case.
    seen = await ak.Agent("eyes", llm="simulated:echo").run(["What is this?", ak.BinaryContent(PNG, "image/png")])
    print("with an image:", seen.content, "| input tokens:", seen.usage.input_tokens)

    # A tool may return an image; it reaches the model the way its API allows.
    drawn = await ak.Agent("artist", tools=[chart]).run("sales")
    print("tool message:", next(m.content for m in drawn.messages if m.role == "tool"))

    # A budget: exceeding it raises UsageLimitExceeded naming the limit, with the partial result.
    try:
        await agent.run("c1", deps=deps, usage_limits=ak.UsageLimits(tool_calls_limit=0))
    except UsageLimitExceeded as exc:
        print("stopped:", exc.limit, exc.value, "| partial requests:", exc.result.usage.requests)

    # Fallback: the first model is rate limited, the second answers.
    limited = ak.SimulatedModel(failures=["429"], max_retries=0, model_name="primary")
    backup = ak.SimulatedModel(reply="from the backup", model_name="backup")
    answered = await ak.Agent("fb", llm=[limited, backup]).run("hi")
    print("answered by:", answered.metadata["model"], "| fallbacks:", answered.metadata["fallbacks"])


if __name__ == "__main__":
    asyncio.run(main())
