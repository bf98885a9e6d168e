"""agentickit: async-first LLM agents and multi-agent workflows whose every performance knob is real and measured.

```python
import agentickit as ak

agent = ak.Agent("assistant", llm="simulated", tools=[...])
result = await agent.run("Hello")
```
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import durable, errors, stores, telemetry
from ._result import Source
from ._usage_limits import UsageLimits
from ._version import __version__
from .agent import (
    Agent,
    AgentBuilder,
    Capabilities,
    Middleware,
    MiddlewareContext,
    Result,
    RunContext,
    chat_agent,
    data_agent,
    research_agent,
)
from .content import AudioUrl, BinaryContent, DocumentUrl, ImageUrl
from .durable import ApprovalRequest, Edit, RunInfo
from .errors import ModelRetry
from .executors import BatchItem, BatchResult, Executor, LocalExecutor
from .memory import Document, InMemoryStore, Memory, MemoryStore
from .messages import Message, ToolCall, ToolCallRecord, Usage
from .metrics import MetricsSnapshot
from .options import RunOptions
from .output import NativeOutput, PromptedOutput, ToolCallOutput
from .providers import FallbackModel, LLMConfig, Model, SimulatedModel
from .streaming import Chunk, ChunkType, Stream, StreamOptions
from .tools import Tool, tool
from .tools._callctx import ToolCallContext, current_tool_call

if TYPE_CHECKING:
    from . import serve
    from .config import Config, load_config
    from .mcp import MCPServer
    from .tools import ToolCache, ToolOutput, ToolRegistry
    from .workflows import (
        DAGWorkflow,
        LoopWorkflow,
        ParallelWorkflow,
        SequentialWorkflow,
        Step,
        StepResult,
        StepStatus,
        WorkflowContext,
        WorkflowResult,
        stop,
    )

__all__ = (
    "Agent",
    "AgentBuilder",
    "ApprovalRequest",
    "AudioUrl",
    "BatchItem",
    "BatchResult",
    "BinaryContent",
    "Capabilities",
    "Chunk",
    "ChunkType",
    "Config",
    "DAGWorkflow",
    "Document",
    "DocumentUrl",
    "Edit",
    "Executor",
    "FallbackModel",
    "ImageUrl",
    "InMemoryStore",
    "LLMConfig",
    "LocalExecutor",
    "LoopWorkflow",
    "MCPServer",
    "Memory",
    "MemoryStore",
    "Message",
    "MetricsSnapshot",
    "Middleware",
    "MiddlewareContext",
    "Model",
    "ModelRetry",
    "NativeOutput",
    "ParallelWorkflow",
    "PromptedOutput",
    "Result",
    "RunContext",
    "RunInfo",
    "RunOptions",
    "SequentialWorkflow",
    "SimulatedModel",
    "Source",
    "Step",
    "StepResult",
    "StepStatus",
    "Stream",
    "StreamOptions",
    "Tool",
    "ToolCache",
    "ToolCall",
    "ToolCallContext",
    "ToolCallOutput",
    "ToolCallRecord",
    "ToolOutput",
    "ToolRegistry",
    "Usage",
    "UsageLimits",
    "WorkflowContext",
    "WorkflowResult",
    "__version__",
    "chat_agent",
    "current_tool_call",
    "data_agent",
    "durable",
    "errors",
    "load_config",
    "research_agent",
    "serve",
    "stop",
    "stores",
    "telemetry",
    "tool",
)

# Names whose modules are imported on first access (PEP 562), so `import agentickit` stays fast
# and optional extras are only needed by those who use them.
_LAZY: dict[str, str] = {
    "Config": "agentickit.config",
    "load_config": "agentickit.config",
    "DAGWorkflow": "agentickit.workflows",
    "LoopWorkflow": "agentickit.workflows",
    "ParallelWorkflow": "agentickit.workflows",
    "SequentialWorkflow": "agentickit.workflows",
    "Step": "agentickit.workflows",
    "StepResult": "agentickit.workflows",
    "StepStatus": "agentickit.workflows",
    "WorkflowContext": "agentickit.workflows",
    "WorkflowResult": "agentickit.workflows",
    "stop": "agentickit.workflows",
    "MCPServer": "agentickit.mcp",
    "ToolCache": "agentickit.tools",
    "ToolOutput": "agentickit.tools",
    "ToolRegistry": "agentickit.tools",
}


# Subpackages reached as attributes (`ak.serve`), imported on first access for the same reason.
_SUBPACKAGES = frozenset({"serve"})


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"agentickit.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentickit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_LAZY) | _SUBPACKAGES)
