"""The one switch every hook point checks: `active`, the live telemetry, or None while it is off.

A call site is one line, `span = None if _tel.active is None else _tel.active.run_start(agent, opts)`, and
its end `if span is not None: span.run_end(result)`: while telemetry is off (the default) a hook
costs a module attribute load and a compare (bench/telemetry.py measures it), and nothing of
OpenTelemetry is imported. `ak.telemetry.enable()` installs the implementation
(`_otel.Telemetry`, whose methods are the hooks); `disable()` removes it.

The hook points: agent runs (`run_start`, `run_id`), model calls (`chat_start`, `first_chunk`,
`retry`, `fallback`), HTTP and MCP trace context (`carrier`), tools (`tool_start`), workflows
(`workflow_start`, `step_start`) and the metrics (`metrics_result`, `metrics_failure`,
`metrics_tool`, called where `metrics.py` and the tool metrics count, so the two never disagree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._otel import Telemetry

__all__ = ("active", "install")

active: Telemetry | None = None
"""The live implementation while telemetry is enabled, else None."""


def install(impl: Telemetry | None) -> None:
    """Switch every hook to `impl` (None: off)."""
    global active
    active = impl
