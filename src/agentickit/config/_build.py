"""Turning a validated `Config` into the runtime objects: an `Agent`, or a workflow of agents."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._usage_limits import UsageLimits
from ..agent import Agent, chat_agent, check_handler, data_agent, research_agent
from ..errors import ConfigFileError, UserError
from ..memory import Memory
from ..options import RunOptions
from ..providers._registry import LLMConfig, parse_llm
from ..streaming._options import StreamOptions
from ..tools._tool import Tool
from ._loader import load_config
from ._schema import AgentSection, Config, LLMSection, MemorySection, OutputSection, ToolsSection

if TYPE_CHECKING:
    from ..executors import Executor
    from ..workflows import Workflow

__all__ = ("agent_from_config", "build_agent", "executor_from_config", "load_runnable", "workflow_from_config")

_PRESETS: dict[str, Callable[..., Agent]] = {"chat": chat_agent, "research": research_agent, "data": data_agent}


def _source(cfg: Config) -> str:
    return cfg.source


STATIC_IMPORTS: ContextVar[bool] = ContextVar("agentickit_config_static_imports", default=False)
"""While set, the modules a config names are found and checked, never imported (`config check`)."""

# The config files being loaded, outermost first: a workflow file naming itself (or a -> b -> a)
# is reported as that chain instead of recursing until Python gives up.
_LOADING: ContextVar[tuple[Path, ...]] = ContextVar("agentickit_config_loading", default=())


def _import(spec: str, key: str, cfg: Config) -> Any:
    """Import `package.module:attr`; modules next to the config file are importable too.

    The config's directory is on `sys.path` only while the module is imported: left there, a later
    lazy import anywhere in the process (an SDK, say) could be served from the config's directory.
    """
    module_name, _, attr = spec.partition(":")
    if STATIC_IMPORTS.get():
        return _find_statically(module_name, attr, spec, key, cfg)
    try:
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            base = cfg.source_dir
            if base is None or exc.name != module_name.split(".")[0] or str(base) in sys.path:
                raise
            # A config file's handler and tools usually live next to it (`agentickit run agent.toml`).
            sys.path.insert(0, str(base))
            try:
                obj = importlib.import_module(module_name)
            finally:
                try:
                    sys.path.remove(str(base))
                except ValueError:
                    pass  # the module took it out itself
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigFileError(
            f"{_source(cfg)}: {key} = {spec!r} cannot be imported: {type(exc).__name__}: {exc}",
            path=_source(cfg),
            key=key,
        ) from exc
    return obj


def _find_statically(module_name: str, attr: str, spec: str, key: str, cfg: Config) -> Any:
    """Check that `module:attr` exists without running the module; return a stand-in for it."""
    from importlib.machinery import PathFinder

    def fail(why: str) -> ConfigFileError:
        return ConfigFileError(
            f"{_source(cfg)}: {key} = {spec!r} cannot be imported: {why} (checked without running it; "
            "`agentickit config check --import` imports it)",
            path=_source(cfg),
            key=key,
        )

    if not module_name or not attr:
        raise fail("write it as 'module:function'")
    parts = module_name.split(".")
    base = cfg.source_dir
    search: list[str] | None = [*sys.path, *([str(base)] if base is not None else [])]
    found = None
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        if i == 0 and name in sys.modules:
            found = getattr(sys.modules[name], "__spec__", None)
        else:
            found = PathFinder.find_spec(name, search)
        if found is None:
            raise fail(f"no module named {name!r}")
        search = list(found.submodule_search_locations or [])
    origin = getattr(found, "origin", None)
    top = attr.split(".")[0]
    if origin and origin.endswith(".py"):
        import ast

        try:
            tree = ast.parse(Path(origin).read_bytes(), origin)
        except (OSError, SyntaxError, ValueError) as exc:
            raise fail(f"{origin} cannot be parsed: {exc}") from None
        if not _defines(tree, top):
            raise fail(f"{module_name} defines no top-level {top!r}")

    async def stand_in(query: str, caps: Any = None) -> str:
        raise ConfigFileError(f"{spec!r} was only checked, not imported", path=_source(cfg))

    stand_in.__name__ = stand_in.__qualname__ = attr.split(".")[-1]
    return stand_in


def _defines(tree: Any, name: str) -> bool:
    import ast

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets: list[ast.expr] = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
                    return True
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name or alias.name == "*":
                    return True
        if isinstance(node, ast.If | ast.Try):
            # Names defined under `if`/`try` at the top level (fallback imports) count too.
            inner = ast.Module(
                body=[*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])], type_ignores=[]
            )
            for handler in getattr(node, "handlers", []):
                inner.body.extend(handler.body)
            if _defines(inner, name):
                return True
    return False


def _llm(section: LLMSection) -> tuple[LLMConfig | list[str | LLMConfig], RunOptions | None]:
    primary, run = _llm_config(section)
    if not section.fallbacks:
        return primary, run
    # A fallback chain: the Agent turns the list into a FallbackModel (built lazily).
    chain: list[str | LLMConfig] = [primary]
    for item in section.fallbacks:
        chain.append(item if isinstance(item, str) else _llm_config(LLMSection.model_validate(item))[0])
    return chain, run


def _llm_config(section: LLMSection) -> tuple[LLMConfig, RunOptions | None]:
    model = section.model or parse_llm(section.provider).model
    options = dict(section.options)
    llm = LLMConfig(
        provider=section.provider,
        model=model,
        base_url=section.base_url,
        api_key=section.api_key,
        temperature=section.temperature,
        max_tokens=section.max_tokens,
        timeout=section.timeout,
        request_timeout=section.request_timeout,
        max_retries=section.max_retries,
        options=options,
        transport=section.transport or "aiohttp",
        max_concurrency=section.max_concurrency,
    )
    run = None
    if section.temperature is not None or section.max_tokens is not None:
        # Every provider honours the run's settings; not every one reads LLMConfig defaults.
        run = RunOptions(temperature=section.temperature, max_tokens=section.max_tokens)
    return llm, run


def _tools(section: ToolsSection, key: str, cfg: Config) -> list[Any]:
    out: list[Any] = []
    cache = section.cache
    cache_ttl = (cache.ttl or 300.0) if cache is not None and cache.enabled else None
    for i, spec in enumerate(section.functions):
        item_key = f"{key}.functions[{i}]"
        obj = _import(spec, item_key, cfg)
        if not isinstance(obj, Tool) and not callable(obj):
            raise ConfigFileError(
                f"{_source(cfg)}: {item_key} = {spec!r} is a {type(obj).__name__}, not a function or ak.Tool",
                path=_source(cfg),
                key=item_key,
            )
        try:
            # Config values are defaults: what a tool declares itself wins and nothing else of it is lost.
            base = obj if isinstance(obj, Tool) else Tool(obj)
            out.append(
                base.with_defaults(retries=section.max_retries, rate_limit=section.rate_limit, cache_ttl=cache_ttl)
            )
        except UserError as exc:
            raise ConfigFileError(f"{_source(cfg)}: {key}: {exc}", path=_source(cfg), key=key) from exc
    return out


def _mcp_servers(section: AgentSection, root: Config, tools: ToolsSection | None, key: str) -> list[Any]:
    mcp = section.mcp if section.mcp is not None else root.mcp
    if mcp is None or not mcp.servers:
        return []
    server_cls: Any = importlib.import_module("agentickit.mcp").MCPServer
    # `[tools]` policies are defaults for MCP tools too; what a server entry sets itself wins.
    defaults: dict[str, Any] = {}
    if tools is not None:
        cache = tools.cache
        defaults = {
            "retries": tools.max_retries,
            "rate_limit": tools.rate_limit,
            "cache_ttl": (cache.ttl or 300.0) if cache is not None and cache.enabled else None,
        }
    servers: list[Any] = []
    for i, s in enumerate(mcp.servers):
        options: dict[str, Any] = {"name": s.name}
        for field in _MCP_FIELDS:
            value = getattr(s, field)
            if value is None:
                value = defaults.get(field)
            if value is not None:
                options[field] = value
        if s.tool_policies:
            options["tool_policies"] = {
                tool: policy.model_dump(exclude_none=True) for tool, policy in s.tool_policies.items()
            }
        if s.cwd is not None:
            cwd = Path(s.cwd)
            base = root.source_dir
            options["cwd"] = base / cwd if not cwd.is_absolute() and base is not None else cwd
        try:
            if s.transport == "stdio":
                servers.append(server_cls.stdio(s.command, s.args, **options))
            elif s.transport == "http":
                servers.append(server_cls.http(s.url, **options))
            else:
                servers.append(server_cls.sse(s.url, **options))
        except UserError as exc:
            where = f"{key}mcp.servers[{i}]"
            raise ConfigFileError(f"{_source(root)}: {where}: {exc}", path=_source(root), key=where) from exc
    return servers


_MCP_FIELDS = (
    "timeout",
    "connect_timeout",
    "env",
    "headers",
    "prefix",
    "tool_filter",
    "cache_tools_list",
    "retries",
    "retry_backoff",
    "cache_ttl",
    "rate_limit",
    "max_concurrency",
)
"""`[[mcp.servers]]` keys passed to `MCPServer` as they are (unset ones keep its defaults)."""


def memory_from_section(section: MemorySection, root: Config) -> Memory:
    """The `Memory` a `[memory]` section describes (the store is connected on first use)."""
    from .. import stores
    from ..memory import HashEmbedder, OpenAIEmbedder, SentenceTransformerEmbedder

    extra: dict[str, Any] = {} if section.prefix is None else {"prefix": section.prefix}
    store: stores.Store | None = None
    if section.provider == "sqlite":
        path = Path(section.path or "")
        base = root.source_dir
        if not path.is_absolute() and base is not None:
            path = base / path
        store = stores.SQLite(path, **extra)
    elif section.provider == "postgres":
        store = stores.Postgres(section.dsn or "", pgbouncer=bool(section.pgbouncer), **extra)
    elif section.provider == "redis":
        store = stores.Redis(section.url or "", **extra)
    elif section.max_bytes is not None:
        store = stores.InMemory(max_bytes=section.max_bytes)
    embedder: Any = None
    if section.embedder == "openai":
        embedder = OpenAIEmbedder(
            section.embedding_model or "text-embedding-3-small",
            base_url=section.embedding_base_url or "https://api.openai.com/v1",
            api_key=os.environ.get("OPENAI_API_KEY"),
            dim=section.embedding_dim or 384,
        )
    elif section.embedder == "sentence-transformers":
        model: Any = section.embedding_model
        if model is not None and root.source_dir is not None and not Path(model).is_absolute():
            candidate = root.source_dir / model
            model = candidate if candidate.exists() else model  # a directory beside the file, or a cached hub name
        embedder = SentenceTransformerEmbedder(model)
    elif section.embedding_dim is not None:
        embedder = HashEmbedder(section.embedding_dim)
    opt = {
        k: v
        for k in (
            "rag_k",
            "rag_max_tokens",
            "history_weight",
            "knowledge_weight",
            "ttl",
            "max_messages",
            "sweep_interval",
        )
        if (v := getattr(section, k)) is not None
    }
    if section.vectors == "pgvector":
        vec_opts: dict[str, Any] = dict(extra)
        if section.ef_search is not None:
            vec_opts["ef_search"] = section.ef_search
        try:
            opt["vectors"] = stores.PgVector(section.dsn or "", **vec_opts)
        except UserError as exc:
            raise ConfigFileError(f"{_source(root)}: memory: {exc}", path=_source(root), key="memory") from None
    try:
        return Memory(
            history_limit=section.history_limit,
            max_history_tokens=section.max_history_tokens,
            session_id=section.session_id,
            store=store,
            embedder=embedder,
            **opt,
        )
    except UserError as exc:
        raise ConfigFileError(f"{_source(root)}: memory: {exc}", path=_source(root), key="memory") from None


def build_agent(section: AgentSection, root: Config, *, name: str, key: str = "") -> Agent:
    """Build one agent from its section; sections it leaves out come from the file's top level.

    Raises:
        ConfigError: a handler or tool cannot be imported, or a value is rejected by the runtime.

    """
    prefix = f"{key}." if key else ""
    llm_section = section.llm or root.llm or LLMSection()
    llm, run_options = _llm(llm_section)
    kwargs: dict[str, Any] = {}
    if section.system_prompt is not None:
        kwargs["system_prompt"] = section.system_prompt
    if section.description is not None:
        kwargs["description"] = section.description
    memory = section.memory if section.memory is not None else root.memory
    if memory is not None:
        kwargs["memory"] = None if memory.provider == "none" else memory_from_section(memory, root)
    tools_section = section.tools or root.tools
    tools: list[Any] = []
    if tools_section is not None:
        tools.extend(_tools(tools_section, f"{prefix}tools", root))
        if tools_section.timeout is not None:
            kwargs["tool_timeout"] = tools_section.timeout
        if tools_section.max_concurrent is not None:
            kwargs["max_concurrent_tools"] = tools_section.max_concurrent
        cache = tools_section.cache
        if cache is not None and cache.enabled:
            cache_cls: Any = importlib.import_module("agentickit.tools._cache").ToolCache
            kwargs["tool_cache"] = cache_cls.redis(cache.url) if cache.backend == "redis" else cache_cls.memory()
    tools.extend(_mcp_servers(section, root, tools_section, prefix))
    limits = section.limits or root.limits
    if limits is not None:
        kwargs["usage_limits"] = UsageLimits(**limits.model_dump(exclude_none=True))
    streaming = section.streaming or root.streaming
    if streaming is not None:
        stream_kwargs = streaming.model_dump(exclude_none=True)
        if stream_kwargs:
            kwargs["stream_options"] = StreamOptions(**stream_kwargs)
    if tools:
        kwargs["tools"] = tools
    handler_spec = section.handler
    if handler_spec is not None:
        handler = _import(handler_spec, f"{prefix}handler", root)
        try:
            check_handler(handler)
        except UserError as exc:
            raise ConfigFileError(
                f"{_source(root)}: {prefix}handler = {handler_spec!r}: {exc}",
                path=_source(root),
                key=f"{prefix}handler",
            ) from exc
        kwargs["handler"] = handler
    output = section.output or root.output
    if output is not None:
        kwargs.update(_output(output, f"{prefix}output", root))
    agent_name = section.name or name
    try:
        if section.preset is not None:
            agent = _PRESETS[section.preset](agent_name, llm, **kwargs)
            if run_options is not None:
                agent.options = run_options.over(agent.options)
        else:
            agent = Agent(agent_name, llm, options=run_options, **kwargs)
    except UserError as exc:
        raise ConfigFileError(f"{_source(root)}: {key or 'agent'}: {exc}", path=_source(root), key=key or None) from exc
    return agent


def _output(section: OutputSection, key: str, root: Config) -> dict[str, Any]:
    """`output_type` (in its mode, if one is named) and `output_retries` from an `[output]` section."""
    from .. import output as modes

    output_type: Any = _import(section.type, f"{key}.type", root)
    wrap = {"native": modes.NativeOutput, "tool": modes.ToolCallOutput, "prompted": modes.PromptedOutput}
    out: dict[str, Any] = {"output_type": wrap[section.mode](output_type) if section.mode else output_type}
    if section.retries is not None:
        out["output_retries"] = section.retries
    return out


def _durable(cfg: Config, memory: Any) -> dict[str, Any]:
    """`durability` and `store` keywords from `[durable]` (none without the section)."""
    section = cfg.durable
    if section is None:
        return {}
    out: dict[str, Any] = {"durability": section.durability}
    if section.path is not None:
        from .. import stores

        path = Path(section.path)
        if not path.is_absolute() and cfg.source_dir is not None:
            path = cfg.source_dir / path
        out["store"] = stores.SQLite(path)
    elif memory is not None and memory.backend is not None:
        out["store"] = memory.backend
    return out


def _as_config(config: Config | str | os.PathLike[str]) -> Config:
    cfg = config if isinstance(config, Config) else load_config(config)
    if cfg.telemetry is not None:
        from ..telemetry import apply_config

        apply_config(cfg.telemetry)
    return cfg


def agent_from_config(config: Config | str | os.PathLike[str]) -> Agent:
    """`ak.Agent.from_config`: the agent a config (or config file) describes.

    Raises:
        ConfigError: the config is invalid, or declares a workflow (use `load_runnable`).

    """
    cfg = _as_config(config)
    if cfg.workflow is not None:
        raise ConfigFileError(
            f"{_source(cfg)}: this config declares a [workflow]; build it with agentickit.config.load_runnable",
            path=_source(cfg),
            key="workflow",
        )
    return _top_agent(cfg)


def _top_agent(cfg: Config) -> Agent:
    agent = build_agent(cfg, cfg, name=cfg.name or "agent")
    durable = _durable(cfg, agent.memory)
    if durable:
        agent.durability = durable["durability"]
        agent.store = durable.get("store", agent.store)
    return agent


def workflow_from_config(cfg: Config) -> Workflow:
    """The workflow a config's `[workflow]` declares, with an agent per step.

    Raises:
        ConfigError: the config has no workflow, or a step's agent cannot be built.

    """
    from ..workflows import DAGWorkflow, LoopWorkflow, ParallelWorkflow, SequentialWorkflow, Step

    wf = cfg.workflow
    if wf is None:
        raise ConfigFileError(f"{_source(cfg)}: this config declares no [workflow]", path=_source(cfg), key="workflow")
    name = wf.name or cfg.name or "workflow"
    common: dict[str, Any] = {"timeout": wf.timeout, "description": wf.description or "", **_durable(cfg, None)}
    if wf.limits is not None:
        common["usage_limits"] = UsageLimits(**wf.limits.model_dump(exclude_none=True))
    workflow: Workflow
    if wf.mode == "sequential":
        workflow = SequentialWorkflow(name, **common)
    elif wf.mode == "parallel":
        workflow = ParallelWorkflow(name, max_concurrency=wf.max_concurrency, fail_fast=bool(wf.fail_fast), **common)
    elif wf.mode == "dag":
        workflow = DAGWorkflow(name, max_concurrency=wf.max_concurrency, fail_fast=bool(wf.fail_fast), **common)
    else:
        until = _until_contains(wf.until_contains) if wf.until_contains is not None else None
        workflow = LoopWorkflow(name, max_iterations=wf.max_iterations or 5, until=until, **common)
    for i, step in enumerate(wf.steps):
        key = f"workflow.steps[{i}].agent"
        ref = step.agent
        if ref is None:
            agent = build_agent(cfg, cfg, name=step.name, key=key)
        elif isinstance(ref, AgentSection):
            agent = build_agent(ref, cfg, name=step.name, key=key)
        elif ref.endswith(".toml"):
            path = Path(ref)
            if not path.is_absolute() and cfg.source_dir is not None:
                path = cfg.source_dir / path
            resolved = path.resolve()
            chain = _LOADING.get() or (Path(_source(cfg)).resolve(),)
            if resolved in chain:
                loop = " -> ".join(p.name for p in (*chain, resolved))
                raise ConfigFileError(
                    f"{_source(cfg)}: {key} = {ref!r}: config files reference each other in a loop: {loop}",
                    path=_source(cfg),
                    key=key,
                )
            token = _LOADING.set((*chain, resolved))
            try:
                agent = load_runnable(load_config(path))
            finally:
                _LOADING.reset(token)
        else:
            agent = build_agent(cfg.agents[ref], cfg, name=ref, key=f"agents.{ref}")
        step_options = {
            k: v for k in ("timeout", "retries", "retry_delay", "description") if (v := getattr(step, k)) is not None
        }
        workflow.add_step(Step(step.name, agent, depends_on=step.depends_on, **step_options))
    return workflow


def executor_from_config(config: Config | str | os.PathLike[str]) -> Executor:
    """The executor a config's `[executor]` declares (`LocalExecutor` when it has none).

    ```python
    cfg = ak.load_config("batch.toml")
    results = await ak.Agent.from_config(cfg).run_batch(queries, executor=executor_from_config(cfg))
    ```

    Raises:
        ConfigError: the config is invalid.

    """
    from ..executors import LocalExecutor, RayExecutor

    cfg = _as_config(config)
    section = cfg.executor
    if section is None or section.kind == "local":
        return LocalExecutor()
    kwargs: dict[str, Any] = {
        k: v
        for k in ("num_actors", "concurrency_per_actor", "chunk_size", "num_cpus_per_actor")
        if (v := getattr(section, k)) is not None
    }
    try:
        return RayExecutor(section.address, **kwargs)
    except UserError as exc:
        raise ConfigFileError(f"{_source(cfg)}: executor: {exc}", path=_source(cfg), key="executor") from exc


def _until_contains(needle: str) -> Callable[[Any], bool]:
    def until(result: Any) -> bool:
        return needle in result.content

    return until


def load_runnable(config: Config | str | os.PathLike[str]) -> Agent | Workflow:
    """What a config file declares: its workflow if it has a `[workflow]`, else its agent.

    This is what `agentickit run CONFIG "query"` runs.

    Raises:
        ConfigError: the file is missing, not TOML, or invalid (file, key path and expectation).

    """
    cfg = _as_config(config)
    if cfg.workflow is not None:
        return workflow_from_config(cfg)
    return _top_agent(cfg)
