"""agentickit: async-first LLM agents and multi-agent workflows whose every performance knob is real and measured.

```python
import agentickit as ak

agent = ak.Agent("assistant", llm="simulated", tools=[...])
result = await agent.run("Hello")
```
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors, telemetry
from ._lazy import lazy_exports
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
from .errors import ModelRetry
from .memory import InMemoryStore, Memory, MemoryStore
from .messages import Message, ToolCall, ToolCallRecord, Usage
from .metrics import MetricsSnapshot
from .options import RunOptions
from .output import NativeOutput, PromptedOutput, ToolCallOutput
from .providers import LLMConfig, Model
from .streaming import Chunk, ChunkType, Stream, StreamOptions
from .tools import Tool, tool
from .tools._callctx import ToolCallContext, current_tool_call

if TYPE_CHECKING:
    from . import durable, serve, stores
    from . import executors as executors  # reached as `ak.executors`, `ak.workflows`; not in __all__
    from . import workflows as workflows
    from .config import Config, load_config
    from .durable import ApprovalRequest, Edit, RunInfo
    from .executors import BatchItem, BatchResult, Executor, LocalExecutor
    from .mcp import MCPServer
    from .memory import Document
    from .providers import FallbackModel, SimulatedModel
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
# and optional extras are only needed by those who use them. The agent core never imports the
# durable journal, the stores, workflows or executors itself (tests/test_public_api.py checks it):
# they load with the first run that needs them, or the first `ak.X` that names them.
_LAZY: dict[str, str] = {
    "ApprovalRequest": "agentickit.durable",
    "Edit": "agentickit.durable",
    "RunInfo": "agentickit.durable",
    "BatchItem": "agentickit.executors",
    "BatchResult": "agentickit.executors",
    "Executor": "agentickit.executors",
    "LocalExecutor": "agentickit.executors",
    "Document": "agentickit.memory",
    "FallbackModel": "agentickit.providers",
    "SimulatedModel": "agentickit.providers",
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
_SUBPACKAGES = frozenset({"durable", "executors", "serve", "stores", "workflows"})


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, _SUBPACKAGES)
