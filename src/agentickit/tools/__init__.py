"""Tools: `Tool`, the `@tool` decorator, policies, caches, registries, and how results reach the model."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ..errors import ToolTimeoutError
from ._cache import MemoryToolCache, RedisToolCache, ToolCache
from ._context import RunContext
from ._metrics import ToolMetrics, ToolMetricsSnapshot, ToolStats
from ._output import ToolOutput
from ._policies import RateLimit, TokenBucket, parse_rate_limit
from ._source import ToolSource
from ._tool import Tool, ToolFunc, result_text, tool

if TYPE_CHECKING:
    from ._registry import ToolFactory, ToolRegistry

__all__ = (
    "MemoryToolCache",
    "RateLimit",
    "RedisToolCache",
    "RunContext",
    "TokenBucket",
    "Tool",
    "ToolCache",
    "ToolFactory",
    "ToolFunc",
    "ToolMetrics",
    "ToolMetricsSnapshot",
    "ToolOutput",
    "ToolRegistry",
    "ToolSource",
    "ToolStats",
    "ToolTimeoutError",
    "parse_rate_limit",
    "result_text",
    "tool",
)

# Registries (config-file and plugin tools) load on first use, not with `import agentickit`.
__getattr__, __dir__ = lazy_exports(__name__, {"ToolFactory": "._registry", "ToolRegistry": "._registry"})
