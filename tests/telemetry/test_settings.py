"""Every route to the settings: `enable()` arguments, the OpenTelemetry environment variables, `[telemetry]`."""

from __future__ import annotations

import logging

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.testing import ScriptedModel, call

from .conftest import Traces


def test_defaults(traces: Traces, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "OTEL_SDK_DISABLED",
        "OTEL_SEMCONV_STABILITY_OPT_IN",
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    ):
        monkeypatch.delenv(var, raising=False)
    assert not ak.telemetry.enabled()
    assert traces.enable() is True
    assert ak.telemetry.settings() == ak.telemetry.Settings(
        semconv="default", capture_content=False, max_content_length=4096
    )


async def test_otel_sdk_disabled(traces: Traces, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert traces.enable() is False
    assert not ak.telemetry.enabled()
    await ak.Agent("a", "simulated:echo").run("hi")
    assert traces.spans() == []


async def test_semconv_opt_in_env(traces: Traces, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_latest_experimental")
    traces.enable()
    settings = ak.telemetry.settings()
    assert settings is not None and settings.semconv == "latest"
    await ak.Agent("a", "simulated:echo").run("hi")
    attrs = traces.named("chat echo").attributes or {}
    assert "gen_ai.system" not in attrs and attrs["gen_ai.provider.name"] == "simulated"
    traces.exporter.clear()
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    traces.enable()
    await ak.Agent("a", "simulated:echo").run("hi")
    assert (traces.named("chat echo").attributes or {})["gen_ai.system"] == "simulated"
    # An explicit argument wins over the variable.
    traces.exporter.clear()
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    traces.enable(semconv="default")
    await ak.Agent("a", "simulated:echo").run("hi")
    assert "gen_ai.system" in (traces.named("chat echo").attributes or {})


async def test_capture_content_env(traces: Traces, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "gen_ai_latest_experimental")
    traces.enable()
    await ak.Agent("a", "simulated:echo").run("captured words")
    assert "captured words" in str((traces.named("chat echo").attributes or {})["gen_ai.input.messages"])
    traces.exporter.clear()
    traces.enable(capture_content=False)
    await ak.Agent("a", "simulated:echo").run("captured words")
    assert "gen_ai.input.messages" not in (traces.named("chat echo").attributes or {})


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(UserError, match="semconv"):
        ak.telemetry.enable(semconv="newest")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="max_content_length"):
        ak.telemetry.enable(max_content_length=0)
    assert not ak.telemetry.enabled()


async def test_config_section(traces: Traces, monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    from agentickit.config import loads_config

    # The config route uses the global providers; point the global proxy at ours for this test.
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: traces.tracer_provider)
    text = '[llm]\nprovider = "simulated"\n[telemetry]\ncapture_content = true\nsemconv = "latest"\nmax_content_length = 5\n'
    agent = ak.Agent.from_config(loads_config(text))
    assert ak.telemetry.settings() == ak.telemetry.Settings(
        semconv="latest", capture_content=True, max_content_length=5
    )
    await agent.run("configured")
    assert "confi...[truncated]" in str((traces.named("chat simulated").attributes or {})["gen_ai.input.messages"])
    off = text.replace("[telemetry]\n", "[telemetry]\nenabled = false\n")
    ak.Agent.from_config(loads_config(off))
    assert not ak.telemetry.enabled()


def test_config_rejects_unknown_keys() -> None:
    from agentickit.config import loads_config
    from agentickit.errors import ConfigError

    with pytest.raises(ConfigError, match="capture"):
        loads_config("[telemetry]\ncapture = true\n")


async def test_logs_carry_run_id_and_trace_id(traces: Traces) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("tests.telemetry.tool")
    handler = Keep()
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    @ak.tool
    async def noisy() -> str:
        """Logs something."""
        log.info("inside the tool")
        return "ok"

    try:
        traces.enable()
        result = await ak.Agent("a", ScriptedModel([call("noisy"), "done"]), tools=[noisy]).run("go")
        log.info("outside any run")
    finally:
        log.removeHandler(handler)
    inside, outside = records
    tool = traces.named("execute_tool noisy")
    assert tool.context is not None
    assert inside.run_id == result.run_id  # type: ignore[attr-defined]
    assert inside.trace_id == f"{tool.context.trace_id:032x}"  # type: ignore[attr-defined]
    assert inside.span_id == f"{tool.context.span_id:016x}"  # type: ignore[attr-defined]
    assert outside.run_id == "" and outside.trace_id == ""  # type: ignore[attr-defined]
    ak.telemetry.disable()
    assert "install_log_factory" not in getattr(logging.getLogRecordFactory(), "__qualname__", "")  # ours is gone
