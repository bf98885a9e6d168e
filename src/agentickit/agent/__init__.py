"""Agents: `Agent`, its builder, presets, and `Result`."""

from ._agent import Agent, ToolLike
from ._builder import AgentBuilder
from ._handler import Capabilities, Handler, LLMStream, MemoryView, ToolBox
from ._middleware import Middleware, RunContext
from ._presets import chat_agent, data_agent, research_agent
from ._result import Result
from ._run import DEFAULT_MAX_TOOL_ROUNDS, new_run_id
from ._sink import ChunkSink

__all__ = (
    "Agent",
    "AgentBuilder",
    "Capabilities",
    "ChunkSink",
    "DEFAULT_MAX_TOOL_ROUNDS",
    "Handler",
    "LLMStream",
    "MemoryView",
    "Middleware",
    "Result",
    "RunContext",
    "ToolBox",
    "ToolLike",
    "chat_agent",
    "data_agent",
    "new_run_id",
    "research_agent",
)
