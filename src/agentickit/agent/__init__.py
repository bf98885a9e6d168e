"""Agents: `Agent`, its builder, presets, and `Result`."""

from ._agent import Agent, ToolLike
from ._builder import AgentBuilder
from ._presets import chat_agent, data_agent, research_agent
from ._result import Result
from ._run import DEFAULT_MAX_TOOL_ROUNDS, new_run_id
from ._sink import ChunkSink

__all__ = (
    "Agent",
    "AgentBuilder",
    "ChunkSink",
    "DEFAULT_MAX_TOOL_ROUNDS",
    "Result",
    "ToolLike",
    "chat_agent",
    "data_agent",
    "new_run_id",
    "research_agent",
)
