"""The OpenTelemetry side of the hooks: spans, events, metrics and context propagation.

Imported only by `ak.telemetry.enable()`, never by `import agentickit`. Attribute names follow the
OpenTelemetry GenAI semantic conventions (the `semantic-conventions-genai` registry); the few
attributes the conventions have no name for live under `agentickit.` (see `CUSTOM_ATTRIBUTES`).
tests/telemetry/test_semconv.py checks every emitted name against `opentelemetry-semantic-conventions`.

Two flavours, chosen by `OTEL_SEMCONV_STABILITY_OPT_IN` as the conventions ask:

- default: the conventions as instrumentations emitted them up to v1.36 (`gen_ai.system` beside
  `gen_ai.provider.name`; captured content as `gen_ai.content.prompt` / `gen_ai.content.completion`
  span events),
- `gen_ai_latest_experimental`: the latest ones only (`gen_ai.provider.name`; content as the
  `gen_ai.input.messages`, `gen_ai.output.messages` and `gen_ai.system_instructions` attributes).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import context as otel_context
from opentelemetry import metrics as otel_metrics
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .._version import __version__

__all__ = ("CUSTOM_ATTRIBUTES", "Handle", "Telemetry")

_log = logging.getLogger("agentickit.telemetry")

# Semantic-convention names, spelled out so the hot path needs no import of the (test-only)
# `opentelemetry-semantic-conventions` package; the golden test compares them with its constants.
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"
AGENT_NAME = "gen_ai.agent.name"
AGENT_DESCRIPTION = "gen_ai.agent.description"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_STOP = "gen_ai.request.stop_sequences"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_TTFC = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT = "gen_ai.usage.input_tokens"
USAGE_OUTPUT = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
WORKFLOW_NAME = "gen_ai.workflow.name"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
PROMPT = "gen_ai.prompt"
COMPLETION = "gen_ai.completion"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
DB_SYSTEM = "db.system.name"
DB_OPERATION = "db.operation.name"
DB_COLLECTION = "db.collection.name"
SERVER_PORT = "server.port"

RUN_ID = "agentickit.run.id"
STEP_NAME = "agentickit.workflow.step.name"
STEP_STATUS = "agentickit.workflow.step.status"
STEP_ATTEMPTS = "agentickit.workflow.step.attempts"
TOOL_ATTEMPTS = "agentickit.tool.attempts"
TOOL_CACHE_HIT = "agentickit.tool.cache_hit"
RETRY_ATTEMPT = "agentickit.retry.attempt"
RETRY_DELAY = "agentickit.retry.delay"
FALLBACK_FROM = "agentickit.fallback.from_model"
FALLBACK_TO = "agentickit.fallback.to_model"
MEMORY_MESSAGES = "agentickit.memory.messages"

CUSTOM_ATTRIBUTES = frozenset(
    (
        RUN_ID,
        STEP_NAME,
        STEP_STATUS,
        STEP_ATTEMPTS,
        TOOL_ATTEMPTS,
        TOOL_CACHE_HIT,
        RETRY_ATTEMPT,
        RETRY_DELAY,
        FALLBACK_FROM,
        FALLBACK_TO,
        MEMORY_MESSAGES,
    )
)
"""What the conventions have no name for, in our own namespace."""

# ak.stores classes -> the conventions' well-known `db.system.name` values (InMemory has none).
_DB_SYSTEMS = {"SQLite": "sqlite", "Postgres": "postgresql", "Redis": "redis"}

# Our provider names -> the conventions' well-known `gen_ai.provider.name` values.
_PROVIDERS = {"azure": "azure.ai.openai"}

# Bucket boundaries the conventions advise for the two GenAI client histograms.
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

_INTERNAL = SpanKind.INTERNAL
_CLIENT = SpanKind.CLIENT

_run: contextvars.ContextVar[_RunHandle | None] = contextvars.ContextVar("agentickit_run", default=None)
_chat: contextvars.ContextVar[Handle | None] = contextvars.ContextVar("agentickit_chat", default=None)


class Handle:
    """One open span of ours: the span, the context token that made it current, and when it began."""

    __slots__ = ("first", "model", "owner", "span", "start", "token", "var", "var_token")

    def __init__(
        self, owner: Telemetry, span: Span, parent: otel_context.Context, model: str = "", *, current: bool = True
    ) -> None:
        self.owner = owner
        self.span = span
        # A span that is not made current (one kept open across an async generator's yields) attaches
        # nothing: a context token must be detached in the context that attached it. `parent` is the
        # context the span was started in (read once by the hook and handed to the SDK as well, which
        # otherwise reads the current context three times per span).
        self.token = otel_context.attach(trace.set_span_in_context(span, parent)) if current else None
        self.start = time.perf_counter()
        self.model = model
        self.first = 0.0
        self.var: contextvars.ContextVar[Any] | None = None
        """The context variable this span set (the current chat call, the run id), put back at the end."""
        self.var_token: contextvars.Token[Any] | None = None

    # The end hooks of the call sites; each ends the span and restores the context it replaced.

    def fail(self, exc: BaseException) -> None:
        """End with an error: status ERROR, `error.type`, the exception as an event."""
        self.owner.fail(self, exc)

    def end(self) -> None:
        """End the span with no result (the caller stopped early)."""
        self.owner._close(self)  # pyright: ignore[reportPrivateUsage]

    def store_end(self, messages: int) -> None:
        """End a session-store span with the number of messages read or written."""
        self.span.set_attribute(MEMORY_MESSAGES, messages)
        self.owner._close(self)  # pyright: ignore[reportPrivateUsage]

    def run_end(self, result: Any) -> None:
        """End an agent span with the run's `Result`."""
        self.owner.run_end(self, result)

    def chat_end(self, response: Any) -> None:
        """End a chat span with the model's `ModelResponse`."""
        self.owner.chat_end(self, response)

    def tool_end(self, record: Any, exc: BaseException | None) -> None:
        """End a tool span with its `ToolCallRecord` and the exception that failed it, if any."""
        self.owner.tool_end(self, record, exc)

    def workflow_end(self, result: Any) -> None:
        """End a workflow span with its `WorkflowResult`."""
        self.owner.workflow_end(self, result)

    def step_end(self, result: Any, exc: BaseException | None) -> None:
        """End a step span with its `StepResult` (None if it never finished) and what stopped it."""
        self.owner.step_end(self, result, exc)


class _RunHandle(Handle):
    """An `invoke_agent` span, current in `_run` for the run: its agent's cached facts and its run id.

    A failed run still gets its run id on the span (a finished one has it from its `Result`); the
    run's metrics reuse `info` rather than looking the agent up again; log records read `run_id`.
    """

    __slots__ = ("agent", "info", "run_id")

    def __init__(
        self, owner: Telemetry, span: Span, parent: otel_context.Context, agent: Any, info: _AgentInfo
    ) -> None:
        super().__init__(owner, span, parent)
        self.agent = agent
        self.info = info
        self.run_id: str | None = None

    def fail(self, exc: BaseException) -> None:
        run_id = self.run_id
        if run_id:
            self.span.set_attribute(RUN_ID, run_id)
        self.owner.fail(self, exc)


# The SDK copies and checks every attribute it is given (about as much work per attribute as a span's
# own bookkeeping, bench/telemetry.py), so a hook passes each name once; what depends only on the
# agent and its model is built once per agent or model object and reused (the SDK never keeps the
# dict it is handed; nothing here mutates a cached one).
_CACHE_SIZE = 256


class _ModelInfo:
    """What a model's spans and metrics say about it, built at its first call."""

    __slots__ = ("base_url", "chat", "chat_stream", "name", "provider", "raw_name", "ref", "span_name")

    def __init__(self, model: Any, ref: weakref.ref[Any], latest: bool) -> None:
        self.ref = ref
        self.raw_name = model.model_name
        self.base_url = getattr(model, "base_url", None)
        self.name = str(self.raw_name)
        self.span_name = "chat " + self.name
        self.provider = _provider(model)
        chat: dict[str, Any] = {OPERATION: "chat", PROVIDER: self.provider}
        if not latest:
            chat[SYSTEM] = self.provider
        chat[REQUEST_MODEL] = self.name
        url = self.base_url
        if isinstance(url, str) and url:
            parts = urlsplit(url)
            if parts.hostname:
                chat[SERVER_ADDRESS] = parts.hostname
                chat[SERVER_PORT] = parts.port or (443 if parts.scheme == "https" else 80)
        self.chat = {**chat, REQUEST_STREAM: False}
        self.chat_stream = {**chat, REQUEST_STREAM: True}


class _AgentInfo:
    """What an agent's `invoke_agent` spans and run metrics say about it, built at its first run."""

    __slots__ = (
        "description",
        "duration",
        "model",
        "name",
        "raw_name",
        "ref",
        "span_name",
        "start",
        "tokens_in",
        "tokens_out",
    )

    def __init__(self, agent: Any, ref: weakref.ref[Any], info: _ModelInfo | None, latest: bool) -> None:
        self.ref = ref
        self.model = info
        """The model facts this was built from (a renamed or replaced model makes a new one)."""
        self.raw_name = getattr(agent, "name", "agent")
        self.description = getattr(agent, "description", None)
        self.name = str(self.raw_name)
        self.span_name = "invoke_agent " + self.name
        start: dict[str, Any] = {OPERATION: "invoke_agent", AGENT_NAME: self.name}
        metric: dict[str, Any] = {OPERATION: "invoke_agent"}
        if info is not None:
            start[PROVIDER] = metric[PROVIDER] = info.provider
            if not latest:
                start[SYSTEM] = metric[SYSTEM] = info.provider
            start[REQUEST_MODEL] = info.name
        if self.description:
            start[AGENT_DESCRIPTION] = str(self.description)
        self.start = start
        metric[AGENT_NAME] = self.name
        if info is not None and info.raw_name:
            # The configured model, not the name the server reports: that one is the server's to
            # choose, and a label set that grows with it has no bound.
            metric[REQUEST_MODEL] = info.name
            self.duration: dict[str, Any] | None = metric
            self.tokens_in: dict[str, Any] = {**metric, TOKEN_TYPE: "input"}
            self.tokens_out: dict[str, Any] = {**metric, TOKEN_TYPE: "output"}
        else:  # the model comes from the result (or there is none): built per run
            self.duration = None
            self.tokens_in = self.tokens_out = metric


def _provider(model: Any) -> str:
    name = str(getattr(model, "provider", "unknown"))
    return _PROVIDERS.get(name, name)


def _error_type(exc: BaseException) -> str:
    return type(exc).__qualname__


class Telemetry:
    """Spans and metrics for agentickit, on a tracer and a meter of the given (or global) providers."""

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: otel_metrics.MeterProvider | None,
        capture_content: bool,
        latest: bool,
        max_content_length: int,
    ) -> None:
        self.latest = latest
        self.capture_content = capture_content
        self.max_content_length = max_content_length
        provider = tracer_provider if tracer_provider is not None else trace.get_tracer_provider()
        self.tracer = provider.get_tracer("agentickit", __version__)
        meters = meter_provider if meter_provider is not None else otel_metrics.get_meter_provider()
        meter = meters.get_meter("agentickit", __version__)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration (agent and workflow runs, tool calls)",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self.ttfc = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streamed run",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._factory: Callable[..., logging.LogRecord] | None = None
        self._models: dict[int, _ModelInfo] = {}
        self._agents: dict[int, _AgentInfo] = {}

    # -- helpers ------------------------------------------------------------------------------------

    def _base(self, operation: str, provider: str | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {OPERATION: operation}
        if provider is not None:
            attrs[PROVIDER] = provider
            if not self.latest:
                attrs[SYSTEM] = provider
        return attrs

    def _text(self, value: Any) -> str:
        text = value if isinstance(value, str) else str(value)
        limit = self.max_content_length
        return text if len(text) <= limit else text[:limit] + "...[truncated]"

    def _messages_json(self, messages: Sequence[Any]) -> tuple[str, str | None]:
        out: list[dict[str, Any]] = []
        system: str | None = None
        for m in messages:
            role = m.role
            if role == "system" and system is None:
                system = self._text(m.content or "")
                continue
            parts: list[dict[str, Any]] = []
            if m.content:
                if role == "tool":
                    parts.append(
                        {"type": "tool_call_response", "id": m.tool_call_id, "response": self._text(m.content)}
                    )
                else:
                    parts.append({"type": "text", "content": self._text(m.content)})
            for c in m.tool_calls:
                parts.append({"type": "tool_call", "id": c.id, "name": c.name, "arguments": self._text(c.arguments)})
            out.append({"role": role, "parts": parts})
        return orjson.dumps(out).decode(), system

    def _model_info(self, model: Any) -> _ModelInfo:
        """`model`'s cached facts, rebuilt if its name or base URL changed since (or the id was reused)."""
        info = self._models.get(id(model))
        if (
            info is not None
            and info.ref() is model
            and info.raw_name == model.model_name
            and info.base_url == getattr(model, "base_url", None)
        ):
            return info
        try:
            ref = weakref.ref(model)
        except TypeError:  # not weakly referable: built per call, never cached
            return _ModelInfo(model, lambda: None, self.latest)  # pyright: ignore[reportArgumentType]
        info = _ModelInfo(model, ref, self.latest)
        if len(self._models) >= _CACHE_SIZE:
            self._models.clear()
        self._models[id(model)] = info
        return info

    def _agent_info(self, agent: Any) -> _AgentInfo:
        """`agent`'s cached facts, rebuilt if its name, description or model changed since."""
        try:
            model = agent.model
        except Exception:  # an agent whose model cannot be built fails in the run, not here
            model = None
        minfo = self._model_info(model) if model is not None else None
        info = self._agents.get(id(agent))
        if (
            info is not None
            and info.ref() is agent
            and info.model is minfo
            and info.raw_name == getattr(agent, "name", "agent")
            and info.description == getattr(agent, "description", None)
        ):
            return info
        try:
            ref = weakref.ref(agent)
        except TypeError:
            return _AgentInfo(agent, lambda: None, minfo, self.latest)  # pyright: ignore[reportArgumentType]
        info = _AgentInfo(agent, ref, minfo, self.latest)
        if len(self._agents) >= _CACHE_SIZE:
            self._agents.clear()
        self._agents[id(agent)] = info
        return info

    def fail(self, handle: Handle, exc: BaseException) -> None:
        """End `handle`'s span with the error (a cancellation is an error of type `CancelledError`)."""
        span = handle.span
        try:
            kind = _error_type(exc)
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, f"{kind}: {exc}"))
            span.record_exception(exc)
        finally:
            self._close(handle)

    def _close(self, handle: Handle) -> None:
        if handle.var is not None:
            handle.var.reset(handle.var_token)  # pyright: ignore[reportArgumentType]
        try:
            if handle.token is not None:
                otel_context.detach(handle.token)
        finally:
            handle.span.end()

    def carrier(self) -> dict[str, Any] | None:
        """The current trace context as W3C headers (`traceparent`, `tracestate`), or None outside a trace."""
        headers: dict[str, Any] = {}
        inject(headers)
        return headers or None

    def attach_incoming(self, headers: Mapping[str, str]) -> object | None:
        """Make a request's W3C trace context (`traceparent`) current; the token for `detach`, or None.

        The serving layer calls it per request, so a run's `invoke_agent` span has the caller's span
        as its parent.
        """
        ctx = extract(headers)
        if not trace.get_current_span(ctx).get_span_context().is_valid:
            return None
        return otel_context.attach(ctx)

    def detach(self, token: object) -> None:
        """Undo `attach_incoming`."""
        otel_context.detach(token)  # pyright: ignore[reportArgumentType]

    # -- agents -------------------------------------------------------------------------------------

    def run_start(self, agent: Any, opts: Any) -> Handle:
        """Start `invoke_agent {name}`."""
        info = self._agent_info(agent)
        attrs = info.start
        session = getattr(opts, "session_id", None)
        if session is not None:
            attrs = {**attrs, CONVERSATION_ID: str(session)}
        parent = otel_context.get_current()
        span = self.tracer.start_span(info.span_name, parent, _INTERNAL, attrs)
        handle = _RunHandle(self, span, parent, agent, info)
        handle.var = _run
        handle.var_token = _run.set(handle)
        return handle

    def run_id(self, value: str) -> None:
        """Note the run id for log records and for the run's span (set at its end, from the `Result` or here)."""
        handle = _run.get()
        if handle is not None:
            handle.run_id = value

    def run_end(self, handle: Handle, result: Any) -> None:
        """End the agent span with the run's totals."""
        span = handle.span
        try:
            usage = result.usage
            meta: Mapping[str, Any] = result.metadata
            model = meta.get("model")
            attrs: dict[str, Any] = {USAGE_INPUT: usage.input_tokens, USAGE_OUTPUT: usage.output_tokens}
            if model:
                attrs[RESPONSE_MODEL] = str(model)
            reason = meta.get("finish_reason")
            if reason:
                attrs[RESPONSE_FINISH_REASONS] = (str(reason),)
            if result.run_id:
                attrs[RUN_ID] = result.run_id
            span.set_attributes(attrs)
            if self.capture_content:
                self._output(span, result.content, reason)
        finally:
            self._close(handle)

    def _output(self, span: Span, content: str, reason: Any) -> None:
        message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": self._text(content)}]}
        if reason:
            message["finish_reason"] = str(reason)
        text = orjson.dumps([message]).decode()
        if self.latest:
            span.set_attribute(OUTPUT_MESSAGES, text)
        else:
            span.add_event("gen_ai.content.completion", {COMPLETION: text})

    # -- model calls --------------------------------------------------------------------------------

    def chat_start(
        self, model: Any, messages: Sequence[Any], tools: Any, settings: Any, stream: bool, *, current: bool = True
    ) -> Handle:
        """Start `chat {model}` (CLIENT) and make it current, so HTTP requests carry its traceparent.

        `current=False` (a call streamed through an async generator, `caps.llm_stream`) leaves the
        current span as it is; the caller notes the first chunk on the handle (`handle.first`).
        """
        info = self._model_info(model)
        model_name = info.name
        attrs = info.chat_stream if stream else info.chat
        temperature = settings.temperature if settings.temperature is not None else getattr(model, "temperature", None)
        max_tokens = settings.max_tokens if settings.max_tokens is not None else getattr(model, "max_tokens", None)
        if temperature is not None or max_tokens is not None or settings.top_p is not None or settings.stop:
            attrs = attrs.copy()
            if temperature is not None:
                attrs[REQUEST_TEMPERATURE] = float(temperature)
            if max_tokens is not None:
                attrs[REQUEST_MAX_TOKENS] = int(max_tokens)
            if settings.top_p is not None:
                attrs[REQUEST_TOP_P] = float(settings.top_p)
            if settings.stop:
                attrs[REQUEST_STOP] = tuple(settings.stop)
        parent = otel_context.get_current()
        span = self.tracer.start_span(info.span_name, parent, _CLIENT, attrs)
        if self.capture_content:
            text, system = self._messages_json(messages)
            if self.latest:
                span.set_attribute(INPUT_MESSAGES, text)
                if system is not None:
                    span.set_attribute(
                        SYSTEM_INSTRUCTIONS, orjson.dumps([{"type": "text", "content": system}]).decode()
                    )
            else:
                span.add_event("gen_ai.content.prompt", {PROMPT: text})
        handle = Handle(self, span, parent, model_name, current=current)
        if current:
            handle.var = _chat
            handle.var_token = _chat.set(handle)
        return handle

    def first_chunk(self) -> None:
        """Note when the current streamed model call's first chunk arrived."""
        handle = _chat.get()
        if handle is not None and not handle.first:
            handle.first = time.perf_counter()

    def chat_end(self, handle: Handle, response: Any) -> None:
        """End the chat span with the response's model, usage and finish reason."""
        span = handle.span
        try:
            usage = response.usage
            attrs: dict[str, Any] = {
                RESPONSE_MODEL: str(response.model or handle.model),
                USAGE_INPUT: usage.input_tokens,
                USAGE_OUTPUT: usage.output_tokens,
            }
            if response.finish_reason:
                attrs[RESPONSE_FINISH_REASONS] = (str(response.finish_reason),)
            if handle.first:
                attrs[RESPONSE_TTFC] = handle.first - handle.start
            span.set_attributes(attrs)
            if self.capture_content:
                self._output(span, response.content, response.finish_reason)
        finally:
            self._close(handle)

    def retry(self, attempt: int, exc: BaseException, delay: float, handle: Handle | None = None) -> None:
        """A `retry` event on `handle`'s span (default: the current span); `attempt` (1-based) is the next one."""
        (handle.span if handle is not None else trace.get_current_span()).add_event(
            "retry", {ERROR_TYPE: _error_type(exc), RETRY_ATTEMPT: attempt, RETRY_DELAY: float(delay)}
        )

    def fallback(self, from_model: str, to_model: str, exc: BaseException) -> None:
        """A `fallback` event on the current span."""
        trace.get_current_span().add_event(
            "fallback", {ERROR_TYPE: _error_type(exc), FALLBACK_FROM: from_model, FALLBACK_TO: to_model}
        )

    # -- session stores -----------------------------------------------------------------------------

    def store_start(self, operation: str, session_id: str, backend: Any) -> Handle:
        """Start `{operation} session` (CLIENT): a read or an append of a session in an `ak.stores` store."""
        attrs: dict[str, Any] = {DB_OPERATION: operation, DB_COLLECTION: "session", CONVERSATION_ID: session_id}
        system = _DB_SYSTEMS.get(type(backend).__name__)
        if system is not None:
            attrs[DB_SYSTEM] = system
        parent = otel_context.get_current()
        span = self.tracer.start_span(f"{operation} session", parent, _CLIENT, attrs)
        return Handle(self, span, parent)

    # -- tools --------------------------------------------------------------------------------------

    def tool_start(self, name: str, call_id: str, tool: Any) -> Handle:
        """Start `execute_tool {name}` and make it current."""
        attrs: dict[str, Any] = {
            OPERATION: "execute_tool",
            TOOL_NAME: name,
            TOOL_CALL_ID: call_id,
            TOOL_TYPE: "function",
        }
        description = getattr(tool, "description", None)
        if description:
            attrs[TOOL_DESCRIPTION] = self._text(description)
        parent = otel_context.get_current()
        span = self.tracer.start_span(f"execute_tool {name}", parent, _INTERNAL, attrs)
        return Handle(self, span, parent)

    def tool_end(self, handle: Handle, record: Any, exc: BaseException | None) -> None:
        """End the tool span; a failed call sets the error status and `error.type`."""
        span = handle.span
        try:
            span.set_attribute(TOOL_ATTEMPTS, record.attempts)
            if record.cache_hit:
                span.set_attribute(TOOL_CACHE_HIT, True)
            if self.capture_content:
                span.set_attribute(TOOL_ARGUMENTS, self._text(orjson.dumps(record.args, default=str).decode()))
                if record.error is None:
                    span.set_attribute(TOOL_RESULT, self._text(record.result))
            if record.error is not None:
                kind = _error_type(exc) if exc is not None else "ToolArgumentsError"
                span.set_attribute(ERROR_TYPE, kind)
                span.set_status(Status(StatusCode.ERROR, str(record.error)))
                if exc is not None:
                    span.record_exception(exc)
        finally:
            self._close(handle)

    # -- workflows ----------------------------------------------------------------------------------

    def workflow_start(self, workflow: Any) -> Handle:
        """Start `invoke_workflow {name}`."""
        name = str(getattr(workflow, "name", "workflow"))
        attrs: dict[str, Any] = {OPERATION: "invoke_workflow", WORKFLOW_NAME: name}
        parent = otel_context.get_current()
        span = self.tracer.start_span(f"invoke_workflow {name}", parent, _INTERNAL, attrs)
        return Handle(self, span, parent)

    def workflow_end(self, handle: Handle, result: Any) -> None:
        """End the workflow span; a workflow that did not complete gets the error status."""
        span = handle.span
        try:
            usage = result.usage
            span.set_attributes(
                {USAGE_INPUT: usage.input_tokens, USAGE_OUTPUT: usage.output_tokens, RUN_ID: result.run_id}
            )
            error = result.error
            if error is not None:
                span.set_attribute(ERROR_TYPE, _error_type(error))
                span.set_status(Status(StatusCode.ERROR, str(error)))
            if self.capture_content:
                self._output(span, result.content, None)
        finally:
            self._close(handle)

    def step_start(self, workflow: str, step: str) -> Handle:
        """Start `step {name}` inside the workflow span."""
        attrs: dict[str, Any] = {WORKFLOW_NAME: workflow, STEP_NAME: step}
        parent = otel_context.get_current()
        span = self.tracer.start_span(f"step {step}", parent, _INTERNAL, attrs)
        return Handle(self, span, parent)

    def step_end(self, handle: Handle, result: Any, exc: BaseException | None) -> None:
        """End the step span with its status; failed and timed-out steps get the error status."""
        if result is None:
            # Ended before recording a result: cancelled (exc) or finished fine (recorded just after).
            if exc is not None:
                self.fail(handle, exc)
            else:
                handle.span.set_attribute(STEP_STATUS, "ok")
                self._close(handle)
            return
        span = handle.span
        try:
            status = result.status.value
            span.set_attributes({STEP_STATUS: status, STEP_ATTEMPTS: result.attempts})
            error = result.error
            if error is not None:
                span.set_attribute(ERROR_TYPE, _error_type(error))
                span.set_status(Status(StatusCode.ERROR, str(error)))
                span.record_exception(error)
        finally:
            self._close(handle)

    # -- metrics ------------------------------------------------------------------------------------

    def _owner_attrs(self, owner: Any, result: Any) -> dict[str, Any]:
        if getattr(result, "steps", None) is not None or not hasattr(owner, "model"):
            attrs: dict[str, Any] = {OPERATION: "invoke_workflow", WORKFLOW_NAME: str(owner.name)}
        else:
            try:
                provider = _provider(owner.model)
            except Exception:
                provider = None
            attrs = self._base("invoke_agent", provider)
            attrs[AGENT_NAME] = str(owner.name)
        return attrs

    def metrics_result(self, owner: Any, result: Any, ttft: float | None) -> None:
        """Record one successful run: its duration, tokens and time to first chunk."""
        run = _run.get()
        if run is not None and run.agent is owner and run.owner is self:  # the run this hook is inside
            info = run.info
            attrs = info.duration
            tokens_in, tokens_out = info.tokens_in, info.tokens_out
        elif getattr(result, "steps", None) is None and hasattr(owner, "model"):
            info = self._agent_info(owner)
            attrs = info.duration
            tokens_in, tokens_out = info.tokens_in, info.tokens_out
        else:
            attrs = None
            tokens_in = tokens_out = self._owner_attrs(owner, result)
        if attrs is None:
            attrs = tokens_in.copy()
            model = getattr(getattr(owner, "model", None), "model_name", None) or result.metadata.get("model")
            if model:
                attrs[REQUEST_MODEL] = str(model)
            tokens_in = {**attrs, TOKEN_TYPE: "input"}
            tokens_out = {**attrs, TOKEN_TYPE: "output"}
        self.duration.record(result.duration, attrs)
        usage = result.usage
        if usage.input_tokens or usage.output_tokens:
            self.tokens.record(usage.input_tokens, tokens_in)
            self.tokens.record(usage.output_tokens, tokens_out)
        if ttft is not None:
            self.ttfc.record(ttft, attrs)

    def metrics_failure(self, owner: Any, exc: BaseException, duration: float) -> None:
        """Record one failed run: its duration with `error.type` (the error counts by type)."""
        if isinstance(exc, asyncio.CancelledError):
            return  # counted apart by metrics.py too (`cancelled`), not as a run
        attrs = self._owner_attrs(owner, None)
        attrs[ERROR_TYPE] = _error_type(exc)
        self.duration.record(duration, attrs)

    def metrics_tool(self, name: str, duration: float, error: bool, timed_out: bool) -> None:
        """Record one tool call's duration (with `error.type` when it failed)."""
        attrs: dict[str, Any] = {OPERATION: "execute_tool", TOOL_NAME: name}
        if error:
            attrs[ERROR_TYPE] = "ToolTimeoutError" if timed_out else "ToolError"
        self.duration.record(duration, attrs)

    # -- logs ---------------------------------------------------------------------------------------

    def install_log_factory(self) -> None:
        """Give every log record `run_id`, `trace_id` and `span_id` (hex, "" outside a run/trace)."""
        previous = logging.getLogRecordFactory()
        self._factory = previous

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            ctx = trace.get_current_span().get_span_context()
            if ctx.is_valid:
                record.trace_id = format(ctx.trace_id, "032x")
                record.span_id = format(ctx.span_id, "016x")
            else:
                record.trace_id = record.span_id = ""
            run = _run.get()
            record.run_id = (run.run_id if run is not None else None) or ""
            return record

        logging.setLogRecordFactory(factory)

    def uninstall_log_factory(self) -> None:
        """Put back the log record factory that was there before."""
        if self._factory is not None:
            logging.setLogRecordFactory(self._factory)
            self._factory = None
