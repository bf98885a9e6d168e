"""OpenTelemetry tracing and metrics with the GenAI semantic conventions: off by default, free when off.

```python
import agentickit as ak

ak.telemetry.enable()                       # the global tracer and meter providers
ak.telemetry.enable(tracer_provider=tp, meter_provider=mp, capture_content=True)
ak.telemetry.disable()
```

What is emitted: `invoke_workflow {name}` > `step {name}` > `invoke_agent {name}` > `chat {model}`
(CLIENT) and `execute_tool {name}` spans (MCP requests nest inside their tool's span), retries and
fallbacks as span events, errors as span status plus `error.type`; the metrics
`gen_ai.client.operation.duration`, `gen_ai.client.token.usage` and
`gen_ai.client.operation.time_to_first_chunk`, fed by the same calls that feed `agent.metrics()`.
Trace context goes out as W3C `traceparent` on HTTP requests to providers and in the `_meta` of MCP
requests; log records get `run_id`, `trace_id` and `span_id`.

Only `opentelemetry-api` is needed (imported by `enable()`, never by `import agentickit`); the
SDK and the OTLP exporter come with `pip install "agentickit[otel]"`.

Environment variables (the OpenTelemetry ones): `OTEL_SDK_DISABLED=true` makes `enable()` a no-op;
`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` selects the latest GenAI conventions
(otherwise the default flavour, which also emits the older `gen_ai.system`);
`OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` captures message content when
`capture_content` is not given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import UserError
from . import _hooks

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ("DEFAULT_MAX_CONTENT_LENGTH", "Settings", "apply_config", "disable", "enable", "enabled", "settings")

DEFAULT_MAX_CONTENT_LENGTH = 4096
"""Captured content is cut to this many characters per field (message, tool arguments, tool result)."""

Semconv = Literal["default", "latest"]

_TRUE = ("1", "true", "yes", "on")


@dataclass(slots=True, frozen=True, kw_only=True)
class Settings:
    """How telemetry is running (see `settings()`)."""

    semconv: Semconv
    """`latest` (`OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`) or `default`."""
    capture_content: bool
    max_content_length: int


_settings: Settings | None = None


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _env_semconv() -> Semconv:
    opt_in = {v.strip() for v in os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "").split(",")}
    return "latest" if "gen_ai_latest_experimental" in opt_in else "default"


def enable(
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    capture_content: bool | None = None,
    *,
    semconv: Semconv | None = None,
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH,
) -> bool:
    """Start emitting spans and metrics for every agent, tool and workflow in this process.

    Calling it again replaces the previous settings.

    Args:
        tracer_provider: where spans go; the global one (`opentelemetry.trace.set_tracer_provider`) if None.
        meter_provider: where metrics go; the global one if None.
        capture_content: record messages, tool arguments and results (truncated per field); None
            reads `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` (off unless it is true).
        semconv: `"latest"` or `"default"`; None reads `OTEL_SEMCONV_STABILITY_OPT_IN`.
        max_content_length: characters kept of each captured field.

    Returns:
        True if telemetry is now on; False when `OTEL_SDK_DISABLED=true` (then nothing is emitted).

    Raises:
        UserError: a bad `semconv` or `max_content_length`, or `opentelemetry-api` is not installed.

    """
    global _settings
    if semconv is not None and semconv not in ("default", "latest"):
        raise UserError(f"telemetry semconv must be 'default' or 'latest', got {semconv!r}")
    if max_content_length < 1:
        raise UserError(f"telemetry max_content_length must be >= 1 character, got {max_content_length}")
    disable()
    if _env_true("OTEL_SDK_DISABLED"):
        return False
    try:
        from ._otel import Telemetry
    except ImportError as exc:  # pragma: no cover - opentelemetry-api comes with the mcp and otel extras
        raise UserError(
            f'telemetry needs opentelemetry-api ({exc}); install it with: pip install "agentickit[otel]"'
        ) from exc
    flavour: Semconv = semconv if semconv is not None else _env_semconv()
    capture = (
        capture_content
        if capture_content is not None
        else _env_true("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT")
    )
    impl = Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_content=capture,
        latest=flavour == "latest",
        max_content_length=max_content_length,
    )
    impl.install_log_factory()
    _settings = Settings(semconv=flavour, capture_content=capture, max_content_length=max_content_length)
    _hooks.install(impl)
    return True


def disable() -> None:
    """Stop emitting (spans already open still end). Idempotent."""
    global _settings
    impl = _hooks.active
    _hooks.install(None)
    _settings = None
    if impl is not None:
        impl.uninstall_log_factory()


def enabled() -> bool:
    """Whether telemetry is on."""
    return _hooks.active is not None


def settings() -> Settings | None:
    """The settings telemetry runs with, or None when it is off."""
    return _settings


def apply_config(section: Any) -> None:
    """Apply a config file's `[telemetry]` section (called by the config loader's builders)."""
    if section is None:
        return
    if section.enabled:
        enable(
            capture_content=section.capture_content,
            semconv=section.semconv,
            max_content_length=section.max_content_length,
        )
    else:
        disable()
