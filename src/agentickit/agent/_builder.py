"""`AgentBuilder`: the fluent way to build an `Agent`."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Self, Unpack

from .._usage_limits import UsageLimits
from ..errors import UserError
from ..memory import Memory
from ..options import RunOptions, RunOptionsDict
from ..providers._base import Model
from ..providers._registry import LLMConfig, LLMSpec
from ..streaming._options import StreamOptions
from ..tools._cache import ToolCache
from ._agent import Agent, ToolLike
from ._handler import Handler, check_handler
from ._middleware import Middleware, check_middleware

if TYPE_CHECKING:
    from ..durable._types import Durability
    from ..stores._base import Store

__all__ = ("AgentBuilder",)

_LLM_FIELDS = frozenset(f.name for f in fields(LLMConfig)) - {"provider", "model"}


class AgentBuilder:
    """Collects settings and builds an `Agent`; every `with_*` returns the builder."""

    __slots__ = ("_kwargs", "_name", "_options", "_tools")

    def __init__(self, name: str) -> None:
        self._name = name
        self._kwargs: dict[str, Any] = {}
        self._tools: list[ToolLike] = []
        self._options: dict[str, Any] = {}

    def with_llm(self, provider: str | LLMSpec, model: str | None = None, **settings: Any) -> Self:
        """Set the model: `with_llm("openai", "gpt-4o-mini", temperature=0.0)`, a spec string, a config or a Model.

        `settings` are `LLMConfig` fields (`base_url`, `api_key`, `temperature`, `max_tokens`,
        `timeout`, `max_retries`, `transport`, `options`). With an `LLMConfig` they replace its
        fields; with a `Model` (already built, so its connection settings are fixed) only
        `temperature` and `max_tokens` apply, as this agent's default run options.

        Raises:
            UserError: a setting is not an `LLMConfig` field, or cannot apply to a ready `Model`.

        """
        unknown = sorted(settings.keys() - _LLM_FIELDS)
        if unknown:
            raise UserError(
                f"with_llm(): unknown setting {unknown[0]!r}; LLMConfig fields are: {', '.join(sorted(_LLM_FIELDS))}"
            )
        if isinstance(provider, Model):
            fixed = sorted(settings.keys() - {"temperature", "max_tokens"})
            if fixed or model is not None:
                what = repr(fixed[0]) if fixed else "a model name"
                raise UserError(
                    f"with_llm(model_object, ...): {what} cannot change a Model that is already built; "
                    "pass an LLMConfig or 'provider:model' instead (temperature and max_tokens do apply)"
                )
            self._kwargs["llm"] = provider
            self._options.update(settings)
        elif isinstance(provider, LLMConfig):
            if model is not None:
                settings = {"model": model, **settings}
            self._kwargs["llm"] = replace(provider, **settings) if settings else provider
        elif not isinstance(provider, str):
            if settings or model is not None:
                raise UserError(
                    "with_llm([...]): a fallback chain takes no settings; give each model its own LLMConfig"
                )
            self._kwargs["llm"] = provider
        elif model is None and not settings:
            self._kwargs["llm"] = provider
        else:
            name, _, inline_model = provider.partition(":")
            self._kwargs["llm"] = LLMConfig(provider=name, model=model or inline_model or name, **settings)
        return self

    def with_system_prompt(self, prompt: str) -> Self:
        """Set the system prompt."""
        self._kwargs["system_prompt"] = prompt
        return self

    def with_tools(self, *tools: ToolLike) -> Self:
        """Add tools (or plain functions, or tool sources such as MCP servers)."""
        self._tools.extend(tools)
        return self

    def with_tool_timeout(self, seconds: float) -> Self:
        """Default timeout for every tool call."""
        self._kwargs["tool_timeout"] = seconds
        return self

    def with_max_concurrent_tools(self, limit: int) -> Self:
        """At most `limit` tool calls of this agent run at once (across all its runs)."""
        self._kwargs["max_concurrent_tools"] = limit
        return self

    def with_tool_cache(self, cache: ToolCache) -> Self:
        """Where results of tools with `cache_ttl` are kept: `ak.ToolCache.memory()` or `ak.ToolCache.redis(url)`."""
        self._kwargs["tool_cache"] = cache
        return self

    def with_memory(self, memory: Memory | None = None, **settings: Any) -> Self:
        """Set the memory, or build one: `with_memory(history_limit=10)`."""
        self._kwargs["memory"] = memory if memory is not None else Memory(**settings)
        return self

    def with_options(self, options: RunOptions | None = None, **kwargs: Unpack[RunOptionsDict]) -> Self:
        """Default run options: `with_options(max_tokens=500, temperature=0.0)`."""
        if options is not None:
            self._options.update({f.name: v for f in fields(options) if (v := getattr(options, f.name)) is not None})
        self._options.update(kwargs)
        return self

    def with_usage_limits(self, limits: UsageLimits | None = None, **settings: Any) -> Self:
        """A budget for every run: `with_usage_limits(request_limit=5, total_tokens_limit=20_000)`.

        Raises:
            UserError: a limit is out of range, or `limits` is not an `ak.UsageLimits`.

        """
        if limits is not None and settings:
            raise UserError("with_usage_limits(): pass an ak.UsageLimits or its fields as keywords, not both")
        self._kwargs["usage_limits"] = limits if limits is not None else UsageLimits(**settings)
        return self

    def with_stream_options(self, options: StreamOptions | None = None, **settings: Any) -> Self:
        """Default `StreamOptions` of `run_stream`: `with_stream_options(buffer_size=50, text_only=True)`.

        `settings` are `StreamOptions` fields; they replace those of `options`. A stream's own
        keywords still win.

        Raises:
            UserError: a setting is not a `StreamOptions` field, or its value is out of range.

        """
        if options is not None and not isinstance(options, StreamOptions):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UserError(f"with_stream_options() takes an ak.StreamOptions, got {type(options).__name__}")
        valid = {f.name for f in fields(StreamOptions)}
        unknown = sorted(settings.keys() - valid)
        if unknown:
            raise UserError(
                f"with_stream_options(): unknown setting {unknown[0]!r}; StreamOptions fields are: {', '.join(sorted(valid))}"
            )
        base = options if options is not None else self._kwargs.get("stream_options", StreamOptions())
        self._kwargs["stream_options"] = replace(base, **settings) if settings else base
        return self

    def with_description(self, description: str) -> Self:
        """What the agent does (used when it becomes a tool or a workflow step)."""
        self._kwargs["description"] = description
        return self

    def with_handler(self, handler: Handler) -> Self:
        """Replace the default LLM loop: `async def handler(input: str, caps: ak.Capabilities) -> str`.

        Raises:
            UserError: `handler` is not a coroutine function taking `(input, caps)`.

        """
        check_handler(handler)
        self._kwargs["handler"] = handler
        return self

    def with_middleware(self, *middleware: Middleware) -> Self:
        """Add middleware (`before_run`/`after_run` hooks); hooks run in the order added.

        Raises:
            UserError: an item has no async `before_run`/`after_run`.

        """
        self._kwargs["middleware"] = (*self._kwargs.get("middleware", ()), *check_middleware(middleware))
        return self

    def with_output(self, output_type: Any, *, retries: int | None = None) -> Self:
        """Answer with a validated `output_type` (a type, or `ak.NativeOutput(T)`, ...); see `Agent`.

        `retries` is `output_retries`: corrections sent for an invalid answer (default 1).

        Raises:
            UserError: the type cannot be turned into a JSON schema (checked at `build()`).

        """
        self._kwargs["output_type"] = output_type
        if retries is not None:
            self._kwargs["output_retries"] = retries
        return self

    def with_durability(self, durability: Durability, store: Store | None = None) -> Self:
        """Journal runs (`"exit"` or `"step"`, or `"off"`) in `store`, so `agent.resume(run_id)` continues them."""
        self._kwargs["durability"] = durability
        if store is not None:
            self._kwargs["store"] = store
        return self

    def build(self) -> Agent[Any]:
        """Build the agent.

        Raises:
            UserError: a setting is invalid (the message names it).

        """
        kwargs = dict(self._kwargs)
        if self._options:
            kwargs["options"] = RunOptions(**self._options)
        return Agent[Any](self._name, tools=tuple(self._tools), **kwargs)
