"""Agents: `Agent`, its builder, presets, and `Result`."""

from .._result import Result
from ..streaming._sink import ChunkSink
from ..tools._context import RunContext
from ._agent import Agent, ToolLike
from ._builder import AgentBuilder
from ._handler import Capabilities, Handler, LLMStream, MemoryView, ToolBox, check_handler
from ._middleware import Middleware, MiddlewareContext
from ._presets import chat_agent, data_agent, research_agent
from ._run import DEFAULT_MAX_TOOL_ROUNDS

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
    "MiddlewareContext",
    "Result",
    "RunContext",
    "ToolBox",
    "ToolLike",
    "chat_agent",
    "check_handler",
    "data_agent",
    "research_agent",
)
