"""`Agent`: a model, a system prompt, tools and memory, run as many times as you like, concurrently."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Self, Unpack, overload

from typing_extensions import TypeVar

from .._result import OutputT, Result
from .._usage_limits import UsageLimits
from .._utils import is_seconds, run_blocking
from ..content import UserContent, split_user_content
from ..errors import UserError
from ..memory import Memory
from ..messages import Message
from ..metrics import Metrics, MetricsSnapshot, metrics_for
from ..options import RunOptions, RunOptionsDict, StreamRunOptionsDict, check_run_options, resolve_run_options
from ..output._modes import DEFAULT_OUTPUT_RETRIES, NativeOutput, PromptedOutput, ToolCallOutput
from ..providers._base import Model
from ..providers._registry import LLMConfig, LLMSpec, infer_model, parse_llm
from ..streaming._options import StreamOptions, StreamOptionsDict, resolve_stream_options, split_stream_options
from ..streaming._sink import ChunkSink, TaggedSink
from ..streaming._stream import Stream
from ..tools._cache import ToolCache
from ..tools._call import AgentTools, ToolSet
from ..tools._metrics import ToolMetricsSnapshot
from ..tools._source import ToolSource
from ..tools._tool import Tool
from ._handler import Handler, check_handler
from ._limits import check_limits
from ._middleware import Middleware, check_middleware
from ._run import run_agent

if TYPE_CHECKING:
    from ..config import Config
    from ..durable._types import Durability, Edit, RunInfo, RunStatus
    from ..executors import BatchResult, Executor, ProgressCallback
    from ..output._run import OutputValidator
    from ..stores._base import Store

T = TypeVar("T")
V = TypeVar("V", bound="Callable[..., Any]")

OutputType = type[T] | NativeOutput[T] | ToolCallOutput[T] | PromptedOutput[T]
"""What `output_type=` takes: a type, or a type in a mode (`ak.NativeOutput(Invoice)`)."""

__all__ = ("Agent", "ToolLike")

ToolLike = Tool | ToolSource | Callable[..., Any]
"""A `Tool`, a tool source (an MCP server, a `ToolRegistry`), or a plain function (wrapped as a tool)."""

_NO_OPTIONS = RunOptions()


class StreamRunKwargs(StreamOptionsDict, StreamRunOptionsDict, total=False):
    """The keywords of `Agent.run_stream`: the stream's (`StreamOptions`) and the run's (`RunOptions`)."""


DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool call may take when neither the tool nor the agent says otherwise."""


# Runtime checks of values the type hints already describe: callers without a type checker
# deserve a clear error, not a TypeError from deep inside a run.
def _check_query(query: object) -> str | Message:
    if isinstance(query, str):
        return query
    # A list of text and images/audio/documents becomes one user message that carries them.
    text, parts = split_user_content(query)
    return Message("user", text, parts=parts)


def _check_memory(memory: object) -> None:
    if not isinstance(memory, Memory):
        raise UserError(f"memory must be an ak.Memory, e.g. ak.Memory(history_limit=10), got {memory!r}")


def _check_output(output_type: object, where: str) -> None:
    """Build (and cache) the output type's schema now, so a type without one fails here, naming it."""
    if output_type is None or output_type is str:
        return
    from ..output._schema import output_plan  # pydantic, only for agents that ask for structured output

    output_plan(output_type)


# The durable package (journals, stores) is imported by the agents that use it, not by `import agentickit`.
def _check_durability(durability: object, name: str) -> Durability:
    from ..durable._types import check_durability

    return check_durability(durability, f"agent {name!r}: durability")


def _check_store(store: object, name: str) -> Store | None:
    from ..durable._runs import check_store

    return check_store(store, f"agent {name!r}")


def _has_approvals(tools: tuple[Any, ...]) -> bool:
    """Whether any plain tool may need a person's approval (then every run keeps a journal to pause into)."""
    return any(isinstance(t, Tool) and t.requires_approval is not False for t in tools)


class _Produce:
    """A stream's producer: the run, given the stream's sink (~60 bytes a live stream; a closure took ~220)."""

    __slots__ = ("agent", "opts", "prompt")

    def __init__(self, agent: Agent[Any], prompt: str | Message, opts: RunOptions) -> None:
        self.agent = agent
        self.prompt = prompt
        self.opts = opts

    def __call__(self, sink: ChunkSink) -> Awaitable[Result[Any]]:
        return self.agent._start(self.prompt, self.opts, sink)  # pyright: ignore[reportPrivateUsage]


class Agent(Generic[OutputT]):
    """An LLM agent: a model, a system prompt, tools and memory; `Agent[Invoice]` answers `Invoice`s.

    Construction is cheap (no I/O, no schema work): the model client, tool schemas and
    connections are created on the first run, inside the running loop, and released by
    `cleanup()` or `async with agent:`. One agent serves any number of concurrent runs; per-run
    options never change the agent.

    Args:
        name: the agent's name (shown in results, metrics and errors).
        llm: `"provider:model"`, an `LLMConfig`, or a `Model` object. Defaults to the offline
            `simulated` model.
        system_prompt: sent first in every run.
        tools: `Tool`s or plain functions the model may call.
        memory: history settings; history is kept per `session_id` only.
        tool_timeout: default seconds a tool call may take (fast tools ~5 s, standard 30 s, slow 60 s+);
            60 s unless set, so no tool can hang a run by default. `None` removes the limit.
        max_concurrent_tools: at most this many tool calls of this agent run at once, across all its runs.
        tool_cache: where results of tools with `cache_ttl` are kept (`ak.ToolCache.memory()` or
            `ak.ToolCache.redis(url)`); defaults to a small in-process cache per agent.
        options: default `RunOptions` for every run (a run's own options win).
        description: what the agent does (used when it becomes a tool or a workflow step).
        handler: `async def handler(input: str, caps: ak.Capabilities) -> str`, run instead of the
            default LLM loop (see `Capabilities`); it may answer without calling the model.
        middleware: `ak.Middleware` objects whose `before_run`/`after_run` hooks wrap every run, in order.
        stream_options: default `StreamOptions` of `run_stream` (its own keywords win), e.g. from a
            config file's `[streaming]` section.
        usage_limits: a budget (`ak.UsageLimits`) every run of this agent must stay within; a run's
            own `usage_limits` option replaces it. Exceeding it raises `UsageLimitExceeded`.
        output_type: the answer's type (a pydantic model, dataclass, TypedDict, `int`, `list[str]`,
            `Literal`/`Enum`, a union of models), or one in a mode: `ak.NativeOutput(T)`,
            `ak.ToolCallOutput(T)`, `ak.PromptedOutput(T)`. `Result.output` then holds the validated
            object. Default: plain text.
        output_retries: corrections sent to the model for an invalid answer before
            `OutputValidationError` (default 1).
        durability: `off` (default), `exit` or `step`: journal runs so `resume(run_id)` continues them
            after a failure or a crash (see `agentickit.durable`); a run option can override it.
        store: where journals go (an `ak.stores` store); defaults to the memory's store, else an
            in-process one (resumable in this process only).

    Raises:
        UnknownProviderError: `llm` names a provider that does not exist.
        UserError: an argument has the wrong type or value.

    """

    __slots__ = (
        "__weakref__",
        "_approvals",
        "_metrics",
        "_model",
        "_tool_map",
        "_tools_state",
        "description",
        "durability",
        "handler",
        "llm",
        "max_concurrent_tools",
        "memory",
        "middleware",
        "name",
        "options",
        "output_retries",
        "output_type",
        "output_validators",
        "store",
        "stream_options",
        "system_prompt",
        "tool_cache",
        "tool_timeout",
        "tools",
        "usage_limits",
    )

    @overload
    def __init__(
        self,
        name: str,
        llm: LLMSpec = "simulated",
        *,
        system_prompt: str = "",
        tools: Sequence[ToolLike] = (),
        memory: Memory | None = None,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        max_concurrent_tools: int | None = None,
        tool_cache: ToolCache | None = None,
        options: RunOptions | None = None,
        description: str = "",
        handler: Handler | None = None,
        middleware: Sequence[Middleware] = (),
        stream_options: StreamOptions | None = None,
        usage_limits: UsageLimits | None = None,
        output_type: OutputType[OutputT] | None = None,
        output_retries: int = DEFAULT_OUTPUT_RETRIES,
        durability: Durability = "off",
        store: Store | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: Agent[Any],
        name: str,
        llm: LLMSpec = "simulated",
        *,
        system_prompt: str = "",
        tools: Sequence[ToolLike] = (),
        memory: Memory | None = None,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        max_concurrent_tools: int | None = None,
        tool_cache: ToolCache | None = None,
        options: RunOptions | None = None,
        description: str = "",
        handler: Handler | None = None,
        middleware: Sequence[Middleware] = (),
        stream_options: StreamOptions | None = None,
        usage_limits: UsageLimits | None = None,
        output_type: object,
        output_retries: int = DEFAULT_OUTPUT_RETRIES,
        durability: Durability = "off",
        store: Store | None = None,
    ) -> None: ...

    def __init__(
        self,
        name: str,
        llm: LLMSpec = "simulated",
        *,
        system_prompt: str = "",
        tools: Sequence[ToolLike] = (),
        memory: Memory | None = None,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
        max_concurrent_tools: int | None = None,
        tool_cache: ToolCache | None = None,
        options: RunOptions | None = None,
        description: str = "",
        handler: Handler | None = None,
        middleware: Sequence[Middleware] = (),
        stream_options: StreamOptions | None = None,
        usage_limits: UsageLimits | None = None,
        output_type: Any = None,
        output_retries: int = DEFAULT_OUTPUT_RETRIES,
        durability: Durability = "off",
        store: Store | None = None,
    ) -> None:
        if llm.__class__ is str:
            parse_llm(llm)  # type: ignore[arg-type]  # fails fast on an unknown provider; cached
        elif isinstance(llm, list | tuple):
            llm = infer_model(llm)  # a fallback chain; its models are still built lazily
        elif not isinstance(llm, LLMConfig | Model):
            raise UserError(
                f"llm must be 'provider:model', an LLMConfig, a Model or a list of them, got {type(llm).__name__}"
            )
        if tool_timeout is not DEFAULT_TOOL_TIMEOUT and tool_timeout is not None and not is_seconds(tool_timeout):
            raise UserError(
                f"tool_timeout must be a number of seconds > 0 (or None for no limit), got {tool_timeout!r}"
            )
        if memory is not None:
            _check_memory(memory)
        if max_concurrent_tools is not None and max_concurrent_tools < 1:
            raise UserError(f"max_concurrent_tools must be >= 1 (or None for no cap), got {max_concurrent_tools}")
        if options is not None:
            check_run_options(options)
        if stream_options is not None and not isinstance(stream_options, StreamOptions):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UserError(f"stream_options= takes an ak.StreamOptions, got {type(stream_options).__name__}")
        self.name = name
        self.llm = llm
        self.system_prompt = system_prompt
        self.tools = tuple(tools)
        self.memory = memory
        self.tool_timeout = tool_timeout
        self.max_concurrent_tools = max_concurrent_tools
        self.tool_cache = tool_cache
        self.options = options if options is not None else _NO_OPTIONS
        self.description = description
        if handler is not None:
            check_handler(handler)  # cached per function, so building stays cheap
        self.handler = handler
        self.middleware = check_middleware(middleware) if middleware else ()
        self.stream_options = stream_options
        self.usage_limits = None if usage_limits is None else check_limits(usage_limits, "usage_limits=")
        if output_type is not None and output_type is not str:
            _check_output(output_type, "output_type")
            if handler is not None:
                raise UserError(
                    f"agent {name!r}: output_type needs the default loop, and this agent has a custom handler; "
                    "validate in the handler, or drop one of them"
                )
        if output_retries.__class__ is not int or output_retries < 0:
            raise UserError(f"output_retries must be an int >= 0, got {output_retries!r}")
        self.output_type = output_type
        """The answer's type (or mode object) given, `None` for plain text."""
        self.output_retries = output_retries
        self.output_validators: list[OutputValidator] = []
        """Functions `@agent.output_validator` registered, run in order on every valid answer."""
        # The defaults skip the checks (and their f-string labels): building an agent is a hot path.
        self.durability: Durability = durability if durability == "off" else _check_durability(durability, name)
        self.store = store if store is None else _check_store(store, name)
        self._approvals: bool | None = None  # whether a tool may need approval: worked out at the first run
        self._model: Model | None = None
        self._tool_map: dict[str, Tool] | None = None
        self._tools_state: AgentTools | None = None
        self._metrics: Metrics | None = None

    # -- construction helpers ----------------------------------------------------------------------

    @staticmethod
    def builder(name: str) -> AgentBuilder:
        """Start a fluent builder: `Agent.builder("a").with_llm("openai", "gpt-4o-mini").build()`."""
        from ._builder import AgentBuilder

        return AgentBuilder(name)

    @classmethod
    def from_config(cls, config: Config | str | os.PathLike[str]) -> Agent:
        """Build an agent from a `Config` or a TOML file (see `ak.load_config`).

        Raises:
            ConfigError: the file is not valid TOML, a key is wrong, or it declares a workflow
                (use `agentickit.config.load_runnable` for those).

        """
        from ..config import agent_from_config

        return agent_from_config(config)

    # -- lazily built parts ----------------------------------------------------------------------

    @property
    def model(self) -> Model:
        """The model client, created on first use."""
        model = self._model
        if model is None:
            model = self._model = infer_model(self.llm)
        return model

    @property
    def tool_map(self) -> Mapping[str, Tool]:
        """The agent's tools by name, built on first use.

        Tools of sources (MCP servers, registries) appear once a run (or `resolve_tools()`) has
        resolved them; before that this holds the plain tools only.
        """
        state = self._tools_state
        if state is not None and state.toolset is not None:
            return state.toolset
        if self._tool_map is None:
            self._build_tools()
        return self._tool_map  # type: ignore[return-value]

    def _build_tools(self) -> None:
        tool_map: dict[str, Tool] = {}
        for item in self.tools:
            if isinstance(item, ToolSource):
                continue
            t = item if isinstance(item, Tool) else Tool(item)
            if t.name in tool_map:
                raise UserError(f"agent {self.name!r} has two tools named {t.name!r}; give one another name")
            tool_map[t.name] = t
        self._tool_map = tool_map

    async def resolve_tools(self) -> ToolSet:
        """Every tool this agent offers, sources included: MCP servers connect and list their tools here.

        Done once, on the first run, then cached (a `dynamic` source is asked again on every run).

        Raises:
            MCPError: an MCP server could not be started or reached.
            UserError: two tools have the same name.

        """
        state = self._tools_state
        if state is not None:
            toolset = state.toolset
            if toolset is not None and not toolset.dynamic:
                return toolset
        else:
            state = self._tools_state = AgentTools(self.tool_cache, self.max_concurrent_tools)
        return await state.resolve(self.tools, default_timeout=self.tool_timeout, agent_name=self.name)

    def tool_metrics(self) -> ToolMetricsSnapshot:
        """Tool-call counters of this agent: calls, errors, timeouts, retries, cache hit rate, p50/p95 duration.

        `hung` (overall and per tool) is how many sync calls are still running in worker threads after
        they timed out, right now.
        """
        state = self._tools_state
        if state is None:
            return ToolMetricsSnapshot()
        tools = state.toolset.values() if state.toolset is not None else ()
        return state.metrics.snapshot({t.name: n for t in tools if (n := t.hung_calls)})

    async def _close_tools(self) -> None:
        state = self._tools_state
        if state is not None:
            state.toolset = None  # sources reconnect and list again on the next run
        for item in self.tools:
            if isinstance(item, ToolSource):
                await item.aclose()
        if state is not None and state.cache is not None:
            await state.cache.aclose()

    def output_validator(self, fn: V) -> V:
        """Register a check of every structured answer (a decorator); sync or async.

        It takes the validated output; it may return a replacement (or `None` to keep it) and may
        `raise ak.ModelRetry("why")` to send the model a correction (counted against `output_retries`).
        Sync functions run in a worker thread, so they never block the loop. Validators apply to
        runs that use the agent's own `output_type`.

        Raises:
            UserError: `fn` is not a function of one argument.

        """
        from ..output._run import check_validator

        self.output_validators.append(check_validator(fn))
        return fn

    # -- running ------------------------------------------------------------------------------------

    def _options(self, options: RunOptions | None, overrides: Mapping[str, Any], output_type: Any = None) -> RunOptions:
        if output_type is not None:
            _check_output(output_type, "output_type")
            overrides = {**overrides, "output_type": output_type}
        opts = resolve_run_options(options, overrides)
        return opts.over(self.options) if self.options is not _NO_OPTIONS else opts

    @overload
    async def run(
        self,
        query: UserContent,
        *,
        output_type: None = None,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[OutputT]: ...

    @overload
    async def run(
        self,
        query: UserContent,
        *,
        output_type: OutputType[T],
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[T]: ...

    @overload
    async def run(
        self,
        query: UserContent,
        *,
        output_type: object,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[Any]: ...

    async def run(
        self,
        query: UserContent,
        *,
        output_type: Any = None,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[Any]:
        """Run the agent once and return its `Result`.

        Options may be given as keywords (`max_tokens=100`) or as `options=RunOptions(...)`;
        keywords win, then the agent's own `options`. `output_type` asks for a typed answer for
        this run only (see the class docs); `Result.output` then has that type.
        `deps=` reaches tools that take an `ak.RunContext` (`ctx.deps`); `usage_limits=` replaces the
        agent's budget for this run.

        Raises:
            RunError: a typed subclass: `ProviderError` (auth, rate limit, server, bad response),
                `RunTimeoutError`, `UsageLimitExceeded`, ...
            UserError: an unknown option name.
            OutputValidationError: the answer did not fit `output_type` after `output_retries` corrections.

        """
        prompt = _check_query(query)
        opts = self._options(options, kwargs, output_type)
        return await self._start(prompt, opts, None)

    def _start(self, prompt: str | Message, opts: RunOptions, sink: ChunkSink | None) -> Awaitable[Result[Any]]:
        mode = opts.durability if opts.durability is not None else self.durability
        approvals = self._approvals
        if approvals is None:
            approvals = self._approvals = _has_approvals(self.tools)
        if mode == "off" and not approvals:
            return run_agent(self, prompt, opts, sink)
        from ..durable._agent import run_durable

        return run_durable(self, prompt, opts, sink, mode)

    async def resume(
        self,
        run_id: str,
        *,
        approvals: Mapping[str, bool | Edit | str] | None = None,
        options: RunOptions | None = None,
    ) -> Result:
        """Continue a journaled run (paused, failed, cancelled or crashed), in this process or another.

        Model responses and tool results in the journal are replayed, not asked or run again. A paused
        run needs answers to its `pending` requests: `approvals={id: True | False | ak.Edit(args=...)}`.
        The agent must be built the same way (name and tools) and on the same `store`.

        Raises:
            RunNotFoundError: no journal for `run_id` in the store.
            RunFinishedError: the run already finished.
            ApprovalError: `approvals` names ids that are not pending.
            JournalMismatchError: another agent (or other tools) wrote the journal.

        """
        from ..durable._agent import resume_agent

        return await resume_agent(self, run_id, approvals, options, None)

    def resume_stream(
        self,
        run_id: str,
        *,
        approvals: Mapping[str, bool | Edit | str] | None = None,
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
    ) -> Stream[Result]:
        """`resume()` as a stream (replayed turns arrive as TEXT chunks; then the run streams live)."""
        from ..durable._agent import resume_agent

        sopts = resolve_stream_options(stream_options if stream_options is not None else self.stream_options)

        def produce(sink: ChunkSink) -> Awaitable[Result]:
            return resume_agent(self, run_id, approvals, options, sink)

        return Stream(produce, sopts, {"agent_name": self.name})

    async def cancel_run(self, run_id: str, *, reason: str = "cancelled") -> None:
        """Give up a journaled run that is not running here (paused, failed or crashed): it resumes no more.

        The journal is marked `cancelled` with `reason`; a later `resume()` raises `RunFinishedError`
        saying so. (A run in progress in this process is cancelled through its task or stream.)

        Raises:
            RunNotFoundError: no journal for `run_id` in the store.
            RunFinishedError: the run already finished or was cancelled.
            JournalMismatchError: another agent wrote the journal.

        """
        from ..durable._agent import cancel_agent_run

        await cancel_agent_run(self, run_id, reason)

    async def runs(self, *, status: RunStatus | None = None, limit: int = 100) -> list[RunInfo]:
        """This agent's journaled runs in its store, most recent first; `status` filters them."""
        from ..durable._agent import agent_runs

        return await agent_runs(self, status, limit)

    @overload
    def run_sync(
        self,
        query: UserContent,
        *,
        output_type: None = None,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[OutputT]: ...

    @overload
    def run_sync(
        self,
        query: UserContent,
        *,
        output_type: OutputType[T],
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[T]: ...

    @overload
    def run_sync(
        self,
        query: UserContent,
        *,
        output_type: object,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[Any]: ...

    def run_sync(
        self,
        query: UserContent,
        *,
        output_type: Any = None,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> Result[Any]:
        """Blocking `run()` for scripts and notebooks without a running event loop.

        Raises:
            UserError: called from inside a running event loop (use `await agent.run(...)` there).

        """
        prompt = _check_query(query)
        opts = self._options(options, kwargs, output_type)
        return run_blocking(lambda: self._start(prompt, opts, None), self._close_loop_bound, "agent")

    @overload
    def run_stream(
        self,
        query: UserContent,
        *,
        output_type: None = None,
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
        **kwargs: Unpack[StreamRunKwargs],
    ) -> Stream[Result[OutputT]]: ...

    @overload
    def run_stream(
        self,
        query: UserContent,
        *,
        output_type: OutputType[T],
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
        **kwargs: Unpack[StreamRunKwargs],
    ) -> Stream[Result[T]]: ...

    @overload
    def run_stream(
        self,
        query: UserContent,
        *,
        output_type: object,
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
        **kwargs: Unpack[StreamRunKwargs],
    ) -> Stream[Result[Any]]: ...

    def run_stream(
        self,
        query: UserContent,
        *,
        output_type: Any = None,
        options: RunOptions | None = None,
        stream_options: StreamOptions | None = None,
        **kwargs: Unpack[StreamRunKwargs],
    ) -> Stream[Result[Any]]:
        """Run the agent and stream its chunks; the run starts when the stream is first read.

        ```python
        async for chunk in agent.run_stream("query", flush_interval=0.1):
            ...
        ```

        The stream keywords are those of `StreamOptions` (`buffer_size`, `flush_interval`, `text_only`,
        `include_thoughts`, `include_tool_calls`, `include_metadata`, `timeout`, `on_chunk`;
        `stream_options=` gives them as one object, and keywords that differ from their defaults win
        over it); the rest are run options, as for `run()`. `timeout` here is the stream's deadline;
        `RunOptions.timeout` still bounds the run itself.
        With an `output_type`, `OUTPUT` chunks carry the answer as a partial object while it streams
        (`chunk.output`), then the validated one; `wait()` returns the `Result` with `output` set.

        Raises:
            UserError: an unknown run option, or a stream option out of range.

        """
        prompt = _check_query(query)
        sopts, run_kwargs = split_stream_options(
            stream_options if stream_options is not None else self.stream_options, kwargs
        )
        opts = self._options(options, run_kwargs, output_type)
        # `for chunk in stream` runs on a private loop: what the run opened there dies with it (as in run_sync).
        return Stream(
            _Produce(self, prompt, opts), sopts, {"agent_name": self.name}, on_sync_close=self._close_loop_bound
        )

    async def run_step(self, query: str, *, options: RunOptions | None, sink: ChunkSink | None, tag: str) -> Result:
        """Run as a step of a workflow (`AgentLike`): the chunks go straight into the workflow's `sink`.

        Each chunk is tagged with `tag` (the step's path); the workflow's stream options shape them and
        its stream ends with the one DONE, so the agent runs no stream of its own.

        Raises:
            RunError: as `run()` (the workflow records it as the step's failure).

        """
        opts = self._options(options, {})
        return await self._start(_check_query(query), opts, None if sink is None else TaggedSink(sink, tag))

    async def run_batch(
        self,
        queries: Sequence[str],
        *,
        concurrency: int = 10,
        on_progress: ProgressCallback | None = None,
        executor: Executor | None = None,
        options: RunOptions | None = None,
        **kwargs: Unpack[RunOptionsDict],
    ) -> BatchResult:
        """Run many queries, at most `concurrency` at a time, and return them in input order.

        A failing item does not stop the others: its `BatchItem.error` holds the error.
        `on_progress(done, total, item)` is called as each item finishes.
        """
        from ..executors import LocalExecutor

        opts = resolve_run_options(options, kwargs)
        runner = executor if executor is not None else LocalExecutor()
        return await runner.run_batch(self, queries, concurrency=concurrency, options=opts, on_progress=on_progress)

    # -- observability ------------------------------------------------------------------------------

    def metrics(self, *, reset: bool = False) -> MetricsSnapshot:
        """A snapshot of this agent's counters: runs, errors by type, latency percentiles, tokens, cost.

        Args:
            reset: start counting from zero after taking the snapshot.

        """
        m = metrics_for(self)
        snap = m.snapshot()
        if reset:
            m.reset()
        return snap

    # -- lifecycle ----------------------------------------------------------------------------------

    async def _close_model(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            await model.aclose()

    async def _close_loop_bound(self) -> None:
        """Close what runs opened on the running loop (HTTP pools, MCP sessions), before a private loop ends."""
        await self._close_model()
        if self._tools_state is not None:
            await self._close_tools()

    async def cleanup(self) -> None:
        """Release HTTP pools, MCP sessions and stores. Idempotent; the agent can run again afterwards."""
        await self._close_model()
        await self._close_tools()
        if self.memory is not None:
            await self.memory.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.cleanup()

    # -- pickling: rebuild from configuration in another process ------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "llm": self.llm,
            "system_prompt": self.system_prompt,
            "tools": self.tools,
            "memory": self.memory,
            "tool_timeout": self.tool_timeout,
            "max_concurrent_tools": self.max_concurrent_tools,
            "tool_cache": self.tool_cache,
            "options": self.options,
            "description": self.description,
            "handler": self.handler,
            "middleware": self.middleware,
            "stream_options": self.stream_options,
            "usage_limits": self.usage_limits,
            "output_type": self.output_type,
            "output_retries": self.output_retries,
            "output_validators": self.output_validators,
            "durability": self.durability,
            "store": self.store,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        validators = state.pop("output_validators", [])
        self.__init__(**state)
        self.output_validators.extend(validators)

    def __repr__(self) -> str:
        llm = self.llm if isinstance(self.llm, str) else repr(self.llm)
        return f"Agent({self.name!r}, llm={llm!r}, tools={len(self.tools)})"


if TYPE_CHECKING:
    from ._builder import AgentBuilder
