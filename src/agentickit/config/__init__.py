"""Configuration files: `load_config(path)` reads TOML into a validated `Config`.

```python
cfg = ak.load_config("agent.toml")
agent = ak.Agent.from_config(cfg)              # or load_runnable(path) for agent-or-workflow files
print(cfg.to_toml())                           # round-trips through load_config
```

See `_loader` for `${VAR}` expansion and the `AGENTICKIT_*` overrides (`ENV_OVERRIDES`), and
`_schema` for every section and key.
"""

from ..errors import ConfigFileError
from ._build import agent_from_config, build_agent, executor_from_config, load_runnable, workflow_from_config
from ._durations import parse_duration
from ._loader import ENV_OVERRIDES, load_config, loads_config
from ._schema import (
    AgentSection,
    Config,
    DurableSection,
    ExecutorSection,
    LLMSection,
    MCPSection,
    MCPServerSection,
    MemorySection,
    StepSection,
    StreamingSection,
    TelemetrySection,
    ToolCacheSection,
    ToolsSection,
    WorkflowSection,
)

__all__ = (
    "ENV_OVERRIDES",
    "AgentSection",
    "Config",
    "ConfigFileError",
    "DurableSection",
    "ExecutorSection",
    "LLMSection",
    "MCPSection",
    "MCPServerSection",
    "MemorySection",
    "StepSection",
    "StreamingSection",
    "TelemetrySection",
    "ToolCacheSection",
    "ToolsSection",
    "WorkflowSection",
    "agent_from_config",
    "build_agent",
    "executor_from_config",
    "load_config",
    "load_runnable",
    "loads_config",
    "parse_duration",
    "workflow_from_config",
)
