"""Presets: agents configured for common jobs. Each returns a plain `Agent`; every argument can be overridden."""

from __future__ import annotations

from typing import Any

from ..memory import Memory
from ..options import RunOptions
from ..providers._registry import LLMSpec
from ._agent import Agent

__all__ = ("chat_agent", "data_agent", "research_agent")


def chat_agent(name: str = "chat", llm: LLMSpec = "simulated", **kwargs: Any) -> Agent:
    """A conversational assistant: remembers the last 20 messages per `session_id`, temperature 0.7."""
    kwargs.setdefault("system_prompt", "You are a helpful, friendly assistant. Answer clearly and concisely.")
    kwargs.setdefault("memory", Memory(history_limit=20))
    kwargs.setdefault("options", RunOptions(temperature=0.7))
    return Agent(name, llm, **kwargs)


def research_agent(name: str = "research", llm: LLMSpec = "simulated", **kwargs: Any) -> Agent:
    """A tool-using researcher: low temperature, up to 8 tool rounds, 30 s default tool timeout."""
    kwargs.setdefault(
        "system_prompt",
        "You are a meticulous research assistant. Use the available tools to gather facts, "
        "cite what the tools returned, and say when something could not be verified.",
    )
    kwargs.setdefault("options", RunOptions(temperature=0.2, max_tool_rounds=8))
    kwargs.setdefault("tool_timeout", 30.0)
    return Agent(name, llm, **kwargs)


def data_agent(name: str = "data", llm: LLMSpec = "simulated", **kwargs: Any) -> Agent:
    """A deterministic data worker for extraction and transformation: temperature 0.0, stateless."""
    kwargs.setdefault(
        "system_prompt",
        "You are a precise data assistant. Extract, transform and summarise data exactly; "
        "answer with the data only, no commentary.",
    )
    kwargs.setdefault("options", RunOptions(temperature=0.0))
    kwargs.setdefault("tool_timeout", 60.0)
    return Agent(name, llm, **kwargs)
