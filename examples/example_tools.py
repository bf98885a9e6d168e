"""Tools used by `examples/agent.toml` and `examples/workflow.toml` (imported by path from the config)."""

from __future__ import annotations


async def weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: the city's name, e.g. "Lisbon".
    """
    return f"sunny and 21 C in {city}"
